"""CopyBackup: stream the backup into S3 until this invocation's time is nearly spent."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import steps
from aiven_backup.workflow.deadline import invocation_deadline
from aiven_backup.workflow.run_state import RunState
from aiven_backup.workflow.services import services_from_env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
install_redaction(logger)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    services = services_from_env()
    # First thing: the copy and everything before it (the secret, the URL) share this deadline.
    deadline = invocation_deadline(
        context.get_remaining_time_in_millis(), services.settings.copy_time_margin_seconds
    )
    state = RunState.from_dict(event)
    logger.append_keys(**state.log_keys())
    # Bytes, copy time and speed: reported once per run by FinishBackup (aiven_backup/metrics.py).
    state = steps.copy_backup(state, deadline, services, int(context.memory_limit_in_mb))
    logger.info(
        "copy %s after %d invocation(s): %d bytes",
        "done" if state.copy.done else "continues",
        state.copy.invocations,
        state.copy.bytes_copied,
    )
    return state.to_dict()

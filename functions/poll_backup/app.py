"""PollBackup: is the requested backup ready to download? If not, when to look again."""

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
    state = RunState.from_dict(event)
    logger.append_keys(**state.log_keys())
    deadline = invocation_deadline(context.get_remaining_time_in_millis())
    state = steps.poll_backup(state, services_from_env(), deadline)
    # The wait is reported once per run by FinishBackup (WaitSeconds, aiven_backup/metrics.py).
    if not state.ready:
        logger.info(
            "not ready yet: next poll in %d s (poll %d)", state.wait.seconds, state.wait.polls
        )
    return state.to_dict()

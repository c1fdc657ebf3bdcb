"""VerifyBackup: index the tar in S3, check its manifest, files and metastore, and plan the
verification of its shards in batches (resuming from a cursor when the time runs out)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import verification
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
    deadline = invocation_deadline(
        context.get_remaining_time_in_millis(), services.settings.verify.time_margin_seconds
    )
    state = RunState.from_dict(event)
    logger.append_keys(**state.log_keys())
    state = verification.plan_verification(state, services, deadline)
    return state.to_dict()

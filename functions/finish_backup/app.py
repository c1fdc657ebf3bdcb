"""FinishBackup: give the backup its retention class, emit the run's metrics, release the
service's lock and announce the backup that landed.

Metrics go out as EMF through Powertools (namespace ``POWERTOOLS_METRICS_NAMESPACE``); the core
names them (``aiven_backup.metrics``) and is handed this ``Metrics`` object as its sink."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import steps
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
    result = steps.finish_backup(state, services_from_env(), _sink())
    logger.info(
        "backup succeeded: s3://%s/%s (%s)",
        result["bucket"],
        result["key"],
        result["retention_class"],
    )
    return result


def _sink() -> Metrics | None:
    # With metrics disabled Powertools never flushes, so whatever is added stays in the
    # container's memory (and its dimensions leak into the next invocation): add nothing.
    return None if is_metrics_disabled() else metrics

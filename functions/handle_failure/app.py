"""HandleFailure: abort any unfinished upload, release the lock, announce the failure.

Two callers: the state machine's Catch (``{"failed": ..., "execution": ...}``), and the
EventBridge rule on "Step Functions Execution Status Change" for executions no Catch saw end
(stopped: ABORTED, or past the machine's timeout: TIMED_OUT).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import failure
from aiven_backup.workflow.run_state import ExecutionRef
from aiven_backup.workflow.services import services_from_env

STATUS_CHANGE = "Step Functions Execution Status Change"

logger, metrics, tracer = Logger(), Metrics(), Tracer()
install_redaction(logger)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == STATUS_CHANGE:
        logger.append_keys(execution=event.get("detail", {}).get("name"))
        report = failure.handle_stopped_execution(event["detail"], services_from_env(), _sink())
    else:
        execution = ExecutionRef(**event["execution"])
        logger.append_keys(execution=execution.name)
        report = failure.handle_failure(event["failed"], execution, services_from_env(), _sink())
    if "error" in report:
        logger.warning("backup failed: %s: %s", report["error"], report["cause"])
    return report


def _sink() -> Metrics | None:
    # With metrics disabled Powertools never flushes, so whatever is added stays in the
    # container's memory (and its dimensions leak into the next invocation): add nothing.
    return None if is_metrics_disabled() else metrics

"""SummariseBackups: read each run's outcome and publish the fan-out's one summary message.

Also the fan-out's failure reporter: an event with ``failed`` (the state when planning or the
Map failed) publishes a failure summary instead.
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.fanout import steps
from aiven_backup.fanout.settings import FanOutSettings
from aiven_backup.redaction import install_redaction
from aiven_backup.workflow.run_state import ExecutionRef
from aiven_backup.workflow.services import services_from_env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
install_redaction(logger)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = ExecutionRef(**event["execution"])
    logger.append_keys(execution=execution.name)
    if "failed" in event:
        report = steps.report_failure_step(event["failed"], execution, services_from_env())
        logger.warning("fan-out failed: %s: %s", report["error"], report["cause"])
        return report
    summary = steps.summarise_step(
        event["plan"],
        event["runs"],
        execution,
        services_from_env(),
        settings=FanOutSettings.from_env(),
        # Once per fan-out execution: a client of its own costs nothing worth caching.
        stepfunctions=boto3.client("stepfunctions"),
    )
    # No metrics of its own: every service's run emits the declared ones (aiven_backup/metrics.py),
    # and an undeclared per-summary metric was flushed later by another function's Metrics.
    logger.info("fan-out %s: %s", summary["status"], summary["counts"])
    return summary

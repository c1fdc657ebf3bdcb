"""PlanBackups: validate the fan-out input, list each project's services, plan one run each."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.fanout import steps
from aiven_backup.fanout.settings import FanOutSettings
from aiven_backup.redaction import install_redaction
from aiven_backup.workflow.run_state import ExecutionRef
from aiven_backup.workflow.services import services_from_env

logger, tracer = Logger(), Tracer()
install_redaction(logger)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = ExecutionRef(**event["execution"])
    logger.append_keys(execution=execution.name)
    plan = steps.plan_step(
        event["input"], execution, services_from_env(), FanOutSettings.from_env()
    )
    logger.info(
        "planned %d run(s), %d service(s) skipped as not running",
        len(plan["runs"]),
        len(plan["skipped"]),
        extra={"aiven_projects": plan["projects"]},
    )
    return plan

"""StartBackup: validate the input, take the service's lock, preflight, request the backup."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import steps
from aiven_backup.workflow.deadline import invocation_deadline
from aiven_backup.workflow.run_state import ExecutionRef
from aiven_backup.workflow.services import services_from_env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
install_redaction(logger)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = invocation_deadline(context.get_remaining_time_in_millis())
    execution = ExecutionRef(**event["execution"])
    logger.append_keys(execution=execution.name)
    state = steps.start_backup(event["input"], execution, services_from_env(), deadline)
    logger.append_keys(**state.log_keys())
    logger.info("backup %s", "requested" if state.task_id else "found: copying what is there")
    return state.to_dict()

"""FinishVerification: merge the shards' reports into the inventory, write it next to the
backup, tag the object, and delete the verification's working files."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import verification
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
    state = verification.finish_verification(state, services_from_env())
    logger.info("verified: %s", state.inventory_text)
    return state.to_dict()

"""VerifyShards: verify one batch of the backup's shards (one Map iteration), in parallel
threads, until done or until this invocation's time is nearly spent."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.redaction import install_redaction
from aiven_backup.workflow import verification
from aiven_backup.workflow.deadline import invocation_deadline
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
    item = verification.BatchItem.from_dict(event)
    logger.append_keys(key=item.key, batch=item.batch)
    item = verification.verify_shard_batch(item, services, deadline)
    logger.info("batch %d: %d of %d shards verified", item.batch, item.verified, item.shards)
    if item.stopped:
        logger.info("batch %d stopped early: %s", item.batch, item.stopped)
    return item.to_dict()

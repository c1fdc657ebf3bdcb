"""Call S3, retrying what ``s3.faults`` calls transient, and name what is left (``s3.translate``).

This is on top of botocore's own retries: after botocore gives up, a throttled or degraded S3 still
gets the policy's attempts, within the invocation's time, before the step fails and the state
machine's own Retry takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.retry import GaveUp, RetriesOneOperation
from aiven_backup.s3.faults import S3Fault, classify_s3_error
from aiven_backup.s3.translate import s3_failure

logger = logging.getLogger(__name__)


def call_with_retries[T](
    call: Callable[[], T],
    retry: RetriesOneOperation,
    action: str,
    location: str,
    *,
    resend_corrupt: bool = False,
) -> T:
    """``call()``, retried on transient S3 faults (and on S3 reporting a corrupted body when
    ``resend_corrupt``: the caller resends the same bytes). When spent, or on any other S3 fault,
    raises the named error of ``s3.translate``: ``S3Unavailable``, ``UploadLost`` or
    ``UploadFailed``."""
    attempts = retry.attempts()
    while True:
        try:
            return call()
        except (ClientError, BotoCoreError) as error:
            fault = classify_s3_error(error)
            retryable = fault is S3Fault.TRANSIENT or (
                resend_corrupt and fault is S3Fault.CORRUPTED
            )
            if not retryable:
                raise s3_failure(error, action, location) from None
            attempt = attempts.made + 1

            def announce(seconds: float, attempt: int = attempt, error: Exception = error) -> None:
                logger.warning(
                    "S3 call failed; retrying in %.1f s",
                    seconds,
                    extra={
                        "action": f"{action} {location}",
                        "attempt": attempt,
                        "error": str(error),
                    },
                )

            if not attempts.wait(announce=announce):
                out_of_time = attempts.gave_up in (GaveUp.OUT_OF_TIME, GaveUp.STOPPED)
                raise s3_failure(
                    error, action, location, attempts=attempt, out_of_time=out_of_time
                ) from None

"""Which S3 failures are worth retrying, and the bounded retry loop around an S3 call.

Transient faults (SlowDown, 5xx, throttling, dropped connections) are retried with backoff, on
top of botocore's own retries, and raise ``S3Unavailable`` when spent. A part S3 says arrived
corrupted is resent a few times. ``NoSuchUpload`` passes through for the caller to name;
anything else raises ``UploadFailed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from aiven_backup.copier.retry import Backoff
from aiven_backup.errors import S3Unavailable, UploadFailed

logger = logging.getLogger(__name__)

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequests",
        "RequestLimitExceeded",
        "OperationAborted",
    }
)
# S3 received different bytes than the checksum describes: corrupted on the way, worth a resend.
_CORRUPTION_CODES = frozenset(
    {"BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "IncompleteBody"}
)


def error_code(error: ClientError) -> tuple[str, int]:
    """S3's error code and the HTTP status of ``error``."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def is_transient(error: Exception) -> bool:
    """Whether ``error`` may pass on its own (throttling, 5xx, a dropped connection)."""
    if isinstance(error, ConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        code, status = error_code(error)
        return code in _TRANSIENT_CODES or status in (429, 500, 502, 503, 504)
    return False


def _is_corruption(error: Exception) -> bool:
    return isinstance(error, ClientError) and error_code(error)[0] in _CORRUPTION_CODES


def call_with_retries[T](
    call: Callable[[], T], backoff: Backoff, what: str, *, resend_corrupt: bool = False
) -> T:
    """``call()``, retried on transient S3 faults; ClientErrors other than those pass through
    only as ``NoSuchUpload`` (for the caller to name) or become ``UploadFailed``."""
    failures = 0
    while True:
        try:
            return call()
        except (ClientError, BotoCoreError) as error:
            retryable = is_transient(error) or (resend_corrupt and _is_corruption(error))
            if isinstance(error, ClientError) and error_code(error)[0] == "NoSuchUpload":
                raise
            if not retryable:
                raise UploadFailed(
                    f"S3 refused to {what}: {error}. Check the bucket, its policy and KMS key, "
                    "and the function's permissions."
                ) from None
            if failures >= backoff.retries:
                if _is_corruption(error):
                    raise UploadFailed(
                        f"S3 kept rejecting the checksum while trying to {what} "
                        f"({failures + 1} attempts): {error}"
                    ) from None
                raise S3Unavailable(
                    f"S3 kept failing while trying to {what} ({failures + 1} attempts): {error}. "
                    "S3 may be throttling or degraded; the copy can be retried."
                ) from None
            logger.warning("S3 call failed, retrying", extra={"what": what, "error": str(error)})
            if not backoff.wait(failures):
                raise S3Unavailable(
                    f"S3 failed while trying to {what} ({error}) and the copy is stopping or its "
                    "time is nearly spent; the copy can be resumed."
                ) from None
            failures += 1

"""What kind of failure a botocore exception is: the one classifier every S3 call in the core uses.

- ``TRANSIENT``: throttling (``SlowDown``, ``Throttling``, ``TooManyRequests``, ...), HTTP 429 and
  5xx other than 501, a dropped or timed-out connection, a body that broke off. Worth retrying.
- ``CORRUPTED``: S3 received other bytes than the request's checksum describes. A resend may fix it.
- ``NO_SUCH_UPLOAD``: the multipart upload is gone (aborted, or expired by a lifecycle rule).
- ``MISSING``: the object is not there.
- ``REFUSED``: anything else (AccessDenied, a KMS key the role may not use, a bad request, no
  credentials): retrying will not help.
"""

from __future__ import annotations

import enum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
)


class S3Fault(enum.Enum):
    TRANSIENT = "transient"
    CORRUPTED = "corrupted"
    NO_SUCH_UPLOAD = "no such upload"
    MISSING = "missing"
    REFUSED = "refused"


_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
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
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "OperationAborted",
        *(str(status) for status in _TRANSIENT_STATUSES),
    }
)
_CORRUPTION_CODES = frozenset(
    {"BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "IncompleteBody"}
)
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
# Connections that failed or broke off, and bodies that ended early: the network, not S3's answer.
_TRANSIENT_BOTOCORE_ERRORS = (ConnectionError, HTTPClientError, IncompleteReadError)


def s3_error_code(error: ClientError) -> tuple[str, int]:
    """S3's error code and the HTTP status of ``error`` (0 when the response has none)."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def classify_s3_error(error: BaseException) -> S3Fault | None:  # noqa: PLR0911 - one per kind
    """The kind of S3 failure ``error`` is; None when it is not a botocore error at all."""
    if isinstance(error, _TRANSIENT_BOTOCORE_ERRORS):
        return S3Fault.TRANSIENT
    if isinstance(error, ClientError):
        code, status = s3_error_code(error)
        if code == "NoSuchUpload":
            return S3Fault.NO_SUCH_UPLOAD
        if code in _CORRUPTION_CODES:
            return S3Fault.CORRUPTED
        if code in _TRANSIENT_CODES or status in _TRANSIENT_STATUSES:
            return S3Fault.TRANSIENT
        if code in _MISSING_CODES:
            return S3Fault.MISSING
        return S3Fault.REFUSED
    if isinstance(error, BotoCoreError):
        return S3Fault.REFUSED
    return None


def is_transient_s3_error(error: BaseException) -> bool:
    return classify_s3_error(error) is S3Fault.TRANSIENT

"""Turn botocore failures into the product's named errors, with messages an operator can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.errors import S3Unavailable, UploadFailed, UploadLost

_TRANSIENT_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "500", "503"}
)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@contextmanager
def s3_errors(location: str, action: str) -> Iterator[None]:
    """Inside: S3 throttling and 5xx become ``S3Unavailable`` (retried by the state machine),
    a missing object ``UploadLost``, any other refusal ``UploadFailed``."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _TRANSIENT_CODES:
            raise S3Unavailable(
                f"S3 kept answering {code} while trying to {action} {location}; "
                "this usually passes, the step can be retried"
            ) from error
        if code in _MISSING_CODES:
            raise UploadLost(
                f"{location} does not exist (deleted, or expired by a lifecycle rule?), "
                f"so could not {action} it; run the backup again"
            ) from error
        raise UploadFailed(
            f"S3 refused to {action} {location} ({code}); check the function's IAM "
            "permissions and the bucket's KMS key policy"
        ) from error
    except BotoCoreError as error:
        raise S3Unavailable(
            f"could not reach S3 to {action} {location} ({type(error).__name__}); "
            "the step can be retried"
        ) from error

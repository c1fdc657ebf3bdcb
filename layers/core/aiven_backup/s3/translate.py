"""Turn an S3 failure into the product's named error, with a message an operator can act on.

``S3Unavailable`` (transient: the state machine retries the step), ``UploadLost`` (the upload or
object is gone), ``UploadFailed`` (S3 refused: permissions, KMS, a checksum it keeps rejecting).
The kind of failure is ``s3.faults``' decision; only the words are made here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.errors import BackupError, S3Unavailable, UploadFailed, UploadLost
from aiven_backup.s3.faults import S3Fault, classify_s3_error, s3_error_code


def s3_failure(  # noqa: PLR0911 - one message per kind of fault
    error: BotoCoreError | ClientError,
    action: str,
    location: str,
    *,
    attempts: int | None = None,
    out_of_time: bool = False,
) -> BackupError:
    """The named error for ``error``, raised while trying to ``action`` ``location``.

    ``attempts``: how many were made (when a retry loop gave up); ``out_of_time``: the loop gave up
    because the invocation is stopping or nearly out of time, not because S3 kept failing.
    """
    doing = f"{action} {location}"
    tried = f" ({attempts} attempts)" if attempts and attempts > 1 else ""
    fault = classify_s3_error(error)
    if fault is S3Fault.TRANSIENT:
        if out_of_time:
            return S3Unavailable(
                f"S3 failed while trying to {doing} ({error}) and the copy is stopping or its "
                "time is nearly spent; the copy can be resumed."
            )
        if not isinstance(error, ClientError):
            return S3Unavailable(
                f"could not reach S3 to {doing}{tried} ({type(error).__name__}: {error}); "
                "the step can be retried"
            )
        return S3Unavailable(
            f"S3 kept failing while trying to {doing}{tried}: {error}. S3 may be throttling or "
            "degraded; this usually passes, the step can be retried."
        )
    if fault is S3Fault.NO_SUCH_UPLOAD:
        return UploadLost(
            f"the multipart upload to {location} no longer exists (aborted, or expired by the "
            f"bucket's lifecycle rule) while trying to {doing}; the copy must start again."
        )
    if fault is S3Fault.MISSING:
        return UploadLost(
            f"{location} does not exist (deleted, or expired by a lifecycle rule?), so could not "
            f"{action} it; run the backup again"
        )
    if fault is S3Fault.CORRUPTED:
        return UploadFailed(
            f"S3 kept rejecting the checksum while trying to {doing}{tried}: {error}. The bytes "
            "were damaged on the way each time; check the network path to S3 and retry."
        )
    code = s3_error_code(error)[0] if isinstance(error, ClientError) else type(error).__name__
    return UploadFailed(
        f"S3 refused to {doing} ({code}): {error}. Check the function's IAM permissions, the "
        "bucket's policy and the bucket's KMS key policy."
    )


@contextmanager
def s3_errors_named(action: str, location: str) -> Iterator[None]:
    """Inside, a botocore failure leaves as the named error ``s3_failure`` gives (the original
    is kept as its ``__cause__``); any other exception passes untouched."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise s3_failure(error, action, location) from error

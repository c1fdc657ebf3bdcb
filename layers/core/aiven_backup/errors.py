"""Every error the product raises on purpose.

The class name is the contract: a Lambda reports an unhandled exception to Step Functions with
``errorType`` set to the class name, and the state machine's Retry and Catch match on those names.
So classes are never renamed casually, and ``str(error)`` is always a message an operator can act
on (what went wrong, for which service, what to do), never a secret.

``TransientError`` subclasses are the ones worth retrying; the state machine lists them by name.
"""

from __future__ import annotations


class BackupError(Exception):
    """Base of every deliberate error. ``str(e)`` is the operator-facing message."""

    transient: bool = False


class TransientError(BackupError):
    """A fault that may pass on its own (rate limit, 5xx, dropped connection, S3 SlowDown)."""

    transient = True


# --- Execution input -------------------------------------------------------------------------


class InvalidExecutionInput(BackupError):
    """The execution input (or API body) broke a rule. Names the field and the rule."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid input field '{field}': {reason}")


class InvalidBackupName(InvalidExecutionInput):
    """A backup name Aiven would refuse; checked before any API call."""

    def __init__(self, reason: str, field: str = "backup_name") -> None:
        super().__init__(field, reason)


# --- Aiven API -------------------------------------------------------------------------------


class AivenApiError(BackupError):
    """An error answer from the Aiven API. Carries the HTTP status and Aiven's ``error_code``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(message)


class AivenUnauthorized(AivenApiError):
    """401: the token is wrong, expired or revoked."""


class AivenForbidden(AivenApiError):
    """403: the token lacks permission, or its IP allow-list blocks the caller."""


class ProjectNotFound(AivenApiError):
    """404 naming the project."""


class ServiceNotFound(AivenApiError):
    """404 naming the service (Aiven for InfluxDB reached end of life on 2025-04-30)."""


class ServiceNotPowered(AivenApiError):
    """409 ``not_powered``: the service is powered off."""


class AivenRequestRejected(AivenApiError):
    """Any other 4xx: the request itself is wrong; retrying will not help."""


class AivenMalformedResponse(AivenApiError):
    """A 2xx whose body is not the shape Aiven documents."""


class AivenRateLimited(AivenApiError, TransientError):
    """429 after the client's own bounded retries were spent."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        error_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, error_code=error_code)


class AivenServerError(AivenApiError, TransientError):
    """408 or 5xx (not 501) after the client's own bounded retries were spent."""


class AivenUnavailable(AivenApiError, TransientError):
    """No HTTP answer at all (connection refused or reset, timeout) after bounded retries."""


class AivenTokenUnavailable(BackupError):
    """The Aiven token could not be read from Secrets Manager (missing, no access, malformed)."""


# --- Preflight: is this service one we can back up? ------------------------------------------


class ServiceNotInfluxDB(BackupError):
    """The named service exists but is not an ``influxdb`` service."""


class ServiceNotRunning(BackupError):
    """The service is not ``RUNNING`` (powered off, rebuilding, ...)."""


class AccessRouteNotEnabled(BackupError):
    """The wanted ``*_access.user_backup`` route is not enabled in the service's user config."""


class BackupUriNotFound(BackupError):
    """The service exposes no ``user_backup_uri`` for the wanted route."""


# --- The backup task -------------------------------------------------------------------------


class BackupTaskFailed(BackupError):
    """Aiven reported ``success: false`` for the ``create_user_backup`` task."""


class BackupTaskNotFound(BackupError):
    """The task id is no longer readable (404)."""


class BackupWaitTimedOut(BackupError):
    """The backup was not ready before the configured deadline."""


# --- The download source ---------------------------------------------------------------------


class DownloadUrlRejected(BackupError):
    """The download URL is not https on an allowed host: refused before a byte is fetched."""


class BackupNotAvailable(BackupError):
    """The backup URL answers 404/410: not created yet, or replaced by a newer backup."""


class SourceUnavailable(TransientError):
    """The download kept failing transiently (reset, timeout, 5xx, 429) past the retry bound."""


class SourceTruncated(BackupError):
    """The body was shorter (or longer) than the length the source announced."""


class SourceChanged(BackupError):
    """The backup changed during the copy (its validators, size or bytes differ from those the
    copy started with): what was copied would mix two backups, so nothing is stored and the
    upload is aborted; a new run will copy the current one."""


class SourceRejected(BackupError):
    """The download host answered with a non-retryable error (401, 403, other 4xx)."""


# --- S3 --------------------------------------------------------------------------------------


class S3Unavailable(TransientError):
    """S3 kept answering SlowDown / 5xx past the retry bound."""


class UploadFailed(BackupError):
    """S3 refused the upload for a reason retrying will not fix (AccessDenied, bad KMS key, ...)."""


class UploadLost(BackupError):
    """The multipart upload the cursor names no longer exists (aborted, or expired by lifecycle)."""


# --- Verification ----------------------------------------------------------------------------


class NotAnInfluxBackup(BackupError):
    """The object is not a tar holding an InfluxDB portable backup."""


class BackupFileMissing(BackupError):
    """The manifest names a file that is not in the tar."""


class BackupContentCorrupt(BackupError):
    """The tar holds every file the backup needs, but a file's content is damaged.

    The object is byte-identical to what the host served (the copy checked that), so the host's
    backup itself is damaged: the object is kept, tagged unverified, never deleted.
    """


class ShardCorrupt(BackupContentCorrupt):
    """A shard's ``.tar.gz`` does not decompress completely (gzip CRC32 or ISIZE, a bad tar)."""


class TsmCorrupt(BackupContentCorrupt):
    """A ``.tsm`` file inside a shard fails ``influx_inspect verify``'s checks (magic, index,
    a block's CRC32)."""


class MetastoreCorrupt(BackupContentCorrupt):
    """The ``.meta`` file's protobuf does not parse as an InfluxDB metastore."""


class MetaManifestMismatch(BackupContentCorrupt):
    """The metastore and the manifest disagree on which shards the backup holds."""


class VerifyScratchFull(BackupError):
    """Deep verification has no room left in its scratch directory (Lambda's ``/tmp``) for a TSM
    file it must spool to reach the file's index; the backup itself may be fine."""


class VerificationIncomplete(BackupError):
    """The verification's last step found a batch of shards without a complete report: the
    state machine did not verify every shard (it says nothing about the object's bytes)."""


# --- Concurrency -----------------------------------------------------------------------------


class BackupAlreadyRunning(BackupError):
    """Another execution holds this service's lock; a second backup would replace the first."""


# --- Many services in one execution (the fan-out) --------------------------------------------


class TooManyServices(BackupError):
    """A fan-out names (or ``*`` finds) more services than one execution's payload can carry."""


class FanOutFailed(BackupError):
    """The fan-out itself stopped on one of Step Functions' own errors (``States.*``).

    A Fail state may not raise a ``States.`` name, so the fan-out re-raises it under this one;
    the cause starts with the original name.
    """


# --- The stack itself ------------------------------------------------------------------------


class StackMisconfigured(BackupError):
    """A required environment variable of the deployed stack is missing or malformed."""


class CleanupIncomplete(TransientError):
    """The failure notification could not be published; the failure handler is retried."""


# --- Restore drill (a backup restored into a fresh influxd and counted) -----------------------


class UnsafeBackupMember(NotAnInfluxBackup):
    """The tar names a member that would land outside the folder it is extracted into (an
    absolute name, a ``..`` step), or one no portable backup holds (a link, a device)."""


class RestoreDrillUnavailable(BackupError):
    """The drill cannot run here: influxd is missing, or the backup named cannot be read."""


class RestoreFailed(BackupError):
    """``influxd restore`` refused the backup, or the fresh influxd would not answer."""

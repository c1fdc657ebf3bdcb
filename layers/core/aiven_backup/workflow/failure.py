"""The failure path: what every failed run ends in, read first during an incident.

``handle_failure`` runs from the state machine's Catch with the failed step's input plus the
error. Clean-up is best effort and each action is reported in the notification:

1. The copied object, when the copy finished but the run failed before the inventory was written
   (``copied_object_verdict`` decides): removed when verification proved it is not the backup
   (only byte-identical verified backups stay) unless Object Lock protects it, kept and tagged
   ``backup-verified=false`` and ``retention-class=failed`` (so S3 still expires it) when the
   failure says nothing about its bytes (S3 throttled verification, a function timed out): its
   bytes matched the source's CRC32 when it was copied, and deleting it helps nobody.
   ``leftovers`` tags what must not be deleted (a locked object, a verified one the run failed to
   classify).
2. Unfinished multipart uploads of the run's key are aborted.
3. The service's lock is released, if this execution holds it.
4. The failure notification is published; only a failed publish raises (``CleanupIncomplete``,
   which the state machine retries).

A Catch never sees an execution that was stopped (ABORTED) or ran past the state machine's own
timeout (TIMED_OUT). An EventBridge rule on "Step Functions Execution Status Change" brings those
to ``handle_stopped_execution``, which rebuilds the run from the execution's input and start time
(exactly as StartBackup derived its key) and cleans up the same way.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.copier import abort_incomplete_uploads
from aiven_backup.errors import (
    BackupContentCorrupt,
    BackupFileMissing,
    CleanupIncomplete,
    InvalidExecutionInput,
    NotAnInfluxBackup,
    SourceChanged,
)
from aiven_backup.metrics import MetricsSink, failure_metrics
from aiven_backup.redaction import redact
from aiven_backup.s3.faults import S3Fault, classify_s3_error
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.storage.retention import RETENTION_CLASS_TAG, RetentionClass
from aiven_backup.storage.tags import VERIFIED_TAG, merge_tags
from aiven_backup.verify.scratch import Scratch, scratch_prefix
from aiven_backup.workflow.execution_input import parse_execution_input
from aiven_backup.workflow.leftovers import Leftovers, protect_leftovers
from aiven_backup.workflow.notification import failure_notification, publish
from aiven_backup.workflow.run_state import ExecutionRef, RunState
from aiven_backup.workflow.s3_layout import backup_key, inventory_key
from aiven_backup.workflow.services import Services

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


VERIFY_ERROR_TAG = "backup-verify-error"
"""On a kept unverified object: the name of the error that stopped its verification."""

# Errors that prove the copied object is not an InfluxDB portable backup (or not all of one), or
# may mix two backups (the source changed during the copy: a new run copies the current one).
_DISPROVED_BY_VERIFICATION = frozenset(
    {NotAnInfluxBackup.__name__, BackupFileMissing.__name__, SourceChanged.__name__}
)
# Errors that prove the backup itself is damaged: every file is there, the object is what the
# host served (the copy checked its CRC32), but a file's content is broken.
_CONTENT_CORRUPT = frozenset(
    cls.__name__ for cls in (BackupContentCorrupt, *_subclasses(BackupContentCorrupt))
)


class CopiedObjectVerdict(enum.Enum):
    DELETE = "delete"
    KEEP_UNVERIFIED = "keep unverified"
    KEEP_CORRUPT = "keep, the backup is damaged"


def copied_object_verdict(error_name: str, *, put_by_hand: bool = False) -> CopiedObjectVerdict:
    """What to do with a completely copied but unverified object after ``error_name``.

    Deleted only when verification proved it is not what the host served (not a backup, files
    missing): it can be copied again. Kept when the backup itself is damaged (it is what the host
    served, and perhaps the only copy there is) or when nothing is known of its bytes (a
    transient fault). An object put into the bucket by hand (mode ``verify``) is never deleted:
    this stack did not make it.
    """
    if error_name in _CONTENT_CORRUPT:
        return CopiedObjectVerdict.KEEP_CORRUPT
    if error_name in _DISPROVED_BY_VERIFICATION and not put_by_hand:
        return CopiedObjectVerdict.DELETE
    return CopiedObjectVerdict.KEEP_UNVERIFIED


@dataclass(frozen=True)
class FailedRun:
    """What is known of a failed run: everything from a run state, less from the raw input."""

    project: str | None
    service: str | None
    backup_name: str | None
    key: str | None
    bucket: str
    copied_but_not_verified: bool = False
    notify: bool = True  # false in a fan-out with NotifyEach=false: its summary announces it
    put_by_hand: bool = False  # mode 'verify': the object was in the bucket before the run
    # Batches of the verification's working files to delete (None: it never started).
    verification_batches: int | None = None


def handle_failure(
    failed_state: Mapping[str, Any],
    execution: ExecutionRef,
    services: Services,
    metrics: MetricsSink | None = None,
) -> dict[str, Any]:
    """Deal with the copied object, abort unfinished uploads, release the lock, and announce
    the failure (see the module's docstring).

    ``failed_state`` is the input of the step that failed plus ``error`` ({Error, Cause}) added by
    the Catch: a run state, or the raw execution input when the first step failed.
    """
    error = failed_state.get("error") or {}
    error_name = str(error.get("Error") or "UnknownError")
    cause = readable_cause(error.get("Cause"))
    run = identify_run(failed_state, services)
    # An object under Object Lock is tagged and reported, never deleted (see leftovers).
    leftovers = protect_leftovers(
        services.s3,
        failed_state,
        lock_mode=services.settings.object_lock_mode,
        clock=services.clock,
    )
    return _clean_up_and_notify(
        run, error_name, cause, execution, services, metrics=metrics, leftovers=leftovers
    )


STOPPED_EXECUTIONS = {
    "ABORTED": (
        "ExecutionAborted",
        "the execution was stopped before it finished (StopExecution: a person in the Step "
        "Functions console, or a program). Start a new backup when you want one.",
    ),
    "TIMED_OUT": (
        "ExecutionTimedOut",
        "the execution ran past the state machine's own timeout (TimeoutSeconds, 36 h) before "
        "it finished. A very slow backup or download: check the service and the download host, "
        "then start a new backup.",
    ),
}


def handle_stopped_execution(
    detail: Mapping[str, Any], services: Services, metrics: MetricsSink | None = None
) -> dict[str, Any]:
    """Clean up after an execution no Catch saw end: ``detail`` is the ``detail`` of a "Step
    Functions Execution Status Change" event (status ABORTED or TIMED_OUT)."""
    status = str(detail.get("status"))
    if status not in STOPPED_EXECUTIONS:
        return {"ignored": f"status {status} is not a stop this handler cleans up after"}
    error_name, cause = STOPPED_EXECUTIONS[status]
    started = datetime.fromtimestamp(int(detail.get("startDate") or 0) / 1000, UTC)
    arn = str(detail.get("executionArn", ""))
    execution = ExecutionRef(
        arn=arn,
        name=str(detail.get("name") or arn.rsplit(":", 1)[-1]),
        started_at=started.isoformat(),
    )
    run = _run_of_stopped_execution(detail.get("input"), started, services)
    return _clean_up_and_notify(
        run, error_name, cause, execution, services, metrics=metrics, leftovers=Leftovers()
    )


def _clean_up_and_notify(
    run: FailedRun,
    error_name: str,
    cause: str,
    execution: ExecutionRef,
    services: Services,
    *,
    metrics: MetricsSink | None,
    leftovers: Leftovers,
) -> dict[str, Any]:
    project, service, key, bucket = run.project, run.service, run.key, run.bucket

    cleanup: list[str] = list(leftovers.report)
    kept_unverified = leftovers.kept_unverified
    if key and run.copied_but_not_verified and not leftovers.kept_unverified:
        outcome, kept = _settle_copied_object(
            services, bucket, key, error_name, put_by_hand=run.put_by_hand
        )
        cleanup.append(outcome)
        kept_unverified = kept_unverified or kept
    if key and run.verification_batches is not None:
        try:
            Scratch(services.s3, bucket, key).delete(run.verification_batches)
            cleanup.append("deleted the verification's working files")
        except Exception as problem:
            logger.exception("could not delete the verification's working files")
            cleanup.append(
                f"could not delete the verification's working files under "
                f"s3://{bucket}/{scratch_prefix(key)} ({problem}); delete them by hand"
            )
    if key:
        try:
            aborted = abort_incomplete_uploads(services.s3, bucket, key)
            cleanup.append(f"aborted {aborted} incomplete upload(s) of s3://{bucket}/{key}")
        except Exception as problem:
            logger.exception("could not abort the incomplete upload")
            cleanup.append(
                f"could not abort the incomplete upload of s3://{bucket}/{key} ({problem}); the "
                "bucket's lifecycle rule removes it after a day"
            )
    if project and service:
        try:
            released = services.lock.release(project, service, owner=execution.arn)
            cleanup.append("lock released" if released else "no lock held")
        except Exception as problem:
            logger.exception("could not release the lock")
            cleanup.append(f"could not release the lock ({problem}); it expires by itself")

    notification = failure_notification(
        project=project or "<unknown project>",
        service=service or "<unknown service>",
        backup_name=run.backup_name,
        error=error_name,
        cause=cause,
        execution_arn=execution.arn,
        cleanup="; ".join(cleanup) or "nothing to clean up",
    )
    try:
        if run.notify:
            publish(services.sns, services.settings.topic_arn, notification)
    except Exception as problem:
        raise CleanupIncomplete(
            f"could not publish the failure notification to {services.settings.topic_arn}: "
            f"{problem}"
        ) from problem
    if project and service:
        failure_metrics(project, service, kept_unverified=kept_unverified).emit(metrics)
    return {"error": error_name, "cause": cause, "notification": notification.to_dict()}


def _settle_copied_object(
    services: Services, bucket: str, key: str, error_name: str, *, put_by_hand: bool = False
) -> tuple[str, bool]:
    """Delete or keep-and-tag the copied object; returns what was done, for the notification,
    and whether it was kept."""
    location = f"s3://{bucket}/{key}"
    if put_by_hand and error_name == InvalidExecutionInput.__name__:
        return f"nothing done to {location} (the input named no object this stack verifies)", False
    retry = services.settings.copy.retry_policy
    verdict = copied_object_verdict(error_name, put_by_hand=put_by_hand)
    if verdict is CopiedObjectVerdict.DELETE:
        # Only verified backups stay: this object is not what Aiven made (or not a backup at
        # all), and the source can be copied again.
        try:
            call_with_retries(
                lambda: services.s3.delete_object(Bucket=bucket, Key=key),
                retry,
                "remove the unverified object",
                location,
            )
        except Exception as problem:
            logger.exception("could not remove the unverified object")
            return f"could not remove the unverified object {location} ({problem})", False
        return f"removed the unverified object {location}", False
    tags = {VERIFIED_TAG: "false", VERIFY_ERROR_TAG: error_name}
    if not put_by_hand:  # the bucket's lifecycle expires it; one put there by hand stays
        tags[RETENTION_CLASS_TAG] = RetentionClass.FAILED.value
    try:
        merge_tags(services.s3, bucket, key, tags)
        tagged = f"tagged backup-verified=false, {VERIFY_ERROR_TAG}={error_name}" + (
            "" if put_by_hand else " (retention-class=failed: S3 expires it)"
        )
    except Exception as problem:
        logger.exception("could not tag the unverified object")
        tagged = f"could not tag it backup-verified=false ({problem})"
    if put_by_hand:
        why = (
            f"it was in the bucket before this run, so it is never deleted; {error_name} says "
            "it is not a complete, intact InfluxDB backup"
        )
    elif verdict is CopiedObjectVerdict.KEEP_CORRUPT:
        why = (
            "it is byte-identical to what Aiven served (CRC32 checked when copied), so the "
            "backup itself is damaged; restore from it only what the cause does not name, and "
            "request a new backup"
        )
    else:
        why = (
            f"its bytes matched the source's CRC32 when copied, but it is not verified "
            f"({error_name} stopped the verification); verify it before relying on it"
        )
    return (
        f"kept the {'object' if put_by_hand else 'copied object'} {location}, {tagged}: {why}",
        True,
    )


def readable_cause(cause: object) -> str:
    """A Lambda error's Cause is its JSON payload; people want its ``errorMessage``."""
    text = "" if cause is None else str(cause)
    try:
        payload = json.loads(text)
    except ValueError:
        return redact(text) or "no cause given"
    if isinstance(payload, Mapping) and payload.get("errorMessage"):
        return redact(str(payload["errorMessage"]))
    return redact(text)


def _run_of_stopped_execution(
    input_text: object, started: datetime, services: Services
) -> FailedRun:
    """The run a stopped execution was making: its key comes from its input and start time as
    StartBackup derived it; whether the object was copied but not verified, from S3."""
    try:
        raw_input = json.loads(input_text) if isinstance(input_text, str) else None
    except ValueError:
        raw_input = None
    try:
        request = parse_execution_input(raw_input, services.input_defaults, now=started)
    except InvalidExecutionInput:
        return identify_run({"input": raw_input}, services)
    key = request.s3_key or backup_key(
        request.s3_prefix, request.project, request.service, request.backup_name, started
    )
    bucket = services.settings.bucket
    copied = _exists(services, bucket, key) and not _exists(services, bucket, inventory_key(key))
    return FailedRun(
        request.project,
        request.service,
        request.backup_name,
        key,
        bucket,
        copied_but_not_verified=copied,
        notify=request.notify,
        put_by_hand=request.s3_key is not None,
    )


def _exists(services: Services, bucket: str, key: str) -> bool:
    try:
        services.s3.head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        if classify_s3_error(error) is not S3Fault.MISSING:
            logger.warning("could not tell whether %s exists: %s", key, error)
        return False
    return True


def identify_run(failed_state: Mapping[str, Any], services: Services) -> FailedRun:
    """The run a failed state belongs to: a run state, or the raw input of the first step."""
    if RunState.is_run_state(failed_state):
        state = RunState.from_dict(failed_state)
        request = state.request
        return FailedRun(
            request.project,
            request.service,
            request.backup_name,
            state.key,
            state.bucket,
            copied_but_not_verified=state.copy.done and state.inventory is None,
            notify=request.notify,
            put_by_hand=request.s3_key is not None,
            verification_batches=(
                len(state.verification.batches) if state.verification is not None else None
            ),
        )

    raw_input = failed_state.get("input")
    given: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}

    def text(name: str, default: str | None) -> str | None:
        value = given.get(name)
        return value if isinstance(value, str) and value else default

    defaults = services.input_defaults
    return FailedRun(
        text("project", defaults.project),
        text("service", defaults.service),
        text("backup_name", None),
        None,
        services.settings.bucket,
        notify=given.get("notify") is not False,
    )

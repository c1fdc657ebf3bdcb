"""What a failed run leaves in S3 that must neither be deleted by force nor kept forever.

The failure handler removes an object that failed verification. Two objects it must not:

- one under Object Lock: a delete would be refused, or, without a version id, would only hide the
  locked version behind a delete marker while S3 keeps (and bills) it. It is tagged
  ``backup-verified=false`` and reported instead;
- one that was verified but whose run failed before it got a retention class (FinishBackup
  failed): without a class no lifecycle rule would ever expire it.

Both get ``retention-class=failed``, which S3 expires like a daily backup (after the lock, if
any) and which never counts as a successful backup when the next run's class is decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiven_backup.errors import BackupError
from aiven_backup.storage.object_lock import LOCK_MODES, ObjectLock, object_lock_of
from aiven_backup.storage.retention import RETENTION_CLASS_TAG, RetentionClass
from aiven_backup.storage.tags import VERIFIED_TAG, merge_tags, tags_if_present
from aiven_backup.workflow.run_state import RunState

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leftovers:
    report: list[str] = field(default_factory=list)
    kept_unverified: bool = False
    """An unverified object is kept (locked): the failure path must not try to delete it."""


def protect_leftovers(
    s3: S3Client,
    failed_state: Mapping[str, Any],
    *,
    lock_mode: str,
    clock: Callable[[], float],
) -> Leftovers:
    """Tag what the failed run left so S3 expires it; never raises (clean-up is best effort)."""
    state = _finished_copy(failed_state)
    if state is None:
        return Leftovers()  # no finished object: aborting the upload is all there is to do
    try:
        if state.inventory is None:
            now = datetime.fromtimestamp(clock(), UTC)
            return _keep_if_locked(s3, state, _lock(s3, state.bucket, state.key, lock_mode, now))
        return _classify_verified(s3, state)
    except Exception as problem:
        logger.exception("could not tag what the failed run left")
        locked = lock_mode in LOCK_MODES and state.inventory is None
        return Leftovers(
            [f"could not tag the object s3://{state.bucket}/{state.key} ({problem})"],
            kept_unverified=locked,
        )


def _finished_copy(failed_state: Mapping[str, Any]) -> RunState | None:
    if not RunState.is_run_state(failed_state):
        return None
    try:
        state = RunState.from_dict(failed_state)
    except BackupError:
        return None
    return state if state.copy.done else None


def _keep_if_locked(s3: S3Client, state: RunState, lock: ObjectLock | None) -> Leftovers:
    if lock is None:
        return Leftovers()  # not locked: the failure path deletes it
    merge_tags(
        s3,
        state.bucket,
        state.key,
        {VERIFIED_TAG: "false", RETENTION_CLASS_TAG: RetentionClass.FAILED.value},
    )
    return Leftovers(
        [
            f"kept the unverified object s3://{state.bucket}/{state.key}: it is under Object "
            f"Lock ({lock.describe()}), so it cannot be deleted; tagged {VERIFIED_TAG}=false and "
            f"{RETENTION_CLASS_TAG}=failed (S3 expires it after KeepDailyDays, once the lock has "
            "passed). Do not restore from it"
        ],
        kept_unverified=True,
    )


def _classify_verified(s3: S3Client, state: RunState) -> Leftovers:
    tags = tags_if_present(s3, state.bucket, state.key)
    if tags is None or RETENTION_CLASS_TAG in tags:
        return Leftovers()  # gone, or FinishBackup classified it before failing
    for key in (state.key, state.inventory_key):
        if key:
            merge_tags(s3, state.bucket, key, {RETENTION_CLASS_TAG: RetentionClass.FAILED.value})
    return Leftovers(
        [
            f"kept the verified object s3://{state.bucket}/{state.key}; the run failed before it "
            f"got a retention class, so it is tagged {RETENTION_CLASS_TAG}=failed and expires "
            "after KeepDailyDays"
        ]
    )


def _lock(s3: S3Client, bucket: str, key: str, lock_mode: str, now: datetime) -> ObjectLock | None:
    """The object's lock if it protects the object now; the stack's own setting otherwise."""
    configured = ObjectLock(mode=lock_mode, retain_until=None) if lock_mode in LOCK_MODES else None
    try:
        lock = object_lock_of(s3, bucket, key)
    except BackupError:
        return configured
    if lock is not None and lock.protects(now):
        return lock
    return configured

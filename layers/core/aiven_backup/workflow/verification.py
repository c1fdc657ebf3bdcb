"""The verification of a copied backup, spread over as many Lambda invocations as it needs.

Three steps, one Lambda each (the state machine's ``VerifyBackup``, ``VerifyEachBatch`` and
``FinishVerification``):

1. ``plan_verification``: index the tar with ranged reads (windows that grow while members are
   small), resuming from a cursor when the invocation's time runs out; check the manifests, that
   every file they name is there, and the metastore; write the plan and the shards in batches to
   S3 (``verify.scratch``). The state carries only the batch numbers.
2. ``verify_shard_batch``: one Map iteration per batch, at most ``VerifyMaxConcurrency`` at a
   time; threads verify the batch's shards on their own ranged reads, until done or until the
   time runs out, and the iteration loops. The reports go to S3.
3. ``finish_verification``: merge the reports into the backup's ``DataInventory``, write
   ``<key>.inventory.json``, tag the object, decide STALE, delete the working files.

A damaged shard (``BackupContentCorrupt``) does not fail its iteration: a failed iteration fails
the Map while sibling invocations still run, and their late writes would outlive the failure
path's clean-up. Its batch records the damage, the siblings stop early, and
``finish_verification`` raises the error under its own name once the Map is over
(``verify.damage``); ``workflow.failure`` keeps the object (it is what the host served) and tags
it. Any other error of an iteration still fails the Map (a sibling's late working file is tagged
``retention-class=failed``, so S3 expires it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiven_backup.errors import (
    BackupContentCorrupt,
    InvalidExecutionInput,
    UploadFailed,
    UploadLost,
    VerificationIncomplete,
)
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.verify.batch import Shard, verify_batch
from aiven_backup.verify.damage import DamageFound, DamageWatch, record_damage
from aiven_backup.verify.data_inventory import DataInventory
from aiven_backup.verify.inventory import Inventory
from aiven_backup.verify.publish import inventory_key, read_inventory, write_inventory
from aiven_backup.verify.s3_ranges import MAX_WINDOW, S3RangeReader
from aiven_backup.verify.scratch import Scratch
from aiven_backup.verify.tar_index import TarMember, walk_tar
from aiven_backup.verify.verifier import check_backup
from aiven_backup.workflow.deadline import seconds_until
from aiven_backup.workflow.run_state import RunState, VerificationState
from aiven_backup.workflow.services import Services
from aiven_backup.workflow.settings import VerifySettings

logger = logging.getLogger(__name__)

INDEX_CACHED_WINDOWS = 8
"""The index walks forward: a few windows of cache are all it uses (memory: 8 x 4 MiB)."""


def plan_verification(state: RunState, services: Services, deadline: float) -> RunState:
    """Index the tar (or go on indexing it), check what can be checked without reading the
    shards, and plan their verification in batches."""
    s3, bucket, key = services.s3, state.bucket, state.key
    previous = state.verification
    scratch = Scratch(s3, bucket, key)
    size = previous.size if previous else _object_size(state, services)
    reader = S3RangeReader(
        s3, bucket, key, size, max_read_ahead=MAX_WINDOW, cached_chunks=INDEX_CACHED_WINDOWS
    )
    members: list[TarMember] = []
    cursor = None
    if previous is not None and not previous.planned and previous.invocations:
        members, cursor = scratch.read_index()
    progress = walk_tar(reader, cursor, should_stop=lambda: seconds_until(deadline) <= 0)
    members.extend(progress.members)
    invocations = (previous.invocations if previous else 0) + 1
    if progress.cursor is not None:
        scratch.write_index(members, progress.cursor)
        logger.info(
            "indexed %d members up to byte %d of %d; resuming in the next invocation",
            len(members),
            progress.cursor.offset,
            size,
        )
        return replace(state, verification=VerificationState(invocations=invocations, size=size))

    checked = check_backup(reader, members)
    batches = plan_batches(checked.shards, services.settings.verify)
    for number, batch in enumerate(batches):
        scratch.write_batch(number, batch)
    scratch.write_damage(None)  # every batch reads it: no damage found yet
    scratch.write_plan(checked.inventory, len(batches))
    logger.info(
        "planned the verification of %d shards in %d batches (%d members, %d requests)",
        len(checked.shards),
        len(batches),
        len(members),
        reader.requests,
    )
    return replace(
        state,
        result=state.result or {"size": size},
        verification=VerificationState(
            planned=True,
            invocations=invocations,
            size=size,
            batches=list(range(len(batches))),
            max_concurrency=services.settings.verify.max_concurrency,
        ),
    )


def plan_batches(shards: Sequence[Shard], settings: VerifySettings) -> list[list[Shard]]:
    """Shards in tar order, cut into batches of at most ``batch_shards`` shards and (unless one
    shard alone is larger) ``batch_bytes`` bytes."""
    batches: list[list[Shard]] = []
    size = 0
    for shard in shards:
        member = shard[0]
        if (
            not batches
            or len(batches[-1]) >= settings.batch_shards
            or size + member.size > settings.batch_bytes
        ):
            batches.append([])
            size = 0
        batches[-1].append(shard)
        size += member.size
    return batches


@dataclass(frozen=True)
class BatchItem:
    """One Map iteration's state: which batch of which object, and how far it got."""

    bucket: str
    key: str
    size: int
    batch: int
    done: bool = False
    invocations: int = 0
    verified: int = 0
    shards: int = 0
    # Why the batch ended before every shard was verified: "batch 3 found ShardCorrupt" (this
    # batch or a sibling; the error is in the damage record, FinishVerification raises it).
    stopped: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BatchItem:
        try:
            return cls(
                bucket=str(raw["bucket"]),
                key=str(raw["key"]),
                size=int(raw["size"]),
                batch=int(raw["batch"]),
                done=bool(raw.get("done", False)),
                invocations=int(raw.get("invocations", 0)),
                verified=int(raw.get("verified", 0)),
                shards=int(raw.get("shards", 0)),
                stopped=None if raw.get("stopped") is None else str(raw["stopped"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidExecutionInput(
                "batch",
                f"the Map iteration's input is not a verification batch ({error}); the state "
                "machine's ItemSelector gives bucket, key, size and batch",
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "batch": self.batch,
            "done": self.done,
            "invocations": self.invocations,
            "verified": self.verified,
            "shards": self.shards,
            "stopped": self.stopped,
        }


def verify_shard_batch(item: BatchItem, services: Services, deadline: float) -> BatchItem:
    """Verify the batch's shards not verified yet, until done or ``deadline``, or until this
    batch or a sibling finds damage (``verify.damage``): that ends the iteration normally
    (``done``, ``stopped`` says why), the damage recorded for ``finish_verification``."""
    scratch = Scratch(services.s3, item.bucket, item.key)
    watch = DamageWatch(
        _sibling_damage(scratch), interval=services.settings.verify.damage_check_seconds
    )
    if watch.damage_found():
        assert watch.found is not None
        return replace(
            item, done=True, invocations=item.invocations + 1, stopped=watch.found.describe()
        )
    shards = scratch.read_batch(item.batch)
    # No report before the first invocation. (Never read a key that may not exist: without
    # s3:ListBucket, S3 answers 403, not 404.) A retried first invocation starts afresh.
    reports, complete = scratch.read_reports(item.batch) if item.invocations else ([], False)
    stopped: str | None = None
    if not complete:
        try:
            progress = verify_batch(
                services.s3,
                item.bucket,
                item.key,
                item.size,
                shards,
                done={report.name: report for report in reports},
                should_stop=lambda: seconds_until(deadline) <= 0 or watch.damage_found(),
                threads=services.settings.verify.threads,
            )
        except BackupContentCorrupt as error:
            # Not raised: a failed iteration would fail the Map while siblings still write.
            found = record_damage(error, item.batch)
            scratch.write_damage(found)
            logger.warning("batch %d: %s: %s", item.batch, found.name, found.message)
            stopped = found.describe()
        else:
            reports, complete = progress.reports, progress.complete
            scratch.write_reports(item.batch, reports, complete=complete)
            if not complete and watch.found is not None:
                stopped = watch.found.describe()
    return replace(
        item,
        done=complete or stopped is not None,
        invocations=item.invocations + 1,
        verified=len(reports),
        shards=len(shards),
        stopped=stopped,
    )


def _sibling_damage(scratch: Scratch) -> Callable[[], DamageFound | None]:
    """What a batch's watch reads: the damage record, or none when S3 will not give it. Stopping
    early saves work and decides nothing (``finish_verification`` reads the record again and
    fails loudly if it cannot), and a run planned by a version before the record existed has
    none, which S3 answers with 403 to VerifyShards' role (no ``s3:ListBucket``)."""

    def read() -> DamageFound | None:
        try:
            return scratch.read_damage()
        except (UploadFailed, UploadLost) as error:
            logger.warning("verifying on without the damage record: %s", error)
            return None

    return read


def finish_verification(state: RunState, services: Services) -> RunState:
    """Raise the damage a batch recorded; otherwise merge the batches' reports, write the
    inventory, tag the object, clean up."""
    scratch = Scratch(services.s3, state.bucket, state.key)
    try:
        inventory, batches = scratch.read_plan()
    except UploadLost:
        # A retry after an attempt that wrote the inventory and deleted the working files.
        return _already_finished(state, services)
    damage = scratch.read_damage()
    if damage is not None:
        # The Map is over, so no batch writes any more: the failure path may clean up.
        raise damage.error()
    data = DataInventory()
    for batch in range(batches):
        reports, complete = scratch.read_reports(batch)
        if not complete:
            raise VerificationIncomplete(
                f"s3://{state.bucket}/{state.key}: batch {batch} of {batches} of the "
                "verification has no complete report, so not every shard was verified; start "
                "the verification again (execution input mode 'verify')"
            )
        batch_data = DataInventory()
        for report in reports:
            batch_data = batch_data.merged(report.data)
        data = data.merged(batch_data)

    verified = _verified(state, services, inventory, data)
    key = write_inventory(
        services.s3,
        state.bucket,
        state.key,
        inventory,
        data=data,
        extra={
            "data_summary": verified.data_text,
            "newest_age_hours": verified.newest_age_hours,
            "stale": verified.stale,
        },
    )
    scratch.delete(batches)
    return _with_inventory(state, inventory, key, verified)


def _already_finished(state: RunState, services: Services) -> RunState:
    key = inventory_key(state.key)
    written = read_inventory(services.s3, state.bucket, state.key)
    if written is None:
        raise VerificationIncomplete(
            f"s3://{state.bucket}/{state.key}: the verification's plan is gone and no inventory "
            f"was written ({key}); start the verification again (execution input mode 'verify')"
        )
    inventory, data = written
    return _with_inventory(state, inventory, key, _verified(state, services, inventory, data))


def _verified(
    state: RunState, services: Services, inventory: Inventory, data: DataInventory
) -> VerificationState:
    """The run's verification state with what the data says: its summary line, the newest
    point's age at the backup's stamp and whether that is older than ``MaxDataAgeHours``."""
    backup_time = backup_moment(inventory.stamp, state.requested_at or services.clock())
    age = data.newest_age_hours(backup_time)
    limit = services.settings.verify.max_data_age_hours
    return replace(
        state.verification or VerificationState(),
        data_text=data.summary_text(backup_time),
        newest_age_hours=age,
        stale=limit is not None and age is not None and age > limit,
        max_data_age_hours=limit,
    )


def _with_inventory(
    state: RunState, inventory: Inventory, key: str, verified: VerificationState
) -> RunState:
    return replace(
        state,
        inventory=inventory.summary(),
        inventory_key=key,
        inventory_text=inventory.summary_text(),
        verification=verified,
    )


def backup_moment(stamp: str, fallback_epoch: float) -> datetime:
    """When the backup was made: its manifest's stamp (``20261123T030000Z``), which influxd
    writes as the backup starts; otherwise ``fallback_epoch``."""
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(fallback_epoch, UTC)


def _object_size(state: RunState, services: Services) -> int:
    bucket, key = state.bucket, state.key
    try:
        return call_with_retries(
            lambda: services.s3.head_object(Bucket=bucket, Key=key)["ContentLength"],
            services.settings.copy.retry_policy,
            "verify",
            f"s3://{bucket}/{key}",
        )
    except (UploadLost, UploadFailed):
        if state.request.s3_key is None:
            raise
        raise InvalidExecutionInput(
            "s3_key",
            f"there is no object {key!r} in the stack's bucket {bucket} (or it may not be "
            "read): put the backup there first (aws s3 cp), or correct the key",
        ) from None

"""The verification's working files in S3, next to the backup under ``<key>.verification/``.

The state machine's payload stays small (Step Functions allows 256 KiB), so what a backup of
20,000 shards needs between steps is written here and the state carries only batch numbers:

- ``index.json``: the tar's members found so far and where the walk resumes (planning that ran
  out of time);
- ``plan.json``: the checked inventory (manifest, files, sizes) and the number of batches;
- ``batch-00000.json``: the shards one Map iteration verifies (member and manifest entry);
- ``report-00000.json``: that batch's ``ShardReport``s so far (rewritten as it resumes);
- ``damage.json``: the content error a batch found, or none (``verify.damage``): written empty
  with the plan, so that every batch can read it, and stop once a sibling found damage.

FinishVerification deletes them once the inventory is written; the failure path deletes them
too (``scratch_keys``). Each is written tagged ``retention-class=failed``, so whatever is left
(a run stopped mid-way, the locked versions under Object Lock) expires with the bucket's rule
for what failed runs leave. Nothing here is ever a backup: the keys end in ``.json`` under a folder
named after the object, so listing backups (``*.tar``) never sees them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiven_backup.retry import TRANSFER_RETRY, RetriesOneOperation
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.storage.retention import RETENTION_CLASS_TAG, RetentionClass
from aiven_backup.verify.damage import DAMAGE_NAME, DamageFound
from aiven_backup.verify.inventory import Inventory, InventoryFile
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.shard import ShardReport
from aiven_backup.verify.tar_index import IndexCursor, TarMember

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCRATCH_SUFFIX = ".verification/"
SCRATCH_TAGGING = f"{RETENTION_CLASS_TAG}={RetentionClass.FAILED.value}"
INDEX_NAME = "index.json"
PLAN_NAME = "plan.json"


def scratch_prefix(key: str) -> str:
    """``backups/a/b.tar`` -> ``backups/a/b.tar.verification/``."""
    return key + SCRATCH_SUFFIX


def batch_key(key: str, batch: int) -> str:
    return f"{scratch_prefix(key)}batch-{batch:05d}.json"


def report_key(key: str, batch: int) -> str:
    return f"{scratch_prefix(key)}report-{batch:05d}.json"


def scratch_keys(key: str, batches: int) -> list[str]:
    """Every working file a verification of ``key`` with ``batches`` batches may have written."""
    prefix = scratch_prefix(key)
    keys = [prefix + INDEX_NAME, prefix + PLAN_NAME, prefix + DAMAGE_NAME]
    for batch in range(batches):
        keys += [batch_key(key, batch), report_key(key, batch)]
    return keys


class Scratch:
    """Reads and writes the working files of the verification of ``s3://bucket/key``."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        *,
        retry: RetriesOneOperation = TRANSFER_RETRY,
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.key = key
        self._retry = retry

    # --- the index of an interrupted walk ------------------------------------------------------

    def write_index(self, members: Sequence[TarMember], cursor: IndexCursor) -> None:
        self._put(
            scratch_prefix(self.key) + INDEX_NAME,
            {"cursor": cursor.to_dict(), "members": [_member_to_list(m) for m in members]},
        )

    def read_index(self) -> tuple[list[TarMember], IndexCursor]:
        data = self._get(scratch_prefix(self.key) + INDEX_NAME)
        members = [_member_from_list(item) for item in data["members"]]
        return members, IndexCursor.from_dict(data["cursor"])

    # --- the plan ------------------------------------------------------------------------------

    def write_plan(self, inventory: Inventory, batches: int) -> None:
        self._put(
            scratch_prefix(self.key) + PLAN_NAME,
            {"inventory": _inventory_to_dict(inventory), "batches": batches},
        )

    def read_plan(self) -> tuple[Inventory, int]:
        data = self._get(scratch_prefix(self.key) + PLAN_NAME)
        return _inventory_from_dict(data["inventory"]), int(data["batches"])

    def write_batch(self, batch: int, shards: Sequence[tuple[TarMember, ManifestEntry]]) -> None:
        self._put(
            batch_key(self.key, batch),
            {"shards": [[_member_to_list(m), asdict(entry)] for m, entry in shards]},
        )

    def read_batch(self, batch: int) -> list[tuple[TarMember, ManifestEntry]]:
        data = self._get(batch_key(self.key, batch))
        return [
            (_member_from_list(member), ManifestEntry(**entry)) for member, entry in data["shards"]
        ]

    # --- what verifying a batch found -----------------------------------------------------------

    def write_reports(self, batch: int, reports: Sequence[ShardReport], *, complete: bool) -> None:
        self._put(
            report_key(self.key, batch),
            {"complete": complete, "reports": [report.to_dict() for report in reports]},
        )

    def read_reports(self, batch: int) -> tuple[list[ShardReport], bool]:
        """The batch's reports and whether the batch is complete; none yet: ``([], False)``."""
        data = self._get(report_key(self.key, batch), missing_ok=True)
        if data is None:
            return [], False
        return [ShardReport.from_dict(r) for r in data["reports"]], bool(data["complete"])

    # --- damage a batch found, for its siblings and the step after the Map ------------------------

    def write_damage(self, found: DamageFound | None) -> None:
        """Record ``found`` (None: no damage yet, as the plan writes it)."""
        self._put(
            scratch_prefix(self.key) + DAMAGE_NAME,
            {"damage": None if found is None else found.to_dict()},
        )

    def read_damage(self) -> DamageFound | None:
        """The damage a batch recorded, if any. (The plan writes the record, so it is there;
        a plan written by a version without it reads as no damage where S3 answers 404.)"""
        data = self._get(scratch_prefix(self.key) + DAMAGE_NAME, missing_ok=True)
        if not data or data.get("damage") is None:
            return None
        return DamageFound.from_dict(data["damage"])

    # --- clean-up ------------------------------------------------------------------------------

    def delete(self, batches: int) -> None:
        """Delete every working file (``DeleteObjects`` would need ``s3:DeleteObject`` on the
        same keys anyway, and one request per 1,000 keys; these are few)."""
        for key in scratch_keys(self.key, batches):
            self._delete(key)

    def _delete(self, key: str) -> None:
        call_with_retries(
            lambda: self._s3.delete_object(Bucket=self.bucket, Key=key),
            self._retry,
            "delete the verification's working file",
            f"s3://{self.bucket}/{key}",
        )

    # --- S3 ------------------------------------------------------------------------------------

    def _put(self, key: str, document: Mapping[str, Any]) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        call_with_retries(
            lambda: self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ChecksumAlgorithm="CRC32",  # a bucket with Object Lock refuses a PUT without
                Tagging=SCRATCH_TAGGING,
            ),
            self._retry,
            "write the verification's working file",
            f"s3://{self.bucket}/{key}",
        )

    def _get(self, key: str, *, missing_ok: bool = False) -> Any:
        location = f"s3://{self.bucket}/{key}"

        def get() -> bytes | None:
            try:
                return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                if missing_ok:
                    return None
                raise

        raw = call_with_retries(get, self._retry, "read the verification's working file", location)
        return None if raw is None else json.loads(raw)


def _member_to_list(member: TarMember) -> list[Any]:
    return [member.name, member.offset, member.size, member.type]


def _member_from_list(item: Sequence[Any]) -> TarMember:
    name, offset, size, kind = item
    return TarMember(name=str(name), offset=int(offset), size=int(size), type=str(kind))


def _inventory_to_dict(inventory: Inventory) -> dict[str, Any]:
    return {
        "stamp": inventory.stamp,
        "folder": inventory.folder,
        "databases": {
            database: {policy: list(ids) for policy, ids in policies.items()}
            for database, policies in inventory.databases.items()
        },
        "files": [asdict(file) for file in inventory.files],
        "total_size": inventory.total_size,
        "limited": inventory.limited,
    }


def _inventory_from_dict(data: Mapping[str, Any]) -> Inventory:
    return Inventory(
        stamp=str(data["stamp"]),
        folder=str(data["folder"]),
        databases={
            database: {policy: [int(i) for i in ids] for policy, ids in policies.items()}
            for database, policies in data["databases"].items()
        },
        files=[InventoryFile(**file) for file in data["files"]],
        total_size=int(data["total_size"]),
        limited=bool(data["limited"]),
    )

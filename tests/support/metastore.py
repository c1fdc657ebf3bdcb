"""Meta files (``<stamp>.meta``) written field by field, for metastore tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiven_backup.verify.manifest import ManifestEntry
from local_runner.sample_backup import bytes_field, uint_field

STAMP = "20261123T030000Z"


@dataclass(frozen=True)
class Group:
    group_id: int
    shard_ids: Sequence[int]
    start_ns: int = 1_700_000_000_000_000_000
    end_ns: int = 1_700_604_800_000_000_000
    deleted_at: int = 0


def meta_data(databases: Mapping[str, Mapping[str, Sequence[Group]]]) -> bytes:
    """``meta.Data`` with ``databases`` -> policies -> shard groups, plus the scalar fields and
    a user (field 6) the check must skip."""
    encoded = b""
    for database, policies in databases.items():
        body = bytes_field(1, database.encode()) + bytes_field(2, b"autogen")
        for policy, groups in policies.items():
            policy_body = bytes_field(1, policy.encode()) + uint_field(2, 0) + uint_field(3, 1)
            for group in groups:
                group_body = (
                    uint_field(1, group.group_id)
                    + uint_field(2, group.start_ns)
                    + uint_field(3, group.end_ns)
                    + uint_field(4, group.deleted_at)
                )
                for shard_id in group.shard_ids:
                    owner = bytes_field(3, uint_field(1, 1))
                    group_body += bytes_field(5, uint_field(1, shard_id) + owner)
                policy_body += bytes_field(5, group_body)
            body += bytes_field(3, policy_body)
        encoded += bytes_field(5, body)
    user = bytes_field(6, bytes_field(1, b"admin") + bytes_field(2, b"hash") + uint_field(3, 1))
    return uint_field(1, 0) + uint_field(2, 7) + uint_field(3, 42) + encoded + user


def meta_file(databases: Mapping[str, Mapping[str, Sequence[Group]]]) -> bytes:
    """The meta file: ``{1: Data, 2: MaxNodeID}``."""
    return bytes_field(1, meta_data(databases)) + uint_field(2, 0)


def entry(database: str, policy: str, shard_id: int) -> ManifestEntry:
    return ManifestEntry(
        database=database,
        policy=policy,
        shard_id=shard_id,
        file_name=f"{STAMP}.s{shard_id}.tar.gz",
        size=1024,
        last_modified=0,
    )

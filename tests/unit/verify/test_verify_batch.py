"""A batch of shards verified by a pool of threads: every shard once, and one scratch room shared
by all of them."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aiven_backup.verify import batch
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.shard import ShardReport
from aiven_backup.verify.tar_index import TarMember

MIB = 1024 * 1024


def _shards(count: int) -> list[tuple[TarMember, ManifestEntry]]:
    return [
        (
            TarMember(name=f"s{n}.tar.gz", offset=n * 20 * MIB, size=10 * MIB, type="file"),
            ManifestEntry("db", "autogen", n, f"s{n}.tar.gz", 20 * MIB, 0),
        )
        for n in range(count)
    ]


def test_every_thread_spools_into_the_same_scratch_room(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, int]] = []
    guard = threading.Lock()

    def verify_shard(
        reader: Any, member: TarMember, entry: ManifestEntry, **options: Any
    ) -> ShardReport:
        with guard:
            seen.append((member.name, id(options["spool_space"])))
        return ShardReport(member.name, entry.database, entry.policy, entry.shard_id)

    monkeypatch.setattr(batch, "verify_shard", verify_shard)
    s3: Any = object()  # only the readers verify_shard is handed would use it

    progress = batch.verify_batch(s3, "bucket", "key", 200 * MIB, _shards(6), threads=3)

    assert progress.complete
    assert sorted(name for name, _ in seen) == [f"s{n}.tar.gz" for n in range(6)]
    assert len({space for _, space in seen}) == 1

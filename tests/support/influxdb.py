"""Comparing a real influxd backup's manifest with the inventory the workflow wrote."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from typing import Any

type Transport = Callable[[bytes], bytes]


def manifest_shards(tar: bytes) -> set[tuple[str, str, int]]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(".manifest"))
        extracted = archive.extractfile(member)
        assert extracted is not None
        manifest = json.loads(extracted.read())
    return {(f["database"], f["policy"], f["shardID"]) for f in manifest["files"] or []}


def inventory_shards(inventory: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {
        (database, policy, shard)
        for database, policies in inventory["databases"].items()
        for policy, shards in policies.items()
        for shard in shards
    }

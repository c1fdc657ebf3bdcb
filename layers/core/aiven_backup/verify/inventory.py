"""What a verified backup holds: databases, retention policies, shards, files and sizes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

FileKind = Literal["meta", "shard", "manifest"]

SUMMARY_MAX_BYTES = 1800
"""The summary travels in the state payload and in notifications: it stays this small."""
SUMMARY_MAX_NAME = 64
SUMMARY_MAX_POLICIES = 8
SUMMARY_MAX_DATABASES = 25  # more could never fit in SUMMARY_MAX_BYTES anyway
TEXT_MAX_DATABASES = 5
TEXT_MAX_POLICIES = 3
TEXT_MAX_NAME = 32


@dataclass(frozen=True)
class InventoryFile:
    """One file of the backup; ``name`` is its path inside the tar.

    ``uncompressed_size`` comes from the manifest: a shard's uncompressed tar size, or for the
    meta file the length of the metastore bytes it embeds; ``None`` for a manifest.
    """

    name: str
    kind: FileKind
    size_in_tar: int
    database: str | None = None
    policy: str | None = None
    shard_id: int | None = None
    uncompressed_size: int | None = None


@dataclass(frozen=True)
class Inventory:
    """A verified InfluxDB portable backup inside one tar."""

    stamp: str
    folder: str  # where the manifest sits inside the tar ('' for the root)
    databases: Mapping[str, Mapping[str, Sequence[int]]]  # database -> policy -> shard ids
    files: Sequence[InventoryFile]
    total_size: int  # the tar's size in bytes
    limited: bool = False  # made with -db/-rp/-shard filters: only part of the service

    @property
    def shard_count(self) -> int:
        return sum(1 for f in self.files if f.kind == "shard")

    def database_bytes(self) -> dict[str, int]:
        """Bytes of shard files in the tar, per database."""
        sizes = dict.fromkeys(self.databases, 0)
        for file in self.files:
            if file.kind == "shard" and file.database is not None:
                sizes[file.database] = sizes.get(file.database, 0) + file.size_in_tar
        return sizes

    def to_dict(self) -> dict[str, Any]:
        """The full inventory, JSON-able."""
        return {
            "format": "influxdb-1.x-portable-backup",
            "stamp": self.stamp,
            "folder": self.folder,
            "limited": self.limited,
            "total_size": self.total_size,
            "database_count": len(self.databases),
            "shard_count": self.shard_count,
            "file_count": len(self.files),
            "databases": {
                database: {policy: list(ids) for policy, ids in policies.items()}
                for database, policies in self.databases.items()
            },
            "files": [asdict(file) for file in self.files],
        }

    def summary(self) -> dict[str, Any]:
        """A small digest (under ``SUMMARY_MAX_BYTES`` as JSON, whatever the backup's size).

        Databases are listed largest first; those that do not fit are only counted.
        """
        sizes = self.database_bytes()
        detailed: dict[str, Any] = {}
        largest_first = sorted(self.databases, key=lambda name: (-sizes[name], name))
        for database in largest_first[:SUMMARY_MAX_DATABASES]:
            policies = self.databases[database]
            names = sorted(policies)
            entry: dict[str, Any] = {
                "retention_policies": [_short(p) for p in names[:SUMMARY_MAX_POLICIES]],
                "shards": sum(len(ids) for ids in policies.values()),
                "bytes": sizes[database],
            }
            if len(names) > SUMMARY_MAX_POLICIES:
                entry["retention_policies_not_listed"] = len(names) - SUMMARY_MAX_POLICIES
            detailed[_short(database)] = entry
        summary: dict[str, Any] = {
            "stamp": _short(self.stamp),
            "database_count": len(self.databases),
            "shard_count": self.shard_count,
            "file_count": len(self.files),
            "total_size": self.total_size,
            "databases": detailed,
            "databases_not_listed": len(self.databases) - len(detailed),
        }
        while len(json.dumps(summary)) > SUMMARY_MAX_BYTES and detailed:
            detailed.pop(next(reversed(detailed)))
            summary["databases_not_listed"] += 1
        return summary

    def summary_text(self) -> str:
        """A line for a notification: what is inside, how big, which backup."""
        listed = []
        for database in list(self.databases)[:TEXT_MAX_DATABASES]:
            policies = sorted(self.databases[database])
            names = ", ".join(_short(p, TEXT_MAX_NAME) for p in policies[:TEXT_MAX_POLICIES])
            if len(policies) > TEXT_MAX_POLICIES:
                names += f" +{len(policies) - TEXT_MAX_POLICIES} more"
            listed.append(f"{_short(database, TEXT_MAX_NAME)}: {names}")
        if len(self.databases) > TEXT_MAX_DATABASES:
            listed.append(f"{len(self.databases) - TEXT_MAX_DATABASES} more")
        databases = _plural(len(self.databases), "database")
        inside = f"{databases} ({'; '.join(listed)})" if listed else "metastore only"
        return (
            f"{inside}, {_plural(self.shard_count, 'shard')}, "
            f"{_plural(len(self.files), 'file')}, {human_bytes(self.total_size)} in total, "
            f"InfluxDB backup {self.stamp}{' (limited to some databases)' if self.limited else ''}"
        )


def human_bytes(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _short(name: str, limit: int = SUMMARY_MAX_NAME) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"

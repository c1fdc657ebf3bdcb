"""Parse and validate the manifest ``influxd backup -portable`` writes (``<stamp>.manifest``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeGuard

from aiven_backup.errors import NotAnInfluxBackup


@dataclass(frozen=True)
class ManifestEntry:
    """One shard file: ``size`` is the UNCOMPRESSED size of its tar."""

    database: str
    policy: str
    shard_id: int
    file_name: str
    size: int
    last_modified: int


@dataclass(frozen=True)
class BackupManifest:
    """``meta_size`` is the length of the metastore bytes inside the meta file."""

    meta_file_name: str
    meta_size: int
    limited: bool
    files: tuple[ManifestEntry, ...]


def parse_manifest(raw: bytes, where: str) -> BackupManifest:
    """The manifest in ``raw``; ``where`` names it in errors (e.g. ``s3://b/k:x.manifest``)."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _invalid(where, f"it is not JSON ({error})") from error
    if not isinstance(document, dict):
        raise _invalid(where, "it is not a JSON object")
    meta = document.get("meta")
    if not isinstance(meta, dict):
        raise _invalid(where, "'meta' is missing or not an object")
    files = document.get("files")
    if files is not None and not isinstance(files, list):
        raise _invalid(where, "'files' is neither null nor a list")
    return BackupManifest(
        meta_file_name=_text(meta, "fileName", "meta", where),
        meta_size=_count(meta, "size", "meta", where),
        limited=document.get("limited") is True,
        files=tuple(_entry(item, f"files[{i}]", where) for i, item in enumerate(files or ())),
    )


def _entry(item: Any, path: str, where: str) -> ManifestEntry:
    if not isinstance(item, dict):
        raise _invalid(where, f"{path} is not an object")
    last_modified = item.get("lastModified", 0)
    return ManifestEntry(
        database=_text(item, "database", path, where),
        policy=_text(item, "policy", path, where),
        shard_id=_count(item, "shardID", path, where),
        file_name=_text(item, "fileName", path, where),
        size=_count(item, "size", path, where),
        last_modified=last_modified if _is_int(last_modified) else 0,
    )


def _text(obj: dict[str, Any], field: str, path: str, where: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise _invalid(where, f"{path}.{field} must be a non-empty string, got {_shown(value)}")
    return value


def _count(obj: dict[str, Any], field: str, path: str, where: str) -> int:
    value = obj.get(field)
    if not _is_int(value) or value < 0:
        raise _invalid(where, f"{path}.{field} must be a whole number >= 0, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(where: str, reason: str) -> NotAnInfluxBackup:
    return NotAnInfluxBackup(
        f"{where} is not a valid InfluxDB portable-backup manifest: {reason}; "
        "the backup cannot be restored as is, request a new one"
    )

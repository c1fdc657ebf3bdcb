"""Check that a tar in S3 holds a complete InfluxDB portable backup, without downloading it.

Requests made: one HeadObject, then a few ranged GETs per tar member (headers, the manifest, the
first bytes of the meta and shard files), however large the members are.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiven_backup.errors import BackupFileMissing, NotAnInfluxBackup
from aiven_backup.retry import TRANSFER_RETRY, RetriesOneOperation
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.verify.inventory import Inventory, InventoryFile
from aiven_backup.verify.manifest import BackupManifest, ManifestEntry, parse_manifest
from aiven_backup.verify.metastore import check_metastore
from aiven_backup.verify.s3_ranges import S3RangeReader
from aiven_backup.verify.shard import verify_shard
from aiven_backup.verify.tar_index import TarMember, describe_bytes, index_tar, normalize_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST_SUFFIX = ".manifest"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""About 300,000 shard entries: anything larger is not a manifest influxd wrote."""
META_FIRST_BYTE = 0x0A  # protobuf field 1 (the metastore bytes), length-delimited
_LISTED_IN_MESSAGES = 5


def verify_backup(
    s3: S3Client, bucket: str, key: str, *, retry: RetriesOneOperation = TRANSFER_RETRY
) -> Inventory:
    """The inventory of the portable backup in the tar at ``s3://bucket/key``, every shard
    verified in this call (the state machine spreads the shards over a Map instead:
    ``workflow.verification``).

    Raises ``NotAnInfluxBackup`` when the object is no tar, holds no ``*.manifest`` or holds
    files that are not what the manifest says, and ``BackupFileMissing`` when the manifest names
    files the tar does not hold.
    """
    location = f"s3://{bucket}/{key}"
    size = call_with_retries(
        lambda: s3.head_object(Bucket=bucket, Key=key)["ContentLength"], retry, "verify", location
    )
    reader = S3RangeReader(s3, bucket, key, size, retry=retry)
    checked = check_backup(reader, index_tar(reader))
    for member, entry in checked.shards:
        verify_shard(reader, member, entry)
    return checked.inventory


@dataclass(frozen=True)
class CheckedBackup:
    """A backup whose manifest, files and metastore were checked; its shards are still to be
    verified (``verify_shard`` each, in any order, anywhere)."""

    inventory: Inventory
    shards: list[tuple[TarMember, ManifestEntry]]  # in tar order


def check_backup(reader: S3RangeReader, indexed: list[TarMember]) -> CheckedBackup:
    """Everything but the shards' content: the manifests, that every file they name is in the
    tar (``indexed``, the tar's members), the metastore; and the inventory."""
    location = reader.location
    members = {m.name: m for m in indexed}  # a later copy of a name wins, as in tar
    manifest_members = _find_manifests(members, location)
    folder = posixpath.dirname(manifest_members[0].name)
    manifests = [(member, _read_manifest(reader, member, location)) for member in manifest_members]
    _require_files(members, folder, manifests, location)
    newest_member, newest = manifests[-1]  # the stamp leads the name, so names sort by time
    meta = members[_path(folder, newest.meta_file_name)]
    shards = _merge_shards(manifests)
    _check_metastore(reader, meta, newest, shards, location)
    inventory = Inventory(
        stamp=posixpath.basename(newest_member.name).removesuffix(MANIFEST_SUFFIX),
        folder=folder,
        databases=_databases(shards),
        files=_inventory_files(members, folder, manifests, newest, shards),
        total_size=reader.size,
        limited=any(manifest.limited for _, manifest in manifests),
    )
    to_verify = [(members[_path(folder, entry.file_name)], entry) for entry in shards]
    return CheckedBackup(inventory, sorted(to_verify, key=lambda pair: pair[0].offset))


def _check_metastore(
    reader: S3RangeReader,
    meta: TarMember,
    manifest: BackupManifest,
    shards: list[ManifestEntry],
    location: str,
) -> None:
    """The meta file against the manifest: its header, then every shard it lists."""
    _check_meta(reader, meta, manifest.meta_size, location)
    check_metastore(
        reader.read(meta.offset, meta.size), shards, limited=manifest.limited, location=location
    )


def _find_manifests(members: dict[str, TarMember], location: str) -> list[TarMember]:
    found = sorted(
        (m for m in members.values() if m.type == "file" and m.name.endswith(MANIFEST_SUFFIX)),
        key=lambda m: m.name,
    )
    if not found:
        raise NotAnInfluxBackup(
            f"{location} holds no InfluxDB portable backup: no *{MANIFEST_SUFFIX} among "
            f"{len(members)} members{_preview(sorted(members))}; check that the download URL "
            "is the service's user backup"
        )
    folders = sorted({posixpath.dirname(m.name) for m in found})
    if len(folders) > 1:
        raise NotAnInfluxBackup(
            f"{location} holds manifests in {len(folders)} folders "
            f"({', '.join(repr(f) for f in folders[:_LISTED_IN_MESSAGES])}); "
            "expected one InfluxDB portable backup, so which one to restore is unclear"
        )
    return found


def _read_manifest(reader: S3RangeReader, member: TarMember, location: str) -> BackupManifest:
    where = f"{location} (member {member.name})"
    if member.size > MAX_MANIFEST_BYTES:
        raise NotAnInfluxBackup(
            f"{where} is {member.size} bytes, too large for a backup manifest; request a new backup"
        )
    return parse_manifest(reader.read(member.offset, member.size), where)


def _require_files(
    members: dict[str, TarMember],
    folder: str,
    manifests: list[tuple[TarMember, BackupManifest]],
    location: str,
) -> None:
    missing: dict[str, str] = {}  # file name -> the manifest naming it
    for member, manifest in manifests:
        named = [manifest.meta_file_name, *(entry.file_name for entry in manifest.files)]
        for file_name in named:
            found = members.get(_path(folder, file_name))
            if found is None or found.type != "file":
                missing.setdefault(file_name, member.name)
    if missing:
        names = list(missing)
        shown = ", ".join(names[:_LISTED_IN_MESSAGES])
        more = (
            f" and {len(names) - _LISTED_IN_MESSAGES} more"
            if len(names) > _LISTED_IN_MESSAGES
            else ""
        )
        where = f" under {folder}/" if folder else ""
        raise BackupFileMissing(
            f"{location} is an incomplete InfluxDB backup: {missing[names[0]]} names "
            f"{len(names)} file(s) the tar does not hold{where}: {shown}{more}; the backup "
            "cannot be fully restored, request a new one"
        )


def _check_meta(reader: S3RangeReader, meta: TarMember, data_size: int, location: str) -> None:
    head = reader.read(meta.offset, min(meta.size, 11))
    if not head or head[0] != META_FIRST_BYTE:
        found = describe_bytes(head) if head else "it is empty"
        raise NotAnInfluxBackup(
            f"{location}: {meta.name} is not an InfluxDB metastore backup ({found}, expected "
            f"0a); the backup cannot be restored, request a new one"
        )
    declared = _varint(head[1:])
    if declared != data_size:
        raise NotAnInfluxBackup(
            f"{location}: {meta.name} holds {declared} bytes of metastore but the manifest says "
            f"{data_size}; the meta file is damaged or from another backup, request a new one"
        )


def _merge_shards(manifests: list[tuple[TarMember, BackupManifest]]) -> list[ManifestEntry]:
    """influxd restore's rule for several manifests: per shard ID the newest manifest's entry
    wins, unless an older one has a later ``lastModified``."""
    chosen: dict[int, ManifestEntry] = {}
    for _, manifest in reversed(manifests):
        for entry in manifest.files:
            kept = chosen.get(entry.shard_id)
            if kept is None or entry.last_modified > kept.last_modified:
                chosen[entry.shard_id] = entry
    return sorted(chosen.values(), key=lambda e: (e.database, e.policy, e.shard_id))


def _databases(shards: list[ManifestEntry]) -> dict[str, dict[str, list[int]]]:
    databases: dict[str, dict[str, list[int]]] = {}
    for entry in shards:  # already sorted by database, policy, shard ID
        databases.setdefault(entry.database, {}).setdefault(entry.policy, []).append(entry.shard_id)
    return databases


def _inventory_files(
    members: dict[str, TarMember],
    folder: str,
    manifests: list[tuple[TarMember, BackupManifest]],
    newest: BackupManifest,
    shards: list[ManifestEntry],
) -> list[InventoryFile]:
    meta_path = _path(folder, newest.meta_file_name)
    files = [
        InventoryFile(
            name=meta_path,
            kind="meta",
            size_in_tar=members[meta_path].size,
            uncompressed_size=newest.meta_size,
        )
    ]
    for entry in shards:
        path = _path(folder, entry.file_name)
        files.append(
            InventoryFile(
                name=path,
                kind="shard",
                size_in_tar=members[path].size,
                database=entry.database,
                policy=entry.policy,
                shard_id=entry.shard_id,
                uncompressed_size=entry.size,
            )
        )
    files.extend(
        InventoryFile(name=member.name, kind="manifest", size_in_tar=member.size)
        for member, _ in manifests
    )
    return files


def _path(folder: str, file_name: str) -> str:
    return normalize_name(posixpath.join(folder, file_name))


def _varint(data: bytes) -> int | None:
    value = 0
    for position, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << (7 * position)
        if not byte & 0x80:
            return value
    return None


def _preview(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:_LISTED_IN_MESSAGES])
    more = (
        f", and {len(names) - _LISTED_IN_MESSAGES} more" if len(names) > _LISTED_IN_MESSAGES else ""
    )
    return f": {shown}{more}"

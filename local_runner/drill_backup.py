"""The backup a restore drill works on: a local tar or an S3 object, what it holds, and its
files safely extracted.

What the backup holds is computed from the tar itself with the verification library, the same
way the Lambda verifies a backup in S3: the tar's headers are indexed through ranged reads, the
manifest is read, and every shard is read by ``verify.shard.verify_shard``, whose
``ShardReport.data`` (per measurement: field values, first and last timestamp) is merged.
"""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import urlsplit

from aiven_backup.errors import RestoreDrillUnavailable, UnsafeBackupMember
from aiven_backup.verify.data_inventory import DataInventory
from aiven_backup.verify.s3_ranges import S3RangeReader
from aiven_backup.verify.shard import RangeSource, verify_shard
from aiven_backup.verify.tar_index import index_tar
from aiven_backup.verify.verifier import check_backup

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class LocalFileRangeSource:
    """Byte ranges of a local file: what ``S3RangeReader`` is for an S3 object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._file: BinaryIO = path.open("rb")

    @property
    def location(self) -> str:
        return str(self.path)

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the file)."""
        if offset >= self.size or length <= 0:
            return b""
        self._file.seek(offset)
        return self._file.read(min(length, self.size - offset))

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class BackupContents:
    """``folder`` holds the manifest inside the tar (``""`` at its root)."""

    folder: str
    shards: int
    data: DataInventory


@dataclass(frozen=True)
class OpenedBackup:
    """Ranged reads of the backup, and the tar as a local file (downloaded from S3 if need be)."""

    source: RangeSource
    tar_path: Path


def _sized(source: RangeSource) -> S3RangeReader:
    # The tar index and the manifest reader are typed for S3RangeReader but use only its
    # ``location``, ``size`` and ``read``, which every source here has.
    return cast(S3RangeReader, source)


def read_contents(source: RangeSource) -> BackupContents:
    """Where the backup sits in the tar and the data it holds, per measurement.

    Raises ``NotAnInfluxBackup``, ``BackupFileMissing`` or ``BackupContentCorrupt`` (as the
    Lambda's verification does) when the tar is not a complete, readable portable backup.
    """
    reader = _sized(source)
    checked = check_backup(reader, index_tar(reader))
    data = DataInventory()
    for member, entry in checked.shards:
        data = data.merged(verify_shard(source, member, entry).data)
    return BackupContents(folder=checked.inventory.folder, shards=len(checked.shards), data=data)


@contextlib.contextmanager
def open_backup(
    backup: str,
    workdir: Path,
    *,
    s3: S3Client | None = None,
) -> Iterator[OpenedBackup]:
    """A local path, or ``s3://bucket/key`` (read with ``s3``, downloaded into ``workdir``).

    Raises ``RestoreDrillUnavailable`` when the path is no file or the URI is malformed.
    """
    if backup.startswith("s3://"):
        bucket, key = _split_s3_uri(backup)
        if s3 is None:
            raise RestoreDrillUnavailable(f"{backup}: no S3 client to read it with")
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        tar_path = workdir / "backup.tar"
        s3.download_file(bucket, key, str(tar_path))
        yield OpenedBackup(S3RangeReader(s3, bucket, key, size), tar_path)
        return
    path = Path(backup)
    if not path.is_file():
        raise RestoreDrillUnavailable(
            f"{backup} is not a file: name a backup tar (e.g. the demo's demo-backup.tar) or an "
            "s3://bucket/key.tar URI"
        )
    local = LocalFileRangeSource(path)
    try:
        yield OpenedBackup(local, path)
    finally:
        local.close()


def _split_s3_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if not parts.netloc or not key:
        raise RestoreDrillUnavailable(f"{uri} is not an s3://bucket/key URI")
    return parts.netloc, key


def check_member_names(names_and_kinds: list[tuple[str, bool]], location: str) -> None:
    """Refuse a tar whose extraction could write outside its folder or make anything but files.

    ``names_and_kinds`` holds (name as stored, whether it is a regular file or a directory).
    """
    for name, plain in names_and_kinds:
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts:
            raise UnsafeBackupMember(
                f"{location}: the tar member {name!r} would be extracted outside its folder "
                "(an absolute name or a '..' step); a backup influxd wrote never holds one, so "
                "this tar is not restored. Check where it came from"
            )
        if not plain:
            raise UnsafeBackupMember(
                f"{location}: the tar member {name!r} is a link or a device, which no InfluxDB "
                "portable backup holds; this tar is not restored. Check where it came from"
            )


def extract_backup(tar_path: Path, folder: str, dest: Path) -> Path:
    """Extract the tar into ``dest``; returns the folder holding the manifest.

    Every member name is checked first (``check_member_names``): nothing is written when one
    is unsafe. ``tarfile``'s ``data`` filter guards the extraction itself as well.
    """
    with tarfile.open(tar_path, "r:") as archive:
        members = archive.getmembers()
        check_member_names([(m.name, m.isfile() or m.isdir()) for m in members], str(tar_path))
        dest.mkdir(parents=True, exist_ok=True)
        archive.extractall(dest, members=members, filter="data")
    return dest / folder if folder else dest

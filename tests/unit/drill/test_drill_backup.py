"""The backup a restore drill reads: a local tar or an S3 object, where its portable backup
sits and how many shards it holds, and its files extracted without leaving their folder."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aiven_backup.errors import BackupFileMissing, RestoreDrillUnavailable, UnsafeBackupMember
from local_runner.drill_backup import (
    LocalFileRangeSource,
    extract_backup,
    open_backup,
    read_contents,
)
from local_runner.sample_backup import DEFAULT_STAMP, build_sample_backup
from tests.support.aws import BUCKET
from tests.support.drill import member, tar_with
from tests.support.s3 import sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHARDS = 6  # the sample: three retention policies, two shards each


def write(tmp_path: Path, body: bytes, name: str = "backup.tar") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_a_local_file_reads_exact_ranges_and_less_only_at_its_end(tmp_path: Path) -> None:
    source = LocalFileRangeSource(write(tmp_path, bytes(range(256))))

    assert source.size == 256
    assert source.location == str(tmp_path / "backup.tar")
    assert source.read(10, 3) == bytes([10, 11, 12])
    assert source.read(250, 100) == bytes(range(250, 256))
    assert source.read(256, 1) == b""
    source.close()


@pytest.mark.parametrize("folder", [None, "metrics-influx-backup"], ids=["at-root", "in-folder"])
def test_the_contents_name_the_folder_holding_the_manifest_and_count_its_shards(
    tmp_path: Path, folder: str | None
) -> None:
    tar = write(tmp_path, build_sample_backup(folder=folder))

    with open_backup(str(tar), tmp_path) as opened:
        contents = read_contents(opened.source)

    assert contents.folder == (folder or "")
    assert contents.shards == SHARDS
    assert opened.tar_path == tar


def test_a_backup_missing_a_shard_file_is_refused_before_any_restore(tmp_path: Path) -> None:
    tar = write(tmp_path, build_sample_backup(drop_files=[f"{DEFAULT_STAMP}.s2.tar.gz"]))

    with open_backup(str(tar), tmp_path) as opened, pytest.raises(BackupFileMissing):
        read_contents(opened.source)


def test_extraction_writes_the_backup_folder_with_every_file(tmp_path: Path) -> None:
    tar = write(tmp_path, build_sample_backup(folder="inside"))

    folder = extract_backup(tar, "inside", tmp_path / "out")

    assert folder == tmp_path / "out" / "inside"
    names = {path.name for path in folder.iterdir()}
    assert {f"{DEFAULT_STAMP}.manifest", f"{DEFAULT_STAMP}.meta"} <= names
    assert sum(name.endswith(".tar.gz") for name in names) == SHARDS


@pytest.mark.parametrize(
    "unsafe",
    [
        member("../escaped.manifest"),
        member("backup/../../escaped.meta"),
        member("/etc/cron.d/escaped"),
        member("backup/link", tarfile.SYMTYPE, "/etc/passwd"),
        member("backup/hard", tarfile.LNKTYPE, "backup/x.manifest"),
        member("backup/device", tarfile.CHRTYPE),
    ],
    ids=["dot-dot", "dot-dot-inside", "absolute", "symlink", "hardlink", "device"],
)
def test_a_tar_with_a_member_that_could_leave_its_folder_is_refused_and_nothing_written(
    tmp_path: Path, unsafe: tarfile.TarInfo
) -> None:
    name = unsafe.name
    tar = write(tmp_path, tar_with(member("backup/x.manifest"), unsafe))
    out = tmp_path / "deep" / "out"

    with pytest.raises(UnsafeBackupMember) as raised:
        extract_backup(tar, "backup", out)

    assert repr(name) in str(raised.value)
    assert not out.exists()
    assert not (tmp_path / "deep" / "escaped.manifest").exists()


def test_a_path_that_is_no_file_is_a_usage_error(tmp_path: Path) -> None:
    with (
        pytest.raises(RestoreDrillUnavailable, match="is not a file"),
        open_backup(str(tmp_path / "nope.tar"), tmp_path),
    ):
        pass


def test_an_s3_uri_is_read_with_ranges_and_downloaded_for_the_restore(
    s3: S3Client, tmp_path: Path
) -> None:
    body = build_sample_backup(folder="inside")
    s3.put_object(Bucket=BUCKET, Key="influxdb-backups/x.tar", Body=body)

    with open_backup(f"s3://{BUCKET}/influxdb-backups/x.tar", tmp_path, s3=s3) as opened:
        contents = read_contents(opened.source)
        assert opened.source.location == f"s3://{BUCKET}/influxdb-backups/x.tar"
        assert sha256(opened.tar_path.read_bytes()) == sha256(body)

    assert (contents.folder, contents.shards) == ("inside", SHARDS)


@pytest.mark.parametrize("uri", ["s3://", "s3://bucket-only", "s3://bucket/"])
def test_an_s3_uri_without_a_key_is_a_usage_error(s3: S3Client, tmp_path: Path, uri: str) -> None:
    with (
        pytest.raises(RestoreDrillUnavailable, match="s3://bucket/key"),
        open_backup(uri, tmp_path, s3=s3),
    ):
        pass

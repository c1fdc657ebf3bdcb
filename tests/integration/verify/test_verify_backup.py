"""Verifying a backup tar in S3: what passes, what is refused and why, what it costs."""

from __future__ import annotations

import json
import os
import tarfile
from typing import TYPE_CHECKING

import pytest

from aiven_backup.errors import BackupFileMissing, NotAnInfluxBackup, ShardCorrupt, UploadLost
from aiven_backup.verify import verify_backup
from local_runner.sample_backup import (
    build_non_backup_tar,
    build_sample_backup,
    pack_tar,
    sample_backup_files,
)
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.s3 import PutObject, S3Requests

STAMP = "20261123T030000Z"
LONG_FOLDER = "aiven-user-backup-" + "/".join(["influx-metrics-" + "0123456789" * 8] * 2)


def test_backup_at_the_root_is_inventoried(s3: S3Client, put_object: PutObject) -> None:
    body = build_sample_backup()
    key = put_object("acme/influx/backup.tar", body)

    inventory = verify_backup(s3, BUCKET, key)

    assert inventory.stamp == STAMP
    assert inventory.folder == ""
    assert inventory.total_size == len(body)
    assert inventory.databases == {
        "metrics": {"autogen": [3, 4], "one_week": [5, 6]},
        "telegraf": {"autogen": [1, 2]},
    }
    assert [(f.name, f.kind) for f in inventory.files] == [
        (f"{STAMP}.meta", "meta"),
        *((f"{STAMP}.s{i}.tar.gz", "shard") for i in (3, 4, 5, 6, 1, 2)),
        (f"{STAMP}.manifest", "manifest"),
    ]


def test_sizes_come_from_the_tar_and_the_manifest(s3: S3Client, put_object: PutObject) -> None:
    files = sample_backup_files()
    manifest = json.loads(files[f"{STAMP}.manifest"])
    key = put_object("backup.tar", pack_tar(files))

    inventory = verify_backup(s3, BUCKET, key)

    by_name = {f.name: f for f in inventory.files}
    for name, data in files.items():
        assert by_name[name].size_in_tar == len(data)
    assert by_name[f"{STAMP}.meta"].uncompressed_size == manifest["meta"]["size"]
    for entry in manifest["files"]:
        shard = by_name[entry["fileName"]]
        assert (shard.database, shard.policy, shard.shard_id) == (
            entry["database"],
            entry["policy"],
            entry["shardID"],
        )
        assert shard.uncompressed_size == entry["size"]


@pytest.mark.parametrize(
    ("folder", "tar_format"),
    [
        ("backup", tarfile.USTAR_FORMAT),
        (LONG_FOLDER, tarfile.PAX_FORMAT),
        (LONG_FOLDER, tarfile.GNU_FORMAT),
    ],
    ids=["ustar-short-folder", "pax-long-folder", "gnu-long-folder"],
)
def test_backup_in_a_folder_is_found_whatever_the_tar_format(
    s3: S3Client, put_object: PutObject, folder: str, tar_format: int
) -> None:
    key = put_object("backup.tar", build_sample_backup(folder=folder, tar_format=tar_format))

    inventory = verify_backup(s3, BUCKET, key)

    assert inventory.folder == folder
    assert inventory.shard_count == 6
    assert all(f.name.startswith(folder + "/") for f in inventory.files)


def test_manifest_without_shards_is_a_metastore_only_backup(
    s3: S3Client, put_object: PutObject
) -> None:
    key = put_object("backup.tar", build_sample_backup(shards_per_policy=0))

    inventory = verify_backup(s3, BUCKET, key)

    assert inventory.databases == {}
    assert [f.kind for f in inventory.files] == ["meta", "manifest"]


def test_tar_without_a_manifest_is_refused_listing_what_it_holds(
    s3: S3Client, put_object: PutObject
) -> None:
    key = put_object("backup.tar", build_non_backup_tar())

    with pytest.raises(NotAnInfluxBackup) as caught:
        verify_backup(s3, BUCKET, key)

    assert str(caught.value).startswith(f"s3://{BUCKET}/backup.tar holds no InfluxDB")
    assert "no *.manifest among 3 members: README.txt, data/notes.json, data/sales.csv" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [(os.urandom(64 * 1024), "is not a tar archive"), (b"", "is empty")],
    ids=["random-bytes", "empty"],
)
def test_object_that_is_not_a_tar_is_refused(
    s3: S3Client, put_object: PutObject, body: bytes, says: str
) -> None:
    key = put_object("backup.tar", body)

    with pytest.raises(NotAnInfluxBackup, match=says):
        verify_backup(s3, BUCKET, key)


def test_missing_shard_file_is_named(s3: S3Client, put_object: PutObject) -> None:
    missing = f"{STAMP}.s4.tar.gz"
    key = put_object("backup.tar", build_sample_backup(folder="bk", drop_files=[missing]))

    with pytest.raises(BackupFileMissing) as caught:
        verify_backup(s3, BUCKET, key)

    message = str(caught.value)
    assert f"{STAMP}.manifest names 1 file(s) the tar does not hold under bk/: {missing}" in message
    assert "request a new one" in message


def test_missing_meta_file_is_named(s3: S3Client, put_object: PutObject) -> None:
    key = put_object("backup.tar", build_sample_backup(drop_files=[f"{STAMP}.meta"]))

    with pytest.raises(BackupFileMissing, match=rf"{STAMP}\.meta"):
        verify_backup(s3, BUCKET, key)


def test_meta_file_that_is_no_metastore_is_refused(s3: S3Client, put_object: PutObject) -> None:
    files = sample_backup_files()
    files[f"{STAMP}.meta"] = b"PLAIN TEXT, NOT PROTOBUF"
    key = put_object("backup.tar", pack_tar(files))

    with pytest.raises(NotAnInfluxBackup, match=r"\.meta is not an InfluxDB metastore"):
        verify_backup(s3, BUCKET, key)


def test_meta_file_from_another_backup_is_refused(s3: S3Client, put_object: PutObject) -> None:
    files = sample_backup_files()
    files[f"{STAMP}.meta"] = sample_backup_files(databases={"other": ["autogen"]})[f"{STAMP}.meta"]
    key = put_object("backup.tar", pack_tar(files))

    with pytest.raises(NotAnInfluxBackup, match="but the manifest says"):
        verify_backup(s3, BUCKET, key)


def test_shard_file_that_is_not_gzip_is_corrupt(s3: S3Client, put_object: PutObject) -> None:
    files = sample_backup_files()
    files[f"{STAMP}.s2.tar.gz"] = b"\0" * 600
    key = put_object("backup.tar", pack_tar(files))

    with pytest.raises(ShardCorrupt, match=r"s2\.tar\.gz is not gzip-compressed"):
        verify_backup(s3, BUCKET, key)


def test_manifests_in_two_folders_are_refused(s3: S3Client, put_object: PutObject) -> None:
    files = sample_backup_files()
    both = {
        **{f"one/{n}": d for n, d in files.items()},
        **{f"two/{n}": d for n, d in files.items()},
    }
    key = put_object("backup.tar", pack_tar(both))

    with pytest.raises(NotAnInfluxBackup, match="manifests in 2 folders"):
        verify_backup(s3, BUCKET, key)


def test_several_manifests_in_one_folder_combine_like_influxd_restore(
    s3: S3Client, put_object: PutObject
) -> None:
    older = sample_backup_files(stamp="20261122T030000Z", databases={"telegraf": ["autogen"]})
    newer = sample_backup_files(stamp=STAMP, databases={"telegraf": ["autogen"]}, seed=1)
    key = put_object("backup.tar", pack_tar({**older, **newer}))

    inventory = verify_backup(s3, BUCKET, key)

    assert inventory.stamp == STAMP
    shards = [f.name for f in inventory.files if f.kind == "shard"]
    assert shards == [f"{STAMP}.s1.tar.gz", f"{STAMP}.s2.tar.gz"]
    manifests = [f.name for f in inventory.files if f.kind == "manifest"]
    assert manifests == ["20261122T030000Z.manifest", f"{STAMP}.manifest"]


def test_a_missing_object_is_reported_as_lost(s3: S3Client) -> None:
    with pytest.raises(UploadLost, match=f"s3://{BUCKET}/nothing-here.tar does not exist"):
        verify_backup(s3, BUCKET, "nothing-here.tar")


def test_each_shard_is_read_once_in_few_large_requests(
    s3: S3Client, put_object: PutObject, s3_requests: S3Requests
) -> None:
    def backup(shard_payload_bytes: int) -> bytes:
        return build_sample_backup(
            databases={"db": ["autogen", "week"]},
            shards_per_policy=6,
            shard_payload_bytes=shard_payload_bytes,
        )

    small = put_object("small.tar", backup(64))
    big_body = backup(1024 * 1024)
    big = put_object("big.tar", big_body)
    assert len(big_body) > 4 * 1024 * 1024

    s3_requests.reset()
    verify_backup(s3, BUCKET, small)
    small_gets = s3_requests.count("GetObject")
    s3_requests.reset()
    inventory = verify_backup(s3, BUCKET, big)
    big_gets = s3_requests.count("GetObject")

    members = len(inventory.files)  # 12 shards, meta, manifest
    shards = members - 2
    assert members == 14
    # one per header, the manifest body, and one per shard body (each under CHUNK_SIZE)
    assert big_gets <= members + 2 + shards
    assert small_gets <= big_gets
    assert s3_requests.count("HeadObject") == 1
    assert s3_requests.bytes_received < len(big_body) + 64 * 1024  # every byte about once


def test_summary_stays_small_for_hundreds_of_shards(s3: S3Client, put_object: PutObject) -> None:
    databases = {f"db{i}": ["autogen", "one_week", "one_year"] for i in range(4)}
    body = build_sample_backup(databases=databases, shards_per_policy=30, shard_payload_bytes=32)
    key = put_object("backup.tar", body)

    inventory = verify_backup(s3, BUCKET, key)

    assert inventory.shard_count == 360
    assert len(json.dumps(inventory.summary())) < 2048
    assert inventory.summary()["shard_count"] == 360
    assert len(json.dumps(inventory.to_dict())) > 10 * 2048  # the full inventory is not small

"""Deep verification of a backup in (moto) S3 through ranged reads: every shard's gzip, tar and
TSM files, the data inventory they add up to, and the metastore against the manifest."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

import pytest

from aiven_backup.errors import MetaManifestMismatch, ShardCorrupt, TsmCorrupt
from aiven_backup.verify.data_inventory import DataInventory
from aiven_backup.verify.manifest import parse_manifest
from aiven_backup.verify.metastore import check_metastore
from aiven_backup.verify.s3_ranges import S3RangeReader
from aiven_backup.verify.shard import verify_shard
from aiven_backup.verify.tar_index import TarMember, index_tar
from local_runner.sample_backup import SampleSeries, pack_tar, sample_backup_files
from tests.support.aws import BUCKET
from tests.support.tsm import (
    STAMP,
    corrupt_block,
    decode_all,
    index_entries,
    regzip,
    shard_files,
    shard_members,
    with_byte_flipped,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.s3 import PutObject, S3Requests

SERIES = (
    SampleSeries(b"cpu,host=a#!~#usage", timestamps="rle"),
    SampleSeries(b"cpu,host=a#!~#idle", timestamps="simple8b"),
    SampleSeries(b"cpu,host=b#!~#usage"),
    SampleSeries(b"disk,host=a,path=/#!~#full", kind="boolean", timestamps="simple8b"),
)
DATABASES = {"telegraf": ("autogen",), "metrics": ("autogen", "one_week")}


def _files() -> dict[str, bytes]:
    return sample_backup_files(databases=DATABASES, series=SERIES, points_per_series=1500)


def _deep_verify(s3: S3Client, key: str) -> DataInventory:
    """What the state machine does, in one process: index the tar, check the metastore, verify
    every shard through ranged reads, merge the shards' inventories."""
    size = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    reader = S3RangeReader(s3, BUCKET, key, size)
    members = {m.name: m for m in index_tar(reader)}
    manifest_member = members[f"{STAMP}.manifest"]
    manifest = parse_manifest(reader.read(manifest_member.offset, manifest_member.size), key)
    meta = members[manifest.meta_file_name]
    check_metastore(
        reader.read(meta.offset, meta.size),
        manifest.files,
        limited=manifest.limited,
        location=reader.location,
    )
    inventory = DataInventory()
    for entry in manifest.files:
        member = members[posixpath.join(posixpath.dirname(manifest_member.name), entry.file_name)]
        inventory = inventory.merged(verify_shard(reader, member, entry).data)
    return inventory


def test_a_good_backup_gives_exact_points_times_and_series_per_measurement(
    s3: S3Client, put_object: PutObject
) -> None:
    files = _files()
    truth: dict[tuple[str, str, str], list[tuple[bytes, int, int, int]]] = {}
    for shard in shard_files(files):
        (tsm,) = shard_members(shard.data).values()
        for tsm_key, decoded in decode_all(tsm).items():
            measurement = tsm_key.split(b",")[0].decode()
            truth.setdefault((shard.entry.database, shard.entry.policy, measurement), []).append(
                (tsm_key, decoded.points, decoded.first, decoded.last)
            )
    key = put_object("backup.tar", pack_tar(files))

    inventory = _deep_verify(s3, key)

    assert sorted(inventory.measurements) == sorted(truth)
    for name, per_key in truth.items():
        stats = inventory.measurements[name]
        assert stats.points == sum(points for _, points, _, _ in per_key)
        assert stats.first_ns == min(first for _, _, first, _ in per_key)
        assert stats.last_ns == max(last for _, _, _, last in per_key)
        # every shard holds every series, so the most any shard has is all of them
        assert stats.series == len({k.split(b"#!~#")[0] for k, _, _, _ in per_key})
    assert inventory.measurements[("metrics", "one_week", "cpu")].series == 2
    assert inventory.measurements[("metrics", "one_week", "cpu")].fields == ("idle", "usage")
    assert inventory.points == 6 * 4 * 1500  # 6 shards x 4 series fields


def test_one_byte_flipped_in_a_shards_gzip_data_in_s3_is_shard_corrupt_naming_it(
    s3: S3Client, put_object: PutObject
) -> None:
    body = pack_tar(_files())
    shard_name = f"{STAMP}.s4.tar.gz"
    member = next(m for m in _index(body) if m.name == shard_name)
    key = put_object("backup.tar", with_byte_flipped(body, member.offset + member.size // 2))

    with pytest.raises(ShardCorrupt, match=rf"s3://{BUCKET}/backup\.tar: shard file {shard_name}"):
        _deep_verify(s3, key)


def test_a_shard_regzipped_around_a_corrupted_tsm_block_is_tsm_corrupt_naming_the_tsm_file(
    s3: S3Client, put_object: PutObject
) -> None:
    files = _files()
    shard = shard_files(files)[2]
    ((tsm_name, tsm),) = shard_members(shard.data).items()
    damaged = regzip(shard, {tsm_name: corrupt_block(tsm, list(index_entries(tsm))[7])})
    files[shard.entry.file_name] = damaged.data
    files[f"{STAMP}.manifest"] = files[f"{STAMP}.manifest"].replace(
        f'"size": {shard.entry.size},'.encode(), f'"size": {damaged.entry.size},'.encode(), 1
    )
    key = put_object("backup.tar", pack_tar(files))

    with pytest.raises(
        TsmCorrupt, match=rf"shard file {shard.entry.file_name}: TSM file {tsm_name}"
    ):
        _deep_verify(s3, key)


def test_a_metastore_from_another_backup_is_a_mismatch(s3: S3Client, put_object: PutObject) -> None:
    files = _files()
    files[f"{STAMP}.meta"] = sample_backup_files(shards_per_policy=1)[f"{STAMP}.meta"]
    key = put_object("backup.tar", pack_tar(files))

    with pytest.raises(MetaManifestMismatch, match=r"shard 2 \(telegraf\.autogen; the metastore"):
        _deep_verify(s3, key)


def test_a_shard_of_100_000_blocks_verifies(s3: S3Client, put_object: PutObject) -> None:
    series = tuple(SampleSeries(f"load,cpu={n:02d}#!~#value".encode()) for n in range(20))
    files = sample_backup_files(
        databases={"db": ("autogen",)},
        shards_per_policy=1,
        series=series,
        points_per_series=10_000,
        points_per_block=2,
    )
    key = put_object("big.tar", pack_tar(files))

    inventory = _deep_verify(s3, key)

    stats = inventory.measurements[("db", "autogen", "load")]
    assert (stats.blocks, stats.points, stats.series) == (100_000, 200_000, 20)


def _index(body: bytes) -> list[TarMember]:
    class Local:
        location = "local"
        size = len(body)

        def read(self, offset: int, length: int) -> bytes:
            return body[offset : offset + length]

    return index_tar(Local())  # type: ignore[arg-type]


def test_shard_bodies_are_streamed_not_kept_in_the_readers_cache(
    s3: S3Client, put_object: PutObject, s3_requests: S3Requests
) -> None:
    body = pack_tar(_files())
    key = put_object("backup.tar", body)
    reader = S3RangeReader(s3, BUCKET, key, len(body))
    members = {m.name: m for m in index_tar(reader)}
    manifest_member = members[f"{STAMP}.manifest"]
    entry = parse_manifest(reader.read(manifest_member.offset, manifest_member.size), key).files[0]
    member = members[entry.file_name]

    s3_requests.reset()
    verify_shard(reader, member, entry, chunk_size=4096)
    first = s3_requests.count("GetObject"), s3_requests.bytes_received
    s3_requests.reset()
    verify_shard(reader, member, entry, chunk_size=4096)

    assert first[0] >= member.size // 4096
    assert first[1] >= member.size
    assert (s3_requests.count("GetObject"), s3_requests.bytes_received) == first

"""Deep verification of one shard file: the whole gzip stream, the tar inside, every TSM file, and
the data inventory read from them."""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aiven_backup.errors import (
    BackupContentCorrupt,
    ShardCorrupt,
    TsmCorrupt,
    VerifyScratchFull,
)
from aiven_backup.verify.data_inventory import MeasurementStats
from aiven_backup.verify.shard import ShardReport, verify_shard
from aiven_backup.verify.spool_space import SpoolSpace
from local_runner.sample_backup import SampleSeries, sample_backup_files
from tests.support.tsm import (
    ShardFile,
    corrupt_block,
    decode_all,
    index_entries,
    regzip,
    shard_files,
    shard_members,
    tombstone_v4,
    with_byte_flipped,
)

SERIES = (
    SampleSeries(b"cpu,host=a#!~#usage", timestamps="rle"),
    SampleSeries(b"cpu,host=a#!~#idle", timestamps="simple8b"),
    SampleSeries(b"cpu,host=b#!~#usage", timestamps="raw"),
    SampleSeries(b"disk,host=a,path=/#!~#full", kind="boolean", timestamps="simple8b"),
)
TSM_NAME = "db/autogen/1/000000001-000000001.tsm"


def _shard(points_per_series: int = 2500, **options: Any) -> ShardFile:
    files = sample_backup_files(
        databases={"db": ("autogen",)},
        shards_per_policy=1,
        series=SERIES,
        points_per_series=points_per_series,
        **options,
    )
    (shard,) = shard_files(files)
    return shard


def _verify(shard: ShardFile, **options: Any) -> ShardReport:
    return verify_shard(shard.source, shard.member, shard.entry, **options)


def test_a_good_shard_reports_exact_points_series_fields_and_times_per_measurement() -> None:
    shard = _shard()
    (tsm,) = shard_members(shard.data).values()
    truth = decode_all(tsm)

    report = _verify(shard)

    assert (report.database, report.policy, report.shard_id) == ("db", "autogen", 1)
    assert report.tsm_files == 1
    assert report.tombstone_files == 0
    cpu_keys = [k for k in truth if k.startswith(b"cpu,")]
    disk = truth[b"disk,host=a,path=/#!~#full"]
    assert dict(report.data.measurements) == {
        ("db", "autogen", "cpu"): MeasurementStats(
            series=2,
            fields=("idle", "usage"),
            blocks=9,
            points=7500,
            first_ns=min(truth[k].first for k in cpu_keys),
            last_ns=max(truth[k].last for k in cpu_keys),
        ),
        ("db", "autogen", "disk"): MeasurementStats(
            series=1,
            fields=("full",),
            blocks=3,
            points=2500,
            first_ns=disk.first,
            last_ns=disk.last,
        ),
    }


def test_the_report_survives_json() -> None:
    report = _verify(_shard(10))

    assert ShardReport.from_dict(report.to_dict()) == report


def test_one_byte_flipped_inside_the_gzip_data_is_shard_corrupt_naming_the_shard() -> None:
    shard = _shard()
    damaged = ShardFile(with_byte_flipped(shard.data, len(shard.data) // 2), shard.entry)

    with pytest.raises(ShardCorrupt, match=r"shard file \S+\.s1\.tar\.gz") as caught:
        _verify(damaged)

    assert "shard 1 of db.autogen cannot be restored" in str(caught.value)
    assert isinstance(caught.value, BackupContentCorrupt)


@pytest.mark.parametrize("where", ["crc32", "isize"])
def test_a_damaged_gzip_trailer_is_shard_corrupt(where: str) -> None:
    shard = _shard(10)
    offset = len(shard.data) - (8 if where == "crc32" else 1)

    with pytest.raises(ShardCorrupt, match="does not decompress"):
        _verify(ShardFile(with_byte_flipped(shard.data, offset), shard.entry))


@pytest.mark.parametrize("cut", [1, 8, 100])
def test_a_truncated_gzip_stream_is_shard_corrupt(cut: int) -> None:
    shard = _shard()

    with pytest.raises(
        ShardCorrupt, match="is truncated: its gzip stream ends without its trailer"
    ):
        _verify(ShardFile(shard.data[:-cut], shard.entry))


@pytest.mark.parametrize("garbage", [b"\x00", b"\x00" * 512, b"PK\x03\x04 zip", b"\x1f"])
def test_bytes_after_the_gzip_stream_are_shard_corrupt(garbage: bytes) -> None:
    shard = _shard(10)

    with pytest.raises(ShardCorrupt, match=f"{len(garbage)} bytes of garbage after"):
        _verify(ShardFile(shard.data + garbage, shard.entry))


def test_a_second_gzip_member_continues_the_stream_as_gos_reader_reads_it() -> None:
    shard = _shard(10)
    tar = gzip.decompress(shard.data)
    two_members = gzip.compress(tar[:1000], mtime=0) + gzip.compress(tar[1000:], mtime=0)

    report = _verify(ShardFile(two_members, shard.entry))

    assert report == _verify(shard)


def test_a_corrupt_second_gzip_member_is_shard_corrupt() -> None:
    shard = _shard(10)
    tar = gzip.decompress(shard.data)
    second = gzip.compress(tar[1000:], mtime=0)
    data = gzip.compress(tar[:1000], mtime=0) + with_byte_flipped(second, len(second) - 5)

    with pytest.raises(ShardCorrupt, match="gzip member 2 does not decompress"):
        _verify(ShardFile(data, shard.entry))


def test_a_size_other_than_the_manifests_is_shard_corrupt() -> None:
    shard = _shard(10)
    tar = gzip.decompress(shard.data)
    padded = gzip.compress(tar + bytes(512), mtime=0)

    with pytest.raises(ShardCorrupt, match=f"decompresses to {len(tar) + 512} bytes but"):
        _verify(ShardFile(padded, shard.entry))


def test_a_file_that_is_not_gzip_is_shard_corrupt() -> None:
    shard = _shard(10)

    with pytest.raises(ShardCorrupt, match="is not gzip-compressed"):
        _verify(ShardFile(gzip.decompress(shard.data), shard.entry))


def test_a_damaged_tar_inside_is_shard_corrupt() -> None:
    shard = _shard(10)
    tar = bytearray(gzip.decompress(shard.data))
    tar[148:156] = b"9999999\0"  # the first header's checksum

    with pytest.raises(ShardCorrupt, match="the tar inside is damaged"):
        _verify(ShardFile(gzip.compress(bytes(tar), mtime=0), shard.entry))


def test_a_tar_cut_inside_a_tsm_file_is_shard_corrupt() -> None:
    shard = _shard()
    tar = gzip.decompress(shard.data)
    cut = ShardFile(gzip.compress(tar[:4096], mtime=0), replace(shard.entry, size=4096))

    with pytest.raises(ShardCorrupt, match="the tar inside is damaged"):
        _verify(cut)


def test_a_file_of_another_shard_inside_is_shard_corrupt() -> None:
    shard = _shard(10)
    (tsm,) = shard_members(shard.data).values()

    with pytest.raises(ShardCorrupt, match=r"holds 'db/autogen/2/x\.tsm'.*expected db/autogen/1/"):
        _verify(regzip(shard, {"db/autogen/2/x.tsm": tsm}))


def test_a_tsm_file_with_one_corrupted_block_is_tsm_corrupt_naming_both_files() -> None:
    shard = _shard()
    (tsm,) = shard_members(shard.data).values()
    entry = list(index_entries(tsm))[4]

    damaged = regzip(shard, {TSM_NAME: corrupt_block(tsm, entry)})

    with pytest.raises(TsmCorrupt) as caught:
        _verify(damaged)
    message = str(caught.value)
    assert f"shard file {shard.entry.file_name}: TSM file {TSM_NAME}" in message
    assert f"block 1 of key {entry.key.decode()!r}" in message
    assert "CRC32" in message
    assert "request a new one" in message


def test_every_tsm_file_is_checked_and_tombstones_are_counted() -> None:
    shard = _shard(10)
    (tsm,) = shard_members(shard.data).values()
    other = "db/autogen/1/000000002-000000001.tsm"

    report = _verify(
        regzip(
            shard,
            {
                TSM_NAME.replace(".tsm", ".tombstone"): b"\x00\x00\x15\x04",
                TSM_NAME: tsm,
                other: tsm,
            },
        )
    )

    assert report.tsm_files == 2
    assert report.tombstone_files == 1
    cpu = report.data.measurements[("db", "autogen", "cpu")]
    assert (cpu.series, cpu.points) == (2, 2 * 3 * 10)  # series counted once, points twice
    with pytest.raises(TsmCorrupt, match=other):
        _verify(regzip(shard, {TSM_NAME: tsm, other: tsm[:-1] + b"\x00"}))


def test_an_empty_shard_holds_no_data() -> None:
    shard = regzip(_shard(10), {})

    report = _verify(shard)

    assert (report.tsm_files, report.data.measurements) == (0, {})


def test_a_large_tsm_file_is_spooled_to_the_scratch_directory_and_reads_the_same(
    tmp_path: Path,
) -> None:
    shard = _shard()
    seen: list[list[str]] = []
    in_memory = _verify(shard)
    original = shutil.disk_usage

    def disk_usage(path: str) -> Any:
        seen.append(os.listdir(path))
        return original(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shutil, "disk_usage", disk_usage)
        spooled = _verify(
            shard, spool_space=SpoolSpace(str(tmp_path)), spool_threshold=1024, chunk_size=997
        )

    assert spooled == in_memory
    assert seen == [[]]  # asked once, before spooling
    assert os.listdir(tmp_path) == []  # the spool file is gone


def test_shards_verified_at_once_take_turns_for_room_that_holds_one_tsm_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = _shard()
    (tsm,) = shard_members(shard.data).values()
    room = len(tsm) * 3 // 2  # one TSM file fits, two do not
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(room, 0, room))
    space = SpoolSpace(str(tmp_path), margin=0)
    holds: list[tuple[str, int]] = []
    reserve = space.reserve

    @contextmanager
    def recorded(size: int, where: str) -> Iterator[None]:
        with reserve(size, where):
            holds.append(("holds", size))
            yield
            holds.append(("gives back", size))

    monkeypatch.setattr(space, "reserve", recorded)
    expected = _verify(shard)

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(
            pool.map(
                lambda _: _verify(shard, spool_space=space, spool_threshold=1024, chunk_size=997),
                range(2),
            )
        )

    assert reports == [expected, expected]
    assert holds == [("holds", len(tsm)), ("gives back", len(tsm))] * 2  # one at a time
    assert os.listdir(tmp_path) == []


def test_no_room_in_the_scratch_directory_is_verify_scratch_full_not_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = _shard()
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 9, 1))

    with pytest.raises(VerifyScratchFull, match=f"TSM file {TSM_NAME}.*1 bytes free") as caught:
        _verify(shard, spool_space=SpoolSpace(str(tmp_path)), spool_threshold=1024)

    assert not isinstance(caught.value, BackupContentCorrupt)


def test_the_shard_is_read_in_chunks_of_the_chunk_size() -> None:
    shard = _shard()
    source = shard.source

    verify_shard(source, shard.member, shard.entry, chunk_size=1000)

    assert max(length for _, length in source.reads) <= 1000
    assert sum(length for _, length in source.reads[1:]) == len(shard.data)


def test_reading_ahead_or_not_finds_the_same() -> None:
    shard = _shard()

    ahead = _verify(shard, chunk_size=4096)
    not_ahead = _verify(shard, chunk_size=4096, read_ahead=False)

    assert ahead == not_ahead


def test_an_object_that_ends_inside_the_shard_file_is_shard_corrupt() -> None:
    shard = _shard()
    member = replace(shard.member, size=shard.member.size + 100)

    with pytest.raises(ShardCorrupt, match="the backup object ends at byte"):
        verify_shard(shard.source, member, shard.entry, chunk_size=1 << 20)


def test_a_tombstone_before_its_tsm_file_is_applied_and_one_after_is_only_counted() -> None:
    shard = _shard(10)
    (tsm,) = shard_members(shard.data).values()
    tombstone = tombstone_v4([(b"disk,host=a,path=/#!~#full", -(2**63), 2**63 - 1)])
    name = TSM_NAME.replace(".tsm", ".tombstone")

    before = _verify(regzip(shard, {name: tombstone, TSM_NAME: tsm}))
    after = _verify(regzip(shard, {TSM_NAME: tsm, name: tombstone}))

    assert (before.tombstone_files, before.tombstones_applied) == (1, 1)
    assert ("db", "autogen", "disk") not in before.data.measurements  # every point deleted
    assert (after.tombstone_files, after.tombstones_applied) == (1, 0)
    assert after.data.measurements[("db", "autogen", "disk")].points == 10

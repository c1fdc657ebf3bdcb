"""One TSM file checked like ``influx_inspect verify`` does, and its points counted from block
headers only: the counts equal a full decode of every timestamp, for every timestamp encoding."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from aiven_backup.verify.tsm import (
    ChunkedTsm,
    InMemoryTsm,
    MeasurementTotals,
    SpooledTsm,
    Tombstones,
    TsmBytes,
    TsmProblem,
    check_tsm,
    count_timestamps,
    measurement_of,
    parse_tombstones,
)
from local_runner.sample_backup import SampleSeries, sample_backup_files
from tests.support.tsm import (
    corrupt_block,
    decode_all,
    decoded_timestamps,
    index_entries,
    shard_files,
    shard_members,
    timestamp_encoding,
    tombstone_v4,
    with_block_crc_fixed,
    with_byte_flipped,
)

SERIES = (
    SampleSeries(b"cpu,host=a#!~#usage", timestamps="rle"),
    SampleSeries(b"cpu,host=a#!~#idle", timestamps="simple8b"),
    SampleSeries(b"cpu,host=b#!~#usage", timestamps="raw"),
    SampleSeries(b"disk,host=a,path=/#!~#full", kind="boolean", timestamps="rle"),
    SampleSeries(b"w\\,eird\\ name,t=1#!~#ok", kind="boolean", timestamps="simple8b"),
)


def _tsm(points_per_series: int = 2500, series: tuple[SampleSeries, ...] = SERIES) -> bytes:
    files = sample_backup_files(
        databases={"db": ("autogen",)},
        shards_per_policy=1,
        series=series,
        points_per_series=points_per_series,
    )
    (shard,) = shard_files(files)
    (tsm,) = shard_members(shard.data).values()
    return tsm


def _check(tsm: bytes) -> MeasurementTotals:
    return _check_held(InMemoryTsm(tsm))


def _check_held(held: TsmBytes) -> MeasurementTotals:
    totals: MeasurementTotals = {}
    check_tsm(held, totals)
    return totals


def _pieces(data: bytes, size: int) -> list[memoryview]:
    view = memoryview(data)
    return [view[start : start + size] for start in range(0, len(data), size)]


def test_counts_series_fields_blocks_points_and_time_range_per_measurement() -> None:
    tsm = _tsm()
    truth = decode_all(tsm)

    totals = _check(tsm)

    assert sorted(totals) == ["cpu", "disk", "w,eird name"]
    cpu = totals["cpu"]
    assert cpu.series == {b"cpu,host=a", b"cpu,host=b"}
    assert cpu.fields == {"idle", "usage"}
    assert cpu.blocks == 9  # 3 series fields x (1000 + 1000 + 500 points)
    assert cpu.points == 7500
    cpu_keys = [k for k in truth if k.startswith(b"cpu,")]
    assert cpu.first_ns == min(truth[k].first for k in cpu_keys)
    assert cpu.last_ns == max(truth[k].last for k in cpu_keys)
    for name, key in (("disk", b"disk,host=a,path=/#!~#full"), ("w,eird name", SERIES[4].key)):
        assert len(totals[name].series) == 1
        assert totals[name].points == truth[key].points == 2500
        assert totals[name].blocks == 3
        assert (totals[name].first_ns, totals[name].last_ns) == (truth[key].first, truth[key].last)


@pytest.mark.parametrize("encoding", ["raw", "rle", "simple8b"])
@pytest.mark.parametrize("points", [1, 2, 3, 239, 240, 241, 1000])
def test_header_count_equals_a_full_decode(encoding: str, points: int) -> None:
    tsm = _tsm(points, (SampleSeries(b"m,t=1#!~#f", timestamps=encoding),))

    (entry,) = index_entries(tsm)
    block = tsm[entry.offset + 4 : entry.offset + entry.size]

    assert count_timestamps(block[1:]) == decode_all(tsm)[b"m,t=1#!~#f"].points == points


def test_simple8b_runs_of_ones_count_240_and_120_per_word() -> None:
    ones = struct.pack(">QQQ", 0, 0, 1 << 60)  # selector 0 twice (240 ones), selector 1 (120)
    times = bytes([0x10]) + struct.pack(">Q", 5) + ones

    assert count_timestamps(bytes([len(times)]) + times) == 1 + 2 * 240 + 120


def test_the_sample_covers_every_timestamp_encoding_and_two_block_types() -> None:
    tsm = _tsm()

    encodings = {timestamp_encoding(tsm, e) for e in index_entries(tsm)}
    types = {e.block_type for e in index_entries(tsm)}

    assert encodings == {0, 1, 2}
    assert types == {1, 2}  # integer, boolean


def test_a_flipped_byte_in_a_block_fails_its_crc_naming_the_key_and_block() -> None:
    tsm = _tsm()
    entry = [e for e in index_entries(tsm) if e.key == b"cpu,host=b#!~#usage"][1]

    with pytest.raises(TsmProblem, match=r"block 1 of key 'cpu,host=b#!~#usage'.*CRC32"):
        _check(corrupt_block(tsm, entry))


@pytest.mark.parametrize("piece", [1, 13, 512, 4096, 1 << 20])
def test_a_file_held_in_decompressed_pieces_checks_and_counts_the_same(piece: int) -> None:
    tsm = _tsm()

    in_pieces = _check_held(ChunkedTsm(_pieces(tsm, piece)))

    assert in_pieces == _check(tsm)


def test_a_corrupted_block_across_two_pieces_fails_its_crc() -> None:
    tsm = _tsm()
    entry = [e for e in index_entries(tsm) if e.key == b"cpu,host=b#!~#usage"][1]
    split = entry.offset + entry.size // 2
    damaged = corrupt_block(tsm, entry)
    view = memoryview(damaged)

    with pytest.raises(TsmProblem, match=r"block 1 of key 'cpu,host=b#!~#usage'.*CRC32"):
        _check_held(ChunkedTsm([view[:split], view[split:]]))


@pytest.mark.parametrize("window", [16, 1000, 1 << 20])
def test_a_spooled_file_checks_and_counts_the_same_through_any_window(
    window: int, tmp_path: Path
) -> None:
    tsm = _tsm()
    path = tmp_path / "spooled.tsm"
    path.write_bytes(tsm)

    with path.open("rb") as spool:
        spooled = _check_held(SpooledTsm(spool, len(tsm), window=window))

    assert spooled == _check(tsm)


def test_a_block_whose_type_differs_from_the_index_is_damage_even_with_a_good_crc() -> None:
    tsm = _tsm()
    entry = next(index_entries(tsm))
    changed = tsm[: entry.offset + 4] + b"\x03" + tsm[entry.offset + 5 :]

    with pytest.raises(TsmProblem, match="is of type 3, the index says 1"):
        _check(with_block_crc_fixed(changed, entry))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda t: b"\x16\xd1\x16\xd2" + t[4:], "does not start with the TSM magic"),
        (lambda t: t[:4] + b"\x02" + t[5:], "TSM version is 2"),
        (lambda t: t[:-8] + struct.pack(">Q", len(t)), "footer puts the index at byte"),
        (lambda t: t[:20], "footer puts the index|ends inside"),
        (lambda t: t[:5], "too short for a TSM file"),
    ],
    ids=["magic", "version", "footer", "cut", "header-only"],
)
def test_header_footer_and_index_damage_is_named(damage: object, message: str) -> None:
    tsm = _tsm(10)

    with pytest.raises(TsmProblem, match=message):
        _check(damage(tsm))  # type: ignore[operator]


def test_an_index_entry_pointing_outside_the_data_is_damage() -> None:
    tsm = _tsm(10)
    (index_offset,) = struct.unpack(">Q", tsm[-8:])
    key_length = struct.unpack_from(">H", tsm, index_offset)[0]
    entry_at = index_offset + 2 + key_length + 3
    moved = (
        tsm[: entry_at + 16] + struct.pack(">Q", index_offset) + tsm[entry_at + 24 :]
    )  # the offset field of the first block

    with pytest.raises(TsmProblem, match="outside the data section"):
        _check(moved)


def test_a_flipped_byte_in_the_index_key_count_is_damage() -> None:
    tsm = _tsm(10)
    (index_offset,) = struct.unpack(">Q", tsm[-8:])
    key_length = struct.unpack_from(">H", tsm, index_offset)[0]

    with pytest.raises(TsmProblem):
        _check(with_byte_flipped(tsm, index_offset + 2 + key_length + 1))


@pytest.mark.parametrize(
    ("series_key", "measurement"),
    [
        (b"cpu", "cpu"),
        (b"cpu,host=a", "cpu"),
        (b"w\\,eird\\ name,t=1", "w,eird name"),
        (b"back\\slash,t=1", "back\\slash"),
        (b"caf\xc3\xa9,t=1", "café"),
    ],
)
def test_the_measurement_is_the_unescaped_name_before_the_first_unescaped_comma(
    series_key: bytes, measurement: str
) -> None:
    assert measurement_of(series_key) == measurement


@pytest.mark.parametrize(
    ("points", "per_block"),
    [
        *((1200, per_block) for per_block in (1, 2, 15, 16, 127, 128, 1000)),
        # 6047 points in 7 days: 100 s apart, so run-length blocks store a one-byte delta
        *((6047, per_block) for per_block in (100, 127, 1000)),
    ],
)
def test_totals_equal_a_full_decode_whatever_the_block_size(points: int, per_block: int) -> None:
    files = sample_backup_files(
        databases={"db": ("autogen",)},
        shards_per_policy=1,
        series=SERIES,
        points_per_series=points,
        points_per_block=per_block,
    )
    (shard,) = shard_files(files)
    (tsm,) = shard_members(shard.data).values()
    truth = decode_all(tsm)

    totals = _check(tsm)

    for measurement, stats in totals.items():
        keys = [k for k in truth if measurement_of(k.split(b"#!~#")[0]) == measurement]
        assert stats.points == sum(truth[k].points for k in keys)
        assert stats.blocks == sum(truth[k].blocks for k in keys)
        assert stats.first_ns == min(truth[k].first for k in keys)
        assert stats.last_ns == max(truth[k].last for k in keys)


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (b"\x00" + bytes(9), "9 bytes of uncompressed timestamps, not 8 each"),
        (b"\x10" + bytes(12), "13 bytes of simple8b timestamps"),
        (b"\x20" + bytes(8), "9 bytes of run-length timestamps, too short"),
        (b"\x30" + bytes(8), "unknown encoding 3"),
    ],
    ids=["raw", "simple8b", "rle", "unknown"],
)
def test_malformed_timestamp_headers_are_named(times: bytes, message: str) -> None:
    with pytest.raises(TsmProblem, match=message):
        count_timestamps(bytes([len(times)]) + times)


@pytest.mark.parametrize("encoded", [b"\x85", b"\x05\x00"], ids=["cut-varint", "short"])
def test_timestamps_longer_than_the_block_are_damage(encoded: bytes) -> None:
    with pytest.raises(TsmProblem):
        count_timestamps(encoded)


def _kept(tsm: bytes, key: bytes, deletes: list[tuple[int, int]]) -> list[int]:
    """The key's timestamps, every block decoded, less the deleted ranges: what influxd returns."""
    kept = []
    for entry in index_entries(tsm):
        if entry.key == key:
            block = tsm[entry.offset + 4 : entry.offset + entry.size]
            kept += [
                t for t in decoded_timestamps(block) if not any(a <= t <= b for a, b in deletes)
            ]
    return kept


@pytest.mark.parametrize("series", SERIES[:3], ids=lambda s: s.timestamps)
@pytest.mark.parametrize("where", ["inside-a-block", "across-blocks", "whole-blocks", "all"])
def test_tombstoned_points_are_not_counted(series: SampleSeries, where: str) -> None:
    tsm = _tsm(2500, (series,))
    times = sorted(t for e in index_entries(tsm) for t in decoded_timestamps(
        tsm[e.offset + 4 : e.offset + e.size]))  # fmt: skip
    low, high = {
        "inside-a-block": (times[10], times[20]),
        "across-blocks": (times[990], times[1010]),
        "whole-blocks": (times[0] - 1, times[1999]),
        "all": (-(2**63), 2**63 - 1),
    }[where]
    deleted = parse_tombstones(tombstone_v4([(series.key, low, high)]))
    kept = _kept(tsm, series.key, [(low, high)])

    totals: MeasurementTotals = {}
    check_tsm(InMemoryTsm(tsm), totals, deleted)

    (stats,) = totals.values()
    assert stats.points == len(kept)
    if kept:
        assert (stats.first_ns, stats.last_ns) == (min(kept), max(kept))


def test_tombstones_of_other_keys_change_nothing() -> None:
    tsm = _tsm(100)
    deleted = parse_tombstones(tombstone_v4([(b"cpu,host=zzz#!~#usage", -(2**63), 2**63 - 1)]))

    assert _check(tsm) == _check_with(tsm, deleted)


def test_a_v1_tombstone_deletes_whole_keys() -> None:
    tsm = _tsm(100)

    totals = _check_with(tsm, parse_tombstones(b"cpu,host=a#!~#usage\ncpu,host=a#!~#idle\n"))

    assert totals["cpu"].points == 100  # cpu,host=b#!~#usage only


@pytest.mark.parametrize(
    "data", [b"\x00\x00\x15\x02{}", b"\x00\x00\x15\x04not gzip"], ids=["v2", "damaged-v4"]
)
def test_a_tombstone_not_read_is_none(data: bytes) -> None:
    assert parse_tombstones(data) is None


def _check_with(tsm: bytes, deleted: Tombstones | None) -> MeasurementTotals:
    totals: MeasurementTotals = {}
    check_tsm(InMemoryTsm(tsm), totals, deleted)
    return totals

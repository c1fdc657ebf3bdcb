"""Check one TSM file the way ``influx_inspect verify`` does, and count what it holds.

The layout (influxdb 1.8, ``tsdb/engine/tsm1/writer.go``): a 5-byte header (magic ``0x16D116D1``
big-endian, version ``1``), the blocks, the index, and an 8-byte footer holding the index's offset.
The index is a run of ``key length u16, key, block type u8, block count u16`` followed by
``count`` entries of ``min time i64, max time i64, offset u64, size u32``, keys in sorted order.
A block is a big-endian CRC32 (IEEE) of the rest of the block, then the block data: its type byte,
a uvarint length of the encoded timestamps, the timestamps and the values.

The point count of a block is read from its timestamps' header only (``CountTimestamps`` in
``tsdb/engine/tsm1/timestamp.go``); values are never decoded.
"""

from __future__ import annotations

import bisect
import gzip
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import IO, Protocol

from aiven_backup.verify import inflate

TSM_MAGIC = 0x16D116D1
TSM_VERSION = 1
HEADER_SIZE = 5
FOOTER_SIZE = 8
INDEX_ENTRY_SIZE = 28
KEY_FIELD_SEPARATOR = b"#!~#"

BLOCK_TYPES = {0: "float", 1: "integer", 2: "boolean", 3: "string", 4: "unsigned"}

_HEADER = struct.Struct(">IB")
_FOOTER = struct.Struct(">Q")
_KEY_LENGTH = struct.Struct(">H")
_TYPE_AND_COUNT = struct.Struct(">BH")
_ENTRY = struct.Struct(">qqQI")
_CRC = struct.Struct(">I")

_TIME_UNCOMPRESSED = 0
_TIME_SIMPLE8B = 1
_TIME_RLE = 2
_SIMPLE8B_COUNTS = (240, 120, 60, 30, 20, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1)
_COUNT_BY_FIRST_BYTE = bytes(_SIMPLE8B_COUNTS[byte >> 4] for byte in range(256))
"""A simple8b word's value count from its first (most significant) byte: the selector is its
high 4 bits. ``bytes.translate`` with this table turns the words' first bytes into counts."""

WINDOW = 8 * 1024 * 1024
"""Bytes read from a spooled TSM file at once when walking its blocks (in file order)."""


class TsmProblem(Exception):
    """What is wrong with a TSM file; the caller adds which file it is."""


class TsmBytes(Protocol):
    """A whole TSM file, readable by offset."""

    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes | memoryview:
        """``length`` bytes from ``offset`` (fewer past the end), for as long as they are held."""
        ...

    def window(self, offset: int, length: int) -> tuple[int, memoryview]:
        """Bytes around ``offset..offset + length`` and the offset they start at, for walking
        the blocks without a call per block; valid until the next ``window`` call."""
        ...


class InMemoryTsm:
    """A TSM file held in memory."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data)

    @property
    def size(self) -> int:
        return len(self._view)

    def read(self, offset: int, length: int) -> memoryview:
        return self._view[offset : offset + length]

    def window(self, offset: int, length: int) -> tuple[int, memoryview]:
        return 0, self._view


class ChunkedTsm:
    """A TSM file held in memory as the pieces it was decompressed in, not copied into one
    buffer: a block that spans two pieces is the only thing joined."""

    def __init__(self, pieces: Sequence[memoryview]) -> None:
        self._pieces = [piece for piece in pieces if len(piece)]
        self._starts = [0, *accumulate(len(piece) for piece in self._pieces)]
        self._size = self._starts.pop()

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> bytes | memoryview:
        end = min(offset + length, self._size)
        if offset >= end:
            return b""
        number = bisect.bisect_right(self._starts, offset) - 1
        start, piece = self._starts[number], self._pieces[number]
        if end <= start + len(piece):
            return piece[offset - start : end - start]
        parts = [piece[offset - start :]]
        while start + len(piece) < end:
            number += 1
            start, piece = self._starts[number], self._pieces[number]
            parts.append(piece[: end - start])
        return b"".join(parts)

    def window(self, offset: int, length: int) -> tuple[int, memoryview]:
        number = bisect.bisect_right(self._starts, offset) - 1
        start, piece = self._starts[number], self._pieces[number]
        if offset + length <= start + len(piece):
            return start, piece
        return offset, memoryview(self.read(offset, length))


class SpooledTsm:
    """A TSM file in a temporary file, walked through one reused window of ``window`` bytes so
    walking the blocks in file order costs one read per window, and memory stays at one window
    (or one block, when a block is larger)."""

    def __init__(self, file: IO[bytes], size: int, *, window: int = WINDOW) -> None:
        self._fd = file.fileno()
        self._size = size
        self._buffer = bytearray(min(window, size))
        self._start = 0
        self._data = memoryview(b"")

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, max(0, min(length, self._size - offset)), offset)

    def window(self, offset: int, length: int) -> tuple[int, memoryview]:
        if offset < self._start or offset + length > self._start + len(self._data):
            self._data = memoryview(b"")  # the old window is overwritten
            if length > len(self._buffer):
                self._buffer = bytearray(length)
            view = memoryview(self._buffer)[: min(len(self._buffer), self._size - offset)]
            filled = 0
            while filled < len(view) and (
                got := os.preadv(self._fd, [view[filled:]], offset + filled)
            ):
                filled += got
            self._data, self._start = view[:filled], offset
        return self._start, self._data


@dataclass
class SeriesTotals:
    """What one measurement holds in one shard, as the index and block headers tell."""

    series: set[bytes] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    blocks: int = 0
    points: int = 0
    first_ns: int = 2**63 - 1
    last_ns: int = -(2**63)


MeasurementTotals = dict[str, SeriesTotals]


def check_tsm(
    data: TsmBytes, totals: MeasurementTotals, tombstones: Tombstones | None = None
) -> int:
    """Check ``data`` (magic, version, footer, index, every block's CRC32 and header) and add what
    it holds to ``totals`` by measurement, less the points ``tombstones`` (its ``.tombstone``
    file) deletes. Returns its block count; raises ``TsmProblem``."""
    size = data.size
    if size < HEADER_SIZE + FOOTER_SIZE:
        raise TsmProblem(f"it is {size} bytes, too short for a TSM file (header and footer)")
    magic, version = _HEADER.unpack(data.read(0, HEADER_SIZE))
    if magic != TSM_MAGIC:
        raise TsmProblem(f"it does not start with the TSM magic 16d116d1 (found {magic:08x})")
    if version != TSM_VERSION:
        raise TsmProblem(f"its TSM version is {version}, expected {TSM_VERSION}")
    index_end = size - FOOTER_SIZE
    (index_offset,) = _FOOTER.unpack(data.read(index_end, FOOTER_SIZE))
    if not HEADER_SIZE <= index_offset <= index_end:
        raise TsmProblem(
            f"its footer puts the index at byte {index_offset}, outside the file's "
            f"{HEADER_SIZE}..{index_end}"
        )
    index = bytes(data.read(index_offset, index_end - index_offset))
    return _walk_index(index, index_offset, data, totals, tombstones or {})


def _walk_index(
    index: bytes,
    index_offset: int,
    data: TsmBytes,
    totals: MeasurementTotals,
    tombstones: Tombstones,
) -> int:
    view = memoryview(index)
    end = len(index)
    position = 0
    previous_key = b""
    blocks = 0
    key_stats = _KeyStats(totals)
    while position < end:
        if position + 2 > end:
            raise TsmProblem(f"its index ends inside a key length (index byte {position})")
        (key_length,) = _KEY_LENGTH.unpack_from(index, position)
        key_end = position + 2 + key_length
        if key_end + 3 > end:
            raise TsmProblem(f"its index ends inside a key (index byte {position})")
        key = index[position + 2 : key_end]
        if key <= previous_key and blocks:
            raise TsmProblem(
                f"its index keys are out of order: {_shown(key)} follows {_shown(previous_key)}"
            )
        block_type, count = _TYPE_AND_COUNT.unpack_from(index, key_end)
        entries_start = key_end + 3
        entries_end = entries_start + count * INDEX_ENTRY_SIZE
        if count == 0 or entries_end > end:
            raise TsmProblem(
                f"the index entry of key {_shown(key)} is damaged ({count} blocks, "
                f"{end - entries_start} bytes left)"
            )
        if block_type not in BLOCK_TYPES:
            raise TsmProblem(f"key {_shown(key)} has unknown block type {block_type}")
        stats = key_stats.of(key)
        points, first, last = _check_blocks(
            view[entries_start:entries_end], block_type, key, index_offset, data
        )
        deleted = tombstones.get(key)
        if deleted:
            points, first, last = _less_deleted(view[entries_start:entries_end], data, deleted)
        stats.blocks += count
        stats.points += points
        stats.first_ns = min(stats.first_ns, first)
        stats.last_ns = max(stats.last_ns, last)
        blocks += count
        previous_key = key
        position = entries_end
    return blocks


class _KeyStats:
    """The measurement totals a TSM key (``series key#!~#field``) adds to; remembers the last
    series key so the common case (the next field of the same series) parses nothing."""

    def __init__(self, totals: MeasurementTotals) -> None:
        self._totals = totals
        self._series = b""
        self._stats: SeriesTotals | None = None

    def of(self, key: bytes) -> SeriesTotals:
        separator = key.find(KEY_FIELD_SEPARATOR)
        if separator < 0:
            raise TsmProblem(f"key {_shown(key)} has no field (no {KEY_FIELD_SEPARATOR!r})")
        series = key[:separator]
        stats = self._stats
        if stats is None or series != self._series:
            measurement = measurement_of(series)
            stats = self._totals.get(measurement)
            if stats is None:
                stats = self._totals[measurement] = SeriesTotals()
            stats.series.add(series)
            self._series, self._stats = series, stats
        stats.fields.add(key[separator + len(KEY_FIELD_SEPARATOR) :].decode("utf-8", "replace"))
        return stats


def _check_blocks(
    entries: memoryview, block_type: int, key: bytes, index_offset: int, data: TsmBytes
) -> tuple[int, int, int]:
    """Every block of one key: in the data section, min <= max time, CRC32, type; returns the
    points (from the timestamp headers) and the time range. The loop is the verifier's hot path
    (one pass per block, CRC32 and header reads in C), so the checks share few branches."""
    points = 0
    first = 2**63 - 1
    last = -(2**63)
    crc32 = inflate.ZLIB.crc32
    counts = _COUNT_BY_FIRST_BYTE
    window_start = window_end = 0
    window = memoryview(b"")
    for number, (min_time, max_time, offset, size) in enumerate(_ENTRY.iter_unpack(entries)):
        end = offset + size
        if offset < HEADER_SIZE or end > index_offset or size < 7 or min_time > max_time:
            raise TsmProblem(
                _entry_problem(number, key, min_time, max_time, offset=offset, size=size,
                               index_offset=index_offset)
            )  # fmt: skip
        if offset < window_start or end > window_end:
            window_start, window = data.window(offset, size)
            window_end = window_start + len(window)
        start = offset - window_start
        stop = end - window_start
        if crc32(window[start + 4 : stop]) != _CRC.unpack_from(window, start)[0] or (
            window[start + 4] != block_type
        ):
            block = window[start:stop]
            raise TsmProblem(
                _block_problem(number, key, block, block_type=block_type, offset=offset, size=size)
            )
        try:
            points += _block_points(window, start, stop, counts)
        except TsmProblem as problem:
            raise TsmProblem(f"block {number} of key {_shown(key)}: {problem}") from None
        if min_time < first:  # noqa: PLR1730 - a comparison costs less than a min() call here
            first = min_time
        if max_time > last:  # noqa: PLR1730
            last = max_time
    return points, first, last


def _block_points(data: bytes | memoryview, block: int, block_end: int, counts: bytes) -> int:
    """The points of the whole block at ``data[block:block_end]`` (CRC first). The usual headers
    (a timestamps' length of one or two varint bytes, a run-length count of one or two) are read
    here; anything else, and every malformed header, by ``count_timestamps``, which gives the
    same count or names the damage."""
    length = data[block + 5]
    start = block + 6
    if length >= 0x80:
        high = data[start]
        if high >= 0x80:
            return count_timestamps(data[block + 5 : block_end])
        length = (length & 0x7F) | high << 7
        start += 1
    end = start + length
    if length == 0 or end > block_end:
        return count_timestamps(data[block + 5 : block_end])
    header = data[start] >> 4
    if header == _TIME_RLE:
        if length >= 10 and (count := _run_length_count(data, start + 9, end)) >= 0:
            return count
    elif header == _TIME_SIMPLE8B:
        if length >= 9 and not (length - 9) & 7:
            # Each word's first byte holds its selector; a contiguous copy, then every 8th
            # byte (a stepped slice of a memoryview is copied byte by byte, 3x slower).
            return 1 + sum(bytes(data[start + 9 : end])[::8].translate(counts))
    elif header == _TIME_UNCOMPRESSED and not (length - 1) & 7:
        return (length - 1) >> 3
    return count_timestamps(data[block + 5 : block_end])


def _run_length_count(data: bytes | memoryview, position: int, end: int) -> int:
    """The count after the delta's varint at ``position``, when it is one or two bytes; else -1."""
    while position < end and data[position] >= 0x80:
        position += 1
    position += 1
    if position < end:
        low = data[position]
        if low < 0x80:
            return low
        if position + 1 < end and data[position + 1] < 0x80:
            return (low & 0x7F) | data[position + 1] << 7
    return -1


def _entry_problem(
    number: int,
    key: bytes,
    min_time: int,
    max_time: int,
    *,
    offset: int,
    size: int,
    index_offset: int,
) -> str:
    if min_time > max_time:
        return (
            f"block {number} of key {_shown(key)} has min time {min_time} after its max "
            f"time {max_time}"
        )
    return (
        f"block {number} of key {_shown(key)} lies at bytes {offset}..{offset + size}, "
        f"outside the data section {HEADER_SIZE}..{index_offset}"
    )


def _block_problem(
    number: int, key: bytes, block: bytes | memoryview, *, block_type: int, offset: int, size: int
) -> str:
    if zlib.crc32(block[4:]) != int.from_bytes(block[:4]):
        return (
            f"block {number} of key {_shown(key)} (bytes {offset}..{offset + size}) fails "
            "its CRC32 check"
        )
    return (
        f"block {number} of key {_shown(key)} is of type {block[4]}, the index says "
        f"{block_type} ({BLOCK_TYPES[block_type]})"
    )


def count_timestamps(encoded: bytes | memoryview) -> int:
    """The number of points of a block, from ``encoded`` = the block after its type byte: a
    uvarint length, then the timestamps (the values follow and are not read)."""
    length, position = uvarint(encoded, 0)
    times = encoded[position : position + length]
    if length == 0 or len(times) < length:
        raise TsmProblem(f"its timestamps are {length} bytes but {len(times)} remain")
    encoding = times[0] >> 4
    if encoding == _TIME_UNCOMPRESSED:
        if (length - 1) % 8:
            raise TsmProblem(f"{length - 1} bytes of uncompressed timestamps, not 8 each")
        return (length - 1) // 8
    if encoding == _TIME_SIMPLE8B:
        if length < 9 or (length - 9) % 8:
            raise TsmProblem(f"{length} bytes of simple8b timestamps, not 9 + 8 per word")
        selectors = bytes(times[9::8]).translate(_COUNT_BY_FIRST_BYTE)
        return 1 + sum(selectors)
    if encoding == _TIME_RLE:
        if length < 10:
            raise TsmProblem(f"{length} bytes of run-length timestamps, too short")
        _, position = uvarint(times, 9)
        count, _ = uvarint(times, position)
        return count
    raise TsmProblem(f"its timestamps use unknown encoding {encoding}")


def uvarint(data: bytes | memoryview, position: int) -> tuple[int, int]:
    """The unsigned varint at ``position`` and the position after it (Go's ``binary.Uvarint``)."""
    value = 0
    shift = 0
    end = min(len(data), position + 10)
    while position < end:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
    raise TsmProblem("a varint is cut short")


def measurement_of(series_key: bytes) -> str:
    """``cpu\\,x,host=a`` -> ``cpu,x``: the name up to the first unescaped comma, unescaped
    (InfluxDB escapes ``,`` and space in measurement names with a backslash)."""
    comma = series_key.find(b",")
    if b"\\" not in series_key[: comma if comma >= 0 else len(series_key)]:
        name = series_key if comma < 0 else series_key[:comma]
        return name.decode("utf-8", "replace")
    out = bytearray()
    position = 0
    while position < len(series_key):
        byte = series_key[position]
        if byte == 0x5C and position + 1 < len(series_key):  # backslash: take the next literally
            following = series_key[position + 1]
            if following in b", ":
                out.append(following)
            else:
                out += series_key[position : position + 2]
            position += 2
            continue
        if byte == 0x2C:
            break
        out.append(byte)
        position += 1
    return out.decode("utf-8", "replace")


def _shown(key: bytes) -> str:
    text = key.decode("utf-8", "replace")
    return repr(text if len(text) <= 120 else text[:117] + "...")


Tombstones = dict[bytes, list[tuple[int, int]]]
"""Deleted time ranges (inclusive) by TSM key, from a ``.tombstone`` file."""

_TOMBSTONE_V3 = 0x1503
_TOMBSTONE_V4 = 0x1504
_MIN_TIME, _MAX_TIME = -(2**63), 2**63 - 1


def parse_tombstones(data: bytes) -> Tombstones | None:
    """The ranges of a ``.tombstone`` file (``tsdb/engine/tsm1/tombstone.go``): v3 and v4 are a
    4-byte header then gzip member(s) of ``key length u32, key, min i64, max i64``; v1 is one key
    per line, every point deleted. ``None`` for a format not read here (v2), or damage."""
    if len(data) >= 4 and int.from_bytes(data[:4]) in (_TOMBSTONE_V3, _TOMBSTONE_V4):
        try:
            entries = gzip.decompress(data[4:]) if len(data) > 4 else b""
        except (OSError, EOFError, zlib.error):
            return None
        return _tombstone_entries(entries)
    if data.startswith(b"\x00\x00\x15"):
        return None  # v2, or a header not known
    ranges: Tombstones = {}
    for line in data.split(b"\n"):
        if line:
            ranges.setdefault(line, []).append((_MIN_TIME, _MAX_TIME))
    return ranges


def _tombstone_entries(entries: bytes) -> Tombstones | None:
    ranges: Tombstones = {}
    position = 0
    while position < len(entries):
        if position + 4 > len(entries):
            return None
        key_length = int.from_bytes(entries[position : position + 4])
        key_end = position + 4 + key_length
        if key_end + 16 > len(entries):
            return None
        low, high = struct.unpack_from(">qq", entries, key_end)
        ranges.setdefault(entries[position + 4 : key_end], []).append((low, high))
        position = key_end + 16
    return ranges


def _less_deleted(
    entries: memoryview,
    data: TsmBytes,
    deleted: list[tuple[int, int]],
) -> tuple[int, int, int]:
    """One key's points and time range (its blocks already checked) without the ``deleted``
    ranges, as influxd reads it: a block inside a range is gone, a block a range overlaps is
    decoded and its points filtered, the others count as they are."""
    first, last = _MAX_TIME, _MIN_TIME
    points = 0
    for min_time, max_time, offset, size in _ENTRY.iter_unpack(entries):
        overlapping = [(lo, hi) for lo, hi in deleted if lo <= max_time and hi >= min_time]
        if not overlapping:
            block_points = _block_points(data.read(offset, size), 0, size, _COUNT_BY_FIRST_BYTE)
            points += block_points
            first, last = min(first, min_time), max(last, max_time)
            continue
        if any(lo <= min_time and max_time <= hi for lo, hi in overlapping):
            continue
        kept = [
            t
            for t in decode_timestamps(data.read(offset, size)[5:])
            if not any(lo <= t <= hi for lo, hi in overlapping)
        ]
        if kept:
            points += len(kept)
            first, last = min(first, kept[0]), max(last, kept[-1])
    return points, first, last


def decode_timestamps(encoded: bytes | memoryview) -> list[int]:
    """Every timestamp of a block, from ``encoded`` = the block after its type byte (influxd's
    ``TimeDecoder``): only for blocks a tombstone cuts into."""
    length, position = uvarint(encoded, 0)
    times = bytes(encoded[position : position + length])
    count = count_timestamps(encoded)  # checks the header's shape
    encoding, scale = times[0] >> 4, 10 ** (times[0] & 0xF)
    if encoding == _TIME_UNCOMPRESSED:
        deltas = list(struct.unpack(f">{count}Q", times[1:]))
        scale = 1
    elif encoding == _TIME_RLE:
        first = int.from_bytes(times[1:9])
        delta, _ = uvarint(times, 9)
        return [_signed(first + i * delta * scale) for i in range(count)]
    else:
        deltas = [int.from_bytes(times[1:9])]
        for (word,) in struct.iter_unpack(">Q", times[9:]):
            n, bits = _SIMPLE8B_LAYOUT[word >> 60]
            if bits == 0:
                deltas += [1] * n
            else:
                mask = (1 << bits) - 1
                deltas += [(word >> (i * bits)) & mask for i in range(n)]
    out = [deltas[0]]
    for delta in deltas[1:]:
        out.append((out[-1] + delta * scale) & 0xFFFF_FFFF_FFFF_FFFF)
    return [_signed(t) for t in out]


_SIMPLE8B_LAYOUT = tuple(
    zip(_SIMPLE8B_COUNTS, (0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 60), strict=True)
)


def _signed(value: int) -> int:
    value &= 0xFFFF_FFFF_FFFF_FFFF
    return value - (1 << 64) if value >= 1 << 63 else value

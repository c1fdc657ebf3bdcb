"""Shard files for deep-verification tests: read them, damage them, and count their points the
slow way (every timestamp decoded), as an oracle independent of the verifier's header counting."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from aiven_backup.verify.manifest import ManifestEntry, parse_manifest
from aiven_backup.verify.tar_index import TarMember

STAMP = "20261123T030000Z"
_SIMPLE8B = (
    (240, 0), (120, 0), (60, 1), (30, 2), (20, 3), (15, 4), (12, 5), (10, 6),
    (8, 7), (7, 8), (6, 10), (5, 12), (4, 15), (3, 20), (2, 30), (1, 60),
)  # fmt: skip


class BytesSource:
    """A ``RangeSource`` over bytes in memory; counts its reads."""

    def __init__(self, data: bytes, location: str = "s3://bucket/backup.tar") -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []
        self._location = location

    @property
    def location(self) -> str:
        return self._location

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset : offset + length]


@dataclass(frozen=True)
class ShardFile:
    """One shard file of a sample backup, ready for ``verify_shard``."""

    data: bytes
    entry: ManifestEntry

    @property
    def source(self) -> BytesSource:
        return BytesSource(self.data)

    @property
    def member(self) -> TarMember:
        return TarMember(name=self.entry.file_name, offset=0, size=len(self.data), type="file")


def shard_files(files: dict[str, bytes]) -> list[ShardFile]:
    """The shard files of ``sample_backup_files(...)``'s result, in manifest order."""
    manifest = parse_manifest(files[f"{STAMP}.manifest"], "manifest")
    return [ShardFile(files[entry.file_name], entry) for entry in manifest.files]


def shard_members(shard_gz: bytes) -> dict[str, bytes]:
    """The files inside a shard's ``.tar.gz``."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(shard_gz))) as archive:
        return {
            m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def shard_tar(members: dict[str, bytes]) -> bytes:
    """A tar as Go's archive/tar writes it (ustar, two zero blocks)."""
    out = bytearray()
    for name, data in members.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        out += info.tobuf(format=tarfile.USTAR_FORMAT)
        out += data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)
    out += b"\0" * (2 * tarfile.BLOCKSIZE)
    return bytes(out)


def regzip(shard: ShardFile, members: dict[str, bytes]) -> ShardFile:
    """``shard`` with its tar replaced by one of ``members``, gzipped again (manifest size too)."""
    tar = shard_tar(members)
    entry = ManifestEntry(
        database=shard.entry.database,
        policy=shard.entry.policy,
        shard_id=shard.entry.shard_id,
        file_name=shard.entry.file_name,
        size=len(tar),
        last_modified=0,
    )
    return ShardFile(gzip.compress(tar, mtime=0), entry)


@dataclass(frozen=True)
class IndexEntry:
    key: bytes
    block_type: int
    min_time: int
    max_time: int
    offset: int
    size: int


def index_entries(tsm: bytes) -> Iterator[IndexEntry]:
    """Every block entry of a TSM file's index, in index order."""
    (index_offset,) = struct.unpack(">Q", tsm[-8:])
    position, end = index_offset, len(tsm) - 8
    while position < end:
        (key_length,) = struct.unpack_from(">H", tsm, position)
        key = tsm[position + 2 : position + 2 + key_length]
        block_type, count = struct.unpack_from(">BH", tsm, position + 2 + key_length)
        position += 5 + key_length
        for _ in range(count):
            min_time, max_time, offset, size = struct.unpack_from(">qqQI", tsm, position)
            yield IndexEntry(key, block_type, min_time, max_time, offset, size)
            position += 28


def with_byte_flipped(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


def corrupt_block(tsm: bytes, entry: IndexEntry) -> bytes:
    """``tsm`` with one byte of ``entry``'s block data changed (its CRC32 no longer matches)."""
    return with_byte_flipped(tsm, entry.offset + entry.size - 1)


def with_block_crc_fixed(tsm: bytes, entry: IndexEntry) -> bytes:
    block = tsm[entry.offset + 4 : entry.offset + entry.size]
    return tsm[: entry.offset] + struct.pack(">I", zlib.crc32(block)) + tsm[entry.offset + 4 :]


def timestamp_encoding(tsm: bytes, entry: IndexEntry) -> int:
    """0 uncompressed, 1 simple8b, 2 run-length: the high 4 bits of the timestamps' header."""
    _, position = _uvarint(tsm, entry.offset + 5)
    return tsm[position] >> 4


def decoded_timestamps(block: bytes) -> list[int]:
    """Every timestamp of a block (after its CRC), fully decoded as influxd's TimeDecoder does."""
    length, position = _uvarint(block, 1)
    times = block[position : position + length]
    encoding, exponent = times[0] >> 4, times[0] & 0xF
    scale = 10**exponent
    if encoding == 0:
        deltas = list(struct.unpack(f">{(length - 1) // 8}Q", times[1:]))
        return _prefix_sums(deltas, 1)
    if encoding == 2:
        (first,) = struct.unpack_from(">Q", times, 1)
        delta, after = _uvarint(times, 9)
        count, _ = _uvarint(times, after)
        return [first + i * delta * scale for i in range(count)]
    assert encoding == 1, f"unknown timestamp encoding {encoding}"
    deltas = [struct.unpack_from(">Q", times, 1)[0]]
    for (word,) in struct.iter_unpack(">Q", times[9:]):
        count, bits = _SIMPLE8B[word >> 60]
        if bits == 0:
            deltas += [1] * count
            continue
        for i in range(count):
            deltas.append((word >> (i * bits)) & ((1 << bits) - 1))
    return _prefix_sums(deltas, scale)


def _prefix_sums(deltas: list[int], scale: int) -> list[int]:
    out = [deltas[0]]
    for delta in deltas[1:]:
        out.append(out[-1] + delta * scale)
    return out


def _uvarint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


@dataclass
class Decoded:
    points: int = 0
    blocks: int = 0
    first: int = 2**63 - 1
    last: int = -(2**63)


def decode_all(tsm: bytes) -> dict[bytes, Decoded]:
    """Points, blocks and time range per TSM key, every timestamp decoded."""
    out: dict[bytes, Decoded] = {}
    for entry in index_entries(tsm):
        times = decoded_timestamps(tsm[entry.offset + 4 : entry.offset + entry.size])
        decoded = out.setdefault(entry.key, Decoded())
        decoded.points += len(times)
        decoded.blocks += 1
        decoded.first = min(decoded.first, *times)
        decoded.last = max(decoded.last, *times)
    return out


class FileSource:
    """A ``RangeSource`` over a local file (one shard file of a backup directory)."""

    def __init__(self, path: str) -> None:
        self._path = path
        with open(path, "rb") as file:
            self._data = file.read()

    @property
    def location(self) -> str:
        return self._path

    @property
    def size(self) -> int:
        return len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


def tombstone_v4(deletes: list[tuple[bytes, int, int]]) -> bytes:
    """A v4 ``.tombstone`` file: header 0x1504, then a gzip member per delete."""
    out = struct.pack(">I", 0x1504)
    for key, low, high in deletes:
        out += gzip.compress(struct.pack(">I", len(key)) + key + struct.pack(">qq", low, high))
    return out

"""A small but real-format InfluxDB 1.x portable backup, packed into one tar like Aiven's.

The layout is exactly what ``influxd backup -portable`` writes (checked against influxd 1.6.7):

- ``<stamp>.meta``: protobuf ``{1: bytes Data, 2: uint64 MaxNodeID}``; Data is a real metastore
  encoding (databases, retention policies, shard groups, shards), so the first byte is ``0x0A``;
- ``<stamp>.s<shardID>.tar.gz``: one gzipped tar per shard holding
  ``<db>/<rp>/<shardID>/000000001-000000001.tsm``, a valid TSM file of integer points;
- ``<stamp>.manifest``: indented JSON, ``meta.size`` is the length of Data, ``files[].size`` the
  shard's UNCOMPRESSED tar size, ``files`` is ``null`` when there are no shards.

Everything is derived from the arguments and ``seed``, so the same call gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import random
import re
import struct
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

DEFAULT_STAMP = "20261123T030000Z"
DEFAULT_DATABASES: Mapping[str, Sequence[str]] = MappingProxyType(
    {"telegraf": ("autogen",), "metrics": ("autogen", "one_week")}
)
STAMP_PATTERN = re.compile(r"^\d{8}T\d{6}Z$")

_NS_PER_DAY = 86_400 * 1_000_000_000
_TSM_MAGIC_AND_VERSION = struct.pack(">IB", 0x16D116D1, 1)
_TSM_BLOCK_INTEGER = 1
_POINTS_PER_BLOCK = 1000  # influxd's own default
_BYTES_PER_POINT = 16  # uncompressed timestamp + uncompressed integer
_SERIES_KEYS = (b"sample,host=h0#!~#value", b"sample,host=h1#!~#value")


@dataclass(frozen=True)
class SampleSeries:
    """One series field of the sample's TSM files: ``key`` is ``measurement,tags#!~#field``;
    ``kind`` is ``"integer"`` or ``"boolean"``; ``timestamps`` the encoding of its blocks'
    timestamps: ``"raw"`` (uncompressed), ``"rle"`` (evenly spaced) or ``"simple8b"``."""

    key: bytes
    kind: str = "integer"
    timestamps: str = "raw"


DEFAULT_SERIES = tuple(SampleSeries(key) for key in _SERIES_KEYS)

_BLOCK_TYPES = {"integer": _TSM_BLOCK_INTEGER, "boolean": 2}
_SIMPLE8B = (  # (values per word, bits per value), in the order influxd's encoder tries them
    (240, 0),
    (120, 0),
    (60, 1),
    (30, 2),
    (20, 3),
    (15, 4),
    (12, 5),
    (10, 6),
    (8, 7),
    (7, 8),
    (6, 10),
    (5, 12),
    (4, 15),
    (3, 20),
    (2, 30),
    (1, 60),
)


@dataclass(frozen=True)
class _Shard:
    database: str
    policy: str
    shard_id: int
    group_start_ns: int
    group_duration_ns: int


# --- protobuf (only what the metastore needs: varints and length-delimited fields) -----------


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint; a negative one as its 64-bit two's complement."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def uint_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def bytes_field(number: int, value: bytes) -> bytes:
    return varint((number << 3) | 2) + varint(len(value)) + value


def _metastore_data(
    databases: Mapping[str, Sequence[str]], shards: Sequence[_Shard], rng: random.Random
) -> bytes:
    """meta.internal.Data: Term, Index, ClusterID, Databases, MaxNodeID, MaxShardGroupID, ..."""
    encoded_databases = b""
    for database, policies in databases.items():
        encoded_policies = b""
        for policy in policies:
            policy_shards = [s for s in shards if (s.database, s.policy) == (database, policy)]
            groups = b"".join(
                bytes_field(
                    5,
                    uint_field(1, s.shard_id)  # shard group ID = shard ID: one shard per group
                    + uint_field(2, s.group_start_ns)
                    + uint_field(3, s.group_start_ns + s.group_duration_ns)
                    + uint_field(4, 0)
                    + bytes_field(5, uint_field(1, s.shard_id)),
                )
                for s in policy_shards
            )
            duration_ns = 0 if policy == "autogen" else 7 * _NS_PER_DAY
            encoded_policies += bytes_field(
                3,
                bytes_field(1, policy.encode())
                + uint_field(2, duration_ns)
                + uint_field(3, _group_duration_ns(policy))
                + uint_field(4, 1)
                + groups,
            )
        default_policy = policies[0] if policies else "autogen"
        encoded_databases += bytes_field(
            5,
            bytes_field(1, database.encode())
            + bytes_field(2, default_policy.encode())
            + encoded_policies,
        )
    max_shard_id = max((s.shard_id for s in shards), default=0)
    return (
        uint_field(1, 0)
        + uint_field(2, 3 + len(shards))
        + uint_field(3, rng.getrandbits(63))
        + encoded_databases
        + uint_field(7, 0)
        + uint_field(8, max_shard_id)
        + uint_field(9, max_shard_id)
    )


def _group_duration_ns(policy: str) -> int:
    return 7 * _NS_PER_DAY if policy == "autogen" else _NS_PER_DAY


# --- TSM (uncompressed timestamps and integers: valid, and simple to write) -----------------


def _zigzag(value: int) -> int:
    return ((value << 1) ^ (value >> 63)) & 0xFFFF_FFFF_FFFF_FFFF


def _tsm_block(
    timestamps: Sequence[int],
    values: Sequence[int],
    *,
    kind: str = "integer",
    encoding: str = "raw",
) -> bytes:
    encoded_times = _encode_timestamps(timestamps, encoding)
    if kind == "boolean":
        encoded_values = _encode_booleans([bool(v & 1) for v in values])
    else:
        previous = 0
        zigzagged = []
        for value in values:
            zigzagged.append(_zigzag(value - previous))
            previous = value
        encoded_values = b"\x00" + struct.pack(f">{len(zigzagged)}Q", *zigzagged)
    return bytes([_BLOCK_TYPES[kind]]) + varint(len(encoded_times)) + encoded_times + encoded_values


def _encode_timestamps(timestamps: Sequence[int], encoding: str) -> bytes:
    """influxd's timestamp encodings (``tsdb/engine/tsm1/timestamp.go``): deltas, scaled by the
    largest power of ten dividing them all, then run-length, simple8b or uncompressed."""
    deltas = [timestamps[0]] + [b - a for a, b in itertools.pairwise(timestamps)]
    if encoding == "raw":
        return b"\x00" + struct.pack(f">{len(deltas)}Q", *deltas)
    exponent = 12
    while exponent and any(d % 10**exponent for d in deltas[1:]):
        exponent -= 1
    scaled = [d // 10**exponent for d in deltas[1:]]
    if encoding == "rle":
        if len(set(scaled)) != 1:
            raise ValueError("run-length timestamps need evenly spaced points, two at least")
        return (
            bytes([0x20 | exponent])
            + struct.pack(">Q", timestamps[0])
            + varint(scaled[0])
            + varint(len(timestamps))
        )
    if encoding == "simple8b":
        return bytes([0x10 | exponent]) + struct.pack(">Q", deltas[0]) + _simple8b(scaled)
    raise ValueError(f"unknown timestamp encoding {encoding!r}")


def _simple8b(values: Sequence[int]) -> bytes:
    """Greedy simple8b like influxd's ``simple8b.Encode``: every word is full."""
    out = bytearray()
    position = 0
    while position < len(values):
        for selector, (count, bits) in enumerate(_SIMPLE8B):
            run = values[position : position + count]
            if len(run) < count:
                continue
            if bits == 0:
                if all(v == 1 for v in run):
                    out += struct.pack(">Q", selector << 60)
                    break
                continue
            if all(v < 1 << bits for v in run):
                word = selector << 60
                for i, v in enumerate(run):
                    word |= v << (i * bits)
                out += struct.pack(">Q", word)
                break
        else:
            raise ValueError(f"value {values[position]} is too large for simple8b")
        position += count
    return bytes(out)


def _encode_booleans(values: Sequence[bool]) -> bytes:
    packed = bytearray()
    for first in range(0, len(values), 8):
        byte = 0
        for i, value in enumerate(values[first : first + 8]):
            byte |= int(value) << (7 - i)
        packed.append(byte)
    return b"\x10" + varint(len(values)) + bytes(packed)


def _series_timestamps(
    shard: _Shard, per_series: int, encoding: str, rng: random.Random
) -> list[int]:
    """``per_series`` timestamps inside the shard's group: evenly spaced, except for simple8b
    (spacing of one or two steps, so run-length encoding does not apply)."""
    if encoding != "simple8b":
        step = max(1, shard.group_duration_ns // (per_series + 1))
        return [shard.group_start_ns + (i + 1) * step for i in range(per_series)]
    step = max(1, shard.group_duration_ns // (2 * per_series + 2)) // 1000 * 1000 or 1
    times = []
    now = shard.group_start_ns
    for _ in range(per_series):
        now += step * rng.choice((1, 2))
        times.append(now)
    return times


def _tsm_file(
    shard: _Shard,
    payload_bytes: int,
    rng: random.Random,
    *,
    series: Sequence[SampleSeries] = DEFAULT_SERIES,
    points_per_series: int | None = None,
    points_per_block: int = _POINTS_PER_BLOCK,
) -> bytes:
    """A TSM file of about ``payload_bytes`` (or ``points_per_series`` points per series) whose
    points fall inside the shard's group."""
    if points_per_series is None:
        points = max(len(series), payload_bytes // _BYTES_PER_POINT)
        points_per_series = points // len(series)
    per_series = points_per_series
    body = bytearray(_TSM_MAGIC_AND_VERSION)
    index = bytearray()
    for one in sorted(series, key=lambda s: s.key):
        all_times = _series_timestamps(shard, per_series, one.timestamps, rng)
        entries = bytearray()
        count = 0
        for first in range(0, per_series, points_per_block):
            timestamps = all_times[first : first + points_per_block]
            values = [rng.getrandbits(40) for _ in timestamps]
            encoding = one.timestamps if len(timestamps) > 1 else "raw"
            block = _tsm_block(timestamps, values, kind=one.kind, encoding=encoding)
            offset = len(body)
            body += struct.pack(">I", zlib.crc32(block)) + block
            entries += struct.pack(">qqQI", timestamps[0], timestamps[-1], offset, len(block) + 4)
            count += 1
        block_type = _BLOCK_TYPES[one.kind]
        index += struct.pack(">H", len(one.key)) + one.key + struct.pack(">BH", block_type, count)
        index += entries
    index_offset = len(body)
    return bytes(body + index + struct.pack(">Q", index_offset))


# --- tars ----------------------------------------------------------------------------------


def _go_style_tar(members: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    """A tar as Go's archive/tar writes it: ustar headers, two zero blocks, no record padding."""
    out = bytearray()
    for name, data in members:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = mtime
        info.uname = info.gname = "root"
        out += info.tobuf(format=tarfile.USTAR_FORMAT)
        out += data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)
    out += b"\0" * (2 * tarfile.BLOCKSIZE)
    return bytes(out)


def _gzip(data: bytes, *, name: str, mtime: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename=name, mode="wb", fileobj=buffer, compresslevel=6, mtime=mtime
    ) as stream:
        stream.write(data)
    return buffer.getvalue()


def _stamp_epoch(stamp: str) -> int:
    if not STAMP_PATTERN.match(stamp):
        raise ValueError(f"stamp must look like 20261123T030000Z, got {stamp!r}")
    return int(datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp())


def _plan_shards(
    databases: Mapping[str, Sequence[str]], shards_per_policy: int, stamp_epoch: int
) -> list[_Shard]:
    shards: list[_Shard] = []
    for database, policies in databases.items():
        for policy in policies:
            duration = _group_duration_ns(policy)
            newest_start = (stamp_epoch * 1_000_000_000 // duration) * duration
            for age in reversed(range(shards_per_policy)):
                shards.append(
                    _Shard(
                        database=database,
                        policy=policy,
                        shard_id=len(shards) + 1,
                        group_start_ns=newest_start - age * duration,
                        group_duration_ns=duration,
                    )
                )
    return shards


def sample_backup_files(
    *,
    stamp: str = DEFAULT_STAMP,
    databases: Mapping[str, Sequence[str]] = DEFAULT_DATABASES,
    shards_per_policy: int = 2,
    shard_payload_bytes: int = 4096,
    seed: int = 0,
    series: Sequence[SampleSeries] = DEFAULT_SERIES,
    points_per_series: int | None = None,
    points_per_block: int = _POINTS_PER_BLOCK,
) -> dict[str, bytes]:
    """The files ``influxd backup -portable`` would write, by name, in the order it writes them.

    Each shard holds one TSM file with ``series`` (each of ``points_per_series`` points, or as
    many as make about ``shard_payload_bytes``), ``points_per_block`` points per block."""
    epoch = _stamp_epoch(stamp)
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
    shards = _plan_shards(databases, shards_per_policy, epoch)
    data = _metastore_data(databases, shards, rng)
    meta_name = f"{stamp}.meta"
    files: dict[str, bytes] = {meta_name: bytes_field(1, data) + uint_field(2, 0)}
    entries: list[dict[str, Any]] = []
    for shard in shards:
        tsm_name = f"{shard.database}/{shard.policy}/{shard.shard_id}/000000001-000000001.tsm"
        tsm = _tsm_file(
            shard,
            shard_payload_bytes,
            rng,
            series=series,
            points_per_series=points_per_series,
            points_per_block=points_per_block,
        )
        shard_tar = _go_style_tar([(tsm_name, tsm)], epoch)
        file_name = f"{stamp}.s{shard.shard_id}.tar.gz"
        files[file_name] = _gzip(shard_tar, name=file_name.removesuffix(".gz"), mtime=epoch)
        entries.append(
            {
                "database": shard.database,
                "policy": shard.policy,
                "shardID": shard.shard_id,
                "fileName": file_name,
                "size": len(shard_tar),
                "lastModified": 0,
            }
        )
    manifest = {
        "meta": {"fileName": meta_name, "size": len(data)},
        "limited": False,
        "files": entries or None,
    }
    files[f"{stamp}.manifest"] = json.dumps(manifest, indent=2).encode()
    return files


def pack_tar(
    files: Mapping[str, bytes],
    *,
    folder: str | None = None,
    mtime: int = 0,
    tar_format: int = tarfile.GNU_FORMAT,
) -> bytes:
    """One uncompressed tar of ``files`` at its root, or under ``folder/`` (with its entry)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        if folder:
            directory = tarfile.TarInfo(folder)
            directory.type = tarfile.DIRTYPE
            directory.mode = 0o755
            directory.mtime = mtime
            archive.addfile(directory)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}" if folder else name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = mtime
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_sample_backup(
    *,
    stamp: str = DEFAULT_STAMP,
    databases: Mapping[str, Sequence[str]] = DEFAULT_DATABASES,
    shards_per_policy: int = 2,
    shard_payload_bytes: int = 4096,
    folder: str | None = None,
    seed: int = 0,
    drop_files: Sequence[str] = (),
    tar_format: int = tarfile.GNU_FORMAT,
) -> bytes:
    """A real-format portable backup packed into one outer tar, as Aiven serves it.

    ``drop_files`` leaves those file names (e.g. ``"<stamp>.s2.tar.gz"``) out of the tar while
    the manifest still names them: a damaged backup. ``tar_format`` picks the outer tar's
    header format (``tarfile.PAX_FORMAT`` to exercise pax headers, ...).
    """
    files = sample_backup_files(
        stamp=stamp,
        databases=databases,
        shards_per_policy=shards_per_policy,
        shard_payload_bytes=shard_payload_bytes,
        seed=seed,
    )
    unknown = set(drop_files) - set(files)
    if unknown:
        raise ValueError(f"drop_files names files the backup does not have: {sorted(unknown)}")
    kept = {name: data for name, data in files.items() if name not in drop_files}
    return pack_tar(kept, folder=folder, mtime=_stamp_epoch(stamp), tar_format=tar_format)


def build_non_backup_tar() -> bytes:
    """A tar of ordinary files, with no manifest: what a wrong URL might serve."""
    files = {
        "README.txt": b"Quarterly report, see data/.\n",
        "data/sales.csv": b"region,amount\nnorth,10\nsouth,20\n",
        "data/notes.json": b'{"owner": "finance"}\n',
    }
    return pack_tar(files, mtime=_stamp_epoch(DEFAULT_STAMP))

"""Verify one shard file of a backup (``<stamp>.s<id>.tar.gz``) and read what data it holds.

A shard is an independent byte range of the backup tar (the tar index gives its offset and
size), so shards are verified one per call, in parallel, each on its own ranged reads.
"""

from __future__ import annotations

import errno
import os
import posixpath
import tempfile
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from aiven_backup.errors import ShardCorrupt, TsmCorrupt, VerifyScratchFull
from aiven_backup.verify import inflate
from aiven_backup.verify.data_inventory import DataInventory, MeasurementStats
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.spool_space import SpoolSpace
from aiven_backup.verify.tar_index import TarMember, describe_bytes
from aiven_backup.verify.tar_stream import StreamMember, TarStream, TarStreamDamaged
from aiven_backup.verify.tsm import (
    ChunkedTsm,
    MeasurementTotals,
    SpooledTsm,
    Tombstones,
    TsmBytes,
    TsmProblem,
    check_tsm,
    parse_tombstones,
)

GZIP_MAGIC = b"\x1f\x8b"
TSM_SUFFIX = ".tsm"
TOMBSTONE_SUFFIX = ".tombstone"

CHUNK_SIZE = 8 * 1024 * 1024
"""Compressed bytes per ranged read of a shard file (one GET each through ``S3RangeReader``)."""
SPOOL_THRESHOLD = 32 * 1024 * 1024
"""A TSM file larger than this is spooled to the scratch directory rather than held in memory."""
INFLATE_SLICE = 256 * 1024
"""Compressed bytes per inflate call: its output (about 430 KiB on TSM data) stays in the CPU's
cache while the next step reads it, where whole 4 MiB chunks cost 10-15 % more CPU."""
_MAX_INFLATE = 4 * 1024 * 1024  # decompressed bytes per zlib call: bounds memory on any ratio
_GZIP_WBITS = 31  # gzip header and trailer (CRC32, ISIZE), checked by zlib
_CANNOT_RESTORE = (
    "shard {entry.shard_id} of {entry.database}.{entry.policy} cannot be restored from this "
    "backup, request a new one"
)


class RangeSource(Protocol):
    """Byte ranges of the backup tar (``S3RangeReader`` in S3, a local file in tests).

    A source may also offer ``read_through(offset, length)``, the same read without caching
    (``S3RangeReader`` does): a shard's body is then streamed through it.
    """

    @property
    def location(self) -> str: ...

    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True)
class ShardReport:
    """What verifying one shard found: its files and its data. JSON-able through ``to_dict``."""

    name: str  # the member's path inside the backup tar
    database: str
    policy: str
    shard_id: int
    tsm_files: int = 0
    data: DataInventory = field(default_factory=DataInventory)
    tombstone_files: int = 0
    """``.tombstone`` files: deletes not yet compacted away."""
    tombstones_applied: int = 0
    """Of those, the ones ``data`` accounts for (the points they delete are not counted). When
    fewer than ``tombstone_files`` (a format not read, or a tombstone after its TSM file in the
    tar), ``data`` may count points influxd no longer returns."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "database": self.database,
            "policy": self.policy,
            "shard_id": self.shard_id,
            "tsm_files": self.tsm_files,
            "data": self.data.to_dict(),
            "tombstone_files": self.tombstone_files,
            "tombstones_applied": self.tombstones_applied,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardReport:
        return cls(
            name=str(data["name"]),
            database=str(data["database"]),
            policy=str(data["policy"]),
            shard_id=int(data["shard_id"]),
            tsm_files=int(data["tsm_files"]),
            data=DataInventory.from_dict(data["data"]),
            tombstone_files=int(data.get("tombstone_files", 0)),
            tombstones_applied=int(data.get("tombstones_applied", 0)),
        )


def verify_shard(
    source: RangeSource,
    member: TarMember,
    entry: ManifestEntry,
    *,
    spool_space: SpoolSpace | None = None,
    spool_threshold: int = SPOOL_THRESHOLD,
    chunk_size: int = CHUNK_SIZE,
    read_ahead: bool = True,
) -> ShardReport:
    """Check the shard file ``member`` (which the manifest describes as ``entry``) completely and
    read what data it holds.

    Streams the file in ``chunk_size`` ranged reads: the gzip stream must decompress completely
    (CRC32 and length of every member, nothing after it) to exactly the manifest's size; the tar
    inside must be whole and hold only ``<db>/<rp>/<id>/`` files; every ``.tsm`` file must pass
    ``influx_inspect verify``'s checks (magic, version, index, every block's CRC32). A TSM file
    larger than ``spool_threshold`` is spooled to a temporary file in ``spool_space`` (threads
    verifying at once share one, so they wait for each other's room rather than fill the disk
    together; default: a space of its own in ``tempfile.gettempdir()``) to reach its index;
    smaller ones stay in memory.

    Raises ``ShardCorrupt`` when the gzip or the tar is damaged, ``TsmCorrupt`` when a TSM file
    fails a check (the message names the shard file, the TSM file and the block), and
    ``VerifyScratchFull`` when the scratch directory has no room for a TSM file.
    """
    where = f"{source.location}: shard file {member.name}"
    head = source.read(member.offset, min(member.size, len(GZIP_MAGIC)))
    if head != GZIP_MAGIC:
        found = describe_bytes(head) if head else "it is empty"
        raise ShardCorrupt(
            f"{where} is not gzip-compressed ({found}); {_CANNOT_RESTORE.format(entry=entry)}"
        )
    stream = InflatedShard(source, member, entry, chunk_size=chunk_size, read_ahead=read_ahead)
    try:
        return _verify_stream(
            stream,
            member,
            entry,
            where=where,
            space=spool_space or SpoolSpace(tempfile.gettempdir()),
            spool_threshold=spool_threshold,
        )
    finally:
        stream.close()


def _verify_stream(
    stream: InflatedShard,
    member: TarMember,
    entry: ManifestEntry,
    *,
    where: str,
    space: SpoolSpace,
    spool_threshold: int,
) -> ShardReport:
    totals: MeasurementTotals = {}
    prefix = f"{entry.database}/{entry.policy}/{entry.shard_id}"
    tsm_files = tombstones = applied = 0
    deletes: dict[str, Tombstones | None] = {}  # by TSM path less .tsm; None: not readable
    archive = TarStream(stream)
    try:
        for info in archive.members():
            name = info.name
            if name in (prefix, *_parents(prefix)) and info.isdir():
                continue
            if not name.startswith(f"{prefix}/"):
                raise ShardCorrupt(
                    f"{where} holds {name!r}, which is not a file of shard {entry.shard_id} "
                    f"(expected {prefix}/...); {_CANNOT_RESTORE.format(entry=entry)}"
                )
            if not info.isfile():
                continue
            if name.endswith(TSM_SUFFIX):
                deleted = deletes.pop(name.removesuffix(TSM_SUFFIX), None)
                if deleted is not None:
                    applied += 1
                _check_tsm_member(
                    archive,
                    info,
                    f"{where}: TSM file {name}",
                    totals,
                    space,
                    deleted=deleted,
                    spool_threshold=spool_threshold,
                )
                tsm_files += 1
            elif name.endswith(TOMBSTONE_SUFFIX):
                tombstones += 1
                deletes[name.removesuffix(TOMBSTONE_SUFFIX)] = _read_tombstones(
                    archive, info, spool_threshold
                )
    except TarStreamDamaged as error:
        raise ShardCorrupt(
            f"{where}: the tar inside is damaged ({error}); {_CANNOT_RESTORE.format(entry=entry)}"
        ) from None
    stream.finish()
    return ShardReport(
        name=member.name,
        database=entry.database,
        policy=entry.policy,
        shard_id=entry.shard_id,
        tsm_files=tsm_files,
        tombstone_files=tombstones,
        tombstones_applied=applied,
        data=_inventory(entry, totals),
    )


def _check_tsm_member(
    archive: TarStream,
    info: StreamMember,
    where: str,
    totals: MeasurementTotals,
    space: SpoolSpace,
    *,
    deleted: Tombstones | None,
    spool_threshold: int,
) -> None:
    if info.size <= spool_threshold:
        # Held as the views of the decompressed chunks it arrived in: nothing is copied.
        _check_tsm_bytes(ChunkedTsm(list(archive.body())), where, totals, deleted)
        return
    try:
        with (
            space.reserve(info.size, where),
            tempfile.TemporaryFile(
                dir=space.directory, prefix="verify-", suffix=TSM_SUFFIX, buffering=0
            ) as spool,
        ):
            for piece in archive.body():
                written = 0
                while written < len(piece):  # a write to a file may be short
                    written += os.write(spool.fileno(), piece[written:])
            _check_tsm_bytes(SpooledTsm(spool, info.size), where, totals, deleted)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise VerifyScratchFull(
                f"{where} ({info.size} bytes) does not fit in the scratch directory "
                f"{space.directory} ({error.strerror}): something else filled it; give the "
                "verifier more temporary storage (Lambda EphemeralStorage) and verify again"
            ) from error
        raise


def _read_tombstones(archive: TarStream, info: StreamMember, limit: int) -> Tombstones | None:
    """The deletes of a ``.tombstone`` file; ``None`` when it is too large to hold or not read."""
    if info.size > limit:
        return None  # skipped with the next member
    return parse_tombstones(b"".join(archive.body()))


def _check_tsm_bytes(
    data: TsmBytes, where: str, totals: MeasurementTotals, deleted: Tombstones | None
) -> None:
    try:
        check_tsm(data, totals, deleted)
    except TsmProblem as problem:
        raise TsmCorrupt(
            f"{where} is damaged: {problem}; influxd cannot read this data back "
            "(influx_inspect verify reports the file broken), so the backup cannot be fully "
            "restored: request a new one"
        ) from None


def _inventory(entry: ManifestEntry, totals: MeasurementTotals) -> DataInventory:
    measurements = {
        (entry.database, entry.policy, measurement): MeasurementStats(
            series=len(stats.series),
            fields=tuple(sorted(stats.fields)),
            blocks=stats.blocks,
            points=stats.points,
            first_ns=stats.first_ns,
            last_ns=stats.last_ns,
        )
        for measurement, stats in sorted(totals.items())
        if stats.points  # every point deleted by tombstones: influxd returns none either
    }
    return DataInventory(MappingProxyType(measurements))


def _parents(path: str) -> tuple[str, ...]:
    parents = []
    while "/" in path:
        path = posixpath.dirname(path)
        parents.append(path)
    return tuple(parents)


class InflatedShard:
    """The decompressed bytes of a shard file, read in ``chunk_size`` ranged reads.

    Like Go's ``gzip.Reader`` (what ``influxd restore`` uses), concatenated gzip members are one
    stream; anything else after the last member is damage. Each member's CRC32 and ISIZE are
    checked by zlib when its end is reached; ``finish`` drains the stream so the last member's
    trailer is checked even when the tar ends before it, and compares the total with the
    manifest's size.
    """

    def __init__(
        self,
        source: RangeSource,
        member: TarMember,
        entry: ManifestEntry,
        *,
        chunk_size: int,
        read_ahead: bool,
    ) -> None:
        self._source = source
        # A source that caches what it reads (S3RangeReader) offers an uncached read for bodies
        # streamed once: caching a whole shard would hold it all in memory. A shard of one chunk
        # is read through the cache: it is usually in the window its neighbours were read with
        # (verify.batch), so thousands of small shards cost a few requests, and nothing to read
        # ahead.
        single_chunk = member.size <= chunk_size
        self._read = source.read if single_chunk else getattr(source, "read_through", source.read)
        read_ahead = read_ahead and not single_chunk
        self._member = member
        self._entry = entry
        self._chunk_size = chunk_size
        self._where = f"{source.location}: shard file {member.name}"
        self._fetched = 0  # compressed bytes read from the source and handed to zlib
        self._requested = 0  # compressed bytes asked for (one chunk ahead with read-ahead)
        self._pending: Future[bytes] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1) if read_ahead else None
        self._input = memoryview(b"")  # compressed bytes fetched, not yet consumed by zlib
        self._inflater = inflate.ZLIB.decompressobj(wbits=_GZIP_WBITS)
        self._members = 1
        self._output: deque[memoryview] = deque()  # inflated, not yet read
        self._total = 0  # decompressed bytes produced
        self._done = False

    def next_chunk(self) -> memoryview:
        """The next decompressed bytes (an empty view only at the end), not copied."""
        while not self._output and not self._done:
            self._pump()
        return self._output.popleft() if self._output else memoryview(b"")

    def finish(self) -> None:
        """Read to the end of the gzip stream and check its total length."""
        while not self._done:
            self._pump()
            self._output.clear()
        if self._total != self._entry.size:
            raise ShardCorrupt(
                f"{self._where} decompresses to {self._total} bytes but the manifest says its "
                f"tar is {self._entry.size}; {_CANNOT_RESTORE.format(entry=self._entry)}"
            )

    def close(self) -> None:
        """Stop reading ahead (a pending read is waited for, its bytes dropped)."""
        self._pending = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _fetch(self) -> bytes:
        """The next chunk of compressed bytes (``b""`` at the end of the file); with read-ahead,
        the chunk after it is already being read while this one is inflated."""
        if self._pending is not None:
            chunk, self._pending = self._pending.result(), None
        else:
            chunk = self._read_next()
        if chunk and self._pool is not None and self._requested < self._member.size:
            self._pending = self._pool.submit(self._read_next)
        self._fetched += len(chunk)
        return chunk

    def _read_next(self) -> bytes:
        offset = self._requested
        length = min(self._chunk_size, self._member.size - offset)
        if length <= 0:
            return b""
        self._requested += length
        chunk = self._read(self._member.offset + offset, length)
        if len(chunk) != length:
            raise ShardCorrupt(
                f"{self._where}: the backup object ends at byte {offset + len(chunk)} of this "
                f"{self._member.size}-byte file; {_CANNOT_RESTORE.format(entry=self._entry)}"
            )
        return chunk

    def _pump(self) -> None:
        if not self._input:
            self._input = memoryview(self._fetch())
            if not self._input:
                if not self._inflater.eof:
                    raise ShardCorrupt(
                        f"{self._where} is truncated: its gzip stream ends without its trailer "
                        f"after {self._fetched} bytes ({self._total} bytes decompressed); "
                        f"{_CANNOT_RESTORE.format(entry=self._entry)}"
                    )
                self._done = True
                return
        if self._inflater.eof:  # another member follows, or garbage
            while len(self._input) < len(GZIP_MAGIC) and (more := self._fetch()):
                self._input = memoryview(bytes(self._input) + more)
            if self._input[: len(GZIP_MAGIC)] != GZIP_MAGIC:
                trailing = self._member.size - self._fetched + len(self._input)
                raise ShardCorrupt(
                    f"{self._where} has {trailing} bytes of garbage after its gzip stream "
                    f"({describe_bytes(bytes(self._input[:64]))}); "
                    f"{_CANNOT_RESTORE.format(entry=self._entry)}"
                )
            self._inflater = inflate.ZLIB.decompressobj(wbits=_GZIP_WBITS)
            self._members += 1
        piece = self._input[:INFLATE_SLICE]
        try:
            out = self._inflater.decompress(piece, _MAX_INFLATE)
        except inflate.errors() as error:
            raise ShardCorrupt(
                f"{self._where} is damaged: gzip member {self._members} does not decompress "
                f"({error}) after {self._total} good bytes; "
                f"{_CANNOT_RESTORE.format(entry=self._entry)}"
            ) from error
        left = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
        self._input = self._input[len(piece) - len(left) :]  # a view: the input is not copied
        self._total += len(out)
        if out:
            self._output.append(memoryview(out))

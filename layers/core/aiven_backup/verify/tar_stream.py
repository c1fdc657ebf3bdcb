"""Read a tar from a stream of decompressed chunks (the tar inside a shard file), member by
member, each body as views of the chunks it arrived in: only the 512-byte headers are copied.

``tarfile``'s stream mode (``"r|"``) copies every byte through its own buffer, and joins reads,
a large part of deep verification's time on a backup of large TSM files. Headers are parsed here
with ``tarfile.TarInfo.frombuf`` (ustar, GNU and v7, checksum checked), and pax and GNU
long-name records with the rules ``tar_index`` applies to the backup's outer tar.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from aiven_backup.verify.tar_index import (
    BLOCK,
    MAX_RECORD_BYTES,
    has_body,
    is_extended_header,
    name_and_size,
    normalize_name,
    take_record,
)

_ZERO_BLOCK = bytes(BLOCK)


class ChunkStream(Protocol):
    """Decompressed bytes in chunks of any size; an empty chunk at the end."""

    def next_chunk(self) -> memoryview: ...


class TarStreamDamaged(Exception):
    """The stream is not a whole tar; the message says where and how."""


@dataclass(frozen=True)
class StreamMember:
    """One member of the stream: its name (``./`` and trailing ``/`` removed) and body size."""

    name: str
    size: int
    type: bytes

    def isfile(self) -> bool:
        return self.type in tarfile.REGULAR_TYPES

    def isdir(self) -> bool:
        return self.type == tarfile.DIRTYPE


class TarStream:
    """The members of the tar ``chunks`` carries, in order (``members``); the current member's
    body through ``body``. A body not read is skipped when the next member is asked for."""

    def __init__(self, chunks: ChunkStream) -> None:
        self._chunks = chunks
        self._chunk = memoryview(b"")
        self._unread = 0  # body bytes of the current member not yet read
        self._padding = 0  # bytes after them to the next 512-byte boundary
        self._offset = 0  # bytes of the stream consumed
        self._current = ""  # the member read last, for messages

    def members(self) -> Iterator[StreamMember]:
        """Every member up to the end-of-archive block (or a clean end of the stream between
        members, as ``tarfile`` allows). Raises ``TarStreamDamaged``."""
        global_records: dict[str, str] = {}
        next_records: dict[str, str] = {}
        while True:
            self._skip(self._unread + self._padding)
            self._unread = self._padding = 0
            at = self._where()
            header = self._take(BLOCK)
            if not header or header == _ZERO_BLOCK:
                return
            if len(header) < BLOCK:
                raise TarStreamDamaged(f"it ends inside the header {at}")
            try:
                info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
            except tarfile.HeaderError as error:
                raise TarStreamDamaged(f"the header {at} is not valid ({error})") from None
            if is_extended_header(info.type):
                record = self._record(info.size, at)
                if not take_record(info.type, record, global_records, next_records):
                    raise TarStreamDamaged(f"the pax header {at} is unreadable")
                continue
            try:
                name, size = name_and_size(info, {**global_records, **next_records})
            except ValueError as error:
                raise TarStreamDamaged(str(error)) from None
            next_records = {}
            self._unread = size if has_body(info.type) else 0
            self._padding = -self._unread % BLOCK
            self._current = name
            yield StreamMember(normalize_name(name), size, info.type)

    def body(self) -> Iterator[memoryview]:
        """The current member's body as views of the decompressed chunks (each valid as long
        as it is held); raises ``TarStreamDamaged`` when the stream ends inside it."""
        for piece in self._pieces(self._unread):
            self._unread -= len(piece)
            yield piece
        if self._unread:
            raise self._ended_inside()

    def _where(self) -> str:
        after = f" (after {self._current!r})" if self._current else ""
        return f"at byte {self._offset}{after}"

    def _record(self, size: int, at: str) -> bytes:
        if size > MAX_RECORD_BYTES:
            raise TarStreamDamaged(f"the extended header {at} claims {size} bytes")
        record = self._take(size)
        if len(record) < size:
            raise TarStreamDamaged(f"it ends inside the extended header {at}")
        self._skip(-size % BLOCK)
        return record

    def _take(self, size: int) -> bytes:
        """The next ``size`` bytes, fewer only when the stream ends."""
        return b"".join(self._pieces(size))

    def _skip(self, size: int) -> None:
        if sum(len(piece) for piece in self._pieces(size)) < size:
            raise self._ended_inside()

    def _pieces(self, size: int) -> Iterator[memoryview]:
        """The next ``size`` bytes as views of the chunks, consumed as they are yielded; fewer
        only when the stream ends."""
        while size:
            if not self._chunk:
                self._chunk = self._chunks.next_chunk()
                if not self._chunk:
                    return
            piece = self._chunk[:size]
            self._chunk = self._chunk[len(piece) :]
            self._offset += len(piece)
            size -= len(piece)
            yield piece

    def _ended_inside(self) -> TarStreamDamaged:
        return TarStreamDamaged(f"it ends at byte {self._offset}, inside {self._current!r}")

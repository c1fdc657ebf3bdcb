"""A part buffer as the seekable, read-only file botocore sends as an UploadPart body."""

from __future__ import annotations

import io
from typing import Any


class PartBody(io.RawIOBase):
    """Reads ``buffer`` in the blocks its reader asks for, so no part-sized copy is made;
    seekable so botocore can size it, hash it (plain-http signing) and rewind it on retry.

    ``buffer`` is the part itself, for a sender that can take it whole (see ``multipart``).
    """

    def __init__(self, buffer: bytearray) -> None:
        super().__init__()
        self.buffer = buffer
        self._view = memoryview(buffer).toreadonly()
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = max(0, min(len(target), len(self._view) - self._position))
        target[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

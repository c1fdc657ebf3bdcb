"""Which parts are uploaded, and how far the contiguous prefix (and its CRC32) reaches."""

from __future__ import annotations

import threading

from aiven_backup.copier.checksum import crc32_combine
from aiven_backup.copier.multipart import UploadedPart


class PartLedger:
    """Parts finish in any order; the prefix advances over them in part-number order.

    ``next_part``/``offset``/``crc32`` describe the prefix ``1 .. next_part - 1``: what a cursor
    may promise. Thread-safe: uploader threads record, the copy's thread reads.
    """

    def __init__(
        self, *, next_part: int, offset: int, crc32: int, earlier: list[UploadedPart]
    ) -> None:
        self._lock = threading.Lock()
        self._parts: dict[int, UploadedPart] = {part.number: part for part in earlier}
        self._waiting: dict[int, UploadedPart] = {}
        self.next_part = next_part
        self.offset = offset
        self.crc32 = crc32
        self.uploaded_here = 0

    def record(self, part: UploadedPart) -> None:
        if part.crc32 is None:
            raise ValueError("a part uploaded by this copy always has its CRC32")
        with self._lock:
            self._waiting[part.number] = part
            self.uploaded_here += 1
            while self.next_part in self._waiting:
                done = self._waiting.pop(self.next_part)
                self._parts[done.number] = done
                self.crc32 = crc32_combine(self.crc32, done.crc32 or 0, done.size)
                self.offset += done.size
                self.next_part += 1

    def parts(self) -> list[UploadedPart]:
        """The prefix's parts, in order (those of earlier calls included)."""
        with self._lock:
            return [self._parts[number] for number in range(1, self.next_part)]

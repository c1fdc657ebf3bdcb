"""A fixed number of reusable part buffers: the copier's memory bound and its backpressure."""

from __future__ import annotations

import threading

from aiven_backup.copier.reader import CopyStoppedError


class BufferPool:
    """At most ``capacity`` part buffers exist at once; ``acquire`` blocks until one is free.

    Buffers are plain ``bytearray``s of exactly the requested size, reused while the size stays
    the same (every part but the last of a known length; a whole tier of an unknown one).
    """

    def __init__(self, capacity: int, stop: threading.Event) -> None:
        self._slots = threading.BoundedSemaphore(capacity)
        self._free: list[bytearray] = []
        self._lock = threading.Lock()
        self._stop = stop

    def acquire(self, size: int) -> bytearray:
        """A buffer of ``size`` bytes; ``CopyStoppedError`` if the copy stops while waiting."""
        while not self._slots.acquire(timeout=0.05):
            if self._stop.is_set():
                raise CopyStoppedError
        with self._lock:
            while self._free:
                buffer = self._free.pop()
                if len(buffer) == size:
                    return buffer
        return bytearray(size)

    def release(self, buffer: bytearray) -> None:
        with self._lock:
            self._free.append(buffer)
        self._slots.release()

    def clear(self) -> None:
        with self._lock:
            self._free.clear()

"""Reusable part buffers, bounded in number and in bytes: the copier's memory bound and its
backpressure (a reader that runs ahead of the uploads waits here)."""

from __future__ import annotations

import threading

from aiven_backup.copier.budget import CopyStoppedError


class BufferPool:
    """At most ``capacity`` part buffers, holding at most ``max_bytes`` together (but always at
    least one, whatever its size); ``acquire`` blocks until the new buffer fits.

    Buffers are plain ``bytearray``s of exactly the requested size, reused while the size stays
    the same (every part but the last of a known length; a whole tier of an unknown one). Idle
    buffers count against ``max_bytes`` until a different size needs their room.
    """

    def __init__(self, capacity: int, max_bytes: int, stop: threading.Event) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._stop = stop
        self._changed = threading.Condition()
        self._free: list[bytearray] = []
        self._in_use = 0
        self._held_bytes = 0  # in use and idle

    def acquire(self, size: int) -> bytearray:
        """A buffer of ``size`` bytes, once it fits; ``CopyStoppedError`` if the copy stops
        while this waits."""
        with self._changed:
            while True:
                if self._in_use < self._capacity:
                    for index, idle in enumerate(self._free):
                        if len(idle) == size:
                            self._in_use += 1
                            return self._free.pop(index)
                    if self._in_use == 0 or self._held_bytes + size <= self._max_bytes:
                        self._drop_idle()
                        self._in_use += 1
                        self._held_bytes += size
                        break
                    if self._free:
                        self._drop_idle()  # make room, then check again
                        continue
                if self._stop.is_set():
                    raise CopyStoppedError
                self._changed.wait(timeout=0.05)
        return bytearray(size)

    def release(self, buffer: bytearray) -> None:
        with self._changed:
            self._in_use -= 1
            self._free.append(buffer)
            self._changed.notify()

    def clear(self) -> None:
        with self._changed:
            self._drop_idle()

    def _drop_idle(self) -> None:
        self._held_bytes -= sum(len(idle) for idle in self._free)
        self._free.clear()

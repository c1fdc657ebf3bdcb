"""When a copy stops early: its time budget is nearly spent (start a part only if it can finish
before the deadline), or another part failed (``CopyStoppedError``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CopyStoppedError(Exception):
    """Another part failed and the copy is stopping: abandon this one quietly."""


class Budget:
    """``seconds`` from now; a new part is allowed while more time remains than the longest
    part so far has taken (read plus upload), so parts in flight finish inside the budget."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + seconds
        self._longest_part = 0.0
        self._lock = threading.Lock()

    @property
    def deadline(self) -> float:
        """The end of the budget, on the clock's scale (``time.monotonic()`` by default)."""
        return self._deadline

    def now(self) -> float:
        return self._clock()

    def remaining(self) -> float:
        return self._deadline - self._clock()

    def observe_part(self, started: float) -> None:
        """Record how long a part took from the start of its read to the end of its upload."""
        took = self._clock() - started
        with self._lock:
            self._longest_part = max(self._longest_part, took)

    def allows_another_part(self) -> bool:
        with self._lock:
            longest = self._longest_part
        return self.remaining() > longest

"""Bounded exponential backoff with jitter, shared by the HTTP source and the S3 calls."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """``retries`` retries waiting ``base * 2**n`` (capped at ``cap``), half fixed, half random.

    Waits happen on ``stop``: when another thread has failed, a pending wait ends at once. No
    retry is waited for that would start after ``deadline`` (a ``time.monotonic()`` value, e.g.
    the end of the invocation's time budget): better to hand back a cursor than to be killed.
    """

    retries: int
    base: float
    cap: float
    stop: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """How long to wait before retry ``retry_index`` (0-based); honours ``Retry-After``."""
        exponential = min(self.cap, self.base * float(1 << min(retry_index, 30)))
        jittered = exponential / 2 + random.uniform(0, exponential / 2)  # noqa: S311 - jitter, not crypto
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.cap))
        return jittered

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    def wait(self, retry_index: int, retry_after: float | None = None) -> bool:
        """Sleep before a retry; False (do not retry) when the copy is stopping or the retry
        would start after the deadline (``stopped`` tells which)."""
        pause = self.delay(retry_index, retry_after)
        if self.deadline is not None and time.monotonic() + pause >= self.deadline:
            return False
        return not self.stop.wait(pause)

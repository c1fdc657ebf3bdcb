"""Bounded exponential backoff with jitter, shared by the HTTP source and the S3 calls."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """``attempts`` retries waiting ``base * 2**n`` (capped at ``cap``), half fixed, half random.

    Waits happen on ``stop``: when another thread has failed, a pending wait ends at once.
    """

    retries: int
    base: float
    cap: float
    stop: threading.Event = field(default_factory=threading.Event)

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """How long to wait before retry ``retry_index`` (0-based); honours ``Retry-After``."""
        exponential = min(self.cap, self.base * float(1 << min(retry_index, 30)))
        jittered = exponential / 2 + random.uniform(0, exponential / 2)  # noqa: S311 - jitter, not crypto
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.cap))
        return jittered

    def wait(self, retry_index: int, retry_after: float | None = None) -> bool:
        """Sleep before a retry; False when the copy was stopped meanwhile (then do not retry)."""
        return not self.stop.wait(self.delay(retry_index, retry_after))

"""A clock a test sets: the local stack's executions start at its time, and the steps read it."""

from __future__ import annotations

import time
from datetime import datetime


class SimulatedClock:
    """Runs at the real pace from the moment it was last set."""

    def __init__(self, start: datetime) -> None:
        self._offset = 0.0
        self.set(start)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("give the clock an aware datetime (UTC)")
        self._offset = moment.timestamp() - time.time()

    def __call__(self) -> float:
        return time.time() + self._offset

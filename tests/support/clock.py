"""Clocks for tests: one the test moves by hand, and one it sets that then runs at the real pace
(the local stack's executions start at its time, and the steps read it)."""

from __future__ import annotations

import time
from datetime import datetime


class ManualClock:
    """Epoch seconds that only move when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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

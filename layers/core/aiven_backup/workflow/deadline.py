"""When a step must be done: the invocation's end, less a margin, on the ``time.monotonic()``
clock. Handlers compute it once, first thing, from the time Lambda says is left, so every second
spent reading the secret, calling Aiven or retrying comes out of the step's own work, never out
of the margin that lets it finish before Lambda kills it (``Sandbox.Timedout``)."""

from __future__ import annotations

import time

STEP_TIME_MARGIN_SECONDS = 10.0
"""Kept free at the end of every step but the copy (which has COPY_TIME_MARGIN_SECONDS)."""


def invocation_deadline(
    remaining_ms: int, margin_seconds: float = STEP_TIME_MARGIN_SECONDS
) -> float:
    """``time.monotonic()`` + the remaining time - ``margin_seconds``."""
    return time.monotonic() + remaining_ms / 1000.0 - margin_seconds


def seconds_until(deadline: float) -> float:
    return deadline - time.monotonic()

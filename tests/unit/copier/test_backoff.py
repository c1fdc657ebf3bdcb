"""Backoff waits grow and are capped, and never run past the stop signal or the deadline."""

from __future__ import annotations

import threading
import time

from aiven_backup.copier.retry import Backoff


def test_waits_grow_exponentially_up_to_the_cap_with_jitter_below_them() -> None:
    backoff = Backoff(retries=10, base=1.0, cap=8.0)

    for index, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (9, 8.0)]:
        delay = backoff.delay(index)
        assert ceiling / 2 <= delay <= ceiling


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    backoff = Backoff(retries=3, base=0.001, cap=5.0)

    assert backoff.delay(0, retry_after=3.0) >= 3.0
    assert backoff.delay(0, retry_after=60.0) <= 5.0


def test_no_retry_is_waited_for_that_would_start_after_the_deadline() -> None:
    backoff = Backoff(retries=3, base=30.0, cap=30.0, deadline=time.monotonic() + 1.0)

    assert backoff.wait(0) is False
    assert backoff.stopped is False  # out of time, not stopped


def test_a_stopped_copy_does_not_retry() -> None:
    stop = threading.Event()
    stop.set()
    backoff = Backoff(retries=3, base=0.001, cap=0.001, stop=stop)

    assert backoff.wait(0) is False
    assert backoff.stopped is True


def test_a_retry_within_the_deadline_is_waited_for() -> None:
    backoff = Backoff(retries=3, base=0.001, cap=0.001, deadline=time.monotonic() + 60.0)

    assert backoff.wait(0) is True

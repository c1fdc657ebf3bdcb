"""The one retry mechanism: waits grow and are capped, hints are honoured, attempts are counted
(the first one included), and no wait passes the stop signal, the deadline or the wait budget."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from aiven_backup.retry import (
    AIVEN_API_RETRY,
    TRANSFER_RETRY,
    Attempts,
    GaveUp,
    RetryPolicy,
    RetryScope,
    parse_retry_after,
    parse_retry_hint,
)

EQUAL_JITTER = RetryPolicy(
    max_attempts=11, base_delay=1.0, max_delay=8.0, max_total_wait=None, jitter_floor=0.5
)


# --- How long each wait is -------------------------------------------------------------------


def test_full_jitter_backoff_lies_under_a_doubling_ceiling() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=15.0)

    ceilings = [policy.backoff(n, jitter=lambda: 1.0) for n in range(1, 6)]
    floors = [policy.backoff(n, jitter=lambda: 0.0) for n in range(1, 6)]

    assert ceilings == [2.0, 4.0, 8.0, 15.0, 15.0]
    assert floors == [0.0] * 5


def test_equal_jitter_waits_grow_exponentially_up_to_the_cap_with_jitter_below_them() -> None:
    for retry_number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delay = EQUAL_JITTER.backoff(retry_number)
        assert ceiling / 2 <= delay <= ceiling


def test_a_hint_replaces_the_backoff_and_is_cut_to_max_hint_when_one_is_set() -> None:
    capped = RetryPolicy(base_delay=0.001, max_delay=5.0, max_hint=5.0)
    uncapped = RetryPolicy(base_delay=0.001, max_delay=5.0)

    assert capped.delay(1, hint=3.0) >= 3.0
    assert capped.delay(1, hint=60.0) <= 5.0
    assert uncapped.delay(1, hint=28.0) == 28.0


def test_the_named_policies_are_aivens_clients_and_the_transfers() -> None:
    assert (
        RetryPolicy(max_attempts=6, base_delay=2.0, max_delay=15.0, max_total_wait=120.0)
        == AIVEN_API_RETRY
    )
    assert RetryPolicy() == AIVEN_API_RETRY
    assert TRANSFER_RETRY.max_attempts == 6
    assert TRANSFER_RETRY.max_hint == TRANSFER_RETRY.max_delay


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_total_wait": -0.1}, {"jitter_floor": 2}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- How many attempts, and when to stop -----------------------------------------------------


def test_attempts_stop_after_max_attempts_counting_the_first() -> None:
    attempts = Attempts(RetryPolicy(max_attempts=3), jitter=lambda: 0.5)
    waits = []
    for _ in range(10):
        wait = attempts.next_wait(None)
        if wait is None:
            break
        waits.append(wait)

    assert attempts.made == 3
    assert waits == [1.0, 2.0]
    assert attempts.gave_up is GaveUp.ATTEMPTS_SPENT


def test_a_wait_that_would_pass_the_total_wait_budget_ends_the_retries() -> None:
    attempts = Attempts(RetryPolicy(max_attempts=10, max_total_wait=30.0))

    assert attempts.next_wait(28.0) == 28.0
    assert attempts.next_wait(28.0) is None
    assert attempts.waited == 28.0
    assert attempts.gave_up is GaveUp.WAIT_BUDGET_SPENT


def test_progress_starts_the_count_afresh() -> None:
    attempts = Attempts(RetryPolicy(max_attempts=2, base_delay=0.0))

    assert attempts.next_wait() == 0.0
    attempts.progressed()

    assert attempts.next_wait() == 0.0
    assert attempts.next_wait() is None


def test_no_retry_is_waited_for_that_would_start_after_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=30.0, max_delay=30.0, jitter_floor=1.0)
    attempts = RetryScope(policy, deadline=time.monotonic() + 1.0).attempts()

    assert attempts.wait() is False
    assert attempts.stopped is False  # out of time, not stopped
    assert attempts.gave_up is GaveUp.OUT_OF_TIME


def test_a_stopped_job_does_not_retry() -> None:
    stop = threading.Event()
    stop.set()
    attempts = RetryScope(RetryPolicy(max_attempts=4, base_delay=0.001), stop=stop).attempts()

    assert attempts.wait() is False
    assert attempts.stopped is True
    assert attempts.gave_up is GaveUp.STOPPED


def test_a_retry_within_the_deadline_is_waited_for_and_announced() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.001)
    attempts = RetryScope(policy, deadline=time.monotonic() + 60.0).attempts()
    announced: list[float] = []

    assert attempts.wait(announce=announced.append) is True
    assert announced == attempts.waits


# --- What the server asked for ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "body", "hint"),
    [
        ("7", "", 7.0),
        ("7", "try again in 28s", 7.0),
        (None, "Rate limit 120 exceeded - try again in 28s", 28.0),
        ("", "please TRY AGAIN IN 3 s", 3.0),
        ("soon", "no hint here", None),
        (None, "", None),
    ],
)
def test_server_hint_prefers_retry_after_then_the_body(
    retry_after: str | None, body: str, hint: float | None
) -> None:
    assert parse_retry_hint(retry_after, body) == hint


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)

    assert parse_retry_hint("Mon, 23 Nov 2026 03:00:12 GMT", "", now=now) == 12.0
    assert parse_retry_hint("Mon, 23 Nov 2026 02:59:00 GMT", "", now=now) == 0.0
    assert parse_retry_after("Mon, 23 Nov 2026 03:00:12 GMT", now=now) == 12.0
    assert parse_retry_after("garbage", now=now) is None

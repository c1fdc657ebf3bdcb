"""Backoff, server hints and the retry budget, without any network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiven_backup.aiven import RetryPolicy
from aiven_backup.aiven.retry import RetryBudget, parse_retry_hint


def test_backoff_is_full_jitter_under_a_doubling_ceiling() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=15.0)

    ceilings = [policy.backoff(n, jitter=lambda: 1.0) for n in range(1, 6)]
    floors = [policy.backoff(n, jitter=lambda: 0.0) for n in range(1, 6)]

    assert ceilings == [2.0, 4.0, 8.0, 15.0, 15.0]
    assert floors == [0.0] * 5


def test_default_policy_matches_aivens_own_client() -> None:
    assert RetryPolicy() == RetryPolicy(
        max_attempts=6, base_delay=2.0, max_delay=15.0, max_total_wait=120.0
    )


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


def test_budget_stops_after_max_attempts() -> None:
    budget = RetryBudget(RetryPolicy(max_attempts=3), jitter=lambda: 0.5)
    waits = []
    for _ in range(10):
        budget.start_attempt()
        wait = budget.next_wait(None)
        if wait is None:
            break
        waits.append(wait)

    assert budget.attempts == 3
    assert waits == [1.0, 2.0]


def test_budget_refuses_a_wait_that_would_pass_the_total() -> None:
    budget = RetryBudget(RetryPolicy(max_attempts=10, max_total_wait=30.0))
    budget.start_attempt()

    assert budget.next_wait(28.0) == 28.0
    budget.start_attempt()
    assert budget.next_wait(28.0) is None
    assert budget.waited == 28.0


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_total_wait": -0.1}]
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]

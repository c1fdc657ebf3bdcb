"""Bounded retries with exponential backoff and full jitter, honouring the server's own hint.

Aiven's Go client retries 429, 408 and 5xx (not 501) about 6 times with 2-15 s waits. The wait
before retry ``n`` (1-based) is, in order of preference: the ``Retry-After`` header, the
``try again in Ns`` text of Aiven's 429 body, else ``uniform(0, min(max_delay, base * 2**(n-1)))``.
Both the number of attempts and the total time spent waiting are bounded; a server hint longer
than what is left of the total budget ends the retries at once (the caller's caller, e.g. the state
machine, can wait longer than a Lambda can).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_TRY_AGAIN_IN = re.compile(r"try again in (\d+)\s*s", re.IGNORECASE)
_jitter_source = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    max_attempts: int = 6
    base_delay: float = 2.0
    max_delay: float = 15.0
    max_total_wait: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("delays must not be negative")

    def backoff(
        self, retry_number: int, jitter: Callable[[], float] = _jitter_source.random
    ) -> float:
        """Full-jitter exponential backoff before retry ``retry_number`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(retry_number - 1, 0))
        return ceiling * jitter()


def parse_retry_hint(
    retry_after: str | None, body_text: str, now: datetime | None = None
) -> float | None:
    """Seconds the server asked to wait: ``Retry-After`` (seconds or date), else the body text."""
    if retry_after:
        value = retry_after.strip()
        if value.isdigit():
            return float(value)
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
    match = _TRY_AGAIN_IN.search(body_text)
    return float(match.group(1)) if match else None


@dataclass
class RetryBudget:
    """The attempts and waiting time one logical request has left."""

    policy: RetryPolicy
    jitter: Callable[[], float] = _jitter_source.random
    attempts: int = 0
    waited: float = 0.0
    waits: list[float] = field(default_factory=list)

    def start_attempt(self) -> None:
        self.attempts += 1

    def next_wait(self, hint: float | None) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` when the budget is spent."""
        if self.attempts >= self.policy.max_attempts:
            return None
        delay = hint if hint is not None else self.policy.backoff(self.attempts, self.jitter)
        if self.waited + delay > self.policy.max_total_wait:
            return None
        self.waited += delay
        self.waits.append(delay)
        return delay

"""The one way this product retries: a policy, and the attempts of one operation under it.

Every retry loop in the core (the Aiven API client, the download's probe and reads, every S3 call)
counts **attempts** (the first one included) and waits as ``RetryPolicy`` says:

- before retry ``n`` (1-based) the wait is ``min(max_delay, base_delay * 2**(n-1))``, of which the
  fraction ``jitter_floor`` is fixed and the rest random (0: "full jitter", 0.5: "equal jitter");
- a server's hint (``Retry-After``, or Aiven's "try again in Ns") replaces that wait, cut to
  ``max_hint`` when one is set;
- no more than ``max_attempts`` attempts, and (when set) no more than ``max_total_wait`` seconds of
  waiting in all: a hint that would pass it ends the retries at once, since the caller's caller (the
  state machine) can wait longer than a Lambda can;
- no wait that would end after ``deadline`` (a ``time.monotonic()`` value: the invocation's time
  budget), and none at all once ``stop`` is set (another part of the same job failed).

``Attempts.gave_up`` says which bound ended the retries, so the caller can name the right error.
"""

from __future__ import annotations

import enum
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

_TRY_AGAIN_IN = re.compile(r"try again in (\d+)\s*s", re.IGNORECASE)
_jitter_source = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how long, to retry one operation after transient faults.

    The defaults are those of Aiven's own Go client (about 6 attempts, 2-15 s waits).
    """

    max_attempts: int = 6
    base_delay: float = 2.0
    max_delay: float = 15.0
    max_total_wait: float | None = 120.0
    jitter_floor: float = 0.0
    max_hint: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        bounds = [self.base_delay, self.max_delay, self.max_total_wait or 0, self.max_hint or 0]
        if min(bounds) < 0:
            raise ValueError("delays must not be negative")
        if not 0.0 <= self.jitter_floor <= 1.0:
            raise ValueError("jitter_floor must be between 0 and 1")

    def backoff(
        self, retry_number: int, jitter: Callable[[], float] = _jitter_source.random
    ) -> float:
        """The wait before retry ``retry_number`` (1-based) when the server gave no hint."""
        exponent = min(max(retry_number - 1, 0), 30)
        ceiling = min(self.max_delay, self.base_delay * float(1 << exponent))
        return ceiling * (self.jitter_floor + (1.0 - self.jitter_floor) * jitter())

    def delay(
        self,
        retry_number: int,
        hint: float | None = None,
        jitter: Callable[[], float] = _jitter_source.random,
    ) -> float:
        """The wait before retry ``retry_number``: the server's hint if any, else the backoff."""
        if hint is None:
            return self.backoff(retry_number, jitter)
        hint = max(0.0, hint)
        return hint if self.max_hint is None else min(hint, self.max_hint)

    def attempts(self) -> Attempts:
        """A fresh tally for one operation, with no stop signal and no deadline."""
        return Attempts(self)


AIVEN_API_RETRY = RetryPolicy()
"""Calls to the Aiven API: Aiven's own client's policy, at most 120 s of waiting per call."""

TRANSFER_RETRY = RetryPolicy(
    max_attempts=6,
    base_delay=0.5,
    max_delay=20.0,
    max_total_wait=None,
    jitter_floor=0.5,
    max_hint=20.0,
)
"""The download's requests and every S3 call: quicker first retries, waits up to 20 s, and a
``Retry-After`` never honoured beyond 20 s (the invocation's budget matters more)."""


class GaveUp(enum.Enum):
    """Why an operation stopped retrying."""

    ATTEMPTS_SPENT = "attempts spent"
    WAIT_BUDGET_SPENT = "total wait spent"
    OUT_OF_TIME = "the next attempt would start after the deadline"
    STOPPED = "the job is stopping"


@dataclass
class Attempts:
    """The attempts of one operation: call ``next_wait`` (or ``wait``) after each failed one.

    ``made`` counts the failed attempts so far; ``progressed()`` starts the count afresh (a
    download that moved forward before it broke has not failed in the same way again).
    """

    policy: RetryPolicy
    stop: threading.Event | None = None
    deadline: float | None = None
    jitter: Callable[[], float] = _jitter_source.random
    clock: Callable[[], float] = time.monotonic
    made: int = 0
    waited: float = 0.0
    waits: list[float] = field(default_factory=list)
    gave_up: GaveUp | None = None

    @property
    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def progressed(self) -> None:
        self.made = 0

    def next_wait(self, hint: float | None = None) -> float | None:
        """Record a failed attempt; the seconds to wait before the next, or None to give up
        (``gave_up`` then says why)."""
        self.made += 1
        if self.stopped:
            self.gave_up = GaveUp.STOPPED
            return None
        if self.made >= self.policy.max_attempts:
            self.gave_up = GaveUp.ATTEMPTS_SPENT
            return None
        pause = self.policy.delay(self.made, hint, self.jitter)
        total = self.policy.max_total_wait
        if total is not None and self.waited + pause > total:
            self.gave_up = GaveUp.WAIT_BUDGET_SPENT
            return None
        if self.deadline is not None and self.clock() + pause >= self.deadline:
            self.gave_up = GaveUp.OUT_OF_TIME
            return None
        self.waited += pause
        self.waits.append(pause)
        return pause

    def wait(
        self,
        hint: float | None = None,
        *,
        announce: Callable[[float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> bool:
        """Record a failed attempt and wait before the next (``announce(seconds)`` first, to log
        it); False to give up instead. A wait ends early, with False, when ``stop`` is set."""
        pause = self.next_wait(hint)
        if pause is None:
            return False
        if announce is not None:
            announce(pause)
        if self.stop is None:
            sleep(pause)
            return True
        if self.stop.wait(pause):
            self.gave_up = GaveUp.STOPPED
            return False
        return True


@dataclass(frozen=True)
class RetryScope:
    """A policy in force for one job whose operations run at once: they share its stop signal
    (set when one of them fails for good) and its deadline."""

    policy: RetryPolicy
    stop: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None

    def attempts(self) -> Attempts:
        return Attempts(self.policy, stop=self.stop, deadline=self.deadline)


class RetriesOneOperation(Protocol):
    """A ``RetryPolicy`` alone, or a ``RetryScope`` (a policy with a job's stop and deadline)."""

    def attempts(self) -> Attempts: ...


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def parse_retry_hint(
    retry_after: str | None, body_text: str, now: datetime | None = None
) -> float | None:
    """Seconds the server asked to wait: ``Retry-After`` if usable, else Aiven's body text."""
    seconds = parse_retry_after(retry_after, now)
    if seconds is not None:
        return seconds
    match = _TRY_AGAIN_IN.search(body_text)
    return float(match.group(1)) if match else None

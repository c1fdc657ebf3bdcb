"""Waiting for a restore: influxd imports restored shards in the background, so the drill counts
until the counts equal the backup's in consecutive polls, or gives up at its timeout."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from local_runner.restore_drill import Counts, WaitOptions, WaitOutcome, wait_for_counts

CPU = ("telegraf", "autogen", "cpu")
MEM = ("telegraf", "autogen", "mem")
EXPECTED = {CPU: 3072, MEM: 1536}


class FakeClock:
    """Time that moves only when the drill sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def readings(*counts: Counts | None) -> Callable[[], Counts | None]:
    """Each poll answers the next reading; the last one is repeated for ever."""
    items: Iterator[Counts | None] = iter(counts)
    last: list[Counts | None] = [None]

    def read() -> Counts | None:
        last[0] = next(items, last[0])
        return last[0]

    return read


def wait(read: Callable[[], Counts | None], options: WaitOptions) -> tuple[WaitOutcome, list[str]]:
    clock = FakeClock()
    lines: list[str] = []
    outcome = wait_for_counts(
        read, EXPECTED, options, progress=lines.append, clock=clock, sleep=clock.sleep
    )
    return outcome, lines


def test_a_shard_imported_late_is_waited_for_until_the_counts_hold() -> None:
    # As seen with influxd 1.6.7: right after the restore one shard's values are missing.
    read = readings(None, {CPU: 3072, MEM: 1000}, {CPU: 3072, MEM: 1000}, EXPECTED, EXPECTED)

    outcome, lines = wait(read, WaitOptions(timeout=60, poll_interval=0.5, stable_polls=2))

    assert outcome.settled
    assert outcome.polls == 5
    assert outcome.counts == EXPECTED
    assert outcome.waited == 2.0
    assert any("shards still importing" in line for line in lines)
    assert any("1 of 2 measurement(s) match; 4,072 of 4,608" in line for line in lines)


def test_one_matching_count_is_not_enough_when_two_consecutive_polls_are_asked_for() -> None:
    read = readings(EXPECTED, {CPU: 3072}, EXPECTED, EXPECTED)

    outcome, _ = wait(read, WaitOptions(timeout=60, poll_interval=1, stable_polls=2))

    assert outcome.polls == 4


def test_counts_that_never_reach_the_backups_give_up_at_the_timeout_with_the_last_counts() -> None:
    read = readings({CPU: 3072, MEM: 1535})

    outcome, lines = wait(read, WaitOptions(timeout=10, poll_interval=1, stable_polls=2))

    assert not outcome.settled
    assert outcome.waited == 10
    assert outcome.counts == {CPU: 3072, MEM: 1535}
    assert 2 <= len(lines) <= 4  # the same line again only every few seconds


def test_counts_below_the_backups_are_waited_on_until_the_timeout() -> None:
    # A shard still importing looks exactly like this; only the timeout ends the wait.
    read = readings({CPU: 3072, MEM: 1000})

    outcome, _ = wait(read, WaitOptions(timeout=30, poll_interval=1, stable_polls=2))

    assert (outcome.settled, outcome.exceeded, outcome.waited) == (False, False, 30)


@pytest.mark.parametrize(
    "steady_reading",
    [EXPECTED | {("telegraf", "autogen", "disk"): 4}, {CPU: 3073, MEM: 1536}],
    ids=["a-measurement-the-backup-does-not-list", "one-value-more"],
)
def test_counts_steady_above_the_backups_end_the_wait_before_the_timeout(
    steady_reading: Counts,
) -> None:
    # An import only adds values: no later poll can bring these back to the backup's.
    read = readings({CPU: 3072}, steady_reading)

    outcome, lines = wait(read, WaitOptions(timeout=300, poll_interval=1, stable_polls=2))

    assert not outcome.settled
    assert outcome.exceeded
    assert outcome.polls == 4  # one growing, then three equal readings: two steady polls
    assert outcome.waited == 3
    assert any("measurement(s) match" in line for line in lines)

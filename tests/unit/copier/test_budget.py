"""A part starts only while more time is left than the slowest part so far has taken."""

from __future__ import annotations

from aiven_backup.copier.budget import Budget
from tests.support.clock import ManualClock


def test_a_fresh_budget_allows_parts_until_the_deadline() -> None:
    clock = ManualClock(start=100.0)
    budget = Budget(10.0, clock=clock)

    clock.now += 9.9
    assert budget.allows_another_part()
    clock.now += 0.2
    assert not budget.allows_another_part()


def test_no_part_starts_that_the_slowest_part_so_far_could_not_finish() -> None:
    clock = ManualClock(start=100.0)
    budget = Budget(10.0, clock=clock)
    started = clock.now
    clock.now += 3.0
    budget.observe_part(started)  # a part took 3 s

    clock.now = started + 6.9  # 3.1 s left
    assert budget.allows_another_part()
    clock.now = started + 7.1  # 2.9 s left
    assert not budget.allows_another_part()


def test_the_estimate_is_the_slowest_part_not_the_latest() -> None:
    clock = ManualClock(start=100.0)
    budget = Budget(100.0, clock=clock)
    budget.observe_part(clock.now - 5.0)
    budget.observe_part(clock.now - 1.0)

    clock.now += 95.5  # 4.5 s left, less than the 5 s part
    assert not budget.allows_another_part()


def test_a_spent_budget_allows_nothing() -> None:
    assert not Budget(0.0, clock=ManualClock(start=100.0)).allows_another_part()

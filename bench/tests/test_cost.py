"""The memory-size table turns the copier's medians at each CPU share into GB-s and dollars per
GiB, and picks the cheapest size that copies at 100 MiB/s or more."""

from __future__ import annotations

import pytest

from bench.cost import cheapest_fast_enough, memory_size_costs, memory_size_table
from bench.report import SummaryRow


def row(contender: str, quota: float, mib_s: float, source: str = "range") -> SummaryRow:
    return SummaryRow(
        contender=contender,
        sink="null",
        source=source,
        size_mib=1024,
        cpu_quota=quota,
        tls=True,
        runs_ok=3,
        runs=3,
        median_mib_s=mib_s,
        mib_s_range=(mib_s, mib_s),
        median_cpu_s_per_gib=5.0,
        median_throttled_share=None,
        median_throttled_s=None,
        max_peak_rss_mib=150.0,
        median_sink_cpu_s_per_gib=None,
    )


def test_gb_seconds_and_dollars_follow_memory_over_speed() -> None:
    costs = memory_size_costs([row("copier", 1.0, 128.0), row("rclone", 1.0, 64.0)])

    assert len(costs) == 1  # the copier's only
    [cost] = costs
    assert cost.memory_mb == 1769
    assert cost.gb_s_per_gib == pytest.approx(1769 / 1024 * 8, abs=0.01)  # 8 s per GiB
    assert cost.usd_per_100_gib == pytest.approx(cost.gb_s_per_gib * 100 * 0.0000133334, abs=1e-4)


def test_the_cheapest_size_that_reaches_100_mib_s_wins() -> None:
    costs = memory_size_costs(
        [row("copier", 0.58, 90.0), row("copier", 1.0, 150.0), row("copier", 1.7, 180.0)]
    )

    assert cheapest_fast_enough(costs) == 1769  # 1024 is too slow, 3008 dearer per GiB
    assert "| 1024 | 0.58 | range | 90.0 |" in memory_size_table(costs)


def test_no_size_is_chosen_when_none_is_fast_enough() -> None:
    costs = memory_size_costs([row("copier", 0.58, 60.0), row("copier", 1.0, 99.9)])

    assert cheapest_fast_enough(costs) is None

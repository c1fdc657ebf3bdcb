"""What CopyBackup's memory size costs: the copier's measured speed at each Lambda CPU share
turned into GB-seconds and dollars per GiB copied, and the cheapest size that is fast enough.

Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU, so 1,024 MB is
0.58 and 3,008 MB 1.7. The benchmark runs the copier in a cgroup quota of each share; this module
only does the arithmetic on those medians. Duration is billed per GB-second (memory in GB, 1 GB =
1,024 MB, times seconds); the price is arm64's (the template's architecture) in us-east-1, first
tier. Requests ($0.20 per million, one invocation per 14 minutes of copying) are left out: they
come to less than a thousandth of the duration charge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.contenders import COPIER
from bench.report import SummaryRow

MEMORY_MB_FOR_QUOTA = {0.58: 1024, 1.0: 1769, 1.7: 3008}
ARM64_USD_PER_GB_S = 0.0000133334
FAST_ENOUGH_MIB_S = 100.0
"""The speed CopyBackup's memory size must reach (issue 14): the cheapest size that does wins."""


@dataclass(frozen=True)
class MemorySizeCost:
    memory_mb: int
    cpu_quota: float
    source: str
    mib_s: float
    gb_s_per_gib: float
    usd_per_100_gib: float

    @property
    def fast_enough(self) -> bool:
        return self.mib_s >= FAST_ENOUGH_MIB_S


def memory_size_costs(rows: Iterable[SummaryRow]) -> list[MemorySizeCost]:
    """One line per (memory size, source mode) the copier ran at, in memory order."""
    costs = []
    for row in rows:
        memory_mb = MEMORY_MB_FOR_QUOTA.get(row.cpu_quota or 0.0)
        if row.contender != COPIER or memory_mb is None or not row.median_mib_s:
            continue
        gb_s_per_gib = (memory_mb / 1024) * (1024 / row.median_mib_s)
        costs.append(
            MemorySizeCost(
                memory_mb=memory_mb,
                cpu_quota=row.cpu_quota or 0.0,
                source=row.source,
                mib_s=row.median_mib_s,
                gb_s_per_gib=round(gb_s_per_gib, 2),
                usd_per_100_gib=round(gb_s_per_gib * 100 * ARM64_USD_PER_GB_S, 4),
            )
        )
    return sorted(costs, key=lambda c: (c.memory_mb, c.source))


def cheapest_fast_enough(costs: Iterable[MemorySizeCost], source: str = "range") -> int | None:
    """The memory size (MB) with the lowest cost per GiB among those copying at
    ``FAST_ENOUGH_MIB_S`` or more from a ``source`` host; ``None`` when none is fast enough."""
    fast = [c for c in costs if c.source == source and c.fast_enough]
    return min(fast, key=lambda c: (c.usd_per_100_gib, c.memory_mb)).memory_mb if fast else None


def memory_size_table(costs: list[MemorySizeCost]) -> str:
    header = (
        "| MemorySize MB | vCPU | source | MiB/s | GB-s per GiB | $ per 100 GiB (arm64) "
        f"| >= {FAST_ENOUGH_MIB_S:g} MiB/s |\n|---:|---:|---|---:|---:|---:|---|\n"
    )
    lines = [
        f"| {c.memory_mb} | {c.cpu_quota:g} | {c.source} | {c.mib_s} | {c.gb_s_per_gib} "
        f"| {c.usd_per_100_gib:.4f} | {'yes' if c.fast_enough else 'no'} |"
        for c in costs
    ]
    return header + "\n".join(lines) + "\n"

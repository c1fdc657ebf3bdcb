"""A CPU quota group holds only the command it wraps, with Lambda's share, and goes away."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.cpu_quota import CPU_ROOT, CpuQuotaGroup


def test_a_quota_group_caps_only_the_wrapped_command_and_is_removed() -> None:
    with CpuQuotaGroup(0.58) as group:
        quota = (group.path / "cpu.cfs_quota_us").read_text().strip()
        period = (group.path / "cpu.cfs_period_us").read_text().strip()
        inside = subprocess.run(
            group.wrap([sys.executable, "-c", "print(open('/proc/self/cgroup').read())"]),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        throttling = group.throttling()

    cpu_line = next(line for line in inside.splitlines() if line.split(":")[1] == "cpu")
    assert (quota, period) == ("58000", "100000")
    assert cpu_line.endswith(f"/{group.path.name}")
    assert str(group.path.relative_to(CPU_ROOT)) not in Path("/proc/self/cgroup").read_text()
    assert throttling.nr_periods >= 0
    assert not group.path.exists()

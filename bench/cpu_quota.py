"""Lambda's CPU share: a cgroup v1 CPU quota around the contender's processes, and nothing else.

Lambda gives a function CPU in proportion to its memory: about 1 vCPU at 1769 MB, about 0.58 at
1024 MB. Here that is a cgroup v1 ``cpu`` group (``/sys/fs/cgroup/cpu/<group>``) whose
``cpu.cfs_quota_us`` is that share of its 100 ms ``cpu.cfs_period_us``, with no burst. Only the
contender's processes join it (each command is started through a one-line shell that writes its
own PID to ``cgroup.procs`` and then ``exec``s the command), never the source or the sink; the
group is new for every run, so its ``cpu.stat`` (periods, throttled periods, throttled time)
belongs to that run alone, and it is removed afterwards. Needs root.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000
_GROUP_PREFIX = "aiven-bench"


class QuotaUnavailable(RuntimeError):
    """This machine (or this user) cannot set a cgroup v1 CPU quota."""


@dataclass(frozen=True)
class Throttling:
    """The group's ``cpu.stat``: how often the quota stopped the contender, and for how long."""

    nr_periods: int
    nr_throttled: int
    throttled_s: float

    @property
    def throttled_share(self) -> float:
        return self.nr_throttled / self.nr_periods if self.nr_periods else 0.0


def check_available() -> None:
    """Raise ``QuotaUnavailable`` with what to do when quotas cannot be set here."""
    if not (CPU_ROOT / "cpu.cfs_quota_us").exists():
        raise QuotaUnavailable(
            f"no cgroup v1 cpu controller at {CPU_ROOT}: run without CPU quotas "
            "(--cpu-quotas none) or on a machine that mounts it"
        )
    if os.geteuid() != 0 or not os.access(CPU_ROOT, os.W_OK):
        raise QuotaUnavailable(
            f"creating a group under {CPU_ROOT} needs root: run the benchmark as root, "
            "or without CPU quotas (--cpu-quotas none)"
        )


class CpuQuotaGroup:
    """A fresh cgroup capped at ``vcpu`` CPUs for the length of a ``with`` block."""

    _serial = 0

    def __init__(self, vcpu: float) -> None:
        if not 0.01 <= vcpu <= 64:
            raise ValueError(f"a CPU quota of {vcpu} vCPU is out of range")
        CpuQuotaGroup._serial += 1
        self.vcpu = vcpu
        self.path = CPU_ROOT / f"{_GROUP_PREFIX}-{os.getpid()}-{CpuQuotaGroup._serial}"

    def __enter__(self) -> CpuQuotaGroup:
        check_available()
        self.path.mkdir()
        try:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(round(self.vcpu * PERIOD_US)))
            burst = self.path / "cpu.cfs_burst_us"
            if burst.exists():
                burst.write_text("0")
        except BaseException:
            self.path.rmdir()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` started inside this group (the shell joins it, then becomes the command)."""
        procs = shlex.quote(str(self.path / "cgroup.procs"))
        return ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *command]

    def throttling(self) -> Throttling:
        fields = dict(
            line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if line
        )
        return Throttling(
            nr_periods=int(fields.get("nr_periods", 0)),
            nr_throttled=int(fields.get("nr_throttled", 0)),
            throttled_s=round(int(fields.get("throttled_time", 0)) / 1e9, 3),
        )

    def remove(self) -> None:
        """``rmdir`` the group once its processes are gone (they have exited by now)."""
        deadline = time.monotonic() + 10
        while self.path.exists():
            try:
                self.path.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

"""Runs a contender's processes and measures wall time and each process's peak RSS.

Each process runs under GNU ``/usr/bin/time -f "%M %U %S"``, which reports the kernel's high-water
mark of that process alone, and its CPU time. Reading ``wait4``'s rusage here instead would be
wrong: a child's ``ru_maxrss`` starts from its parent's RSS at fork time, and this benchmark
process holds boto3 and more.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.cpu_quota import CpuQuotaGroup

GNU_TIME = "/usr/bin/time"
_STDERR_TAIL = 2000


@dataclass(frozen=True)
class ProcessResult:
    """One child process: its program, exit code, peak RSS and CPU time (user + system)."""

    program: str
    exit_code: int
    peak_rss_kib: int
    cpu_s: float


@dataclass(frozen=True)
class Measurement:
    """A contender's run: wall time from the first spawn to the last exit, per-process results."""

    wall_s: float
    processes: list[ProcessResult]
    stdout: str
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return all(p.exit_code == 0 for p in self.processes)

    @property
    def cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.processes)

    @property
    def peak_rss_mib(self) -> float:
        """Sum of the processes' peaks: an upper bound on a pipeline's footprint at any moment."""
        return sum(p.peak_rss_kib for p in self.processes) / 1024


def _time_report(report: Path) -> tuple[int, float]:
    """(peak RSS KiB, CPU s) from GNU time's last line; zeros if the process died before it."""
    lines = report.read_text().splitlines() if report.exists() else []
    fields = lines[-1].split() if lines else []
    if len(fields) != 3:
        return 0, 0.0
    try:
        return int(fields[0]), float(fields[1]) + float(fields[2])
    except ValueError:
        return 0, 0.0


def run_pipeline(
    commands: list[list[str]],
    *,
    env: dict[str, str],
    cwd: Path,
    group: CpuQuotaGroup | None = None,
) -> Measurement:
    """Run ``commands`` as a shell pipeline would (stdout of each into stdin of the next).

    With ``group``, every command (and GNU time around it) runs inside that CPU quota group.
    The last command's stdout is returned; all stderr goes to one temporary file whose tail is kept
    for the report.
    """
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as stderr:
        reports = [Path(scratch) / f"rss-{index}" for index in range(len(commands))]
        started = time.perf_counter()
        processes: list[subprocess.Popen[bytes]] = []
        upstream: IO[bytes] | int = subprocess.DEVNULL
        for command, report in zip(commands, reports, strict=True):
            timed = [GNU_TIME, "-f", "%M %U %S", "-o", str(report), *command]
            process = subprocess.Popen(
                group.wrap(timed) if group else timed,
                stdin=upstream,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=cwd,
            )
            if not isinstance(upstream, int):
                upstream.close()  # the child holds its own copy; ours would keep the pipe open
            processes.append(process)
            assert process.stdout is not None
            upstream = process.stdout
        stdout = processes[-1].communicate()[0].decode(errors="replace")
        exit_codes = [process.wait() for process in processes]
        wall_s = time.perf_counter() - started
        results = [
            ProcessResult(Path(command[0]).name, code, *_time_report(report))
            for command, code, report in zip(commands, exit_codes, reports, strict=True)
        ]
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace")[-_STDERR_TAIL:]
    return Measurement(wall_s, results, stdout, tail)

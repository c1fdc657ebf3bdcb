"""Facts about the machine and the tools, recorded with every result."""

from __future__ import annotations

import json
import os
import platform
import re
import ssl
import subprocess
from importlib import metadata
from pathlib import Path

from bench.contenders import DEBIAN_AWS, RCLONE, REPO_ROOT
from bench.sinks import BENCH_DIR


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        return f"unavailable ({error})"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if done.stdout or done.stderr else ""
    )


def _cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def _mem_total_mib() -> int:
    match = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return int(match.group(1)) // 1024 if match else 0


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _s3rver_version() -> str:
    manifest = BENCH_DIR / "node_modules" / "s3rver" / "package.json"
    if not manifest.exists():
        return "not installed"
    return str(json.loads(manifest.read_text())["version"])


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a live process (all its threads) has used; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def git_head() -> str:
    return _first_line(["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h %s"])


def machine_facts() -> dict[str, object]:
    """CPU, memory, OS and the versions of every tool the benchmark runs."""
    return {
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "memory_mib": _mem_total_mib(),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
        "git_head": git_head(),
        "cpu_cgroup_v1": Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists(),
        "versions": {
            "openssl": _first_line(["openssl", "version"]),
            "python_ssl": ssl.OPENSSL_VERSION,
            "awscli": _first_line([DEBIAN_AWS, "--version"]),
            "rclone": _first_line([RCLONE, "version"]),
            "curl": _first_line(["curl", "--version"]),
            "node": _first_line(["node", "--version"]),
            "s3rver": _s3rver_version(),
            "boto3": _package_version("boto3"),
            "botocore": _package_version("botocore"),
            "moto": _package_version("moto"),
            "httpx": _package_version("httpx"),
            "urllib3": _package_version("urllib3"),
        },
    }

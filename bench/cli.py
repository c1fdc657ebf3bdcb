"""``python -m bench``: copy one random file from a loopback source into S3 sinks with the copier
and its peers; measure MiB/s, CPU s/GiB, CPU-quota throttling and peak RSS; print a table; write
``bench/results/*.json``.

Profiles: ``lambda`` (default) measures the workload CopyBackup runs: https on both sides, a null
S3 sink that checks every checksum and keeps nothing, each contender alone in a cgroup CPU quota
of Lambda's share at 1024 MB (0.58 vCPU) and 1769 MB (1.0). ``e2e`` is the end-to-end
correctness check: plain http into s3rver and moto, no CPU cap. Any option overrides the
profile's value.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import sinks
from bench.contenders import CONTENDERS, COPIER, CopierSettings, Job, commands_for
from bench.copier_settings import CopierSource, copier_settings, copier_source, scratch_dir
from bench.cost import cheapest_fast_enough, memory_size_costs, memory_size_table
from bench.cpu_quota import CpuQuotaGroup, check_available
from bench.machine import load_average, machine_facts, process_cpu_s
from bench.measure import run_pipeline
from bench.payload import MIB, Payload, cached_payload
from bench.report import (
    RunRecord,
    markdown_table,
    summarize,
    verdict_lines,
    verdicts,
    write_json,
)
from bench.source import SourceServer
from bench.tls import Certificates, throwaway_certificates
from bench.verify import Verification, verify_null_sink_object, verify_object

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# The sink errors a contender may cause without anything being wrong (a HEAD of a missing key).
BENIGN_SINK_ERRORS = {"NoSuchKey"}

PROFILES: dict[str, dict[str, Any]] = {
    "lambda": {
        "sinks": [sinks.NULL],
        "tls": "on",
        "cpu_quotas": [0.58, 1.0, 1.7],
        "size_mib": 1024,
        "moto_size_mib": 256,
        "range": ["on", "off"],
        "length": ["on"],
        "contenders": list(CONTENDERS),
        "repeat": 3,
        "large_size_mib": 4096,
        "large_range": "on",
    },
    "e2e": {
        "sinks": [sinks.S3RVER, sinks.MOTO],
        "tls": "off",
        "cpu_quotas": [None],
        "size_mib": 1024,
        "moto_size_mib": 256,
        "range": ["on", "off"],
        "length": ["on"],
        "contenders": list(CONTENDERS),
        "repeat": 3,
        "large_size_mib": 4096,
        "large_range": "on",
    },
}

NOTES = [
    "Each contender runs in its own process(es); wall time is from its first spawn to its last "
    "exit (interpreter start-up and the final CompleteMultipartUpload included); MiB/s = size / "
    "wall time.",
    "CPU s/GiB is user + system CPU of the contender's processes (both, for curl | aws) per GiB, "
    "from GNU time. Peak RSS is GNU time's %M per process; for curl | aws the sum of both.",
    "With a CPU quota, only the contender's processes run in a fresh cgroup v1 cpu group "
    "(cfs_quota_us = vCPU x 100000, period 100 ms, no burst); throttled periods are that group's "
    "cpu.stat nr_throttled / nr_periods, and the time is throttled_time.",
    "The null sink keeps no data: it checks each part against every checksum the client sent "
    "(CRC32 header or trailer, Content-MD5, a hex x-amz-content-sha256), the completed object's "
    "size and CRC32, and answers HeadObject with the object's CRC32; the benchmark compares that "
    "CRC32 with the source file's. sink CPU s/GiB is the sink process's own CPU per GiB copied.",
    "moto's CompleteMultipartUpload joins all parts in memory and slows super-linearly with size "
    "(about 14 s at 1 GiB), so the moto sink runs a smaller file (--moto-size-mib).",
    "Peers run with their defaults (aws: 8 MiB parts, 10 threads; rclone: 5 MiB chunks, 4 "
    "threads); the ceiling uses the copier's part size, concurrency and checksum.",
]


@dataclass(frozen=True)
class SourceMode:
    honour_range: bool
    send_length: bool

    @property
    def label(self) -> str:
        if self.honour_range:
            return "range"
        return "no range" if self.send_length else "no range, chunked"


@dataclass(frozen=True)
class Scenario:
    sink: str
    size_mib: int
    source: SourceMode
    cpu_quota: float | None
    contenders: tuple[str, ...]
    repeat: int


def _csv(choices: Sequence[str]) -> type:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}")
        return items

    return parse  # type: ignore[return-value]


def _quotas(text: str) -> list[float | None]:
    """``0.58,1.0`` (vCPU), ``none`` (no cap), or a mix."""
    found: list[float | None] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        if item == "none":
            found.append(None)
            continue
        try:
            found.append(float(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not a vCPU share or 'none'") from None
    if not found:
        raise argparse.ArgumentTypeError("give at least one vCPU share, or 'none'")
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--profile", choices=sorted(PROFILES), default="lambda", help="[lambda]")
    add("--size-mib", type=int, help="file size (lambda, e2e: 1024)")
    add("--moto-size-mib", type=int, help="file size on moto (256)")
    add(
        "--sinks", type=_csv(sinks.SINKS), help="null, s3rver, moto (lambda: null; e2e: the others)"
    )
    add("--tls", choices=["on", "off"], help="https source and sinks (lambda: on; e2e: off)")
    add(
        "--cpu-quotas",
        type=_quotas,
        help="vCPU shares of each contender's cgroup, or none (lambda: 0.58,1.0; e2e: none)",
    )
    add("--range", type=_csv(["on", "off"]), help="the source honours Range (on,off)")
    add("--length", type=_csv(["on", "off"]), help="off adds a chunked source, only without Range")
    add("--contenders", type=_csv(CONTENDERS), help=f"({','.join(CONTENDERS)})")
    add("--repeat", type=int, help="runs per contender and setting; medians kept (3)")
    add(
        "--large-size-mib",
        type=int,
        help="one extra copier-only run at this size, for RSS growth (4096; 0: skip)",
    )
    add("--large-range", choices=["on", "off"], help="the source mode of that run (on)")
    add("--time-budget-s", type=float, default=840.0, help="per copier invocation, as a Lambda")
    add(
        "--copier-ref",
        default="HEAD",
        help="git ref whose layers/core is measured, or 'worktree' for the files as they are",
    )
    add("--out-dir", type=Path, default=RESULTS_DIR)
    add("--sink-log", type=Path, help="the null sink appends one JSON line per request here")
    add("--skip-setup", action="store_true", help="do not run bench/setup.sh")
    add(
        "--summarize",
        type=Path,
        metavar="RESULTS_JSON",
        help="only print the table and targets of an earlier run's JSON (nothing is run)",
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def plan(args: argparse.Namespace) -> list[Scenario]:
    modes = [
        SourceMode(honour_range=r == "on", send_length=length == "on")
        for r in args.range
        for length in args.length
        if not (r == "on" and length == "off")
    ]
    sizes = {sinks.NULL: args.size_mib, sinks.S3RVER: args.size_mib, sinks.MOTO: args.moto_size_mib}
    contenders = tuple(args.contenders)
    scenarios = [
        Scenario(sink, sizes[sink], mode, quota, contenders, args.repeat)
        for sink in args.sinks
        for mode in modes
        for quota in args.cpu_quotas
    ]
    large_sinks = [s for s in args.sinks if s != sinks.MOTO]
    if args.large_size_mib and large_sinks and COPIER in contenders:
        mode = SourceMode(honour_range=args.large_range == "on", send_length=True)
        caps = [q for q in args.cpu_quotas if q is not None]
        quota = max(caps) if caps else None
        scenarios.append(Scenario(large_sinks[0], args.large_size_mib, mode, quota, (COPIER,), 1))
    return scenarios


def source_check(url: str, ca_bundle: Path | None) -> dict[str, object]:
    """The source alone (curl into /dev/null), and the TLS version and cipher it negotiates."""
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{speed_download}", url]
    if ca_bundle:
        command += ["--cacert", str(ca_bundle)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found: dict[str, object] = {"curl_to_dev_null_mib_s": round(float(done.stdout) / MIB, 1)}
    if ca_bundle:
        context = ssl.create_default_context(cafile=str(ca_bundle))
        port = urlsplit(url).port or 443
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            cipher = tls.cipher()
            found["tls"] = f"{tls.version()} {cipher[0] if cipher else ''}".strip()
    return found


def _last_json_line(stdout: str) -> dict[str, object]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return {}


def _cpu_delta(before: float | None, after: float | None) -> float | None:
    return round(after - before, 2) if before is not None and after is not None else None


@contextmanager
def _quota_group(quota: float | None) -> Iterator[CpuQuotaGroup | None]:
    if quota is None:
        yield None
        return
    with CpuQuotaGroup(quota) as group:
        yield group


@dataclass(frozen=True)
class RunContext:
    """What every run of one scenario shares."""

    sink: sinks.Sink
    url: str
    source_pid: int
    payload: Payload
    scenario: Scenario
    settings: CopierSettings
    ca_bundle: Path | None


def run_one(contender: str, context: RunContext, *, repeat: int, bucket: str) -> RunRecord:
    sink, payload, scenario = context.sink, context.payload, context.scenario
    os.sync()  # the previous run's writes must not be flushed on this run's time
    load_before = load_average()
    key = f"bench/{contender}.tar"
    with sinks.fresh_bucket(sink, bucket), tempfile.TemporaryDirectory() as home:
        job = Job(context.url, sink, bucket, key, payload.size, context.ca_bundle)
        commands, env = commands_for(contender, job, context.settings, Path(home))
        stats_before = sink.admin("stats") if sink.is_null else None
        sink_cpu_before = process_cpu_s(sink.pid)
        source_cpu_before = process_cpu_s(context.source_pid)
        with _quota_group(scenario.cpu_quota) as group:
            measured = run_pipeline(commands, env=env, cwd=BENCH_DIR.parent, group=group)
            throttling = asdict(group.throttling()) if group else None
        sink_cpu = _cpu_delta(sink_cpu_before, process_cpu_s(sink.pid))
        source_cpu = _cpu_delta(source_cpu_before, process_cpu_s(context.source_pid))
        stats_after = sink.admin("stats") if sink.is_null else None
        checks, errors = _sink_activity(stats_before, stats_after)
        check = _verify(
            contender, ran_ok=measured.ok, sink=sink, bucket=bucket, key=key, payload=payload
        )
        if [e for e in errors if e.get("code") not in BENIGN_SINK_ERRORS] and check.ok:
            codes = sorted({str(e.get("code")) for e in errors})
            check = Verification(False, check.checked, f"the sink answered errors: {codes}")
        if not measured.ok:
            exits = [process.exit_code for process in measured.processes]
            check = Verification(False, "none", f"exit codes {exits}")
    return RunRecord(
        contender=contender,
        sink=scenario.sink,
        source=scenario.source.label,
        size_mib=scenario.size_mib,
        repeat=repeat,
        wall_s=round(measured.wall_s, 3),
        mib_s=round(payload.size / MIB / measured.wall_s, 1),
        peak_rss_mib=round(measured.peak_rss_mib, 1),
        cpu_s=round(measured.cpu_s, 2),
        processes=[asdict(p) for p in measured.processes],
        ok=check.ok,
        verification=check.checked,
        problem=check.problem,
        output=_last_json_line(measured.stdout),
        stderr_tail=measured.stderr_tail,
        load_average_before=load_before,
        tls=context.ca_bundle is not None,
        cpu_quota=scenario.cpu_quota,
        throttling=throttling,
        sink_cpu_s=sink_cpu,
        source_cpu_s=source_cpu,
        sink_checks=checks,
        sink_errors=errors,
        load_average_after=load_average(),
    )


def _sink_activity(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, int], list[dict[str, object]]]:
    """The checks the null sink made and the errors it answered between two snapshots."""
    if before is None or after is None:
        return {}, []
    checks = {
        name: count - before["checks"].get(name, 0)
        for name, count in after["checks"].items()
        if count - before["checks"].get(name, 0)
    }
    errors: list[dict[str, object]] = after["errors"][len(before["errors"]) :]
    missing = after["errors_total"] - before["errors_total"] - len(errors)
    if missing > 0:
        errors.append({"code": "unknown", "message": f"{missing} more errors (log full)"})
    return checks, errors


def _verify(
    contender: str, *, ran_ok: bool, sink: sinks.Sink, bucket: str, key: str, payload: Payload
) -> Verification:
    if not ran_ok:
        return Verification(False, "none", "")
    is_copy = contender != "ceiling"
    if sink.is_null:
        try:
            record = sink.admin("object", bucket=bucket, key=key)
        except OSError as error:
            return Verification(False, "none", f"the null sink has no such object: {error}")
        return verify_null_sink_object(record, payload=payload, is_copy=is_copy)
    return verify_object(
        sink.client(),
        bucket=bucket,
        key=key,
        payload=payload,
        is_copy=is_copy,
        sink_is_moto=sink.is_moto,
    )


def run_scenario(
    scenario: Scenario,
    *,
    sink: sinks.Sink,
    args: argparse.Namespace,
    copier: CopierSource,
    certs: Certificates | None,
    counter: list[int],
) -> tuple[list[RunRecord], dict[str, object]]:
    payload = cached_payload(scenario.size_mib)
    settings = copier_settings(payload.size, args.time_budget_s, copier.layer_dir)
    records = []
    mode = scenario.source
    quota = "no cap" if scenario.cpu_quota is None else f"{scenario.cpu_quota:g} vCPU"
    ca = certs.ca_cert if certs else None
    with SourceServer(
        payload.path,
        honour_range=mode.honour_range,
        send_length=mode.send_length,
        tls_cert=certs.server_cert if certs else None,
        tls_key=certs.server_key if certs else None,
    ) as source:
        check: dict[str, object] = {
            "source": mode.label,
            "size_mib": scenario.size_mib,
            **source_check(source.url, ca),
        }
        _say(f"source alone ({mode.label}, {scenario.size_mib} MiB): {check}")
        context = RunContext(sink, source.url, source.pid, payload, scenario, settings, ca)
        for repeat in range(scenario.repeat):
            # Rotate the order so no contender always runs first (or right after the same one).
            shift = repeat % len(scenario.contenders)
            for contender in scenario.contenders[shift:] + scenario.contenders[:shift]:
                counter[0] += 1
                record = run_one(contender, context, repeat=repeat, bucket=f"bench-{counter[0]}")
                throttled = record.throttling or {}
                _say(
                    f"{scenario.sink:6} {mode.label:9} {quota:9} {scenario.size_mib:5} MiB "
                    f"{contender:8} #{repeat}: {record.mib_s:6.1f} MiB/s "
                    f"{record.cpu_s * 1024 / scenario.size_mib:5.1f} CPU s/GiB "
                    f"{record.peak_rss_mib:6.1f} MiB RSS "
                    f"throttled {throttled.get('nr_throttled', '-')}/"
                    f"{throttled.get('nr_periods', '-')} "
                    f"load {record.load_average_before[0]:.1f} "
                    f"{'ok' if record.ok else 'FAILED'} {record.problem} "
                    f"{record.stderr_tail[-300:] if not record.ok else ''}"
                )
                records.append(record)
    return records, check


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def summarize_file(path: Path) -> int:
    """Re-derive the table and the verdicts from the individual runs stored in ``path``."""
    document = json.loads(path.read_text())
    records = [RunRecord(**{"cpu_s": 0.0, **run}) for run in document["runs"]]  # 0: not measured
    ran_with = parse_args(document["command"][3:])  # "python -m bench ARGS..."
    rows = summarize(records)
    print(markdown_table(rows))
    found = verdicts(
        rows, records, main_size_mib=ran_with.size_mib, large_size_mib=ran_with.large_size_mib
    )
    print(verdict_lines(found))
    if costs := memory_size_costs(rows):
        print(memory_size_table(costs))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        return summarize_file(args.summarize)
    if any(quota is not None for quota in args.cpu_quotas):
        check_available()  # fail before anything is set up
    if not args.skip_setup:
        subprocess.run(["bash", str(BENCH_DIR / "setup.sh")], check=True)
    with scratch_dir() as scratch:
        copier = copier_source(args.copier_ref, Path(scratch))
        _say(f"measuring the copier at {copier.commit[:12]} ({copier.subject})")
        certificates = throwaway_certificates() if args.tls == "on" else nullcontext(None)
        with certificates as certs:
            return run_all(args, copier, certs, argv)


def run_all(
    args: argparse.Namespace,
    copier: CopierSource,
    certs: Certificates | None,
    argv: Sequence[str] | None,
) -> int:
    started = datetime.now(UTC)
    facts = machine_facts()
    _say(f"load average at start: {facts['load_average_at_start']}")
    scenarios = plan(args)
    records: list[RunRecord] = []
    source_checks: list[dict[str, object]] = []
    counter = [0]
    for sink_name in dict.fromkeys(s.sink for s in scenarios):
        log = args.sink_log if sink_name == sinks.NULL else None
        with sinks.started(sink_name, certs, log=log) as sink:
            for scenario in (s for s in scenarios if s.sink == sink_name):
                found, check = run_scenario(
                    scenario, sink=sink, args=args, copier=copier, certs=certs, counter=counter
                )
                records.extend(found)
                source_checks.append(check)
    rows = summarize(records)
    found_verdicts = verdicts(
        rows, records, main_size_mib=args.size_mib, large_size_mib=args.large_size_mib
    )
    table = markdown_table(rows)
    costs = memory_size_costs(rows)
    print(table)
    print(verdict_lines(found_verdicts), flush=True)
    if costs:
        print(memory_size_table(costs))
        print(
            f"cheapest MemorySize copying at >= 100 MiB/s (Range on): {cheapest_fast_enough(costs)}"
        )
    out = args.out_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    write_json(
        out,
        {
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started.timestamp(), 1),
            "command": ["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
            "profile": {name: getattr(args, name) for name in PROFILES[args.profile]}
            | {"name": args.profile},
            "machine": facts | {"load_average_at_end": load_average()},
            "copier": {"ref": copier.ref, "commit": copier.commit, "subject": copier.subject},
            "copier_settings": {
                str(s.size_mib): asdict(
                    copier_settings(s.size_mib * MIB, args.time_budget_s, copier.layer_dir)
                )
                for s in scenarios
            },
            "notes": NOTES,
            "source_alone": source_checks,
            "summary": rows,
            "targets": found_verdicts,
            "table_markdown": table,
            "memory_sizes": costs,
            "cheapest_fast_enough_memory_mb": cheapest_fast_enough(costs),
            "runs": records,
        },
    )
    print(f"results: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0 if all(record.ok for record in records) else 1

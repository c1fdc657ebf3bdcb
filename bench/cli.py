"""``python -m bench``: copy one random file from a loopback HTTP source into S3 sinks with the
copier and its peers, measure MiB/s and peak RSS, print a table, write ``bench/results/*.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import sinks
from bench.contenders import CONTENDERS, COPIER, CopierSettings, Job, commands_for
from bench.copier_settings import CopierSource, copier_settings, copier_source, scratch_dir
from bench.machine import load_average, machine_facts
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
from bench.verify import verify_object

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
NOTES = [
    "Each contender runs in its own process; wall time is from its first spawn to its last exit "
    "(interpreter start-up included); MiB/s = size / wall time.",
    "Peak RSS is GNU time's %M per process; for curl | aws it is the sum of both processes' peaks. "
    "CPU s/GiB is user + system CPU of the contender's processes (both, for curl | aws) per GiB.",
    "moto's CompleteMultipartUpload joins all parts in memory and slows super-linearly with size "
    "(about 14 s at 1 GiB), so the moto sink runs a smaller file (--moto-size-mib, default 256).",
    "Targets are judged on s3rver only; moto is there to show behaviour on a faithful sink.",
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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="file size on s3rver")
    parser.add_argument("--moto-size-mib", type=int, default=256, help="file size on moto")
    parser.add_argument("--sinks", type=_csv(["s3rver", "moto"]), default=["s3rver", "moto"])
    parser.add_argument("--range", type=_csv(["on", "off"]), default=["on", "off"])
    parser.add_argument(
        "--length",
        type=_csv(["on", "off"]),
        default=["on"],
        help="off adds a chunked source (no Content-Length); only without Range",
    )
    parser.add_argument("--contenders", type=_csv(CONTENDERS), default=list(CONTENDERS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; median kept")
    parser.add_argument(
        "--large-size-mib",
        type=int,
        default=4096,
        help="one extra copier-only run on s3rver at this size, for RSS growth (0: skip)",
    )
    parser.add_argument("--large-range", choices=["on", "off"], default="on")
    parser.add_argument(
        "--time-budget-s", type=float, default=840.0, help="per copier invocation, as a Lambda"
    )
    parser.add_argument(
        "--copier-ref",
        default="HEAD",
        help="git ref whose layers/core is measured, or 'worktree' for the files as they are",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--skip-setup", action="store_true", help="do not run bench/setup.sh")
    parser.add_argument(
        "--summarize",
        type=Path,
        metavar="RESULTS_JSON",
        help="only print the table and targets of an earlier run's JSON (nothing is run)",
    )
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> list[Scenario]:
    modes = [
        SourceMode(honour_range=r == "on", send_length=length == "on")
        for r in args.range
        for length in args.length
        if not (r == "on" and length == "off")
    ]
    sizes = {"s3rver": args.size_mib, "moto": args.moto_size_mib}
    contenders = tuple(args.contenders)
    scenarios = [
        Scenario(sink, sizes[sink], mode, contenders, args.repeat)
        for sink in args.sinks
        for mode in modes
    ]
    if args.large_size_mib and "s3rver" in args.sinks and COPIER in contenders:
        mode = SourceMode(honour_range=args.large_range == "on", send_length=True)
        scenarios.append(Scenario("s3rver", args.large_size_mib, mode, (COPIER,), 1))
    return scenarios


def source_speed_mib_s(url: str) -> float:
    """The source alone: curl into /dev/null."""
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{speed_download}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return round(float(done.stdout) / MIB, 1)


def _last_json_line(stdout: str) -> dict[str, object]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return {}


def run_one(
    contender: str,
    *,
    sink: sinks.Sink,
    url: str,
    payload: Payload,
    scenario: Scenario,
    settings: CopierSettings,
    repeat: int,
    bucket: str,
) -> RunRecord:
    os.sync()  # the previous run's writes must not be flushed on this run's time
    load_before = load_average()
    key = f"bench/{contender}.tar"
    with sinks.fresh_bucket(sink, bucket), tempfile.TemporaryDirectory() as home:
        job = Job(url, sink, bucket, key, payload.size)
        commands, env = commands_for(contender, job, settings, Path(home))
        measured = run_pipeline(commands, env=env, cwd=BENCH_DIR.parent)
        if measured.ok:
            check = verify_object(
                sink.client(),
                bucket=bucket,
                key=key,
                payload=payload,
                is_copy=contender != "ceiling",
                sink_is_moto=sink.is_moto,
            )
            ok, checked, problem = check.ok, check.checked, check.problem
        else:
            codes = [process.exit_code for process in measured.processes]
            ok, checked, problem = False, "none", f"exit codes {codes}"
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
        ok=ok,
        verification=checked,
        problem=problem,
        output=_last_json_line(measured.stdout),
        stderr_tail=measured.stderr_tail,
        load_average_before=load_before,
    )


def run_scenario(
    scenario: Scenario,
    sink: sinks.Sink,
    args: argparse.Namespace,
    copier: CopierSource,
    counter: list[int],
) -> tuple[list[RunRecord], dict[str, object]]:
    payload = cached_payload(scenario.size_mib)
    settings = copier_settings(payload.size, args.time_budget_s, copier.layer_dir)
    records = []
    mode = scenario.source
    with SourceServer(
        payload.path, honour_range=mode.honour_range, send_length=mode.send_length
    ) as source:
        check = {
            "source": mode.label,
            "size_mib": scenario.size_mib,
            "curl_to_dev_null_mib_s": source_speed_mib_s(source.url),
        }
        _say(f"source alone ({mode.label}, {scenario.size_mib} MiB): {check} ")
        for repeat in range(scenario.repeat):
            # Rotate the order so no contender always runs first (or right after the same one).
            shift = repeat % len(scenario.contenders)
            for contender in scenario.contenders[shift:] + scenario.contenders[:shift]:
                counter[0] += 1
                record = run_one(
                    contender,
                    sink=sink,
                    url=source.url,
                    payload=payload,
                    scenario=scenario,
                    settings=settings,
                    repeat=repeat,
                    bucket=f"bench-{counter[0]}",
                )
                _say(
                    f"{scenario.sink:6} {mode.label:17} {scenario.size_mib:5} MiB "
                    f"{contender:8} #{repeat}: {record.mib_s:7.1f} MiB/s "
                    f"{record.peak_rss_mib:7.1f} MiB RSS {record.cpu_s:6.1f} CPU s "
                    f"{'ok' if record.ok else 'FAILED'} "
                    f"{record.problem} {record.stderr_tail[-300:] if not record.ok else ''}"
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
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        return summarize_file(args.summarize)
    if not args.skip_setup:
        subprocess.run(["bash", str(BENCH_DIR / "setup.sh")], check=True)
    with scratch_dir() as scratch:
        copier = copier_source(args.copier_ref, Path(scratch))
        _say(f"measuring the copier at {copier.commit[:12]} ({copier.subject})")
        return run_all(args, copier, argv)


def run_all(args: argparse.Namespace, copier: CopierSource, argv: Sequence[str] | None) -> int:
    started = datetime.now(UTC)
    facts = machine_facts()
    scenarios = plan(args)
    records: list[RunRecord] = []
    source_checks: list[dict[str, object]] = []
    counter = [0]
    for sink_name in dict.fromkeys(s.sink for s in scenarios):
        with sinks.started(sink_name) as sink:
            for scenario in (s for s in scenarios if s.sink == sink_name):
                found, check = run_scenario(scenario, sink, args, copier, counter)
                records.extend(found)
                source_checks.append(check)
    rows = summarize(records)
    found_verdicts = verdicts(
        rows, records, main_size_mib=args.size_mib, large_size_mib=args.large_size_mib
    )
    table = markdown_table(rows)
    print(table)
    print(verdict_lines(found_verdicts), flush=True)
    out = args.out_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    write_json(
        out,
        {
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started.timestamp(), 1),
            "command": ["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
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
            "runs": records,
        },
    )
    print(f"results: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0 if all(record.ok for record in records) else 1

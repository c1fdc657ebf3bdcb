"""Turns individual runs into the summary table, the target verdicts and the results JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.contenders import CEILING, CONTENDERS, COPIER, LABELS, PEERS

S3RVER = "s3rver"
RSS_LIMIT_MIB = 200.0
RSS_GROWTH_LIMIT = 1.10
PEER_RATIO_TARGET = 1.0
CEILING_RATIO_TARGET = 0.85


@dataclass(frozen=True)
class RunRecord:
    """One contender's copy: what ran, how fast, peak memory, and whether the object is right."""

    contender: str
    sink: str
    source: str
    size_mib: int
    repeat: int
    wall_s: float
    mib_s: float
    peak_rss_mib: float
    cpu_s: float
    processes: list[dict[str, object]]
    ok: bool
    verification: str
    problem: str = ""
    output: dict[str, object] = field(default_factory=dict)
    stderr_tail: str = ""
    load_average_before: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class SummaryRow:
    """The median speed and worst peak RSS of one contender in one (sink, source, size) setting."""

    contender: str
    sink: str
    source: str
    size_mib: int
    runs_ok: int
    runs: int
    median_mib_s: float | None
    max_peak_rss_mib: float | None
    median_cpu_s_per_gib: float | None
    mib_s_range: tuple[float, float] | None
    vs_faster_peer: float | None = None
    vs_ceiling: float | None = None


@dataclass(frozen=True)
class Verdict:
    target: str
    setting: str
    measured: str
    met: bool


def _setting(row: SummaryRow) -> tuple[str, str, int]:
    return row.sink, row.source, row.size_mib


def summarize(runs: Iterable[RunRecord]) -> list[SummaryRow]:
    """Median MiB/s and max peak RSS per contender and setting, with ratios within the setting."""
    groups: dict[tuple[str, str, int, str], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault((run.sink, run.source, run.size_mib, run.contender), []).append(run)
    rows = []
    for (sink, source, size_mib, contender), members in groups.items():
        good = [run for run in members if run.ok]
        rows.append(
            SummaryRow(
                contender,
                sink,
                source,
                size_mib,
                len(good),
                len(members),
                round(statistics.median(r.mib_s for r in good), 1) if good else None,
                round(max(r.peak_rss_mib for r in good), 1) if good else None,
                round(statistics.median(r.cpu_s * 1024 / r.size_mib for r in good), 1)
                if good
                else None,
                (min(r.mib_s for r in good), max(r.mib_s for r in good)) if good else None,
            )
        )
    return _with_ratios(rows)


def _with_ratios(rows: list[SummaryRow]) -> list[SummaryRow]:
    speeds = {(_setting(r), r.contender): r.median_mib_s for r in rows}
    ranked = []
    for row in rows:
        peers = [speeds.get((_setting(row), peer)) for peer in PEERS]
        fastest_peer = max((speed for speed in peers if speed), default=None)
        ceiling = speeds.get((_setting(row), CEILING))
        speed = row.median_mib_s
        ranked.append(
            SummaryRow(
                **{
                    **asdict(row),
                    "vs_faster_peer": round(speed / fastest_peer, 2)
                    if speed and fastest_peer
                    else None,
                    "vs_ceiling": round(speed / ceiling, 2) if speed and ceiling else None,
                }
            )
        )
    order = {name: index for index, name in enumerate(CONTENDERS)}
    return sorted(ranked, key=lambda r: (r.sink, r.size_mib, r.source, order[r.contender]))


def paired_ratios(runs: Iterable[RunRecord]) -> dict[tuple[str, str, int], dict[str, float]]:
    """Per setting, the median over repeat rounds of the copier's speed divided by the faster
    peer's (and the ceiling's) in the same round: the contenders of one round ran minutes apart
    at most, so this cancels slow drifts of a shared machine's load better than a ratio of
    medians does."""
    rounds: dict[tuple[str, str, int], dict[int, dict[str, float]]] = {}
    for run in runs:
        if run.ok:
            setting = (run.sink, run.source, run.size_mib)
            rounds.setdefault(setting, {}).setdefault(run.repeat, {})[run.contender] = run.mib_s
    found: dict[tuple[str, str, int], dict[str, float]] = {}
    for setting, by_round in rounds.items():
        vs_peer = [
            speeds[COPIER] / max(speeds[peer] for peer in PEERS if peer in speeds)
            for speeds in by_round.values()
            if COPIER in speeds and any(peer in speeds for peer in PEERS)
        ]
        vs_ceiling = [
            speeds[COPIER] / speeds[CEILING]
            for speeds in by_round.values()
            if COPIER in speeds and CEILING in speeds
        ]
        found[setting] = {
            name: round(statistics.median(values), 2)
            for name, values in (("vs_faster_peer", vs_peer), ("vs_ceiling", vs_ceiling))
            if values
        }
    return found


def verdicts(
    rows: list[SummaryRow],
    runs: Iterable[RunRecord],
    *,
    main_size_mib: int,
    large_size_mib: int,
) -> list[Verdict]:
    """The issue's targets, judged on s3rver: speed ratios, RSS cap, RSS growth from 1x to 4x.

    Speed is judged on the ratio of medians; the median of per-round ratios is shown beside it.
    """
    found: list[Verdict] = []
    paired = paired_ratios(runs)
    copier_rows = [r for r in rows if r.contender == COPIER and r.sink == S3RVER]
    for row in (r for r in copier_rows if r.size_mib == main_size_mib):
        setting = f"{row.sink}, {row.source}, {row.size_mib} MiB"
        per_round = paired.get(_setting(row), {})
        if row.vs_faster_peer is not None:
            met = row.vs_faster_peer >= PEER_RATIO_TARGET
            measured = f"{row.vs_faster_peer}x of medians"
            if "vs_faster_peer" in per_round:
                measured += f", {per_round['vs_faster_peer']}x median per round"
            found.append(Verdict("copier >= 1.0x faster peer", setting, measured, met))
        if row.vs_ceiling is not None:
            met = row.vs_ceiling >= CEILING_RATIO_TARGET
            measured = f"{row.vs_ceiling}x of medians"
            if "vs_ceiling" in per_round:
                measured += f", {per_round['vs_ceiling']}x median per round"
            found.append(Verdict("copier >= 0.85x sink ceiling", setting, measured, met))
        if row.max_peak_rss_mib is not None:
            met = row.max_peak_rss_mib <= RSS_LIMIT_MIB
            found.append(
                Verdict("copier peak RSS <= 200 MiB", setting, f"{row.max_peak_rss_mib} MiB", met)
            )
    for large in (r for r in copier_rows if r.size_mib == large_size_mib):
        base = next(
            (r for r in copier_rows if r.size_mib == main_size_mib and r.source == large.source),
            None,
        )
        if base is None or base.max_peak_rss_mib is None or large.max_peak_rss_mib is None:
            continue
        growth = large.max_peak_rss_mib / base.max_peak_rss_mib
        found.append(
            Verdict(
                f"copier peak RSS at {large_size_mib} MiB <= 1.10x at {main_size_mib} MiB",
                f"{large.sink}, {large.source}",
                f"{large.max_peak_rss_mib} vs {base.max_peak_rss_mib} MiB = {growth:.3f}x",
                growth <= RSS_GROWTH_LIMIT,
            )
        )
    return found


def _cell(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def _spread(bounds: tuple[float, float] | None) -> str:
    return "-" if bounds is None else f"{bounds[0]}-{bounds[1]}"


def markdown_table(rows: list[SummaryRow]) -> str:
    header = (
        "| contender | sink | source | size MiB | MiB/s (median) | MiB/s (min-max) "
        "| peak RSS MiB (max) | vs faster peer | vs ceiling | CPU s/GiB | runs ok |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {LABELS[r.contender].replace('|', '\\|')} | {r.sink} | {r.source} | {r.size_mib} "
        f"| {_cell(r.median_mib_s)} | {_spread(r.mib_s_range)} | {_cell(r.max_peak_rss_mib)} "
        f"| {_cell(r.vs_faster_peer, 'x')} | {_cell(r.vs_ceiling, 'x')} "
        f"| {_cell(r.median_cpu_s_per_gib)} | {r.runs_ok}/{r.runs} |"
        for r in rows
    ]
    return header + "\n".join(lines) + "\n"


def verdict_lines(found: list[Verdict]) -> str:
    return "".join(
        f"- {'MET ' if v.met else 'MISSED'} {v.target} [{v.setting}]: {v.measured}\n" for v in found
    )


def write_json(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    partial.replace(path)


def _jsonable(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)  # type: ignore[call-overload]
    raise TypeError(f"cannot write {type(value).__name__} as JSON")

"""Turns individual runs into the summary table, the target verdicts and the results JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.contenders import CEILING, CONTENDERS, COPIER, LABELS, RCLONE_COPYURL

NULL_SINK = "null"
RSS_LIMIT_MIB = 200.0
RSS_GROWTH_LIMIT = 1.10
CPU_VS_RCLONE_TARGET = 0.75  # copier CPU s/GiB <= 0.75x rclone's
SPEED_VS_RCLONE_TARGETS = {0.58: 1.25, 1.0: 1.1}  # copier MiB/s >= these x rclone's, per quota
CEILING_TARGETS = {1.0: 0.6}  # copier MiB/s >= 0.6x the boto3 ceiling at 1.0 vCPU


@dataclass(frozen=True)
class RunRecord:
    """One contender's copy: what ran, how fast, at what CPU cost, and whether the object is
    right. Fields after ``load_average_before`` were added with the Lambda profile (https, CPU
    quotas, null sink); earlier results files lack them."""

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
    tls: bool = False
    cpu_quota: float | None = None
    throttling: dict[str, float] | None = None
    sink_cpu_s: float | None = None
    source_cpu_s: float | None = None
    sink_checks: dict[str, int] = field(default_factory=dict)
    sink_errors: list[dict[str, object]] = field(default_factory=list)
    load_average_after: list[float] = field(default_factory=list)


Setting = tuple[str, str, int, float | None]


@dataclass(frozen=True)
class SummaryRow:
    """Medians of one contender in one (sink, source, size, CPU quota) setting."""

    contender: str
    sink: str
    source: str
    size_mib: int
    cpu_quota: float | None
    tls: bool
    runs_ok: int
    runs: int
    median_mib_s: float | None
    mib_s_range: tuple[float, float] | None
    median_cpu_s_per_gib: float | None
    median_throttled_share: float | None
    median_throttled_s: float | None
    max_peak_rss_mib: float | None
    median_sink_cpu_s_per_gib: float | None
    vs_rclone: float | None = None
    cpu_vs_rclone: float | None = None
    vs_ceiling: float | None = None


@dataclass(frozen=True)
class Verdict:
    target: str
    setting: str
    measured: str
    met: bool


def _setting(row: SummaryRow | RunRecord) -> Setting:
    return row.sink, row.source, row.size_mib, row.cpu_quota


def _median(values: list[float], digits: int = 1) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _per_gib(run: RunRecord, seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1024 / run.size_mib


def summarize(runs: Iterable[RunRecord]) -> list[SummaryRow]:
    """Per contender and setting: median MiB/s, CPU s/GiB, throttling; max peak RSS; ratios."""
    groups: dict[tuple[Setting, str], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault((_setting(run), run.contender), []).append(run)
    rows = []
    for ((sink, source, size_mib, quota), contender), members in groups.items():
        good = [run for run in members if run.ok]
        throttled = [run.throttling for run in good if run.throttling]
        sink_cpu = [v for r in good if (v := _per_gib(r, r.sink_cpu_s)) is not None]
        rows.append(
            SummaryRow(
                contender=contender,
                sink=sink,
                source=source,
                size_mib=size_mib,
                cpu_quota=quota,
                tls=any(run.tls for run in members),
                runs_ok=len(good),
                runs=len(members),
                median_mib_s=_median([r.mib_s for r in good]),
                mib_s_range=(min(r.mib_s for r in good), max(r.mib_s for r in good))
                if good
                else None,
                median_cpu_s_per_gib=_median([r.cpu_s * 1024 / r.size_mib for r in good]),
                median_throttled_share=_median(
                    [t["nr_throttled"] / t["nr_periods"] for t in throttled if t["nr_periods"]], 2
                ),
                median_throttled_s=_median([t["throttled_s"] for t in throttled]),
                max_peak_rss_mib=round(max(r.peak_rss_mib for r in good), 1) if good else None,
                median_sink_cpu_s_per_gib=_median(sink_cpu),
            )
        )
    return _with_ratios(rows)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _with_ratios(rows: list[SummaryRow]) -> list[SummaryRow]:
    by_setting = {(_setting(r), r.contender): r for r in rows}
    ranked = []
    for row in rows:
        rclone = by_setting.get((_setting(row), RCLONE_COPYURL))
        ceiling = by_setting.get((_setting(row), CEILING))
        ranked.append(
            SummaryRow(
                **{
                    **asdict(row),
                    "vs_rclone": _ratio(row.median_mib_s, rclone.median_mib_s if rclone else None),
                    "cpu_vs_rclone": _ratio(
                        row.median_cpu_s_per_gib, rclone.median_cpu_s_per_gib if rclone else None
                    ),
                    "vs_ceiling": _ratio(
                        row.median_mib_s, ceiling.median_mib_s if ceiling else None
                    ),
                }
            )
        )
    order = {name: index for index, name in enumerate(CONTENDERS)}
    return sorted(
        ranked,
        key=lambda r: (
            r.sink,
            r.size_mib,
            r.source,
            r.cpu_quota if r.cpu_quota is not None else 1e9,
            order.get(r.contender, 99),
        ),
    )


def paired_ratios(
    runs: Iterable[RunRecord], value: Callable[[RunRecord], float], against: str
) -> dict[Setting, float]:
    """Per setting, the median over repeat rounds of the copier's ``value`` divided by
    ``against``'s in the same round: the contenders of one round ran a minute or two apart, so
    this cancels slow drifts of a shared machine's load better than a ratio of medians does."""
    rounds: dict[Setting, dict[int, dict[str, float]]] = {}
    for run in runs:
        if run.ok:
            rounds.setdefault(_setting(run), {}).setdefault(run.repeat, {})[run.contender] = value(
                run
            )
    found: dict[Setting, float] = {}
    for setting, by_round in rounds.items():
        ratios = [
            values[COPIER] / values[against]
            for values in by_round.values()
            if COPIER in values and values.get(against)
        ]
        if ratios:
            found[setting] = round(statistics.median(ratios), 2)
    return found


def _quota_label(quota: float | None) -> str:
    return "no cap" if quota is None else f"{quota:g} vCPU"


def verdicts(
    rows: list[SummaryRow],
    runs: Iterable[RunRecord],
    *,
    main_size_mib: int,
    large_size_mib: int,
) -> list[Verdict]:
    """The targets of the Lambda profile (null sink, https, CPU quotas) and the RSS targets.

    Speed and CPU are judged on ratios of medians; the median of per-round ratios is shown
    beside them.
    """
    runs = list(runs)
    found: list[Verdict] = []
    speed_rounds = paired_ratios(runs, lambda r: r.mib_s, RCLONE_COPYURL)
    cpu_rounds = paired_ratios(runs, lambda r: r.cpu_s / r.size_mib, RCLONE_COPYURL)
    ceiling_rounds = paired_ratios(runs, lambda r: r.mib_s, CEILING)
    copier_rows = [r for r in rows if r.contender == COPIER]
    for row in (r for r in copier_rows if r.size_mib == main_size_mib):
        setting = f"{row.sink}, {row.source}, {_quota_label(row.cpu_quota)}, {row.size_mib} MiB"
        key = _setting(row)
        lambda_like = row.sink == NULL_SINK and row.cpu_quota is not None and row.tls
        if lambda_like and row.cpu_vs_rclone is not None:
            found.append(
                Verdict(
                    f"copier CPU s/GiB <= {CPU_VS_RCLONE_TARGET}x rclone's",
                    setting,
                    f"{row.median_cpu_s_per_gib} vs "
                    f"{_rclone_value(rows, row, 'median_cpu_s_per_gib')} = "
                    f"{row.cpu_vs_rclone}x{_per_round(cpu_rounds, key)}",
                    row.cpu_vs_rclone <= CPU_VS_RCLONE_TARGET,
                )
            )
        speed_target = SPEED_VS_RCLONE_TARGETS.get(row.cpu_quota or -1.0)
        if lambda_like and speed_target and row.vs_rclone is not None:
            found.append(
                Verdict(
                    f"copier MiB/s >= {speed_target}x rclone's",
                    setting,
                    f"{row.median_mib_s} vs {_rclone_value(rows, row, 'median_mib_s')} = "
                    f"{row.vs_rclone}x{_per_round(speed_rounds, key)}",
                    row.vs_rclone >= speed_target,
                )
            )
        ceiling_target = CEILING_TARGETS.get(row.cpu_quota or -1.0)
        if lambda_like and ceiling_target and row.vs_ceiling is not None:
            found.append(
                Verdict(
                    f"copier MiB/s >= {ceiling_target}x the boto3 ceiling",
                    setting,
                    f"{row.vs_ceiling}x{_per_round(ceiling_rounds, key)}",
                    row.vs_ceiling >= ceiling_target,
                )
            )
        if row.max_peak_rss_mib is not None:
            met = row.max_peak_rss_mib <= RSS_LIMIT_MIB
            found.append(
                Verdict(
                    f"copier peak RSS <= {RSS_LIMIT_MIB:g} MiB",
                    setting,
                    f"{row.max_peak_rss_mib} MiB",
                    met,
                )
            )
    for large in (r for r in copier_rows if r.size_mib == large_size_mib):
        base = next(
            (
                r
                for r in copier_rows
                if r.size_mib == main_size_mib
                and (r.sink, r.source, r.cpu_quota) == (large.sink, large.source, large.cpu_quota)
            ),
            None,
        )
        if base is None or base.max_peak_rss_mib is None or large.max_peak_rss_mib is None:
            continue
        growth = large.max_peak_rss_mib / base.max_peak_rss_mib
        found.append(
            Verdict(
                f"copier peak RSS at {large_size_mib} MiB <= {RSS_GROWTH_LIMIT}x at "
                f"{main_size_mib} MiB",
                f"{large.sink}, {large.source}, {_quota_label(large.cpu_quota)}",
                f"{large.max_peak_rss_mib} vs {base.max_peak_rss_mib} MiB = {growth:.3f}x",
                growth <= RSS_GROWTH_LIMIT,
            )
        )
    return found


def _rclone_value(rows: list[SummaryRow], row: SummaryRow, name: str) -> object:
    for other in rows:
        if other.contender == RCLONE_COPYURL and _setting(other) == _setting(row):
            return getattr(other, name)
    return None


def _per_round(rounds: dict[Setting, float], key: Setting) -> str:
    return f" ({rounds[key]}x median per round)" if key in rounds else ""


def _cell(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def _spread(bounds: tuple[float, float] | None) -> str:
    return "-" if bounds is None else f"{bounds[0]}-{bounds[1]}"


def _throttled(row: SummaryRow) -> str:
    if row.median_throttled_share is None:
        return "-"
    return f"{row.median_throttled_share:.0%} ({row.median_throttled_s} s)"


def markdown_table(rows: list[SummaryRow]) -> str:
    header = (
        "| contender | sink | source | vCPU | size MiB | MiB/s (median) | MiB/s (min-max) "
        "| CPU s/GiB | throttled periods (time) | peak RSS MiB (max) | vs rclone "
        "| CPU vs rclone | vs ceiling | sink CPU s/GiB | runs ok |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {LABELS.get(r.contender, r.contender).replace('|', '\\|')} | {r.sink} "
        f"| {r.source}{', https' if r.tls else ''} "
        f"| {'-' if r.cpu_quota is None else f'{r.cpu_quota:g}'} | {r.size_mib} "
        f"| {_cell(r.median_mib_s)} | {_spread(r.mib_s_range)} "
        f"| {_cell(r.median_cpu_s_per_gib)} | {_throttled(r)} | {_cell(r.max_peak_rss_mib)} "
        f"| {_cell(r.vs_rclone, 'x')} | {_cell(r.cpu_vs_rclone, 'x')} "
        f"| {_cell(r.vs_ceiling, 'x')} | {_cell(r.median_sink_cpu_s_per_gib)} "
        f"| {r.runs_ok}/{r.runs} |"
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

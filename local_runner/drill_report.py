"""What a restore drill compares, and the table it prints.

Like with like: the backup's ``DataInventory`` counts, per (database, retention policy,
measurement), the values held in the TSM blocks of every series and field
(``MeasurementStats.points`` is the sum over blocks of their values): a point with three fields
counts three. So the restored side is the same sum over fields of ``COUNT(field)``
(``SELECT COUNT(*)`` answers one ``count_<field>`` column per field), never a number of rows.
First and last are the earliest ``first(field)`` and the latest ``last(field)`` time over the
fields, in nanoseconds since the epoch, compared exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiven_backup.verify.data_inventory import DataInventory, MeasurementKey

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2

_NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class Figures:
    """Field values (points x fields) and the first and last timestamp, in nanoseconds."""

    points: int
    first_ns: int | None = None
    last_ns: int | None = None


@dataclass(frozen=True)
class Row:
    """One measurement: what the backup holds and what the restored influxd answers."""

    key: MeasurementKey
    expected: Figures
    restored: Figures

    @property
    def ok(self) -> bool:
        return self.expected == self.restored

    @property
    def name(self) -> str:
        return ".".join(self.key)


def expected_figures(inventory: DataInventory) -> dict[MeasurementKey, Figures]:
    """The backup's figures per measurement (a measurement holding no value is left out)."""
    return {
        key: Figures(stats.points, stats.first_ns, stats.last_ns)
        for key, stats in inventory.measurements.items()
        if stats.points > 0
    }


def compare(
    expected: Mapping[MeasurementKey, Figures], restored: Mapping[MeasurementKey, Figures]
) -> list[Row]:
    """One row per measurement found on either side, sorted; a side without it counts 0."""
    nothing = Figures(0)
    keys = sorted(
        {k for k, f in expected.items() if f.points} | {k for k, f in restored.items() if f.points}
    )
    return [Row(key, expected.get(key, nothing), restored.get(key, nothing)) for key in keys]


def exit_status(rows: list[Row]) -> int:
    """0 when every measurement matches (and there is at least one), else 1."""
    return EXIT_OK if rows and all(row.ok for row in rows) else EXIT_MISMATCH


def format_time(ns: int | None) -> str:
    """``2024-03-01T00:00:00Z``, with the fraction of a second only when there is one."""
    if ns is None:
        return "-"
    seconds, fraction = divmod(ns, _NS_PER_SECOND)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{fraction:09d}".rstrip("0")
    return text + "Z"


_HEADERS = (
    "measurement",
    "expected points",
    "restored points",
    "expected first",
    "expected last",
    "restored first",
    "restored last",
    "result",
)
_RIGHT_ALIGNED = frozenset({1, 2})


def render_table(rows: list[Row]) -> str:
    """The comparison as a plain-text table, one line per measurement."""
    cells = [
        (
            row.name,
            f"{row.expected.points:,}",
            f"{row.restored.points:,}",
            format_time(row.expected.first_ns),
            format_time(row.expected.last_ns),
            format_time(row.restored.first_ns),
            format_time(row.restored.last_ns),
            "OK" if row.ok else "MISMATCH",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [_HEADERS, *cells]) for i in range(len(_HEADERS))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            value.rjust(width) if i in _RIGHT_ALIGNED else value.ljust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return "\n".join([line(_HEADERS), *(line(values) for values in cells)])


def verdict(rows: list[Row]) -> str:
    """The last line of the report."""
    if not rows:
        return "MISMATCH: neither the backup nor the restored influxd holds any point"
    bad = [row for row in rows if not row.ok]
    if not bad:
        return f"OK: all {len(rows)} measurement(s) restored with the backup's figures"
    return f"MISMATCH: {len(bad)} of {len(rows)} measurement(s) differ from the backup"

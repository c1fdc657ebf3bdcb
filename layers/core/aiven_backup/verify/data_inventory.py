"""What data a backup holds, read from its TSM indexes and block headers: per database, retention
policy and measurement, the series, fields, blocks, points and the first and last timestamp.

One ``DataInventory`` is made per shard (``verify.shard``) and the shards' are merged into the
backup's. Timestamps are nanoseconds since the epoch, as InfluxDB stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

MeasurementKey = tuple[str, str, str]
"""(database, retention policy, measurement)."""

_NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class MeasurementStats:
    """One measurement of one retention policy.

    ``series`` is the number of distinct series keys of the shard with the most: a series spans
    every shard of its time range, so a sum would count it once per shard. ``points`` and
    ``blocks`` are sums; ``first_ns``/``last_ns`` the earliest and latest timestamp of any point.
    """

    series: int
    fields: tuple[str, ...]  # sorted, distinct
    blocks: int
    points: int
    first_ns: int
    last_ns: int

    def merged(self, other: MeasurementStats) -> MeasurementStats:
        return MeasurementStats(
            series=max(self.series, other.series),
            fields=tuple(sorted(set(self.fields) | set(other.fields))),
            blocks=self.blocks + other.blocks,
            points=self.points + other.points,
            first_ns=min(self.first_ns, other.first_ns),
            last_ns=max(self.last_ns, other.last_ns),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "fields": list(self.fields),
            "blocks": self.blocks,
            "points": self.points,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "first": iso_time(self.first_ns),
            "last": iso_time(self.last_ns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeasurementStats:
        return cls(
            series=int(data["series"]),
            fields=tuple(str(f) for f in data["fields"]),
            blocks=int(data["blocks"]),
            points=int(data["points"]),
            first_ns=int(data["first_ns"]),
            last_ns=int(data["last_ns"]),
        )


@dataclass(frozen=True)
class DataInventory:
    """Measurements by (database, retention policy, measurement); empty for a metastore-only
    backup."""

    measurements: Mapping[MeasurementKey, MeasurementStats] = MappingProxyType({})

    def merged(self, other: DataInventory) -> DataInventory:
        combined = dict(self.measurements)
        for key, stats in other.measurements.items():
            kept = combined.get(key)
            combined[key] = stats if kept is None else kept.merged(stats)
        return DataInventory(MappingProxyType(dict(sorted(combined.items()))))

    @property
    def points(self) -> int:
        return sum(s.points for s in self.measurements.values())

    @property
    def blocks(self) -> int:
        return sum(s.blocks for s in self.measurements.values())

    @property
    def first_ns(self) -> int | None:
        return min((s.first_ns for s in self.measurements.values()), default=None)

    @property
    def newest_ns(self) -> int | None:
        return max((s.last_ns for s in self.measurements.values()), default=None)

    def newest_age_hours(self, backup_time: datetime) -> float | None:
        """Hours between the newest point and ``backup_time``; ``None`` when there is no point."""
        newest = self.newest_ns
        if newest is None:
            return None
        return (backup_time.timestamp() - newest / _NS_PER_SECOND) / 3600

    def to_dict(self) -> dict[str, Any]:
        """Nested database -> policy -> measurement, JSON-able."""
        nested: dict[str, dict[str, dict[str, Any]]] = {}
        for (database, policy, measurement), stats in sorted(self.measurements.items()):
            nested.setdefault(database, {}).setdefault(policy, {})[measurement] = stats.to_dict()
        return nested

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataInventory:
        measurements = {
            (database, policy, measurement): MeasurementStats.from_dict(stats)
            for database, policies in data.items()
            for policy, by_measurement in policies.items()
            for measurement, stats in by_measurement.items()
        }
        return cls(MappingProxyType(dict(sorted(measurements.items()))))

    def summary_text(self, backup_time: datetime | None = None) -> str:
        """One line, e.g. ``2 databases, 3 measurements, 1.2 M points, 2023-11-14 -> 2026-12-01
        (newest 3 h before the backup)``."""
        first, newest = self.first_ns, self.newest_ns
        if first is None or newest is None:
            return "no points"
        databases = len({database for database, _, _ in self.measurements})
        measurements = len({(d, m) for d, _, m in self.measurements})
        text = (
            f"{_plural(databases, 'database')}, {_plural(measurements, 'measurement')}, "
            f"{human_count(self.points)} points, {iso_time(first)[:10]} -> {iso_time(newest)[:10]}"
        )
        age = self.newest_age_hours(backup_time) if backup_time is not None else None
        if age is not None:
            text += (
                f" (newest {human_hours(age)} before the backup)"
                if age >= 0
                else " (newest after the backup's own time: check the service's clock)"
            )
        return text


def iso_time(ns: int) -> str:
    """``0`` -> ``"1970-01-01T00:00:00Z"`` (whole seconds)."""
    moment = datetime.fromtimestamp(ns // _NS_PER_SECOND, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def human_count(count: int) -> str:
    """``1_234_567`` -> ``"1.2 M"``; below a thousand the number itself."""
    if count < 1000:
        return str(count)
    value = float(count)
    for unit in ("k", "M", "G"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} T"


def human_hours(hours: float) -> str:
    """``0.5`` -> ``"30 min"``, ``3.2`` -> ``"3 h"``, ``50`` -> ``"2.1 days"``."""
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{hours / 24:.1f} days"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"

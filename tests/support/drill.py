"""Building what a restore drill expects, and tars to feed it."""

from __future__ import annotations

import io
import tarfile
from collections import defaultdict
from types import MappingProxyType

from aiven_backup.verify.data_inventory import DataInventory, MeasurementKey, MeasurementStats
from local_runner.influxdb import InfluxServer

NS = 1_000_000_000


def stats(points: int, first_ns: int, last_ns: int, *fields: str) -> MeasurementStats:
    """A measurement's stats as the verification library reports them (``points`` = values)."""
    return MeasurementStats(
        series=1,
        fields=tuple(sorted(fields or ("value",))),
        blocks=1,
        points=points,
        first_ns=first_ns,
        last_ns=last_ns,
    )


def inventory(measurements: dict[MeasurementKey, MeasurementStats]) -> DataInventory:
    return DataInventory(MappingProxyType(dict(sorted(measurements.items()))))


def inventory_from_points(server: InfluxServer) -> DataInventory:
    """What a backup of ``server`` holds, read point by point (``SELECT * GROUP BY *``).

    Independent of the drill's own ``COUNT(*)``: every field value of every point is counted,
    the first and last timestamp are the extremes of the points' times.
    """
    values: dict[MeasurementKey, int] = defaultdict(int)
    times: dict[MeasurementKey, list[int]] = defaultdict(list)
    fields: dict[MeasurementKey, set[str]] = defaultdict(set)
    series: dict[MeasurementKey, int] = defaultdict(int)
    for db in server.databases():
        for (measurement, _, rp), points in server.dump_points(db).items():
            key = (db, rp, measurement)
            series[key] += 1
            for timestamp, point_fields in points:
                values[key] += len(point_fields)
                times[key].append(timestamp)
                fields[key].update(point_fields)
    return inventory(
        {
            key: MeasurementStats(
                series=series[key],
                fields=tuple(sorted(fields[key])),
                blocks=0,
                points=values[key],
                first_ns=min(times[key]),
                last_ns=max(times[key]),
            )
            for key in values
        }
    )


def tampered(data: DataInventory, key: MeasurementKey, extra_points: int = 1) -> DataInventory:
    """``data`` with ``extra_points`` more values in ``key``: what a lossy restore looks like."""
    measurements = dict(data.measurements)
    kept = measurements[key]
    measurements[key] = MeasurementStats(
        series=kept.series,
        fields=kept.fields,
        blocks=kept.blocks,
        points=kept.points + extra_points,
        first_ns=kept.first_ns,
        last_ns=kept.last_ns,
    )
    return inventory(measurements)


def tar_with(*members: tarfile.TarInfo, content: bytes = b"x") -> bytes:
    """A tar holding ``members`` as given (regular files get ``content``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in members:
            if info.isfile():
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info

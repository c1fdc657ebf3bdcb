"""A real InfluxDB portable backup, packed into one tar the way Aiven's user backup is."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from local_runner.influxdb import InfluxServer, influxd_available

SEED_START = datetime(2024, 3, 1, tzinfo=UTC)
"""Fixed, so every seeded backup holds the same points in the same shard groups."""


@dataclass(frozen=True)
class SeedSummary:
    """How many points ``seed_sample_data`` wrote, per (database, retention policy)."""

    points: dict[tuple[str, str], int]

    @property
    def databases(self) -> list[str]:
        return sorted({db for db, _ in self.points})

    @property
    def total_points(self) -> int:
        return sum(self.points.values())

    def points_per_policy(self, db: str) -> dict[str, int]:
        return {rp: count for (name, rp), count in self.points.items() if name == db}


def pack_backup_dir(directory: Path, folder: str | None = None) -> bytes:
    """One uncompressed tar of the files ``influxd backup -portable`` wrote into ``directory``.

    The files sit at the tar's root, or under ``folder/`` when given (whether Aiven uses a folder
    is not known, so both are supported), in the order influxd writes them: the metastore, the
    shards by ID, the manifest last.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if folder is not None:
            tar.addfile(_normalised(tar.gettarinfo(directory, arcname=folder)))
        for path in sorted((p for p in directory.iterdir() if p.is_file()), key=_write_order):
            arcname = path.name if folder is None else f"{folder}/{path.name}"
            with path.open("rb") as content:
                tar.addfile(_normalised(tar.gettarinfo(path, arcname=arcname)), content)
    return buffer.getvalue()


def _write_order(path: Path) -> tuple[int, int, str]:
    match path.name.split("."):
        case [_, "meta"]:
            return (0, 0, path.name)
        case [_, shard, "tar", "gz"] if shard.startswith("s") and shard[1:].isdigit():
            return (1, int(shard[1:]), path.name)
        case [_, "manifest"]:
            return (3, 0, path.name)
        case _:
            return (2, 0, path.name)


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def seed_sample_data(server: InfluxServer) -> SeedSummary:
    """Write a few thousand points into two databases, several shards each.

    ``telegraf``: ``autogen`` with a 1-day shard duration, four days of cpu, mem and events.
    ``sensors``: a non-default policy ``forever`` (INF, 1-hour shards, made the default) with
    six hours of readings, plus a few points left in ``autogen`` (7-day shards).
    Field types: float, integer, string and boolean.
    """
    points: dict[tuple[str, str], int] = {}

    server.create_database("telegraf")
    server.query('ALTER RETENTION POLICY "autogen" ON "telegraf" SHARD DURATION 1d')
    points["telegraf", "autogen"] = _write(server, "telegraf", None, _telegraf_lines())

    server.create_database("sensors")
    server.create_retention_policy("sensors", "forever", "INF", "1h", default=True)
    points["sensors", "forever"] = _write(server, "sensors", "forever", _sensor_lines())
    points["sensors", "autogen"] = _write(server, "sensors", "autogen", _calibration_lines())
    return SeedSummary(points=points)


def make_real_backup_tar(workdir: Path, folder: str | None = None) -> bytes | None:
    """Start an influxd in ``workdir``, seed it, back it up portably and pack the tar.

    Returns None when influxd is not installed.
    """
    if not influxd_available():
        return None
    backup_dir = workdir / "backup"
    with InfluxServer(workdir / "influxd") as server:
        seed_sample_data(server)
        server.backup_portable(backup_dir)
    return pack_backup_dir(backup_dir, folder)


def _write(server: InfluxServer, db: str, rp: str | None, lines: list[str]) -> int:
    server.write(db, lines, rp=rp, precision="s")
    return len(lines)


def _seconds(offset: timedelta) -> int:
    return int((SEED_START + offset).timestamp())


def _every(step: timedelta, span: timedelta) -> Iterator[tuple[int, int]]:
    """(index, epoch seconds) from SEED_START, every ``step``, for ``span``."""
    for index in range(int(span / step)):
        yield index, _seconds(step * index)


def _telegraf_lines() -> list[str]:
    lines: list[str] = []
    hosts = ("web-1", "db-1")
    for i, ts in _every(timedelta(minutes=15), timedelta(days=4)):
        for h, host in enumerate(hosts):
            for cpu in range(2):
                user = round(10 + (i * 7 + h * 3 + cpu) % 60 + 0.25, 2)
                system = round(2 + (i * 3 + cpu) % 9 * 0.5, 2)
                lines.append(
                    f"cpu,host={host},cpu=cpu{cpu} usage_user={user},usage_system={system} {ts}"
                )
            used = 2_000_000_000 + ((i * 13 + h * 7) % 100) * 1_048_576
            lines.append(f"mem,host={host} used={used}i,available_percent={used % 97 + 0.5} {ts}")
    for i, ts in _every(timedelta(hours=6), timedelta(days=4)):
        for host in hosts:
            ok = "true" if i % 3 else "false"
            lines.append(f'events,host={host} message="deploy \\"v{i}\\", step {i}",ok={ok} {ts}')
    return lines


def _sensor_lines() -> list[str]:
    lines: list[str] = []
    sensors = (("north", "t1"), ("north", "t2"), ("south", "t3"))
    for i, ts in _every(timedelta(minutes=1), timedelta(hours=6)):
        for s, (site, sensor) in enumerate(sensors):
            raw = 400 + (i * 11 + s * 5) % 300
            lines.append(
                f"temperature,site={site},sensor={sensor} celsius={raw / 20},raw={raw}i {ts}"
            )
    for i, ts in _every(timedelta(minutes=10), timedelta(hours=6)):
        state = ("idle", "heating", "cooling")[i % 3]
        door = "true" if i % 4 == 0 else "false"
        lines.append(f'status,site=north state="{state}",door_open={door} {ts}')
    return lines


def _calibration_lines() -> list[str]:
    return [
        f'calibration,sensor=t{n} offset={n * 0.125},by="tech {n}" {ts}'
        for n, ts in _every(timedelta(days=1), timedelta(days=3))
    ]

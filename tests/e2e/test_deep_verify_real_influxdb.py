"""Deep verification against a real influxd: the data inventory read from a real portable
backup's TSM files equals what influxd itself answers, and the sample backup's encodings are ones
influxd reads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiven_backup.verify.data_inventory import DataInventory, MeasurementKey
from aiven_backup.verify.manifest import parse_manifest
from aiven_backup.verify.metastore import check_metastore
from aiven_backup.verify.shard import verify_shard
from aiven_backup.verify.tar_index import TarMember
from local_runner.influxdb import InfluxServer, quote_ident
from local_runner.real_backup import seed_sample_data
from local_runner.sample_backup import SampleSeries, sample_backup_files
from tests.support.tsm import FileSource

SAMPLE_SERIES = (
    SampleSeries(b"cpu,host=a#!~#usage", timestamps="rle"),
    SampleSeries(b"cpu,host=a#!~#idle", timestamps="simple8b"),
    SampleSeries(b"cpu,host=b#!~#usage"),
    SampleSeries(b"disk,host=a,path=/#!~#full", kind="boolean", timestamps="simple8b"),
    SampleSeries(b"disk,host=b,path=/#!~#full", kind="boolean", timestamps="rle"),
)


def _deep_verify_dir(directory: Path) -> DataInventory:
    """Every shard file of a backup directory verified; the metastore checked too."""
    (manifest_path,) = directory.glob("*.manifest")
    manifest = parse_manifest(manifest_path.read_bytes(), str(manifest_path))
    check = check_metastore(
        (directory / manifest.meta_file_name).read_bytes(),
        manifest.files,
        limited=manifest.limited,
        location=str(directory),
    )
    assert check.without_file == ()
    inventory = DataInventory()
    for entry in manifest.files:
        source = FileSource(str(directory / entry.file_name))
        member = TarMember(name=entry.file_name, offset=0, size=source.size, type="file")
        inventory = inventory.merged(verify_shard(source, member, entry).data)
    return inventory


def _influxd_answers(server: InfluxServer) -> dict[MeasurementKey, tuple[int, int, int]]:
    """(points, first, last) per (database, policy, measurement), from COUNT, FIRST and LAST;
    points count every field value, as TSM stores them."""
    answers: dict[MeasurementKey, tuple[int, int, int]] = {}
    for db in server.databases():
        if db == "_internal":
            continue
        measurements = _column(server.query("SHOW MEASUREMENTS", db=db))
        for policy in server.retention_policies(db):
            for measurement in measurements:
                source = ".".join(quote_ident(p) for p in (db, policy.name, measurement))
                counts = _one_row(server, f"SELECT COUNT(*) FROM {source}", db)
                if counts is None:
                    continue  # the measurement has no point in this policy
                firsts, lasts = [], []
                for column in counts:
                    if column == "time" or not counts[column]:
                        continue
                    field = quote_ident(column.removeprefix("count_"))
                    firsts.append(_one_row(server, f"SELECT FIRST({field}) FROM {source}", db))
                    lasts.append(_one_row(server, f"SELECT LAST({field}) FROM {source}", db))
                points = sum(v for c, v in counts.items() if c != "time" and v)
                answers[db, policy.name, measurement] = (
                    points,
                    min(row["time"] for row in firsts if row is not None),
                    max(row["time"] for row in lasts if row is not None),
                )
    return answers


def _column(body: dict[str, Any]) -> list[str]:
    series = body["results"][0].get("series") or []
    return [row[0] for one in series for row in one["values"]]


def _one_row(server: InfluxServer, query: str, db: str) -> dict[str, Any] | None:
    body = server.query(query, db=db)
    series = body["results"][0].get("series")
    if not series:
        return None
    (row,) = series[0]["values"]
    return dict(zip(series[0]["columns"], row, strict=True))


def _inventory_answers(inventory: DataInventory) -> dict[MeasurementKey, tuple[int, int, int]]:
    return {
        key: (stats.points, stats.first_ns, stats.last_ns)
        for key, stats in inventory.measurements.items()
    }


@pytest.mark.influxdb
def test_the_inventory_of_a_real_backup_equals_count_first_and_last_from_influxd(
    source_influxd: InfluxServer, tmp_path: Path
) -> None:
    seeded = seed_sample_data(source_influxd)
    backup_dir = source_influxd.backup_portable(tmp_path / "backup")

    inventory = _deep_verify_dir(backup_dir)

    answers = _influxd_answers(source_influxd)
    assert _inventory_answers(inventory) == answers
    assert sorted({db for db, _, _ in answers}) == seeded.databases


@pytest.mark.influxdb
def test_the_sample_backups_encodings_are_read_back_by_influxd_with_the_inventorys_counts(
    target_influxd: InfluxServer, tmp_path: Path
) -> None:
    files = sample_backup_files(
        databases={"sample": ("autogen",)},
        shards_per_policy=2,
        series=SAMPLE_SERIES,
        points_per_series=2500,
    )
    backup_dir = tmp_path / "sample-backup"
    backup_dir.mkdir()
    for name, data in files.items():
        (backup_dir / name).write_bytes(data)
    inventory = _deep_verify_dir(backup_dir)

    target_influxd.restore_portable(backup_dir)

    assert _influxd_answers(target_influxd) == _inventory_answers(inventory)
    assert inventory.points == 2 * 5 * 2500


@pytest.mark.influxdb
def test_points_deleted_after_they_reached_a_tsm_file_are_not_counted(
    source_influxd: InfluxServer, tmp_path: Path
) -> None:
    """A DELETE on data already in a TSM file writes a tombstone, which the backup carries; the
    inventory applies it, as influxd does when it reads."""
    source_influxd.create_database("db")
    lines = [f"m,host=a value={n}i {1_700_000_000 + n}" for n in range(100)]
    lines += [f"m,host=b value={n}i {1_700_000_000 + 2 * n}" for n in range(100)]
    source_influxd.write("db", lines, precision="s")
    source_influxd.backup_portable(tmp_path / "before")  # snapshots the cache into a TSM file
    source_influxd.query(
        "DELETE FROM m WHERE time < '2023-11-14T22:14:00Z' AND host = 'a'", db="db"
    )
    backup_dir = source_influxd.backup_portable(tmp_path / "after")

    inventory = _deep_verify_dir(backup_dir)

    (manifest_path,) = backup_dir.glob("*.manifest")
    manifest = parse_manifest(manifest_path.read_bytes(), str(manifest_path))
    reports = [
        verify_shard(
            FileSource(str(backup_dir / e.file_name)),
            TarMember(e.file_name, 0, (backup_dir / e.file_name).stat().st_size, "file"),
            e,
        )
        for e in manifest.files
    ]
    assert sum(r.tombstone_files for r in reports) == sum(r.tombstones_applied for r in reports)
    assert sum(r.tombstone_files for r in reports) >= 1
    assert _inventory_answers(inventory) == _influxd_answers(source_influxd)
    assert inventory.measurements["db", "autogen", "m"].points == 60 + 100

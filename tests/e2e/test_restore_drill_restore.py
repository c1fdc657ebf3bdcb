"""The restore drill's restore and wait on a real influxd, checked against figures read point by
point from the server the backup was taken from (independent of the verification library)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from aiven_backup.verify.data_inventory import DataInventory
from local_runner.drill_backup import BackupContents, LocalFileRangeSource, read_contents
from local_runner.drill_report import EXIT_MISMATCH, EXIT_OK, Figures
from local_runner.influxdb import InfluxServer
from local_runner.real_backup import pack_backup_dir, seed_sample_data
from local_runner.restore_drill import WaitOptions, drill
from tests.support.drill import inventory_from_points, tampered

FIELDS_PER_SEEDED_LINE = 2  # every line seed_sample_data writes carries two fields
START_S = 1_709_251_200  # 2024-03-01T00:00:00Z


def backup_of(server: InfluxServer, tmp_path: Path, folder: str | None) -> Path:
    tar = tmp_path / "backup.tar"
    tar.write_bytes(pack_backup_dir(server.backup_portable(tmp_path / "portable"), folder))
    return tar


def contents_expecting(tar: Path, data: DataInventory) -> BackupContents:
    """The tar's own folder and shard count, with ``data`` as the figures to expect."""
    source = LocalFileRangeSource(tar)
    try:
        return replace(read_contents(source), data=data)
    finally:
        source.close()


@pytest.mark.influxdb
@pytest.mark.parametrize("folder", [None, "metrics-influx-backup"], ids=["at-root", "in-folder"])
def test_a_real_backup_restores_with_every_field_value_and_timestamp_and_exits_0(
    source_influxd: InfluxServer, tmp_path: Path, folder: str | None
) -> None:
    seeded = seed_sample_data(source_influxd)
    expected = inventory_from_points(source_influxd)
    tar = backup_of(source_influxd, tmp_path, folder)
    lines: list[str] = []

    result = drill(
        tar,
        contents_expecting(tar, expected),
        tmp_path / "drill",
        WaitOptions(timeout=60, poll_interval=0.2, stable_polls=2),
        progress=lines.append,
    )

    assert result.exit_status == EXIT_OK, "\n".join(lines)
    assert result.wait.settled
    assert [row.key for row in result.rows] == sorted(expected.measurements)
    assert all(row.ok for row in result.rows)
    # The drill compares field values (points x fields), as the inventory counts them.
    for (db, rp), lines_written in seeded.points.items():
        restored = sum(row.restored.points for row in result.rows if row.key[:2] == (db, rp))
        assert restored == lines_written * FIELDS_PER_SEEDED_LINE
    cpu = next(row for row in result.rows if row.key == ("telegraf", "autogen", "cpu"))
    assert cpu.restored == Figures(
        points=3072,
        first_ns=1_709_251_200 * 10**9,
        last_ns=(1_709_251_200 + 4 * 86_400 - 900) * 10**9,
    )
    assert any("imports the shards in the background" in line for line in lines)


@pytest.mark.influxdb
def test_first_and_last_span_every_field_of_a_measurement(
    source_influxd: InfluxServer, tmp_path: Path
) -> None:
    # "door" is written before and after every "temp" value: the measurement's first and last
    # are door's, its value count is both fields'.
    day = 86_400
    source_influxd.create_database("plant")
    source_influxd.write(
        "plant",
        [
            f"boiler door=true {START_S}",
            f"boiler temp=71.5 {START_S + day}",
            f"boiler temp=72.0,door=false {START_S + 2 * day}",
            f"boiler door=true {START_S + 3 * day}",
        ],
    )
    expected = inventory_from_points(source_influxd)
    tar = backup_of(source_influxd, tmp_path, None)

    result = drill(
        tar,
        contents_expecting(tar, expected),
        tmp_path / "drill",
        WaitOptions(timeout=60, poll_interval=0.2, stable_polls=2),
        progress=lambda line: None,
    )

    assert [(row.name, row.restored, row.ok) for row in result.rows] == [
        ("plant.autogen.boiler", Figures(5, START_S * 10**9, (START_S + 3 * day) * 10**9), True)
    ]
    assert result.exit_status == EXIT_OK


@pytest.mark.influxdb
def test_a_restore_short_of_the_backups_figures_is_reported_after_the_timeout_and_exits_1(
    source_influxd: InfluxServer, tmp_path: Path
) -> None:
    seed_sample_data(source_influxd)
    mem = ("telegraf", "autogen", "mem")
    expected = tampered(inventory_from_points(source_influxd), mem, extra_points=1)
    tar = backup_of(source_influxd, tmp_path, None)
    lines: list[str] = []

    result = drill(
        tar,
        contents_expecting(tar, expected),
        tmp_path / "drill",
        WaitOptions(timeout=2, poll_interval=0.2, stable_polls=2),
        progress=lines.append,
    )

    assert result.exit_status == EXIT_MISMATCH
    assert not result.wait.settled
    assert [row.key for row in result.rows if not row.ok] == [mem]
    bad = next(row for row in result.rows if row.key == mem)
    assert (bad.expected.points, bad.restored.points) == (1537, 1536)
    assert any("5 of 6 measurement(s) match" in line for line in lines)

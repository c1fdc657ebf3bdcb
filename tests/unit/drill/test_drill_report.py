"""The restore drill's verdict: per measurement, the backup's field values and first/last
timestamp against the restored influxd's, in a table, and the exit status."""

from __future__ import annotations

from local_runner.drill_report import (
    EXIT_MISMATCH,
    EXIT_OK,
    Figures,
    compare,
    exit_status,
    expected_figures,
    format_time,
    render_table,
    verdict,
)
from tests.support.drill import NS, inventory, stats

START = 1_709_251_200 * NS  # 2024-03-01T00:00:00Z
END = START + 4 * 86_400 * NS
CPU = ("telegraf", "autogen", "cpu")
MEM = ("telegraf", "autogen", "mem")
CALIBRATION = ("sensors", "autogen", "calibration")

BACKUP = inventory(
    {
        CPU: stats(3072, START, END, "usage_system", "usage_user"),
        MEM: stats(1536, START, END, "available_percent", "used"),
        CALIBRATION: stats(6, START, START + 2 * 86_400 * NS, "by", "offset"),
    }
)


def restored_like_backup() -> dict[tuple[str, str, str], Figures]:
    return {
        CPU: Figures(3072, START, END),
        MEM: Figures(1536, START, END),
        CALIBRATION: Figures(6, START, START + 2 * 86_400 * NS),
    }


def test_a_restore_with_the_backups_figures_matches_row_by_row_and_exits_0() -> None:
    rows = compare(expected_figures(BACKUP), restored_like_backup())

    assert [(row.name, row.ok) for row in rows] == [
        ("sensors.autogen.calibration", True),
        ("telegraf.autogen.cpu", True),
        ("telegraf.autogen.mem", True),
    ]
    assert exit_status(rows) == EXIT_OK
    assert verdict(rows) == "OK: all 3 measurement(s) restored with the backup's figures"


def test_the_expected_points_are_the_inventorys_field_values_per_measurement() -> None:
    assert expected_figures(BACKUP)[CPU] == Figures(points=3072, first_ns=START, last_ns=END)


def test_one_value_missing_is_a_mismatch_of_that_measurement_only_and_exits_1() -> None:
    restored = restored_like_backup() | {MEM: Figures(1535, START, END)}

    rows = compare(expected_figures(BACKUP), restored)

    assert [row.name for row in rows if not row.ok] == ["telegraf.autogen.mem"]
    assert exit_status(rows) == EXIT_MISMATCH
    assert verdict(rows) == "MISMATCH: 1 of 3 measurement(s) differ from the backup"


def test_a_last_timestamp_one_nanosecond_off_is_a_mismatch() -> None:
    restored = restored_like_backup() | {CPU: Figures(3072, START, END - 1)}

    rows = compare(expected_figures(BACKUP), restored)

    assert exit_status(rows) == EXIT_MISMATCH
    assert [row.name for row in rows if not row.ok] == ["telegraf.autogen.cpu"]


def test_a_measurement_missing_from_the_restore_counts_zero_restored() -> None:
    restored = restored_like_backup()
    del restored[CALIBRATION]

    rows = compare(expected_figures(BACKUP), restored)

    calibration = next(row for row in rows if row.key == CALIBRATION)
    assert calibration.restored == Figures(0)
    assert not calibration.ok


def test_a_measurement_the_backup_does_not_list_is_a_mismatch_too() -> None:
    restored = restored_like_backup() | {("telegraf", "autogen", "disk"): Figures(4, START, END)}

    rows = compare(expected_figures(BACKUP), restored)

    disk = next(row for row in rows if row.name == "telegraf.autogen.disk")
    assert disk.expected == Figures(0)
    assert exit_status(rows) == EXIT_MISMATCH


def test_nothing_on_either_side_is_no_success() -> None:
    rows = compare(expected_figures(inventory({})), {})

    assert rows == []
    assert exit_status(rows) == EXIT_MISMATCH


def test_the_table_shows_both_sides_and_the_result_of_each_measurement() -> None:
    restored = restored_like_backup() | {MEM: Figures(1535, START, END)}

    table = render_table(compare(expected_figures(BACKUP), restored)).splitlines()

    assert table[0].split("  ")[0] == "measurement"
    for header in ("expected points", "restored points", "expected first", "restored last"):
        assert header in table[0]
    assert table[0].endswith("result")
    mem = next(line for line in table if line.startswith("telegraf.autogen.mem"))
    assert mem.split() == [
        "telegraf.autogen.mem",
        "1,536",
        "1,535",
        "2024-03-01T00:00:00Z",
        "2024-03-05T00:00:00Z",
        "2024-03-01T00:00:00Z",
        "2024-03-05T00:00:00Z",
        "MISMATCH",
    ]
    assert table[1].split()[-1] == "OK"


def test_times_show_a_fraction_of_a_second_only_when_there_is_one() -> None:
    assert format_time(START) == "2024-03-01T00:00:00Z"
    assert format_time(START + 1) == "2024-03-01T00:00:00.000000001Z"
    assert format_time(START + 250_000_000) == "2024-03-01T00:00:00.25Z"
    assert format_time(None) == "-"

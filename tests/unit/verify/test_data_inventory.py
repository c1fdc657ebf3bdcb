"""The data inventory: per-measurement figures merged across shards, and its one-line summary."""

from datetime import UTC, datetime

from aiven_backup.verify.data_inventory import DataInventory, MeasurementStats, human_count

NS = 1_000_000_000
BACKUP_TIME = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NEWEST = int(datetime(2026, 12, 1, 3, 0, tzinfo=UTC).timestamp()) * NS
OLDEST = int(datetime(2023, 11, 14, tzinfo=UTC).timestamp()) * NS


def stats(
    points: int, first: int, last: int, *, series: int = 1, field: str = "value"
) -> MeasurementStats:
    return MeasurementStats(
        series=series, fields=(field,), blocks=1, points=points, first_ns=first, last_ns=last
    )


def test_merging_shards_sums_points_and_blocks_and_widens_the_time_range() -> None:
    older = DataInventory(
        {("telegraf", "autogen", "cpu"): stats(10, OLDEST, OLDEST + NS, series=3)}
    )
    newer = DataInventory(
        {("telegraf", "autogen", "cpu"): stats(5, NEWEST - NS, NEWEST, series=2, field="idle")}
    )

    merged = older.merged(newer).measurements[("telegraf", "autogen", "cpu")]

    assert merged == MeasurementStats(
        series=3, fields=("idle", "value"), blocks=2, points=15, first_ns=OLDEST, last_ns=NEWEST
    )


def test_the_summary_says_databases_measurements_points_range_and_age() -> None:
    inventory = DataInventory(
        {
            ("telegraf", "autogen", "cpu"): stats(1_000_000, OLDEST, NEWEST),
            ("telegraf", "one_week", "cpu"): stats(150_000, OLDEST, NEWEST - NS),
            ("metrics", "autogen", "disk"): stats(50_000, OLDEST, NEWEST - NS),
            ("metrics", "autogen", "mem"): stats(3, OLDEST, NEWEST - NS),
        }
    )

    text = inventory.summary_text(BACKUP_TIME)

    assert text == (
        "2 databases, 3 measurements, 1.2 M points, 2023-11-14 -> 2026-12-01 "
        "(newest 3 h before the backup)"
    )


def test_a_backup_without_points_says_so() -> None:
    assert DataInventory().summary_text(BACKUP_TIME) == "no points"
    assert DataInventory().newest_age_hours(BACKUP_TIME) is None


def test_the_inventory_survives_its_json_form() -> None:
    inventory = DataInventory({("db", "rp", "m"): stats(7, OLDEST, NEWEST, series=4)})

    assert DataInventory.from_dict(inventory.to_dict()) == inventory
    assert inventory.to_dict()["db"]["rp"]["m"]["last"] == "2026-12-01T03:00:00Z"


def test_counts_are_written_the_short_way() -> None:
    assert [human_count(n) for n in (999, 1_000, 1_234_567, 2_500_000_000)] == [
        "999",
        "1.0 k",
        "1.2 M",
        "2.5 G",
    ]

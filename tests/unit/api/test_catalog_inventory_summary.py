"""The catalogue's summary of an inventory file: what is there is shown, what is not is null."""

from __future__ import annotations

from typing import Any

from aiven_backup.api.catalog import inventory_summary

TODAYS_INVENTORY: dict[str, Any] = {
    "format": "influxdb-1.x-portable-backup",
    "stamp": "20261123T030000Z",
    "total_size": 20480,
    "database_count": 2,
    "shard_count": 6,
    "databases": {"telegraf": {"autogen": [1, 2]}, "metrics": {"autogen": [3], "one_week": [4]}},
    "files": [{"name": "x.s1.tar.gz", "kind": "shard", "size_in_tar": 10}],
}


def test_an_inventory_without_points_or_times_gives_databases_and_nulls() -> None:
    summary = inventory_summary(TODAYS_INVENTORY)

    assert summary == {
        "stamp": "20261123T030000Z",
        "databases": ["metrics", "telegraf"],
        "database_count": 2,
        "shard_count": 6,
        "total_size": 20480,
        "points": None,
        "first_point": None,
        "last_point": None,
    }


def test_totals_at_the_top_level_are_used_as_they_are() -> None:
    inventory = {
        **TODAYS_INVENTORY,
        "point_count": 1_200_000,
        "time_range": {"first": "2023-11-14T00:00:00Z", "last": "2026-12-01T21:00:00+00:00"},
    }

    summary = inventory_summary(inventory)

    assert summary["points"] == 1_200_000
    assert summary["first_point"] == "2023-11-14T00:00:00Z"
    assert summary["last_point"] == "2026-12-01T21:00:00Z"


def test_points_and_times_per_measurement_are_summed_and_spanned() -> None:
    # InfluxDB's own timestamps are epoch nanoseconds.
    inventory = {
        **TODAYS_INVENTORY,
        "measurements": {
            "telegraf": {
                "autogen": {
                    "cpu": {
                        "point_count": 1000,
                        "first_timestamp": 1_700_000_000_000_000_000,
                        "last_timestamp": 1_700_000_600_000_000_000,
                    },
                    "mem": {
                        "point_count": 500,
                        "first_timestamp": 1_699_999_000_000_000_000,
                        "last_timestamp": 1_700_000_100_000_000_000,
                    },
                }
            },
            "metrics": {"autogen": {"up": {"points": 7, "last_timestamp": 1_700_001_000}}},
        },
    }

    summary = inventory_summary(inventory)

    assert summary["points"] == 1507
    assert summary["first_point"] == "2023-11-14T21:56:40Z"  # mem, in ns
    assert summary["last_point"] == "2023-11-14T22:30:00Z"  # up, in seconds


def test_odd_values_are_ignored_rather_than_failing_the_catalogue() -> None:
    inventory = {
        "databases": ["a"],
        "point_count": "many",
        "first_timestamp": "yesterday",
        "last_timestamp": True,
    }

    summary = inventory_summary(inventory)

    assert summary["databases"] == ["a"]
    assert summary["database_count"] == 1
    assert (summary["points"], summary["first_point"], summary["last_point"]) == (None, None, None)

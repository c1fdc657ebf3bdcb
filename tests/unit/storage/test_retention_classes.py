"""Which retention class a backup gets, from the day of the service's previous success."""

from __future__ import annotations

from datetime import date

import pytest

from aiven_backup.storage.retention import RetentionClass, classify, is_successful
from aiven_backup.workflow.s3_layout import backup_key, parse_backup_key, service_prefix


@pytest.mark.parametrize(
    ("day", "previous", "expected"),
    [
        (date(2027, 3, 10), None, RetentionClass.YEARLY),  # the service's first backup
        (date(2027, 1, 1), date(2026, 12, 31), RetentionClass.YEARLY),
        (date(2027, 1, 5), date(2026, 12, 30), RetentionClass.YEARLY),  # 1 Jan to 4 Jan missed
        (date(2027, 2, 1), date(2027, 1, 31), RetentionClass.MONTHLY),
        (date(2027, 3, 2), date(2027, 2, 26), RetentionClass.MONTHLY),  # the 1st missed
        (date(2027, 3, 8), date(2027, 3, 7), RetentionClass.WEEKLY),  # Sunday -> Monday
        (date(2027, 3, 10), date(2027, 3, 5), RetentionClass.WEEKLY),  # Monday and Tuesday missed
        (date(2027, 3, 7), date(2027, 3, 1), RetentionClass.DAILY),  # same ISO week, Mon..Sun
        (date(2027, 3, 7), date(2027, 3, 7), RetentionClass.DAILY),  # a second run that day
        # 2027-01-03 (Sunday) is in ISO week 2026-W53 with 2026-12-28: a new year still wins.
        (date(2027, 1, 3), date(2026, 12, 28), RetentionClass.YEARLY),
        (date(2027, 1, 3), date(2027, 1, 2), RetentionClass.DAILY),
        # A month that starts mid-week: the 1st is monthly, its week's Monday came before.
        (date(2027, 12, 1), date(2027, 11, 29), RetentionClass.MONTHLY),
        (date(2027, 12, 6), date(2027, 12, 1), RetentionClass.WEEKLY),
    ],
)
def test_the_class_follows_from_the_previous_successful_backups_day(
    day: date, previous: date | None, expected: RetentionClass
) -> None:
    assert classify(day, previous) is expected


@pytest.mark.parametrize(
    ("tags", "counts"),
    [
        ({"backup-verified": "true", "retention-class": "daily"}, True),
        ({"backup-verified": "true", "retention-class": "yearly"}, True),
        ({"backup-verified": "true"}, False),  # never classified: not a finished run
        ({"backup-verified": "false", "retention-class": "failed"}, False),
        ({"backup-verified": "true", "retention-class": "failed"}, False),
        ({}, False),
    ],
)
def test_only_a_verified_and_classified_backup_counts_as_a_previous_success(
    tags: dict[str, str], counts: bool
) -> None:
    assert is_successful(tags) is counts


def test_a_backup_key_gives_back_its_service_folder_and_day() -> None:
    key = backup_key("influxdb-backups", "acme", "metrics-influx", "nightly-1", date(2027, 3, 7))

    assert parse_backup_key(key) == ("influxdb-backups/acme/metrics-influx/", date(2027, 3, 7))
    assert service_prefix("influxdb-backups/", "acme", "metrics-influx") == (
        "influxdb-backups/acme/metrics-influx/"
    )
    assert parse_backup_key("acme/svc/2027/03/07/n.tar") == ("acme/svc/", date(2027, 3, 7))
    assert service_prefix("", "acme", "svc") == "acme/svc/"


@pytest.mark.parametrize(
    "key",
    [
        "influxdb-backups/acme/svc/2027/03/07/n.tar.inventory.json",  # an inventory
        "influxdb-backups/acme/svc/2027/02/30/n.tar",  # no such day
        "influxdb-backups/acme/svc/2027/3/7/n.tar",  # not the layout
        "influxdb-backups/acme/svc/x2027/03/07/n.tar",
        "notes.txt",
    ],
)
def test_anything_else_in_the_bucket_is_not_a_backup_key(key: str) -> None:
    assert parse_backup_key(key) is None

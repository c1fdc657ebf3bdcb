"""Backup names are checked against Aiven's rule before any API call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiven_backup.backup_name import default_backup_name, validate_backup_name
from aiven_backup.errors import InvalidBackupName, InvalidExecutionInput


@pytest.mark.parametrize(
    "name",
    ["influx-2026-11-23T0300Z", "a", "A.b:c_d+e-f", "x" * 256, "0123456789"],
)
def test_accepts_names_aiven_allows(name: str) -> None:
    assert validate_backup_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason_fragment"),
    [
        ("my backup", "a space"),
        ("backup(1)", "'('"),
        ("daily/backup", "'/'"),
        ("", "must not be empty"),
        ("x" * 257, "257 characters"),
        ("sauvegarde-été", "'é'"),
        ("tab\tname", "'\\t'"),
        ("new\nline", "'\\n'"),
    ],
)
def test_rejects_names_aiven_refuses_naming_the_problem(name: str, reason_fragment: str) -> None:
    with pytest.raises(InvalidBackupName) as caught:
        validate_backup_name(name)

    assert reason_fragment in str(caught.value)
    assert caught.value.field == "backup_name"
    assert isinstance(caught.value, InvalidExecutionInput)


@pytest.mark.parametrize("value", [None, 42, b"bytes-name", ["a"]])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidBackupName, match="must be a string"):
        validate_backup_name(value)


def test_default_name_is_service_and_utc_stamp() -> None:
    moment = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)

    assert default_backup_name("metrics-influx", moment) == "metrics-influx-20261123T030000Z"


def test_default_name_converts_local_time_to_utc() -> None:
    paris_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 23, 4, 0, 0, tzinfo=paris_winter)

    assert default_backup_name("svc", moment) == "svc-20261123T030000Z"


def test_default_name_without_a_time_uses_now_and_validates() -> None:
    name = default_backup_name("metrics-influx")

    assert name.startswith("metrics-influx-")
    assert validate_backup_name(name) == name
    stamp = datetime.strptime(name.removeprefix("metrics-influx-"), "%Y%m%dT%H%M%SZ")
    assert abs(stamp.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=5)

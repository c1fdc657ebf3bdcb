"""The API core's small parts: execution names, result and cause views, configuration."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiven_backup.api.naming import (
    execution_name_for_key,
    is_execution_name,
    new_execution_name,
)
from aiven_backup.api.settings import ApiSettings
from aiven_backup.api.views import backup_result, iso_utc, readable_cause
from aiven_backup.errors import StackMisconfigured

NOW = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)
STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:InfluxBackup"


# --- execution names ---------------------------------------------------------------------------


def test_new_execution_names_carry_the_service_and_utc_stamp() -> None:
    name = new_execution_name("metrics-influx", NOW.astimezone(timezone(timedelta(hours=2))))

    assert re.fullmatch(r"api-metrics-influx-20261123T030000Z-[0-9a-f]{8}", name)


def test_new_execution_names_differ_within_one_second() -> None:
    assert new_execution_name("svc", NOW) != new_execution_name("svc", NOW)


@pytest.mark.parametrize(
    ("service", "kept"),
    [("a" * 64, "a" * 50), ("a" + "-" * 49 + "b" * 14, "a")],
)
def test_long_services_are_cut_so_names_fit_80_characters(service: str, kept: str) -> None:
    name = new_execution_name(service, NOW)

    assert len(name) <= 80
    assert name.startswith(f"api-{kept}-20261123T030000Z-")
    assert is_execution_name(name)


def test_an_idempotency_key_always_maps_to_the_same_name_and_hides_the_key() -> None:
    name = execution_name_for_key("customer-secret-ish-key")

    assert name == execution_name_for_key("customer-secret-ish-key")
    assert name != execution_name_for_key("another-key")
    assert re.fullmatch(r"api-[0-9a-f]{40}", name)
    assert "customer" not in name


@pytest.mark.parametrize(
    ("candidate", "valid"),
    [
        ("api-metrics-influx-20261123T030000Z-0a1b2c3d", True),
        ("9f1c3a52-7f0d-4d3e-b9a4-0c1d2e3f4a5b", True),
        ("x" * 80, True),
        ("x" * 81, False),
        ("", False),
        ("has space", False),
        ("a:b", False),
        ("a/b", False),
    ],
)
def test_ids_step_functions_could_not_have_are_recognised(candidate: str, valid: bool) -> None:
    assert is_execution_name(candidate) is valid


# --- views -------------------------------------------------------------------------------------


def test_the_result_picks_where_the_backup_landed_from_the_workflows_output() -> None:
    output = {
        "status": "SUCCEEDED",
        "bucket": "b",
        "key": "k.tar",
        "size": 10,
        "inventory_key": "k.tar.inventory.json",
        "inventory": {"databases": 1},
        "notification": {"subject": "s", "message": "m"},
    }

    assert backup_result(output) == {
        "bucket": "b",
        "key": "k.tar",
        "size": 10,
        "inventory_key": "k.tar.inventory.json",
        "inventory": {"databases": 1},
    }


def test_a_nested_inventory_summary_is_preferred_to_the_whole_inventory() -> None:
    output = {"bucket": "b", "inventory": {"summary": {"shards": 3}, "files": ["..."]}}

    assert backup_result(output) == {"bucket": "b", "inventory": {"shards": 3}}


def test_an_output_of_another_shape_is_shown_whole_and_a_non_object_not_at_all() -> None:
    assert backup_result({"location": "s3://b/k"}) == {"location": "s3://b/k"}
    assert backup_result("done") is None
    assert backup_result(None) is None


def test_a_lambda_cause_reads_as_its_error_message_with_credentials_masked() -> None:
    cause = json.dumps(
        {
            "errorType": "SourceRejected",
            "errorMessage": "403 from https://avnadmin:hunter2@backup.example.aivencloud.com/x",
            "stackTrace": ["..."],
        }
    )

    readable = readable_cause(cause)

    assert readable is not None
    assert readable.startswith("403 from https://avnadmin:")
    assert "hunter2" not in readable
    assert "stackTrace" not in readable


def test_a_plain_cause_is_kept_and_a_missing_one_stays_missing() -> None:
    assert readable_cause("States.Timeout after 86400 s") == "States.Timeout after 86400 s"
    assert readable_cause(None) is None


def test_times_are_utc_iso_with_milliseconds() -> None:
    local = datetime(2026, 11, 23, 4, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))

    assert iso_utc(local) == "2026-11-23T03:00:00.123Z"
    assert iso_utc(None) is None


# --- configuration -----------------------------------------------------------------------------


def test_settings_come_from_the_functions_environment() -> None:
    settings = ApiSettings.from_env(
        {
            "STATE_MACHINE_ARN": STATE_MACHINE,
            "LOCK_TABLE_NAME": "locks",
            "DEFAULT_PROJECT": "acme",
            "DEFAULT_SERVICE": "metrics-influx",
        }
    )

    assert settings.state_machine_arn == STATE_MACHINE
    assert settings.lock_table_name == "locks"
    assert settings.input_defaults.project == "acme"
    assert settings.input_defaults.service == "metrics-influx"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"LOCK_TABLE_NAME": "locks"}, "STATE_MACHINE_ARN is not set"),
        ({"STATE_MACHINE_ARN": STATE_MACHINE}, "LOCK_TABLE_NAME is not set"),
        (
            {"STATE_MACHINE_ARN": "InfluxBackup", "LOCK_TABLE_NAME": "locks"},
            "is not a state machine ARN",
        ),
        (
            {"STATE_MACHINE_ARN": STATE_MACHINE, "LOCK_TABLE_NAME": "l", "DEFAULT_MODE": "x"},
            "DEFAULT_MODE",
        ),
    ],
)
def test_a_misconfigured_stack_is_named_as_such(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(StackMisconfigured, match=fragment):
        ApiSettings.from_env(env)

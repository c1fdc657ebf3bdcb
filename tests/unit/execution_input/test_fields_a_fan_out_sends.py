"""The fields a fan-out adds to each run's input: notify, and the parent's ARN for the console."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.workflow.execution_input import InputDefaults, parse_execution_input

NOW = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)
DEFAULTS = InputDefaults(project="acme", service="metrics-influx")
PARENT = "arn:aws:states:us-east-1:123456789012:execution:influxdb-backup-fanout:nightly"


def test_notify_false_is_kept_and_shown_by_to_dict() -> None:
    parsed = parse_execution_input({"notify": False}, DEFAULTS, now=NOW)

    assert parsed.notify is False
    assert parsed.to_dict()["notify"] is False


def test_notify_defaults_to_true_and_stays_out_of_to_dict() -> None:
    parsed = parse_execution_input({}, DEFAULTS, now=NOW)

    assert parsed.notify is True
    assert "notify" not in parsed.to_dict()


def test_notify_must_be_a_boolean() -> None:
    with pytest.raises(InvalidExecutionInput) as caught:
        parse_execution_input({"notify": "false"}, DEFAULTS, now=NOW)

    assert caught.value.field == "notify"


def test_the_parent_execution_id_step_functions_links_by_is_accepted_and_ignored() -> None:
    with_parent = parse_execution_input(
        {"service": "influx-a", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": PARENT},
        DEFAULTS,
        now=NOW,
    )

    assert with_parent == parse_execution_input({"service": "influx-a"}, DEFAULTS, now=NOW)


@pytest.mark.parametrize("field", ["services", "projects"])
def test_many_services_are_refused_with_the_fan_out_named(field: str) -> None:
    with pytest.raises(InvalidExecutionInput) as caught:
        parse_execution_input({field: "*"}, DEFAULTS, now=NOW)

    assert caught.value.field == field
    assert "FanOutStateMachineArn" in caught.value.reason

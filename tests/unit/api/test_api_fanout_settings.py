"""The API function's FANOUT_STATE_MACHINE_ARN: optional, and checked when given."""

from __future__ import annotations

import pytest

from aiven_backup.api.settings import ApiSettings
from aiven_backup.errors import StackMisconfigured

ENV = {
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:influxdb-backup",
    "LOCK_TABLE_NAME": "locks",
}
FANOUT = "arn:aws:states:us-east-1:123456789012:stateMachine:influxdb-backup-fanout"


def test_the_fan_out_arn_is_read_when_given() -> None:
    settings = ApiSettings.from_env({**ENV, "FANOUT_STATE_MACHINE_ARN": FANOUT})

    assert settings.fanout_state_machine_arn == FANOUT


def test_without_it_the_api_backs_up_one_service_at_a_time() -> None:
    assert ApiSettings.from_env(ENV).fanout_state_machine_arn == ""


def test_a_malformed_fan_out_arn_is_a_deployment_mistake_named_as_such() -> None:
    with pytest.raises(StackMisconfigured, match="FANOUT_STATE_MACHINE_ARN"):
        ApiSettings.from_env({**ENV, "FANOUT_STATE_MACHINE_ARN": "influxdb-backup-fanout"})

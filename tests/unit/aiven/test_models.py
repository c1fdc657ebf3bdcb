"""Aiven's answers are parsed leniently, but a missing required key is named."""

from __future__ import annotations

from typing import Any

import pytest

from aiven_backup.aiven import BackupTask, Service
from aiven_backup.errors import AivenMalformedResponse

SERVICE_BODY: dict[str, Any] = {
    "service_name": "metrics-influx",
    "service_type": "influxdb",
    "state": "RUNNING",
    "project_vpc_id": None,
    "user_config": {"public_access": {"user_backup": True}},
    "connection_info": {"user_backup_uri": "https://u:secret-pw@h.aivencloud.com:1"},
    "service_uri_params": {"host": "h"},
    "components": [{"component": "user_backup", "host": "h"}, "not-a-mapping"],
    "some_future_key": {"ignored": True},
}


def test_service_from_api_keeps_what_matters_and_ignores_the_rest() -> None:
    service = Service.from_api("acme", SERVICE_BODY)

    assert service.full_name == "acme/metrics-influx"
    assert (service.service_type, service.state, service.in_vpc) == ("influxdb", "RUNNING", False)
    assert service.connection_info["user_backup_uri"].endswith("h.aivencloud.com:1")
    assert service.components == ({"component": "user_backup", "host": "h"},)


def test_service_repr_hides_connection_details() -> None:
    assert "secret-pw" not in repr(Service.from_api("acme", SERVICE_BODY))


def test_optional_parts_may_be_missing_or_null() -> None:
    body = {
        "service_name": "s",
        "service_type": "influxdb",
        "state": "POWEROFF",
        "user_config": None,
    }

    service = Service.from_api("acme", body)

    assert (service.user_config, service.connection_info, service.components) == ({}, {}, ())
    assert service.project_vpc_id is None


@pytest.mark.parametrize("missing", ["service_name", "service_type", "state"])
def test_a_service_without_a_required_key_is_malformed(missing: str) -> None:
    body = {key: value for key, value in SERVICE_BODY.items() if key != missing}

    with pytest.raises(AivenMalformedResponse, match=missing):
        Service.from_api("acme", body)


@pytest.mark.parametrize(
    ("key", "value"), [("user_config", "x"), ("connection_info", []), ("components", {})]
)
def test_a_service_part_of_the_wrong_type_is_malformed(key: str, value: object) -> None:
    with pytest.raises(AivenMalformedResponse, match=key):
        Service.from_api("acme", {**SERVICE_BODY, key: value})


def test_a_running_task_is_not_finished() -> None:
    task = BackupTask.from_api(
        {"task_id": "t1", "task_type": "influxdb_create_user_backup", "success": None, "x": 1}
    )

    assert (task.finished, task.succeeded, task.result) == (False, False, "")
    assert task.task_type == "influxdb_create_user_backup"


@pytest.mark.parametrize(
    ("fields", "finished", "succeeded"),
    [
        ({"success": True}, True, True),
        ({"success": False, "result": "disk full"}, True, False),
        ({"success": None, "task_status": "DONE"}, True, True),
        ({"success": False, "task_status": "DONE"}, True, False),
        ({"success": None, "task_status": "RUNNING"}, False, False),
        ({}, False, False),
    ],
)
def test_task_outcome_uses_success_and_task_status(
    fields: dict[str, Any], finished: bool, succeeded: bool
) -> None:
    task = BackupTask.from_api({"task_id": "t1", **fields})

    assert (task.finished, task.succeeded) == (finished, succeeded)


def test_task_keeps_result_codes_and_tolerates_odd_ones() -> None:
    task = BackupTask.from_api(
        {"task_id": "t1", "success": False, "result_codes": [{"code": "x", "dbname": "db"}, 3]}
    )

    assert task.result_codes == ({"code": "x", "dbname": "db"},)


@pytest.mark.parametrize(
    "body",
    [{"success": True}, {"task_id": "", "success": True}, {"task_id": "t", "success": "yes"}],
)
def test_a_task_without_id_or_with_a_strange_success_is_malformed(body: dict[str, Any]) -> None:
    with pytest.raises(AivenMalformedResponse):
        BackupTask.from_api(body)

"""Every Aiven error answer becomes its named exception, over real HTTP against the simulator."""

from __future__ import annotations

import pytest

from aiven_backup.aiven import AivenClient
from aiven_backup.errors import (
    AivenApiError,
    AivenForbidden,
    AivenMalformedResponse,
    AivenRequestRejected,
    AivenUnauthorized,
    BackupError,
    BackupTaskNotFound,
    InvalidBackupName,
    InvalidExecutionInput,
    ProjectNotFound,
    ServiceNotFound,
    ServiceNotPowered,
)
from local_runner.aiven_simulator import AivenSimulator, aiven_error_body
from tests.support.aiven import PROJECT, SERVICE, TOKEN, ClientFactory

EOL_NOTE = "Aiven for InfluxDB reached end of life on 2025-04-30"


def assert_no_secret(error: BaseException) -> None:
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)


def test_reads_a_service_with_its_secrets(sim: AivenSimulator, client: AivenClient) -> None:
    svc = sim.add_service(PROJECT, SERVICE, vpc=True)

    service = client.get_service(PROJECT, SERVICE)

    assert (service.project, service.name, service.service_type, service.state) == (
        PROJECT,
        SERVICE,
        "influxdb",
        "RUNNING",
    )
    assert service.project_vpc_id is not None
    assert svc.password in service.connection_info["user_backup_uri"]
    assert svc.password not in repr(service)
    assert sim.requests == [("GET", f"/v1/project/{PROJECT}/service/{SERVICE}")]


def test_lists_every_service_of_a_project(sim: AivenSimulator, client: AivenClient) -> None:
    sim.add_service(PROJECT, "influx-a")
    sim.add_service(PROJECT, "pg-b", service_type="pg")
    sim.add_service("other", "influx-c")

    services = client.list_services(PROJECT)

    assert sorted((s.name, s.service_type) for s in services) == [
        ("influx-a", "influxdb"),
        ("pg-b", "pg"),
    ]


def test_creates_a_backup_task_and_polls_it_until_done(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.add_service(PROJECT, SERVICE, polls_until_done=2)

    created = client.create_user_backup(PROJECT, SERVICE, "nightly-1")
    first = client.get_task(PROJECT, SERVICE, created.task_id)
    second = client.get_task(PROJECT, SERVICE, created.task_id)

    assert created.success is None
    assert not created.finished
    assert created.task_type.endswith("create_user_backup")  # prefixed by Aiven: not compared
    assert (first.finished, first.succeeded) == (False, False)
    assert (second.finished, second.succeeded) == (True, True)
    assert second.task_id == created.task_id


def test_a_failed_task_reports_aivens_result(sim: AivenSimulator, client: AivenClient) -> None:
    sim.add_service(PROJECT, SERVICE, task_outcome="failure", failure_result="disk full")

    task = client.create_user_backup(PROJECT, SERVICE, "nightly-1")
    polled = client.get_task(PROJECT, SERVICE, task.task_id)

    assert (polled.finished, polled.succeeded, polled.success) == (True, False, False)
    assert polled.result == "disk full"


def test_wrong_token_is_unauthorized(sim: AivenSimulator, make_client: ClientFactory) -> None:
    sim.add_service(PROJECT, SERVICE)
    client = make_client(token="not-the-token")

    with pytest.raises(AivenUnauthorized) as caught:
        client.get_service(PROJECT, SERVICE)

    error = caught.value
    assert (error.status, error.error_code) == (401, None)
    assert "Invalid token" in str(error)
    assert "Secrets Manager" in str(error)
    assert "not-the-token" not in str(error)
    assert len(sim.requests) == 1


@pytest.mark.parametrize(
    ("error_code", "advice"),
    [
        ("permission_denied", "lacks permission"),
        ("api_client_ip_allowlist_blocks_caller", "api_client_ip_allowlist_blocks_caller"),
    ],
)
def test_forbidden_names_the_project_and_the_cause(
    sim: AivenSimulator, client: AivenClient, error_code: str, advice: str
) -> None:
    sim.add_service(PROJECT, SERVICE)
    sim.faults.api_status(403, body=aiven_error_body(403, "Forbidden", error_code))

    with pytest.raises(AivenForbidden) as caught:
        client.get_service(PROJECT, SERVICE)

    assert (caught.value.status, caught.value.error_code) == (403, error_code)
    assert f"project '{PROJECT}'" in str(caught.value)
    assert advice in str(caught.value)
    assert_no_secret(caught.value)
    assert len(sim.requests) == 1


def test_ip_allowlist_is_recognised_from_the_message_alone(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.add_service(PROJECT, SERVICE)
    body = aiven_error_body(403, "Denied: api_client_ip_allowlist_blocks_caller")
    sim.faults.api_status(403, body=body)

    with pytest.raises(AivenForbidden, match="egress IP address"):
        client.get_service(PROJECT, SERVICE)


def test_missing_project_is_project_not_found(sim: AivenSimulator, client: AivenClient) -> None:
    with pytest.raises(ProjectNotFound) as on_get:
        client.get_service("no-such-project", SERVICE)
    with pytest.raises(ProjectNotFound) as on_list:
        client.list_services("no-such-project")

    for caught in (on_get, on_list):
        assert (caught.value.status, caught.value.error_code) == (404, "project_does_not_exist")
        assert "'no-such-project'" in str(caught.value)


def test_missing_service_says_influxdb_reached_end_of_life(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.add_project(PROJECT)

    with pytest.raises(ServiceNotFound) as caught:
        client.get_service(PROJECT, SERVICE)

    error = caught.value
    assert (error.status, error.error_code) == (404, "service_does_not_exist")
    assert f"'{PROJECT}/{SERVICE}' was not found" in str(error)
    assert EOL_NOTE in str(error)


def test_a_service_deleted_while_a_task_runs_is_service_not_found(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.add_service(PROJECT, SERVICE, polls_until_done=5)
    task = client.create_user_backup(PROJECT, SERVICE, "nightly-1")
    sim.remove_service(PROJECT, SERVICE)

    with pytest.raises(ServiceNotFound, match=EOL_NOTE):
        client.get_task(PROJECT, SERVICE, task.task_id)


def test_an_unknown_task_is_backup_task_not_found(sim: AivenSimulator, client: AivenClient) -> None:
    sim.add_service(PROJECT, SERVICE)

    with pytest.raises(BackupTaskNotFound) as caught:
        client.get_task(PROJECT, SERVICE, "0b9a2f5e-0000-4000-8000-000000000000")

    assert "0b9a2f5e-0000-4000-8000-000000000000" in str(caught.value)
    assert f"'{PROJECT}/{SERVICE}'" in str(caught.value)


def test_a_powered_off_service_is_service_not_powered(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.add_service(PROJECT, SERVICE, state="POWEROFF")

    with pytest.raises(ServiceNotPowered) as caught:
        client.create_user_backup(PROJECT, SERVICE, "nightly-1")

    assert (caught.value.status, caught.value.error_code) == (409, "not_powered")
    assert "--power-on" in str(caught.value)
    assert len(sim.requests) == 1


@pytest.mark.parametrize("status", [400, 409, 422, 501])
def test_other_client_errors_and_501_are_rejected_at_once(
    sim: AivenSimulator, client: AivenClient, waits: list[float], status: int
) -> None:
    sim.add_service(PROJECT, SERVICE)
    sim.faults.api_status(status, count=5, body=aiven_error_body(status, "nope", "some_new_code"))

    with pytest.raises(AivenRequestRejected) as caught:
        client.get_service(PROJECT, SERVICE)

    assert (caught.value.status, caught.value.error_code) == (status, "some_new_code")
    assert len(sim.requests) == 1
    assert waits == []


def test_a_task_on_a_non_influx_service_is_rejected(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.add_service(PROJECT, SERVICE, service_type="pg")

    with pytest.raises(AivenRequestRejected) as caught:
        client.create_user_backup(PROJECT, SERVICE, "nightly-1")

    assert caught.value.error_code == "invalid_service_type"


@pytest.mark.parametrize(
    "body", ["<html><body>502 Bad Gateway</body></html>", [1, 2], {"unexpected": True}]
)
def test_a_2xx_that_is_not_aivens_shape_is_malformed(
    sim: AivenSimulator, client: AivenClient, waits: list[float], body: object
) -> None:
    sim.add_service(PROJECT, SERVICE)
    sim.faults.api_status(200, body=body)

    with pytest.raises(AivenMalformedResponse):
        client.get_service(PROJECT, SERVICE)

    assert len(sim.requests) == 1
    assert waits == []


def test_a_service_without_required_keys_is_malformed(
    sim: AivenSimulator, client: AivenClient
) -> None:
    sim.faults.api_status(200, body={"service": {"service_name": SERVICE, "state": "RUNNING"}})

    with pytest.raises(AivenMalformedResponse, match="service_type"):
        client.get_service(PROJECT, SERVICE)


@pytest.mark.parametrize(
    "name", ["my backup", "backup(1)", "daily/backup", "", "x" * 257, "sauvegarde-été"]
)
def test_a_bad_backup_name_fails_before_any_request(
    sim: AivenSimulator, client: AivenClient, name: str
) -> None:
    sim.add_service(PROJECT, SERVICE)

    with pytest.raises(InvalidBackupName):
        client.create_user_backup(PROJECT, SERVICE, name)

    assert sim.requests == []


def test_empty_project_or_service_fails_before_any_request(
    sim: AivenSimulator, client: AivenClient
) -> None:
    with pytest.raises(InvalidExecutionInput, match="project"):
        client.get_service("", SERVICE)
    with pytest.raises(InvalidExecutionInput, match="service"):
        client.get_service(PROJECT, " ")

    assert sim.requests == []


def test_path_segments_are_percent_encoded(sim: AivenSimulator, client: AivenClient) -> None:
    odd_project, odd_service = "team a/b?c", "svc#1%"
    sim.add_service(odd_project, odd_service)

    service = client.get_service(odd_project, odd_service)

    assert (service.project, service.name) == (odd_project, odd_service)
    assert sim.requests == [("GET", "/v1/project/team%20a%2Fb%3Fc/service/svc%231%25")]


def test_the_token_is_in_no_error_and_no_repr(sim: AivenSimulator, client: AivenClient) -> None:
    sim.add_project(PROJECT)
    errors: list[BackupError] = []
    for call in (
        lambda: client.get_service(PROJECT, SERVICE),
        lambda: client.list_services("nope"),
        lambda: client.get_task(PROJECT, SERVICE, "t"),
    ):
        with pytest.raises(AivenApiError) as caught:
            call()
        errors.append(caught.value)

    assert TOKEN not in repr(client)
    for error in errors:
        assert_no_secret(error)

"""The simulator's API speaks Aiven's shapes, so clients tested against it meet the real ones."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local_runner.aiven_simulator import AivenSimulator
from tests.support.aiven import PROJECT, SERVICE, TOKEN

SERVICE_PATH = f"/v1/project/{PROJECT}/service/{SERVICE}"


@pytest.fixture
def api(sim: AivenSimulator) -> Iterator[httpx.Client]:
    sim.add_service(PROJECT, SERVICE)
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": f"aivenv1 {TOKEN}"}) as c:
        yield c


def test_a_wrong_token_gets_aivens_401_body(sim: AivenSimulator, api: httpx.Client) -> None:
    response = api.get(SERVICE_PATH, headers={"Authorization": "aivenv1 wrong"})

    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "Invalid token", "status": 401}],
        "message": "Invalid token",
    }


def test_bearer_is_accepted_like_aivenv1(api: httpx.Client) -> None:
    response = api.get(SERVICE_PATH, headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200


def test_secrets_are_redacted_unless_asked_for(sim: AivenSimulator, api: httpx.Client) -> None:
    password = sim.service(PROJECT, SERVICE).password

    plain = api.get(SERVICE_PATH).json()["service"]
    secret = api.get(SERVICE_PATH, params={"include_secrets": "true"}).json()["service"]
    listed = api.get(f"/v1/project/{PROJECT}/service").json()["services"]

    assert "<redacted>" in plain["connection_info"]["user_backup_uri"]
    assert password in secret["connection_info"]["user_backup_uri"]
    assert password not in str(listed)


def test_the_task_answer_has_aivens_fields_and_extra_ones(api: httpx.Client) -> None:
    created = api.post(
        f"{SERVICE_PATH}/task",
        json={"task_type": "create_user_backup", "create_user_backup": {"backup_name": "b1"}},
    ).json()

    task = created["task"]
    assert created["message"] == "created"
    assert {"task_id", "task_type", "create_time", "success", "result"} <= task.keys()
    assert task["success"] is None
    assert "simulator_note" in task


def test_a_bad_backup_name_is_a_400(api: httpx.Client) -> None:
    response = api.post(
        f"{SERVICE_PATH}/task",
        json={"task_type": "create_user_backup", "create_user_backup": {"backup_name": "a b"}},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == 400


def test_unknown_endpoints_are_404_and_recorded(sim: AivenSimulator, api: httpx.Client) -> None:
    response = api.get("/v1/project/acme/nonsense")

    assert response.status_code == 404
    assert sim.requests == [("GET", "/v1/project/acme/nonsense")]


def test_faults_fire_only_on_matching_paths(sim: AivenSimulator, api: httpx.Client) -> None:
    task_id = api.post(
        f"{SERVICE_PATH}/task",
        json={"task_type": "create_user_backup", "create_user_backup": {"backup_name": "b1"}},
    ).json()["task"]["task_id"]
    task_path = f"{SERVICE_PATH}/task/{task_id}"
    sim.faults.api_status(500, count=1, paths="*/task/*")

    service = api.get(SERVICE_PATH)
    task = api.get(task_path)
    task_again = api.get(task_path)

    assert (service.status_code, task.status_code, task_again.status_code) == (200, 500, 200)


def test_cleared_faults_do_not_fire(sim: AivenSimulator, api: httpx.Client) -> None:
    sim.faults.api_status(503, count=5)
    sim.faults.drop_download_after(10)
    sim.faults.trickle(1.0)

    sim.faults.clear()

    assert api.get(SERVICE_PATH).status_code == 200
    assert sim.faults.take_download_fault() is None
    assert sim.faults.trickle_bytes_per_second is None

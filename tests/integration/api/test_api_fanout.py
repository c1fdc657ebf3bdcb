"""POST /backups for many services starts the fan-out; GET /backups/{id} shows its results.

A stand-in fan-out state machine answers with a summary of the real shape (two services, one
SKIPPED because another run holds its lock): the real one runs in tests/integration/fanout/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from aiven_backup.api import BackupsApi
from aiven_backup.api.executions import Executions
from tests.support.api import (
    BACKUPS_URL,
    FANOUT_STAND_IN_NAME,
    ROLE_ARN,
    HttpAnswer,
    StandIn,
    hold_lock,
    load_event,
    with_backup_id,
    with_body,
    with_header,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

CallApi = Callable[[dict[str, Any]], HttpAnswer]
InstallCore = Callable[..., BackupsApi]
SUMMARY = {
    "status": "SKIPPED",
    "kind": "summary",
    "projects": ["acme"],
    "bucket": "backups-test",
    "counts": {"SUCCEEDED": 1, "FAILED": 0, "SKIPPED": 1},
    "results": [
        {
            "service": "metrics-influx",
            "project": "acme",
            "status": "SKIPPED",
            "key": None,
            "size": None,
            "reason": "BackupAlreadyRunning",
            "detail": "acme/metrics-influx already has a backup in progress",
            "execution": "metrics-influx-0123456789abcdef",
        },
        {
            "service": "other-influx",
            "project": "acme",
            "status": "SUCCEEDED",
            "key": "influxdb-backups/acme/other-influx/2026/11/23/other-influx.tar",
            "size": 1024,
            "execution": "other-influx-0123456789abcdef",
        },
    ],
    "notification": {"subject": "Backups acme: 1 SUCCEEDED, 1 SKIPPED", "attributes": {}},
}
FANOUT_STAND_IN = {
    "StartAt": "Done",
    "States": {"Done": {"Type": "Pass", "Result": SUMMARY, "End": True}},
}


@pytest.fixture
def fanout_arn(sfn: SFNClient) -> str:
    return sfn.create_state_machine(
        name=FANOUT_STAND_IN_NAME, definition=json.dumps(FANOUT_STAND_IN), roleArn=ROLE_ARN
    )["stateMachineArn"]


@pytest.fixture
def with_fanout(install_core: InstallCore, sfn: SFNClient, fanout_arn: str) -> StandIn:
    install_core(fanout=Executions(sfn, fanout_arn))
    return StandIn(sfn, fanout_arn)


@pytest.fixture
def many_event() -> dict[str, Any]:
    return load_event("post_backup_many.json")


def test_many_services_start_one_fan_out_execution_and_answer_202(
    call_api: CallApi, many_event: dict[str, Any], with_fanout: StandIn, stand_in: StandIn
) -> None:
    answer = call_api(many_event)

    assert answer.status == 202
    assert answer.body["kind"] == "fanout"
    execution_id = answer.body["execution_id"]
    assert execution_id.startswith("api-fanout-")
    assert answer.body["execution_arn"].endswith(f":InfluxBackupFanOutStandIn:{execution_id}")
    assert answer.headers["Location"] == f"{BACKUPS_URL}/{execution_id}"
    sent = {"services": ["metrics-influx", "other-influx"], "mode": "request"}
    assert answer.body["input"] == sent
    assert with_fanout.execution_input(answer.body["execution_arn"]) == sent
    assert stand_in.execution_names() == []  # the single-service machine was not started


def test_a_service_already_being_backed_up_is_no_409_for_the_whole_call(
    call_api: CallApi,
    many_event: dict[str, Any],
    with_fanout: StandIn,
    dynamodb: DynamoDBClient,
    stand_in: StandIn,
) -> None:
    running = stand_in.start("nightly-run", backup_name="slow")
    hold_lock(dynamodb, "acme/metrics-influx", running)

    answer = call_api(many_event)

    assert answer.status == 202
    assert answer.body["kind"] == "fanout"


def test_the_fan_outs_per_service_results_are_shown_once_it_finished(
    call_api: CallApi, many_event: dict[str, Any], with_fanout: StandIn
) -> None:
    started = call_api(many_event).body
    assert with_fanout.wait_until_finished(started["execution_arn"]) == "SUCCEEDED"

    answer = call_api(with_backup_id(load_event("get_backup.json"), started["execution_id"]))

    assert answer.status == 200
    assert answer.body["kind"] == "fanout"
    assert answer.body["status"] == "SUCCEEDED"
    result = answer.body["result"]
    assert result["counts"] == SUMMARY["counts"]
    assert result["results"] == SUMMARY["results"]
    skipped = result["results"][0]
    assert (skipped["service"], skipped["status"], skipped["reason"]) == (
        "metrics-influx",
        "SKIPPED",
        "BackupAlreadyRunning",
    )


def test_an_empty_body_starts_the_fan_out_when_the_stacks_service_is_a_list(
    monkeypatch: pytest.MonkeyPatch,
    call_api: CallApi,
    install_core: InstallCore,
    sfn: SFNClient,
    fanout_arn: str,
) -> None:
    monkeypatch.setenv("DEFAULT_SERVICE", "*")
    install_core(fanout=Executions(sfn, fanout_arn))

    answer = call_api(with_body(load_event("post_backup.json"), ""))

    assert answer.status == 202
    assert answer.body["kind"] == "fanout"
    assert answer.body["input"] == {}


def test_a_bad_fan_out_body_is_400_naming_the_field(
    call_api: CallApi, many_event: dict[str, Any], with_fanout: StandIn
) -> None:
    answer = call_api(with_body(many_event, json.dumps({"services": ["ok-1", "Not Ok"]})))

    assert answer.status == 400
    assert answer.body["error"] == "InvalidExecutionInput"
    assert answer.body["field"] == "services[1]"
    assert with_fanout.execution_names() == []


def test_an_idempotency_key_replays_the_same_fan_out_and_refuses_another_body(
    call_api: CallApi, many_event: dict[str, Any], with_fanout: StandIn
) -> None:
    keyed = with_header(many_event, "Idempotency-Key", "nightly-2026-11-23")

    first = call_api(keyed)
    again = call_api(keyed)
    other = call_api(with_body(keyed, json.dumps({"services": "*"})))

    assert first.status == again.status == 202
    assert again.body["execution_id"] == first.body["execution_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status == 422
    assert len(with_fanout.execution_names()) == 1

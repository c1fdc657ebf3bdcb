"""POST /backups: start a backup, refuse bad input or a second run per service, retry safely."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from tests.support.api import (
    BACKUPS_URL,
    CallApi,
    InstallCore,
    StandIn,
    hold_lock,
    load_event,
    with_body,
    with_header,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

API_NAME = re.compile(r"api-metrics-influx-(\d{8}T\d{6}Z)-[0-9a-f]{8}")


@pytest.fixture
def post_event() -> dict[str, Any]:
    return load_event("post_backup.json")


# --- 202 ---------------------------------------------------------------------------------------


def test_a_valid_body_starts_an_execution_and_answers_202_with_where_to_follow_it(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    answer = call_api(post_event)

    assert answer.status == 202
    execution_id = answer.body["execution_id"]
    stamp = API_NAME.fullmatch(execution_id)
    assert stamp is not None
    assert len(execution_id) <= 80
    assert answer.body["status_url"] == f"{BACKUPS_URL}/{execution_id}"
    assert answer.headers["Location"] == f"{BACKUPS_URL}/{execution_id}"
    assert "Idempotent-Replayed" not in answer.headers
    assert answer.body["execution_arn"].endswith(f":execution:InfluxBackupStandIn:{execution_id}")
    resolved = {
        "project": "acme",
        "service": "metrics-influx",
        "backup_name": f"metrics-influx-{stamp.group(1)}",
        "mode": "request",
        "access_route": "auto",
        "s3_prefix": "influxdb-backups",
    }
    assert answer.body["input"] == resolved
    assert stand_in.execution_input(answer.body["execution_arn"]) == resolved
    assert stand_in.execution_names() == [execution_id]


def test_mode_verify_starts_the_verification_of_an_object_already_in_the_bucket(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    body = {"mode": "verify", "s3_key": "by-hand/metrics-influx-old.tar"}

    answer = call_api(with_body(post_event, json.dumps(body)))

    assert answer.status == 202
    started = stand_in.execution_input(answer.body["execution_arn"])
    assert started["mode"] == "verify"
    assert started["s3_key"] == "by-hand/metrics-influx-old.tar"
    assert started["backup_name"] == "metrics-influx-old"


def test_mode_verify_without_an_object_is_refused_naming_the_field(
    call_api: CallApi, post_event: dict[str, Any]
) -> None:
    answer = call_api(with_body(post_event, json.dumps({"mode": "verify"})))

    assert answer.status == 400
    assert "s3_key" in json.dumps(answer.body)


def test_through_a_custom_domain_the_status_url_follows_the_domain_not_the_stage(
    call_api: CallApi, post_event: dict[str, Any]
) -> None:
    # A custom domain whose base path mapping is the root: callers never name the stage.
    event = copy.deepcopy(post_event)
    event["headers"]["Host"] = event["requestContext"]["domainName"] = "backups.example.com"
    event["requestContext"]["path"] = "/backups"

    answer = call_api(event)

    assert answer.status == 202
    url = f"https://backups.example.com/backups/{answer.body['execution_id']}"
    assert answer.body["status_url"] == url
    assert answer.headers["Location"] == url


def test_a_plain_text_body_works_as_well_as_a_base64_one(
    call_api: CallApi, post_event: dict[str, Any]
) -> None:
    body = json.dumps({"service": "other-influx", "backup_name": "weekly.1", "s3_prefix": "x/"})

    answer = call_api(with_body(post_event, body, base64_encoded=False))

    assert answer.status == 202
    assert answer.body["input"]["service"] == "other-influx"
    assert answer.body["input"]["backup_name"] == "weekly.1"
    assert answer.body["input"]["s3_prefix"] == "x"


def test_an_empty_body_backs_up_the_stacks_default_service(
    call_api: CallApi, post_event: dict[str, Any]
) -> None:
    answer = call_api(with_body(post_event, ""))

    assert answer.status == 202
    assert answer.body["input"]["project"] == "acme"
    assert answer.body["input"]["service"] == "metrics-influx"


def test_a_long_service_name_still_gives_a_valid_execution_name(
    call_api: CallApi, post_event: dict[str, Any]
) -> None:
    service = "s" + "-long" * 12 + "x"  # 62 characters

    answer = call_api(with_body(post_event, json.dumps({"service": service})))

    assert answer.status == 202
    assert len(answer.body["execution_id"]) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", answer.body["execution_id"])


# --- 400 ---------------------------------------------------------------------------------------


def test_the_sample_invalid_event_is_refused_naming_the_field(
    call_api: CallApi, stand_in: StandIn
) -> None:
    answer = call_api(load_event("post_backup_invalid.json"))

    assert answer.status == 400
    assert answer.body["error"] == "InvalidExecutionInput"
    assert answer.body["field"] == "service"
    assert "lowercase letters, digits and hyphens" in answer.body["message"]
    assert stand_in.execution_names() == []


class BadBody(NamedTuple):
    body: bytes
    field: str  # the field the answer names
    fragment: str  # a fragment of the message


BAD_BODIES = {
    "bad name characters": BadBody(
        b'{"service": "metrics influx"}', "service", "not an Aiven service"
    ),
    "bad project": BadBody(b'{"project": "acme/../x"}', "project", "not an Aiven project name"),
    "unknown mode": BadBody(b'{"mode": "incremental"}', "mode", "'incremental' is not one of"),
    "unknown route": BadBody(b'{"access_route": "vpc"}', "access_route", "is not one of"),
    "unknown field": BadBody(b'{"servce": "x"}', "servce", "did you mean 'service'"),
    "wrong type": BadBody(b'{"service": 42}', "service", "expected a string, got a number"),
    "null value": BadBody(b'{"backup_name": null}', "backup_name", "got null"),
    "slash in backup name": BadBody(b'{"backup_name": "a/b"}', "backup_name", "'/'"),
    "dots in backup name": BadBody(b'{"backup_name": "x..y"}', "backup_name", "'..'"),
    "dots in s3 prefix": BadBody(b'{"s3_prefix": "a/../b"}', "s3_prefix", "'..' folder"),
    "existing without a name": BadBody(
        b'{"mode": "existing"}', "backup_name", "required when mode"
    ),
    "body not JSON": BadBody(b"service=metrics-influx", "body", "is not valid JSON"),
    "truncated JSON": BadBody(b'{"service": "metrics-influx"', "body", "is not valid JSON"),
    "body an array": BadBody(b'["metrics-influx"]', "input", "must be a JSON object"),
    "body a string": BadBody(b'"metrics-influx"', "input", "got a string"),
    "body not UTF-8": BadBody(b'{"service": "\xff"}', "body", "not UTF-8"),
}


@pytest.mark.parametrize("case", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_invalid_bodies_answer_400_naming_the_field_and_start_nothing(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn, case: BadBody
) -> None:
    answer = call_api(with_body(post_event, case.body))

    assert answer.status == 400
    assert answer.body["error"] == "InvalidExecutionInput"
    assert answer.body["field"] == case.field
    assert case.fragment in answer.body["message"]
    assert stand_in.execution_names() == []


@pytest.mark.parametrize(
    ("key", "fragment"),
    [("", "is empty"), ("k" * 256, "at most 255"), ("has space", "visible ASCII")],
)
def test_a_malformed_idempotency_key_answers_400(
    call_api: CallApi, post_event: dict[str, Any], key: str, fragment: str
) -> None:
    answer = call_api(with_header(post_event, "Idempotency-Key", key))

    assert answer.status == 400
    assert answer.body["error"] == "InvalidRequest"
    assert answer.body["field"] == "Idempotency-Key"
    assert fragment in answer.body["message"]


# --- 409 ---------------------------------------------------------------------------------------


def test_a_running_backup_holding_the_lock_answers_409_naming_it(
    call_api: CallApi,
    post_event: dict[str, Any],
    stand_in: StandIn,
    dynamodb: DynamoDBClient,
) -> None:
    running = stand_in.start("scheduled-run", backup_name="nightly")
    hold_lock(dynamodb, "acme/metrics-influx", running)

    answer = call_api(post_event)

    assert answer.status == 409
    assert answer.body["error"] == "BackupAlreadyRunning"
    assert answer.body["execution_id"] == "scheduled-run"
    assert answer.body["execution_arn"] == running
    assert answer.body["status_url"] == f"{BACKUPS_URL}/scheduled-run"
    assert "acme/metrics-influx already has a backup in progress" in answer.body["message"]
    assert stand_in.execution_names() == ["scheduled-run"]


def test_the_lock_holder_is_found_without_scanning_running_executions(
    install_core: InstallCore,
    call_api: CallApi,
    post_event: dict[str, Any],
    stand_in: StandIn,
    dynamodb: DynamoDBClient,
) -> None:
    install_core(running_scan_limit=0)  # only the lock can tell
    running = stand_in.start("scheduled-run", backup_name="nightly")
    hold_lock(dynamodb, "acme/metrics-influx", running)

    answer = call_api(post_event)

    assert answer.status == 409
    assert answer.body["execution_id"] == "scheduled-run"


def test_a_running_backup_that_has_not_locked_yet_also_answers_409(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    stand_in.start("just-started", backup_name="nightly")

    answer = call_api(post_event)

    assert answer.status == 409
    assert answer.body["execution_id"] == "just-started"


def test_a_console_run_relying_on_the_stack_defaults_counts_for_the_default_service(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    stand_in.sfn.start_execution(stateMachineArn=stand_in.arn, name="console-run", input="{}")

    answer = call_api(post_event)

    assert answer.status == 409
    assert answer.body["execution_id"] == "console-run"


def test_a_backup_running_for_another_service_does_not_block(
    call_api: CallApi,
    post_event: dict[str, Any],
    stand_in: StandIn,
    dynamodb: DynamoDBClient,
) -> None:
    other = stand_in.start("other-run", service="other-influx", backup_name="nightly")
    hold_lock(dynamodb, "acme/other-influx", other)

    answer = call_api(post_event)

    assert answer.status == 202


@pytest.mark.parametrize("holder", ["finished", "vanished"])
def test_a_stale_lock_is_not_a_conflict(
    call_api: CallApi,
    post_event: dict[str, Any],
    stand_in: StandIn,
    dynamodb: DynamoDBClient,
    holder: str,
) -> None:
    if holder == "finished":
        owner = stand_in.start("crashed-run", backup_name="done-crash")
        assert stand_in.wait_until_finished(owner) == "SUCCEEDED"
    else:
        owner = stand_in.arn.replace(":stateMachine:", ":execution:") + ":long-gone"
    hold_lock(dynamodb, "acme/metrics-influx", owner)

    answer = call_api(post_event)

    assert answer.status == 202


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_a_retried_post_with_the_same_key_returns_the_same_execution(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    keyed = with_header(post_event, "Idempotency-Key", "6f1c2a8e-retry-me")

    first = call_api(keyed)
    retry = call_api(keyed)

    assert first.status == 202
    assert retry.status == 202
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert re.fullmatch(r"api-[0-9a-f]{40}", first.body["execution_id"])
    assert retry.body == first.body
    assert stand_in.execution_names() == [first.body["execution_id"]]


def test_a_retry_after_the_default_backup_name_changed_still_finds_the_first_start(
    install_core: InstallCore, call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    five_minutes_apart = iter(
        [datetime(2026, 11, 23, 3, 0, tzinfo=UTC) + timedelta(minutes=n) for n in (0, 5)]
    )
    install_core(clock=lambda: next(five_minutes_apart))
    keyed = with_header(post_event, "Idempotency-Key", "nightly-2026-11-23")

    first = call_api(keyed)
    retry = call_api(keyed)

    assert first.body["input"]["backup_name"] == "metrics-influx-20261123T030000Z"
    assert retry.status == 202
    assert retry.body == first.body
    assert len(stand_in.execution_names()) == 1


def test_a_retry_after_the_backup_finished_still_returns_it_rather_than_starting_again(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    keyed = with_header(
        with_body(post_event, json.dumps({"backup_name": "done-quickly"})),
        "Idempotency-Key",
        "finished-key",
    )
    first = call_api(keyed)
    assert stand_in.wait_until_finished(first.body["execution_arn"]) == "SUCCEEDED"

    retry = call_api(keyed)

    assert retry.status == 202
    assert retry.body["execution_id"] == first.body["execution_id"]
    assert len(stand_in.execution_names()) == 1


def test_a_retry_is_not_refused_as_a_conflict_with_itself(
    call_api: CallApi, post_event: dict[str, Any], dynamodb: DynamoDBClient
) -> None:
    keyed = with_header(post_event, "Idempotency-Key", "locked-key")
    first = call_api(keyed)
    hold_lock(dynamodb, "acme/metrics-influx", first.body["execution_arn"])

    retry = call_api(keyed)

    assert retry.status == 202
    assert retry.body["execution_id"] == first.body["execution_id"]


def test_a_reused_key_with_a_different_body_answers_422_naming_the_first_backup(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    first = call_api(with_header(post_event, "Idempotency-Key", "reused-key"))
    changed = with_body(
        post_event,
        json.dumps({"service": "metrics-influx", "mode": "existing", "backup_name": "old"}),
    )

    answer = call_api(with_header(changed, "Idempotency-Key", "reused-key"))

    assert answer.status == 422
    assert answer.body["error"] == "IdempotencyKeyReused"
    assert answer.body["execution_id"] == first.body["execution_id"]
    assert answer.body["status_url"] == f"{BACKUPS_URL}/{first.body['execution_id']}"
    assert "different body" in answer.body["message"]
    assert len(stand_in.execution_names()) == 1


def test_different_keys_are_different_backups(
    call_api: CallApi, post_event: dict[str, Any], stand_in: StandIn
) -> None:
    one = call_api(with_header(post_event, "Idempotency-Key", "key-one"))
    other_service = with_body(post_event, json.dumps({"service": "other-influx"}))
    two = call_api(with_header(other_service, "Idempotency-Key", "key-two"))

    assert one.status == two.status == 202
    assert one.body["execution_id"] != two.body["execution_id"]
    assert len(stand_in.execution_names()) == 2


# --- the stack itself --------------------------------------------------------------------------


def test_a_stack_without_a_state_machine_arn_answers_500_saying_so(
    monkeypatch: pytest.MonkeyPatch, call_api: CallApi, post_event: dict[str, Any]
) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN")

    answer = call_api(post_event)

    assert answer.status == 500
    assert answer.body["error"] == "StackMisconfigured"
    assert "STATE_MACHINE_ARN" in answer.body["message"]

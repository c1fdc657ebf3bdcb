"""GET /backups/{id} reports one backup; GET /backups lists recent ones, newest first."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import (
    BACKUP_RESULT,
    BACKUPS_URL,
    CallApi,
    HttpAnswer,
    InstallCore,
    StandIn,
    load_event,
    with_backup_id,
    with_query,
)

SAMPLE_ID = "api-metrics-influx-20261123T030000Z-0a1b2c3d"  # the id in events/api/get_backup.json
ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def get_event() -> dict[str, Any]:
    return load_event("get_backup.json")


@pytest.fixture
def list_event() -> dict[str, Any]:
    return load_event("list_backups.json")


# --- GET /backups/{id} -------------------------------------------------------------------------


def test_a_running_backup_reports_its_status_start_and_input(
    call_api: CallApi, get_event: dict[str, Any], stand_in: StandIn
) -> None:
    arn = stand_in.start(SAMPLE_ID, backup_name="nightly")

    answer = call_api(get_event)

    assert answer.status == 200
    body = answer.body
    assert body["execution_id"] == SAMPLE_ID
    assert body["execution_arn"] == arn
    assert body["status"] == "RUNNING"
    assert body["start_time"].endswith("Z")
    assert body["stop_time"] is None
    assert body["status_url"] == f"{BACKUPS_URL}/{SAMPLE_ID}"
    assert body["input"] == {
        "project": "acme",
        "service": "metrics-influx",
        "backup_name": "nightly",
    }
    assert "result" not in body
    assert "error" not in body


def test_a_succeeded_backup_reports_where_it_landed_and_what_is_inside(
    call_api: CallApi, get_event: dict[str, Any], stand_in: StandIn
) -> None:
    arn = stand_in.start("done-run", backup_name="done-1")
    assert stand_in.wait_until_finished(arn) == "SUCCEEDED"

    answer = call_api(with_backup_id(get_event, "done-run"))

    assert answer.status == 200
    assert answer.body["status"] == "SUCCEEDED"
    assert answer.body["stop_time"] >= answer.body["start_time"]
    assert answer.body["result"] == {
        "bucket": BACKUP_RESULT["bucket"],
        "key": BACKUP_RESULT["key"],
        "size": BACKUP_RESULT["size"],
        "inventory_key": BACKUP_RESULT["inventory_key"],
        "inventory": BACKUP_RESULT["inventory"],
    }
    assert "error" not in answer.body


def test_a_failed_backup_reports_the_error_and_a_readable_cause(
    call_api: CallApi, get_event: dict[str, Any], stand_in: StandIn
) -> None:
    arn = stand_in.start("failed-run", backup_name="fails-1")
    assert stand_in.wait_until_finished(arn) == "FAILED"

    answer = call_api(with_backup_id(get_event, "failed-run"))

    assert answer.status == 200
    assert answer.body["status"] == "FAILED"
    assert answer.body["error"] == "ServiceNotRunning"
    assert (
        answer.body["cause"] == "acme/metrics-influx is POWEROFF; power it on in the Aiven console"
    )
    assert "result" not in answer.body


@pytest.mark.parametrize("unknown_id", ["never-started", "not:a:name", "x" * 81])
def test_an_unknown_id_answers_404(
    call_api: CallApi, get_event: dict[str, Any], unknown_id: str
) -> None:
    answer = call_api(with_backup_id(get_event, unknown_id))

    assert answer.status == 404
    assert answer.body["error"] == "BackupNotFound"
    assert answer.body["execution_id"] == unknown_id


def test_an_unknown_route_answers_404_listing_the_routes(
    call_api: CallApi, get_event: dict[str, Any]
) -> None:
    event = dict(get_event, httpMethod="DELETE")

    answer = call_api(event)

    assert answer.status == 404
    assert answer.body["error"] == "NotFound"
    assert "POST /backups, GET /backups, GET /backups/{id}" in answer.body["message"]


# --- GET /backups ------------------------------------------------------------------------------


@pytest.fixture
def history(stand_in: StandIn) -> list[str]:
    """Five executions, oldest first: two finished, one failed, two running (two services)."""
    started = [
        ("a-done", {"backup_name": "done-a"}),
        ("b-other-done", {"service": "other-influx", "backup_name": "done-b"}),
        ("c-failed", {"backup_name": "fails-c"}),
        ("d-running", {"backup_name": "nightly-d"}),
        ("e-other-running", {"service": "other-influx", "backup_name": "nightly-e"}),
    ]
    for name, execution_input in started:
        arn = stand_in.start(name, **execution_input)
        if name.endswith(("done", "failed")):
            stand_in.wait_until_finished(arn)
    return [name for name, _ in started]


def names(answer: HttpAnswer) -> list[str]:
    return [row["execution_id"] for row in answer.body["backups"]]


def test_the_list_is_newest_first_with_each_backups_service_and_status(
    call_api: CallApi, list_event: dict[str, Any], history: list[str]
) -> None:
    answer = call_api(with_query(list_event, None))

    assert answer.status == 200
    assert names(answer) == list(reversed(history))
    assert answer.body["count"] == 5
    assert answer.body["truncated"] is False
    newest = answer.body["backups"][0]
    assert newest["status"] == "RUNNING"
    assert newest["project"] == "acme"
    assert newest["service"] == "other-influx"
    assert newest["backup_name"] == "nightly-e"
    assert newest["status_url"] == f"{BACKUPS_URL}/e-other-running"
    assert newest["stop_time"] is None
    oldest = answer.body["backups"][-1]
    assert oldest["status"] == "SUCCEEDED"
    assert oldest["stop_time"] is not None


def test_the_sample_list_event_filters_by_service_status_and_limit(
    call_api: CallApi, list_event: dict[str, Any], history: list[str]
) -> None:
    answer = call_api(list_event)  # service=metrics-influx, status=SUCCEEDED, limit=5

    assert answer.status == 200
    assert names(answer) == ["a-done"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"service": "other-influx"}, ["e-other-running", "b-other-done"]),
        ({"service": "metrics-influx"}, ["d-running", "c-failed", "a-done"]),
        ({"status": "running"}, ["e-other-running", "d-running"]),
        ({"status": "FAILED"}, ["c-failed"]),
        ({"limit": "2"}, ["e-other-running", "d-running"]),
        ({"service": "metrics-influx", "limit": "1"}, ["d-running"]),
        ({"project": "acme", "status": "SUCCEEDED"}, ["b-other-done", "a-done"]),
        ({"project": "someone-else"}, []),
    ],
)
def test_the_list_filters(
    call_api: CallApi,
    list_event: dict[str, Any],
    history: list[str],
    query: dict[str, str],
    expected: list[str],
) -> None:
    answer = call_api(with_query(list_event, query))

    assert answer.status == 200
    assert names(answer) == expected


def test_the_list_is_empty_before_any_backup(call_api: CallApi, list_event: dict[str, Any]) -> None:
    answer = call_api(with_query(list_event, None))

    assert answer.status == 200
    assert answer.body == {"backups": [], "count": 0, "truncated": False}


@pytest.mark.parametrize(
    ("query", "field", "fragment"),
    [
        ({"limit": "0"}, "limit", "from 1 to 100"),
        ({"limit": "101"}, "limit", "from 1 to 100"),
        ({"limit": "ten"}, "limit", "whole number"),
        ({"limit": "-5"}, "limit", "whole number"),
        ({"limit": "9" * 5000}, "limit", "whole number"),
        ({"status": "DONE"}, "status", "RUNNING, SUCCEEDED, FAILED"),
        ({"service": "Metrics"}, "service", "lowercase"),
        ({"project": "a b"}, "project", "not an Aiven project name"),
        ({"servce": "x"}, "servce", "allowed ones are service, project, status, limit"),
    ],
)
def test_bad_list_parameters_answer_400(
    call_api: CallApi,
    list_event: dict[str, Any],
    query: dict[str, str],
    field: str,
    fragment: str,
) -> None:
    answer = call_api(with_query(list_event, query))

    assert answer.status == 400
    assert answer.body["error"] == "InvalidRequest"
    assert answer.body["field"] == field
    assert fragment in answer.body["message"]


@pytest.mark.usefixtures("history")
def test_a_filtered_list_stops_scanning_at_its_bound_and_says_so(
    install_core: InstallCore, call_api: CallApi, list_event: dict[str, Any], stand_in: StandIn
) -> None:
    install_core(list_scan_limit=25)
    for n in range(30):
        stand_in.start(f"z-{n:02d}", service="busy-influx")

    answer = call_api(with_query(list_event, {"service": "metrics-influx"}))

    assert answer.status == 200
    assert answer.body["backups"] == []
    assert answer.body["truncated"] is True

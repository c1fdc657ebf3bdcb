"""SummariseBackups: each service's outcome from its run, and the one summary message."""

from __future__ import annotations

import json
from typing import Any

from aiven_backup.api.executions import Execution
from aiven_backup.fanout.summary import FanOutSummary, ServiceResult, failure_summary, summarise
from tests.unit.fanout.fanout_support import PARENT, run_execution

BUCKET = "backups"
KEY = "influxdb-backups/acme/influx-ok/2026/11/23/influx-ok-20261123T030000Z.tar"
LAMBDA_CAUSE = json.dumps(
    {"errorType": "BackupTaskFailed", "errorMessage": "Aiven reports the task failed: disk full"}
)
PLAN: dict[str, Any] = {
    "runs": [
        {"name": f"{name}-0123456789abcdef", "input": {"project": "acme", "service": name}}
        for name in ("influx-ok", "influx-broken", "influx-busy", "influx-lost")
    ],
    "skipped": [{"project": "acme", "service": "influx-off", "state": "POWEROFF"}],
    "projects": ["acme"],
    "ignored": 2,
}
RUNS = {
    "influx-ok-0123456789abcdef": run_execution(
        "influx-ok-0123456789abcdef",
        "SUCCEEDED",
        output={"status": "SUCCEEDED", "key": KEY, "size": 13 * 1024**3, "notification": {}},
    ),
    "influx-broken-0123456789abcdef": run_execution(
        "influx-broken-0123456789abcdef",
        "FAILED",
        error="BackupTaskFailed",
        cause=LAMBDA_CAUSE,
    ),
    "influx-busy-0123456789abcdef": run_execution(
        "influx-busy-0123456789abcdef",
        "SUCCEEDED",
        output={
            "status": "SKIPPED",
            "reason": "BackupAlreadyRunning",
            "message": "acme/influx-busy already has a backup in progress: execution 'nightly-0'",
        },
    ),
    # influx-lost: never started (StartExecution refused), so there is no run to describe.
}
MAP_RESULTS = [
    {"name": "influx-ok-0123456789abcdef"},
    {"name": "influx-broken-0123456789abcdef", "error": "States.TaskFailed"},
    {"name": "influx-busy-0123456789abcdef"},
    {
        "name": "influx-lost-0123456789abcdef",
        "error": "StepFunctions.ExecutionLimitExceededException",
    },
]


def describe(name: str) -> Execution | None:
    return RUNS.get(name)


def summary() -> FanOutSummary:
    return summarise(PLAN, MAP_RESULTS, PARENT, describe=describe, bucket=BUCKET)


def by_service() -> dict[str, ServiceResult]:
    return {result.service: result for result in summary().results}


def test_each_service_gets_its_runs_outcome() -> None:
    results = by_service()

    assert results["influx-ok"].status == "SUCCEEDED"
    assert (results["influx-ok"].key, results["influx-ok"].size) == (KEY, 13 * 1024**3)
    assert results["influx-broken"].status == "FAILED"
    assert results["influx-broken"].error == "BackupTaskFailed"  # the run's error, not TaskFailed
    assert results["influx-broken"].cause == "Aiven reports the task failed: disk full"
    assert results["influx-busy"].status == "SKIPPED"
    assert results["influx-busy"].reason == "BackupAlreadyRunning"
    assert "nightly-0" in (results["influx-busy"].detail or "")
    assert results["influx-off"].status == "SKIPPED"
    assert (results["influx-off"].reason, results["influx-off"].state) == (
        "ServiceNotRunning",
        "POWEROFF",
    )
    lost = results["influx-lost"]
    assert lost.status == "FAILED"
    assert lost.error == "StepFunctions.ExecutionLimitExceededException"
    assert "could not be started" in (lost.cause or "")
    assert lost.execution is None


def test_the_results_are_ordered_by_project_and_service() -> None:
    assert [r.service for r in summary().results] == [
        "influx-broken",
        "influx-busy",
        "influx-lost",
        "influx-off",
        "influx-ok",
    ]


def test_the_notification_counts_in_its_subject_and_lists_every_service() -> None:
    notification = summary().notification()
    lines = notification.body.splitlines()

    assert notification.subject == "Backups acme: 1 SUCCEEDED, 2 FAILED, 2 SKIPPED"
    assert notification.attributes == {"status": "FAILED", "project": "acme", "kind": "summary"}
    assert "SUCCEEDED  acme/influx-ok  13.0 GiB  s3://backups/" + KEY in lines
    assert (
        "FAILED     acme/influx-broken  BackupTaskFailed: Aiven reports the task failed: disk full"
        in lines
    )
    assert (
        "SKIPPED    acme/influx-off  Aiven reports it POWEROFF, not RUNNING: not backed up" in lines
    )
    assert "2 service(s) of other types were left out." in lines
    assert PARENT.arn in notification.body


def test_status_is_succeeded_only_when_every_service_succeeded() -> None:
    def status_of(*statuses: str) -> str:
        results = tuple(ServiceResult("acme", f"s-{i}", s) for i, s in enumerate(statuses))
        return FanOutSummary(("acme",), BUCKET, results, PARENT.arn).status

    assert status_of("SUCCEEDED", "SUCCEEDED") == "SUCCEEDED"
    assert status_of("SUCCEEDED", "SKIPPED") == "SKIPPED"
    assert status_of("SUCCEEDED", "SKIPPED", "FAILED") == "FAILED"
    assert status_of() == "SKIPPED"


def test_no_services_found_says_so() -> None:
    empty = FanOutSummary(("acme",), BUCKET, (), PARENT.arn)

    assert empty.notification().subject == "Backups acme: no InfluxDB services to back up"


def test_the_output_has_a_results_list_with_error_and_cause_only_on_failure() -> None:
    summarised = summary()
    output = summarised.to_output(summarised.notification())
    results = {entry["service"]: entry for entry in output["results"]}

    assert output["counts"] == {"SUCCEEDED": 1, "FAILED": 2, "SKIPPED": 2}
    assert output["kind"] == "summary"
    assert results["influx-ok"] == {
        "service": "influx-ok",
        "project": "acme",
        "status": "SUCCEEDED",
        "key": KEY,
        "size": 13 * 1024**3,
        "execution": "influx-ok-0123456789abcdef",
    }
    assert set(results["influx-broken"]) >= {"error", "cause"}
    assert "error" not in results["influx-off"]
    assert output["notification"]["subject"] == summarised.notification().subject


def test_a_failed_fan_out_names_its_error_and_the_projects() -> None:
    failed = {
        "input": {"projects": [{"project": "acme"}, {"project": "beta"}]},
        "error": {"Error": "AivenUnauthorized", "Cause": json.dumps({"errorMessage": "bad token"})},
    }

    error, cause, notification = failure_summary(failed, PARENT, default_project="acme")

    assert (error, cause) == ("AivenUnauthorized", "bad token")
    assert notification.subject == "Backups acme, beta: FAILED (AivenUnauthorized)"
    assert notification.attributes == {
        "status": "FAILED",
        "project": "acme,beta",
        "kind": "summary",
    }
    assert "No service was backed up" in notification.body


def test_a_stale_run_counts_as_succeeded_and_is_named_stale_with_its_data() -> None:
    data = "1 database, 2 measurements, 9 points, 2024-03-01 -> 2024-03-04 (newest 40 days before)"
    stale_run = run_execution(
        "influx-ok-0123456789abcdef",
        "SUCCEEDED",
        output={"status": "SUCCEEDED", "key": KEY, "size": 1024, "stale": True, "data": data},
    )
    plan = {**PLAN, "runs": PLAN["runs"][:1], "skipped": []}

    stale = summarise(plan, MAP_RESULTS[:1], PARENT, describe=lambda _: stale_run, bucket=BUCKET)
    notification = stale.notification()

    assert stale.status == "SUCCEEDED"
    assert "1 SUCCEEDED (1 STALE: no recent data)" in notification.subject
    assert f"s3://{BUCKET}/{KEY}  STALE: {data}" in notification.body
    (result,) = stale.to_output(notification)["results"]
    assert (result["stale"], result["data"]) == (True, data)


def test_a_fresh_run_says_nothing_of_staleness() -> None:
    notification = summary().notification()

    assert "STALE" not in notification.subject + notification.body
    assert all("stale" not in r for r in summary().to_output(notification)["results"])

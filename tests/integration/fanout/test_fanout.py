"""Many services in one execution, through the real fan-out and single-service state machines on
moto: each service keeps its own lock, copy, object, notification and error, one failing never
stops the others, and one summary says what happened to all of them."""

from __future__ import annotations

import pytest

from tests.support.aiven import PROJECT
from tests.support.fanout import locks_held, notified, results_by_service, summary_lines
from tests.support.s3 import sha256
from tests.support.workflow import (
    WorkflowFactory,
)

OTHER_PROJECT = "beta"
AIVEN_ATTEMPTS = 3  # the Aiven client's own attempts per call (AIVEN_RETRY_MAX_ATTEMPTS)

pytestmark = pytest.mark.usefixtures("atomic_item_writes")


def test_of_three_services_one_failing_and_one_powered_off_the_third_lands_and_all_are_reported(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow()
    simulator = workflow.simulator
    simulator.add_service(PROJECT, "influx-ok", backup=sample_backup)
    simulator.add_service(
        PROJECT, "influx-broken", task_outcome="failure", failure_result="disk full on node 2"
    )
    simulator.add_service(PROJECT, "influx-off", state="POWEROFF")

    result = workflow.run_fanout({"services": ["influx-ok", "influx-broken", "influx-off"]})

    results = results_by_service(result)
    assert result.output is not None
    assert result.output["status"] == "FAILED"
    assert result.output["counts"] == {"SUCCEEDED": 1, "FAILED": 1, "SKIPPED": 1}
    landed = results["influx-ok"]
    assert landed["status"] == "SUCCEEDED"
    assert landed["size"] == len(sample_backup)
    assert sha256(workflow.object_bytes(landed["key"])) == sha256(sample_backup)
    broken = results["influx-broken"]
    assert broken["status"] == "FAILED"
    assert broken["error"] == "BackupTaskFailed"
    assert "disk full on node 2" in broken["cause"]
    assert broken["key"] is None
    off = results["influx-off"]
    assert (off["status"], off["reason"], off["state"]) == (
        "SKIPPED",
        "ServiceNotRunning",
        "POWEROFF",
    )
    assert "execution" not in off  # nothing was started for it
    # Each run released its own lock, and the powered-off service was never asked for a backup.
    assert locks_held() == []
    posted = {path for method, path in simulator.requests if method == "POST"}
    assert posted == {
        f"/v1/project/{PROJECT}/service/influx-ok/task",
        f"/v1/project/{PROJECT}/service/influx-broken/task",
    }
    assert workflow.stack.object_keys() == [landed["key"], f"{landed['key']}.inventory.json"]
    assert workflow.stack.incomplete_uploads() == []

    sent = notified(workflow)
    summary = sent.summary
    assert summary["subject"] == f"Backups {PROJECT}: 1 SUCCEEDED, 1 FAILED, 1 SKIPPED"
    assert summary["attributes"] == {"status": "FAILED", "project": PROJECT, "kind": "summary"}
    lines = summary_lines(summary)
    assert len(lines) == 3
    assert lines[0].startswith(f"FAILED     {PROJECT}/influx-broken  BackupTaskFailed: ")
    assert lines[1].startswith(f"SKIPPED    {PROJECT}/influx-off  Aiven reports it POWEROFF")
    assert lines[2].startswith(f"SUCCEEDED  {PROJECT}/influx-ok  ")
    assert landed["key"] in lines[2]
    # NotifyEach defaults to true: each run announced itself, as a single run does.
    assert sorted(n["subject"].split(" ")[1] for n in sent.per_service) == [
        "FAILED",
        "SUCCEEDED",
    ]


def test_star_backs_up_every_influxdb_service_of_the_project_and_ignores_the_others(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow()
    for name in ("influx-b", "influx-a"):
        workflow.simulator.add_service(PROJECT, name, backup=sample_backup)
    workflow.simulator.add_service(PROJECT, "pg-main", service_type="pg")
    workflow.simulator.add_service(PROJECT, "kafka-events", service_type="kafka")
    workflow.simulator.add_service(OTHER_PROJECT, "influx-elsewhere", backup=sample_backup)

    result = workflow.run_fanout({"services": "*"})

    results = results_by_service(result)
    assert list(results) == ["influx-a", "influx-b"]
    assert {entry["status"] for entry in results.values()} == {"SUCCEEDED"}
    assert ("GET", f"/v1/project/{PROJECT}/service") in workflow.simulator.requests
    touched = {path.split("/")[5] for _, path in workflow.simulator.requests if path.count("/") > 4}
    assert touched == {"influx-a", "influx-b"}
    summary = notified(workflow).summary
    assert summary["subject"] == f"Backups {PROJECT}: 2 SUCCEEDED"
    assert summary["attributes"]["status"] == "SUCCEEDED"
    assert "2 service(s) of other types were left out." in summary["message"]


def test_the_stack_parameter_star_is_what_an_empty_input_and_the_schedule_back_up(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(parameters={"AivenService": "*"})
    workflow.simulator.add_service(PROJECT, "influx-a", backup=sample_backup)
    workflow.simulator.add_service(PROJECT, "pg-main", service_type="pg")

    scheduled = workflow.run_fanout(workflow.stack.schedule_inputs["Schedule"])
    by_hand = workflow.run_fanout({})

    assert list(results_by_service(scheduled)) == ["influx-a"]
    assert list(results_by_service(by_hand)) == ["influx-a"]


def test_two_fan_outs_overlapping_on_one_service_copy_it_once_and_the_second_skips_it(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow()
    simulator = workflow.simulator
    shared = simulator.add_service(PROJECT, "influx-shared", backup=sample_backup)
    simulator.add_service(PROJECT, "influx-first", backup=sample_backup)
    simulator.add_service(PROJECT, "influx-second", backup=sample_backup)
    # The first fan-out's run for the shared service stops at its first poll, holding the lock.
    hold = shared.faults.api_hold(paths="*/task/*", methods=("GET",))

    first = workflow.stack.start_fanout({"services": "influx-shared,influx-first"}, name="first")
    assert hold.entered.wait(120), "the first fan-out never polled the shared service"
    second = workflow.run_fanout({"services": ["influx-shared", "influx-second"]})
    hold.release()
    first_result = workflow.stack.wait(first, timeout=300)

    in_first, in_second = results_by_service(first_result), results_by_service(second)
    assert in_first["influx-shared"]["status"] == "SUCCEEDED"
    assert in_first["influx-first"]["status"] == "SUCCEEDED"
    skipped = in_second["influx-shared"]
    assert (skipped["status"], skipped["reason"]) == ("SKIPPED", "BackupAlreadyRunning")
    assert "first" in skipped["detail"] or "holds the lock" in skipped["detail"]
    assert in_second["influx-second"]["status"] == "SUCCEEDED"
    shared_posts = [
        path for method, path in simulator.requests if method == "POST" and "influx-shared" in path
    ]
    assert len(shared_posts) == 1
    shared_objects = [
        k for k in workflow.stack.object_keys() if k.endswith(".tar") and "influx-shared" in k
    ]
    assert len(shared_objects) == 1
    assert locks_held() == []
    assert second.output is not None
    assert second.output["counts"] == {"SUCCEEDED": 1, "FAILED": 0, "SKIPPED": 1}


def test_fifty_services_are_backed_up_never_more_than_max_concurrent_services_at_once(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(parameters={"MaxConcurrentServices": "4"})
    names = [f"influx-{index:02d}" for index in range(50)]
    for name in names:
        workflow.simulator.add_service(PROJECT, name, backup=sample_backup)
    # Each download waits until every backup in progress downloads too, so the peak is exactly
    # how many run at once: four with the bound (not fewer by chance), all fifty without it.
    workflow.simulator.hold_downloads_in_lockstep(timeout=120)

    result = workflow.run_fanout({"services": "*"}, timeout=600)

    results = results_by_service(result)
    assert sorted(results) == names
    assert {entry["status"] for entry in results.values()} == {"SUCCEEDED"}
    assert not workflow.simulator.lockstep_timed_out
    assert workflow.simulator.peak_concurrent_downloads == 4
    assert locks_held() == []
    assert notified(workflow).summary["subject"] == f"Backups {PROJECT}: 50 SUCCEEDED"


def test_a_429_storm_on_one_service_fails_that_service_only_and_the_summary_says_so(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(environment={"AIVEN_RETRY_MAX_ATTEMPTS": str(AIVEN_ATTEMPTS)})
    simulator = workflow.simulator
    for name in ("influx-a", "influx-b"):
        simulator.add_service(PROJECT, name, backup=sample_backup)
    stormy = simulator.add_service(PROJECT, "influx-stormy", backup=sample_backup)
    stormy.faults.api_status(429, count=10**6, retry_after="0")

    result = workflow.run_fanout({"services": "*"})

    results = results_by_service(result)
    failed = results["influx-stormy"]
    assert failed["status"] == "FAILED"
    assert failed["error"] == "AivenRateLimited"
    assert "try again" in failed["cause"]
    assert failed["execution"].startswith("influx-stormy-")
    assert [results[n]["status"] for n in ("influx-a", "influx-b")] == ["SUCCEEDED", "SUCCEEDED"]
    assert not [k for k in workflow.stack.object_keys() if "influx-stormy" in k]
    assert locks_held() == []
    sent = notified(workflow)
    assert sent.summary["subject"] == f"Backups {PROJECT}: 2 SUCCEEDED, 1 FAILED"
    assert sent.summary["attributes"]["status"] == "FAILED"
    (stormy_line,) = [line for line in summary_lines(sent.summary) if "influx-stormy" in line]
    assert stormy_line.startswith(f"FAILED     {PROJECT}/influx-stormy  AivenRateLimited: ")
    assert any(
        n["subject"] == f"Backup FAILED {PROJECT}/influx-stormy: AivenRateLimited"
        for n in sent.per_service
    )


def test_with_notify_each_false_only_the_summary_is_published(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(parameters={"NotifyEach": "false"})
    workflow.simulator.add_service(PROJECT, "influx-ok", backup=sample_backup)
    workflow.simulator.add_service(PROJECT, "influx-broken", task_outcome="failure")

    result = workflow.run_fanout({"services": "influx-ok,influx-broken"})

    results = results_by_service(result)
    assert [results[n]["status"] for n in ("influx-ok", "influx-broken")] == [
        "SUCCEEDED",
        "FAILED",
    ]
    sent = notified(workflow)
    assert sent.per_service == []
    assert sent.summary["subject"] == f"Backups {PROJECT}: 1 SUCCEEDED, 1 FAILED"
    assert locks_held() == []


def test_a_projects_list_backs_up_each_projects_own_services(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, "influx-a", backup=sample_backup)
    workflow.simulator.add_service(PROJECT, "influx-unwanted", backup=sample_backup)
    workflow.simulator.add_service(OTHER_PROJECT, "influx-x", backup=sample_backup)
    workflow.simulator.add_service(OTHER_PROJECT, "influx-y", state="REBUILDING")

    result = workflow.run_fanout(
        {
            "projects": [
                {"project": PROJECT, "services": ["influx-a"]},
                {"project": OTHER_PROJECT, "services": "*"},
            ]
        }
    )

    assert result.output is not None
    got = sorted(
        (entry["project"], entry["service"], entry["status"]) for entry in result.output["results"]
    )
    assert got == [
        (PROJECT, "influx-a", "SUCCEEDED"),
        (OTHER_PROJECT, "influx-x", "SUCCEEDED"),
        (OTHER_PROJECT, "influx-y", "SKIPPED"),
    ]
    summary = notified(workflow).summary
    assert summary["subject"] == f"Backups {PROJECT}, {OTHER_PROJECT}: 2 SUCCEEDED, 1 SKIPPED"
    assert summary["attributes"]["project"] == f"{PROJECT},{OTHER_PROJECT}"


def test_a_single_service_input_is_a_fan_out_of_one(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, "influx-a", backup=sample_backup)

    result = workflow.run_fanout({"service": "influx-a", "backup_name": "before-migration"})

    (entry,) = results_by_service(result).values()
    assert entry["status"] == "SUCCEEDED"
    assert entry["key"].endswith("/before-migration.tar")


def test_bad_input_fails_the_fan_out_before_any_service_with_a_summary_saying_why(
    make_workflow: WorkflowFactory,
) -> None:
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, "influx-a")

    result = workflow.run_fanout({"services": ["influx-a", "Not A Name"]})

    assert result.status == "FAILED"
    assert result.error == "InvalidExecutionInput"
    assert "services[1]" in (result.cause or "")
    assert workflow.aiven_calls() == []
    summary = notified(workflow).summary
    assert summary["subject"] == f"Backups {PROJECT}: FAILED (InvalidExecutionInput)"
    assert summary["attributes"] == {"status": "FAILED", "project": PROJECT, "kind": "summary"}
    assert "No service was backed up" in summary["message"]

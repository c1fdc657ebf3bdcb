"""The real state machine end to end: what the user sees in the execution, in S3 and in SNS."""

from __future__ import annotations

import json
import os

from local_runner.sample_backup import build_sample_backup, pack_tar, sample_backup_files
from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.workflow import (
    Workflow,
    WorkflowFactory,
    assert_failure_notified,
    assert_lock_released,
    assert_nothing_left_in_s3,
    assert_success_notified,
    hold_lock,
    other_execution,
)


def test_request_mode_lands_a_verified_byte_identical_backup(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup, polls_until_done=2)

    result = workflow.run({"project": PROJECT, "service": SERVICE, "backup_name": "nightly-1"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    key = result.output["key"]
    assert key.startswith(f"influxdb-backups/{PROJECT}/{SERVICE}/")
    assert key.endswith("/nightly-1.tar")
    assert sha256(workflow.object_bytes(key)) == sha256(sample_backup)
    inventory = json.loads(workflow.object_bytes(f"{key}.inventory.json"))
    assert set(inventory["databases"]) == {"telegraf", "metrics"}
    assert result.output["size"] == len(sample_backup)
    assert workflow.stack.incomplete_uploads() == []
    assert_lock_released(workflow)
    assert len(workflow.aiven_calls("POST")) == 1

    (notification,) = workflow.stack.notifications()
    assert notification["subject"].startswith(f"Backup SUCCEEDED {PROJECT}/{SERVICE} ")
    assert notification["attributes"] == {
        "status": "SUCCEEDED",
        "project": PROJECT,
        "service": SERVICE,
    }
    assert f"s3://{BUCKET}/{key}" in notification["message"]
    assert "2 databases" in notification["message"]
    assert "/states/home?region=us-east-1#/v2/executions/details/" in notification["message"]


def test_existing_mode_copies_the_backup_there_without_requesting_a_new_one(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(
        PROJECT, SERVICE, backup=sample_backup, existing_backup_name="made-yesterday"
    )

    result = workflow.run({"mode": "existing", "backup_name": "made-yesterday"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert sha256(workflow.object_bytes(result.output["key"])) == sha256(sample_backup)
    assert workflow.aiven_calls("POST") == []


def test_existing_mode_without_a_backup_name_is_refused_before_any_aiven_call(
    workflow: Workflow,
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE)

    result = workflow.run({"mode": "existing"})

    assert result.status == "FAILED"
    assert result.error == "InvalidExecutionInput"
    assert "backup_name" in (result.cause or "")
    assert workflow.aiven_calls() == []
    assert_failure_notified(workflow, "InvalidExecutionInput")


def test_a_powered_off_service_fails_before_any_backup_is_requested(workflow: Workflow) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, state="POWEROFF")

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "ServiceNotRunning"
    assert "POWEROFF" in (result.cause or "")
    assert workflow.aiven_calls("POST") == []
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "ServiceNotRunning")
    assert_lock_released(workflow)


def test_a_missing_service_says_influxdb_reached_end_of_life(workflow: Workflow) -> None:
    workflow.simulator.add_project(PROJECT)

    result = workflow.run({"service": "long-gone"})

    assert result.status == "FAILED"
    assert result.error == "ServiceNotFound"
    assert "2025-04-30" in (result.cause or "")
    assert_nothing_left_in_s3(workflow)
    notifications = workflow.stack.notifications()
    assert notifications[0]["subject"] == f"Backup FAILED {PROJECT}/long-gone: ServiceNotFound"


def test_invalid_input_fails_the_first_state_naming_the_field(workflow: Workflow) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE)

    result = workflow.run({"backup_name": "has space", "colour": "blue"})

    assert result.status == "FAILED"
    assert result.error == "InvalidExecutionInput"
    assert "colour" in (result.cause or "") or "backup_name" in (result.cause or "")
    assert workflow.aiven_calls() == []
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "InvalidExecutionInput")


def test_a_backup_never_ready_fails_at_the_poll_deadline(make_workflow: WorkflowFactory) -> None:
    workflow = make_workflow(environment={"POLL_DEADLINE_SECONDS": "1"})
    workflow.simulator.add_service(PROJECT, SERVICE, polls_until_done=10**9)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "BackupWaitTimedOut"
    assert workflow.invocations("PollBackupFunction") > 1
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "BackupWaitTimedOut")
    assert_lock_released(workflow)


def test_the_copy_spans_several_invocations_when_time_runs_short(
    make_workflow: WorkflowFactory,
) -> None:
    # A valid backup of about 26 MiB (four 8 MiB parts) served without Range at 8 MiB/s to a
    # copier whose invocations may only run about a second each.
    files = sample_backup_files()
    files["padding.bin"] = os.urandom(26 * 1024 * 1024)
    backup = pack_tar(files)
    workflow = make_workflow(
        environment={"COPY_TIME_MARGIN_SECONDS": "0"}, timeouts={"CopyBackupFunction": 1.0}
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    workflow.simulator.download.ranges = False
    workflow.simulator.faults.trickle(8 * 1024 * 1024)

    result = workflow.run({}, timeout=180)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert result.output["copy_invocations"] >= 3
    assert workflow.invocations("CopyBackupFunction") == result.output["copy_invocations"]
    assert sha256(workflow.object_bytes(result.output["key"])) == sha256(backup)
    assert workflow.stack.incomplete_uploads() == []


def test_a_truncated_download_aborts_the_upload_and_notifies(workflow: Workflow) -> None:
    # Without Range the copier cannot resume mid-body: every attempt ends short of the length.
    backup = build_sample_backup(shard_payload_bytes=64 * 1024)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    workflow.simulator.download.ranges = False
    workflow.simulator.faults.truncate_download(len(backup) // 2, times=100)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "SourceTruncated"
    assert_nothing_left_in_s3(workflow)
    notification = assert_failure_notified(workflow, "SourceTruncated")
    assert "incomplete upload" in notification["message"]
    assert_lock_released(workflow)


def test_a_run_while_another_holds_the_lock_ends_quietly(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    hold_lock(other_execution(workflow, "still-running", running=True))

    result = workflow.run({})

    assert result.status == "SUCCEEDED"
    assert result.output is not None
    assert result.output["status"] == "SKIPPED"
    assert "still-running" in result.output["message"]
    assert workflow.aiven_calls() == []
    assert workflow.stack.notifications() == []


def test_a_lock_left_by_an_execution_that_no_longer_runs_is_taken_over_and_the_backup_lands(
    workflow: Workflow, sample_backup: bytes
) -> None:
    """The previous run was stopped, timed out, or its failure path failed: its lock must not
    block the service until it expires (37 h of SKIPPED schedules)."""
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    hold_lock(other_execution(workflow, "over-without-cleaning-up", running=False))

    result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert result.output["status"] == "SUCCEEDED"
    assert sha256(workflow.object_bytes(result.output["key"])) == sha256(sample_backup)
    assert_success_notified(workflow)
    assert_lock_released(workflow)

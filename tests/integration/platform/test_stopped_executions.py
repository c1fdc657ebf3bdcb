"""An execution stopped in the console (ABORTED) or past the machine's timeout (TIMED_OUT) runs no
Catch: the status-change rule brings it to the failure handler, which cleans up like a Catch.

moto neither fires EventBridge rules nor stops a running execution, so the handler is driven with
the real-shaped event from ``events/eventbridge/`` and the rule's pattern is checked against it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.events.models import EventPattern

from local_runner.stack import BUCKET
from local_runner.template import load_template
from tests.support.aiven import PROJECT, SERVICE
from tests.support.workflow import Workflow, assert_lock_released, hold_lock

EVENT = json.loads(
    (Path(__file__).parents[3] / "events/eventbridge/execution-aborted.json").read_text()
)
# What StartBackup made of the event's input and start time (2026-12-02T03:00:04Z).
KEY = f"influxdb-backups/{PROJECT}/{SERVICE}/2026/12/02/nightly-7.tar"


def stopped_event(workflow: Workflow, status: str) -> dict[str, Any]:
    """The sample event, for an execution of this stack's state machine."""
    event = copy.deepcopy(EVENT)
    machine = workflow.stack.state_machine_arn
    execution = machine.replace(":stateMachine:", ":execution:") + ":nightly-7"
    event["resources"] = [execution]
    event["detail"].update(executionArn=execution, stateMachineArn=machine, status=status)
    shaped: dict[str, Any] = event
    return shaped


def handle(workflow: Workflow, event: dict[str, Any]) -> dict[str, Any]:
    payload, errored = workflow.stack.lambdas.invoke(
        "HandleFailureFunction", event, "arn:aws:lambda:us-east-1:123456789012:function:hf"
    )
    assert not errored, payload
    report: dict[str, Any] = json.loads(payload)
    return report


def start_an_upload(workflow: Workflow) -> str:
    s3 = workflow.stack.s3
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=KEY)["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=KEY, UploadId=upload, PartNumber=1, Body=b"x" * 1024)
    return upload


def test_the_rule_sends_stopped_and_timed_out_runs_of_this_machine_and_nothing_else() -> None:
    (rule,) = [
        event["Properties"]["Pattern"]
        for resource in load_template()["Resources"].values()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event["Type"] == "EventBridgeRule"
    ]
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:BackupStateMachine-Xq3rT9pLm2Wd"
    pattern = EventPattern.load(
        json.dumps({**rule, "detail": {**rule["detail"], "stateMachineArn": [machine]}})
    )

    def with_status(status: str, state_machine: str = machine) -> dict[str, Any]:
        event: dict[str, Any] = copy.deepcopy(EVENT)
        event["detail"].update(status=status, stateMachineArn=state_machine)
        return event

    assert rule["detail"]["stateMachineArn"] == [{"Ref": "BackupStateMachine"}]
    assert pattern.matches_event(with_status("ABORTED"))
    assert pattern.matches_event(with_status("TIMED_OUT"))
    for status in ("RUNNING", "SUCCEEDED", "FAILED"):  # FAILED already ran the Catch
        assert not pattern.matches_event(with_status(status))
    assert not pattern.matches_event(with_status("ABORTED", machine + "-another-stack"))


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        ("ABORTED", "ExecutionAborted", "stopped before it finished"),
        ("TIMED_OUT", "ExecutionTimedOut", "past the state machine's own timeout"),
    ],
)
def test_a_run_stopped_mid_copy_has_its_upload_aborted_its_lock_released_and_is_announced(
    workflow: Workflow, status: str, error: str, says: str
) -> None:
    event = stopped_event(workflow, status)
    hold_lock(event["detail"]["executionArn"])
    start_an_upload(workflow)

    report = handle(workflow, event)

    assert report["error"] == error
    assert workflow.stack.incomplete_uploads() == []
    assert workflow.stack.object_keys() == []
    assert_lock_released(workflow)
    (notification,) = workflow.stack.notifications()
    assert notification["subject"] == f"Backup FAILED {PROJECT}/{SERVICE}: {error}"
    assert notification["attributes"]["status"] == "FAILED"
    assert says in notification["message"]
    assert f"aborted 1 incomplete upload(s) of s3://{BUCKET}/{KEY}" in notification["message"]
    assert "lock released" in notification["message"]


def test_a_run_stopped_after_the_copy_keeps_the_object_tagged_unverified(
    workflow: Workflow,
) -> None:
    event = stopped_event(workflow, "TIMED_OUT")
    hold_lock(event["detail"]["executionArn"])
    workflow.stack.s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"the copied backup")

    handle(workflow, event)

    assert workflow.object_bytes(KEY) == b"the copied backup"
    tag_set = workflow.stack.s3.get_object_tagging(Bucket=BUCKET, Key=KEY)["TagSet"]
    assert {tag["Key"]: tag["Value"] for tag in tag_set} == {
        "backup-verified": "false",
        "backup-verify-error": "ExecutionTimedOut",  # what stopped its verification
        "retention-class": "failed",  # so a lifecycle rule still expires it
    }
    (notification,) = workflow.stack.notifications()
    assert "kept the copied object" in notification["message"]
    assert_lock_released(workflow)


def test_a_run_stopped_after_verification_leaves_its_verified_object_alone(
    workflow: Workflow,
) -> None:
    event = stopped_event(workflow, "ABORTED")
    s3 = workflow.stack.s3
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"verified", Tagging="backup-verified=true")
    s3.put_object(Bucket=BUCKET, Key=f"{KEY}.inventory.json", Body=b"{}")

    handle(workflow, event)

    assert s3.get_object_tagging(Bucket=BUCKET, Key=KEY)["TagSet"] == [
        {"Key": "backup-verified", "Value": "true"}
    ]
    assert sorted(workflow.stack.object_keys()) == [KEY, f"{KEY}.inventory.json"]


def test_a_lock_another_execution_holds_is_not_released(workflow: Workflow) -> None:
    event = stopped_event(workflow, "ABORTED")
    hold_lock("arn:aws:states:us-east-1:123456789012:execution:m:the-next-run")

    handle(workflow, event)

    items = boto3.client("dynamodb").scan(TableName="influxdb-backup-locks")["Items"]
    assert [item["owner"]["S"] for item in items] == [
        "arn:aws:states:us-east-1:123456789012:execution:m:the-next-run"
    ]


def test_an_event_of_another_status_is_ignored(workflow: Workflow) -> None:
    report = handle(workflow, stopped_event(workflow, "SUCCEEDED"))

    assert "ignored" in report
    assert workflow.stack.notifications() == []

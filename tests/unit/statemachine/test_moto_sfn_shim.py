"""What moto runs of ``startExecution.sync:2``, with and without ``local_runner.moto_sfn``.

The first test documents moto 5.2.5's gap: if it starts failing, moto translates the
integration's field names itself and the patch in ``local_runner/moto_sfn.py`` can go.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from local_runner.moto_sfn import states_integration_as_aws

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

ROLE = "arn:aws:iam::123456789012:role/shim-test"
CHILD = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Fails"}],
            "Default": "Done",
        },
        "Done": {"Type": "Pass", "Parameters": {"got.$": "$.value"}, "End": True},
        "Fails": {"Type": "Fail", "Error": "BackupTaskFailed", "Cause": "Aiven says no"},
    },
}


def parent_definition(child_arn: str) -> dict[str, Any]:
    """A parent written as AWS documents the integration (Pascal case fields)."""
    return {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child_arn, "Name.$": "$.name", "Input.$": "$.in"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


@pytest.fixture
def sfn() -> Iterator[SFNClient]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def run_parent(sfn: SFNClient, child_input: dict[str, Any]) -> dict[str, Any]:
    child = sfn.create_state_machine(name="child", definition=json.dumps(CHILD), roleArn=ROLE)
    parent = sfn.create_state_machine(
        name="parent",
        definition=json.dumps(parent_definition(child["stateMachineArn"])),
        roleArn=ROLE,
    )
    started = sfn.start_execution(
        stateMachineArn=parent["stateMachineArn"],
        name="p",
        input=json.dumps({"name": "run-1", "in": child_input}),
    )
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        described = sfn.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            assert described["status"] == "SUCCEEDED", described
            output: dict[str, Any] = json.loads(described["output"])
            return output
        time.sleep(0.05)
    raise AssertionError("the parent execution did not finish")


def test_moto_alone_fails_the_aws_shaped_parameters(sfn: SFNClient) -> None:
    output = run_parent(sfn, {"value": 1, "fail": False})

    assert output == {"Error": "States.Runtime", "Cause": "'StateMachineArn'"}


def test_with_the_patch_the_answer_has_aws_shape(sfn: SFNClient) -> None:
    with states_integration_as_aws(sync_poll_seconds=0.05):
        output = run_parent(sfn, {"value": 7, "fail": False})

    assert output["Status"] == "SUCCEEDED"
    assert output["Name"] == "run-1"
    assert output["ExecutionArn"].endswith(":execution:child:run-1")
    assert output["Input"] == {"value": 7, "fail": False}
    assert output["Output"] == {"got": 7}  # sync:2: JSON, not a string
    assert isinstance(output["StartDate"], int)


def test_with_the_patch_a_failed_child_is_states_task_failed_with_its_description(
    sfn: SFNClient,
) -> None:
    with states_integration_as_aws(sync_poll_seconds=0.05):
        output = run_parent(sfn, {"value": 0, "fail": True})

    assert output["Error"] == "States.TaskFailed"
    described = json.loads(output["Cause"])
    assert described["Status"] == "FAILED"
    assert described["Error"] == "BackupTaskFailed"
    assert described["Cause"] == "Aiven says no"

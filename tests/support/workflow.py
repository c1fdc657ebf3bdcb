"""A whole stack on this machine for tests: the Aiven simulator, moto, the real state machine,
in-process handlers. Waits and retry back-off are skipped, so tests assert behaviour, not time."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from local_runner.aiven_simulator import AivenSimulator
from local_runner.stack import BUCKET, ExecutionResult, LocalStack, StackOptions
from tests.support.aiven import PROJECT, SERVICE, TOKEN

# Everything the deployed stack would be given, narrowed for a loopback simulator and fast tests.
TEST_ENVIRONMENT = {
    "ALLOWED_DOWNLOAD_HOSTS": "127.0.0.1",
    "ALLOW_INSECURE_DOWNLOAD": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AIVEN_RETRY_BASE_DELAY": "0.01",
    "AIVEN_RETRY_MAX_DELAY": "0.05",
    "COPY_RETRY_BASE_DELAY": "0.01",
    "COPY_RETRY_MAX_DELAY": "0.05",
}


@dataclass
class Workflow:
    """The simulator and the local stack, and what a test asks of them."""

    simulator: AivenSimulator
    stack: LocalStack

    def run(self, execution_input: Mapping[str, Any], timeout: float = 120.0) -> ExecutionResult:
        return self.stack.run(dict(execution_input), timeout=timeout)

    def run_fanout(
        self, execution_input: Mapping[str, Any], timeout: float = 300.0
    ) -> ExecutionResult:
        """Run the fan-out state machine (many services) to its end."""
        return self.stack.run_fanout(dict(execution_input), timeout=timeout)

    def object_bytes(self, key: str) -> bytes:
        return self.stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def invocations(self, function: str) -> int:
        return sum(1 for i in self.stack.lambdas.invocations if i.function_name == function)

    def aiven_calls(self, method: str | None = None) -> list[Any]:
        return [r for r in self.simulator.requests if method is None or r[0] == method]


WorkflowFactory = Callable[..., Workflow]


@contextlib.contextmanager
def workflow_factory() -> Iterator[WorkflowFactory]:
    """Build workflows; keyword arguments tune the stack's environment, function time limits,
    template parameters and clock."""
    with contextlib.ExitStack() as resources:

        def make(
            environment: Mapping[str, str] | None = None,
            timeouts: Mapping[str, float] | None = None,
            parameters: Mapping[str, str] | None = None,
            clock: Callable[[], float] | None = None,
        ) -> Workflow:
            simulator = resources.enter_context(AivenSimulator(token=TOKEN))
            options = StackOptions(
                aiven_api_url=simulator.base_url,
                aiven_token=TOKEN,
                parameters={"AivenProject": PROJECT, "AivenService": SERVICE, **(parameters or {})},
                environment={**TEST_ENVIRONMENT, **(environment or {})},
                timeouts=timeouts or {},
                fast_waits=True,
                clock=clock,
            )
            return Workflow(simulator, resources.enter_context(LocalStack(options)))

        yield make


def other_execution(name: str, *, running: bool) -> str:
    """The ARN of an execution of another state machine in moto, as a lock holder would be in
    AWS: RUNNING (it waits for a task token nobody sends), or over (it FAILED, as a run whose
    failure path failed too). moto's executor cannot stop a running execution (ABORTED)."""
    sfn = boto3.client("stepfunctions")
    if running:
        queue = boto3.client("sqs").create_queue(QueueName=f"holder-{name}")["QueueUrl"]
        state = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    else:
        state = {"Type": "Fail", "Error": "CleanupFailed", "Cause": "the failure path failed"}
    machine = sfn.create_state_machine(
        name=f"holder-{name}",
        definition=json.dumps({"StartAt": "Hold", "States": {"Hold": state}}),
        roleArn="arn:aws:iam::123456789012:role/holder",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
    wanted = "RUNNING" if running else "FAILED"
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"the holder execution never became {wanted}")
        time.sleep(0.05)
    return execution


def hold_lock(owner: str) -> None:
    """Write the service's lock item as another execution's StartBackup would have."""
    boto3.client("dynamodb").put_item(
        TableName="influxdb-backup-locks",
        Item={
            "lock_id": {"S": f"{PROJECT}/{SERVICE}"},
            "owner": {"S": owner},
            "acquired_at": {"N": str(int(time.time()) - 60)},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )


def assert_nothing_left_in_s3(workflow: Workflow) -> None:
    assert workflow.stack.object_keys() == []
    assert workflow.stack.incomplete_uploads() == []


def assert_failure_notified(workflow: Workflow, error: str) -> dict[str, str]:
    notifications = workflow.stack.notifications()
    assert len(notifications) == 1, notifications
    notification = notifications[0]
    assert notification["subject"] == f"Backup FAILED {PROJECT}/{SERVICE}: {error}"
    assert notification["attributes"] == {
        "status": "FAILED",
        "project": PROJECT,
        "service": SERVICE,
    }
    assert f"Error:       {error}" in notification["message"]
    return notification


def assert_success_notified(workflow: Workflow) -> None:
    (notification,) = workflow.stack.notifications()
    assert notification["subject"].startswith(f"Backup SUCCEEDED {PROJECT}/{SERVICE} ")
    assert notification["attributes"]["status"] == "SUCCEEDED"


def assert_lock_released(workflow: Workflow) -> None:
    items = boto3.client("dynamodb").scan(TableName="influxdb-backup-locks")["Items"]
    assert items == []

"""A whole stack on this machine for tests: the Aiven simulator, moto, the real state machine,
in-process handlers. Waits and retry back-off are skipped, so tests assert behaviour, not time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_runner.aiven_simulator import AivenSimulator
from local_runner.call_recording import ACCOUNT_ID
from local_runner.stack import BUCKET, REGION, ExecutionResult, LocalStack, StackOptions
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


def other_execution(workflow: Workflow, name: str, *, running: bool) -> str:
    """The ARN of another execution of the stack's backup state machine, as a lock holder is in
    AWS (StartBackup's role may describe that machine's executions only): RUNNING, or over
    (ABORTED, as a stopped run that never cleaned up). moto records it but does not run it: the
    machine's own ``start_execution``, not the backend's that starts the interpreter."""
    stack = workflow.stack
    backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    machine = backend.describe_state_machine(stack.state_machine_arn)
    execution = machine.start_execution(
        region_name=REGION, account_id=ACCOUNT_ID, execution_name=name, execution_input="{}"
    )
    if not running:
        execution.stop()
    wanted = "RUNNING" if running else "ABORTED"
    status = stack.sfn.describe_execution(executionArn=execution.execution_arn)["status"]
    assert status == wanted, f"the holder execution is {status}, not {wanted}"
    arn: str = execution.execution_arn
    return arn


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

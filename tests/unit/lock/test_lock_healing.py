"""The lock heals itself and remembers the Aiven task: a stopped run never blocks the service,
and a retried StartBackup never requests a second backup."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest

from aiven_backup.errors import BackupAlreadyRunning
from aiven_backup.workflow.lock import LockHolder, ServiceLock, step_functions_liveness
from tests.support.aws import REGION
from tests.support.clock import ManualClock
from tests.support.lock import LOCK_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

EXECUTION_A = "arn:aws:states:us-east-1:123456789012:execution:InfluxBackup:run-a"
EXECUTION_B = "arn:aws:states:us-east-1:123456789012:execution:InfluxBackup:run-b"
TTL = 3600


def lock_with(
    dynamodb: DynamoDBClient, clock: ManualClock, running: dict[str, bool] | None
) -> ServiceLock:
    is_running = None if running is None else (lambda arn: running.get(arn, True))
    return ServiceLock(
        LOCK_TABLE, dynamodb=dynamodb, ttl_seconds=TTL, clock=clock, is_running=is_running
    )


def test_a_retried_acquire_gets_back_the_task_it_recorded(
    dynamodb: DynamoDBClient, clock: ManualClock
) -> None:
    lock = lock_with(dynamodb, clock, running=None)
    first = lock.acquire("acme", "metrics-influx", EXECUTION_A)
    lock.record_task("acme", "metrics-influx", EXECUTION_A, "task-1")
    clock.advance(30)

    again = lock.acquire("acme", "metrics-influx", EXECUTION_A)

    assert first.task_id is None
    assert again == LockHolder(EXECUTION_A, first.acquired_at, int(clock.now) + TTL, "task-1")


def test_recording_a_task_needs_the_lock(dynamodb: DynamoDBClient, clock: ManualClock) -> None:
    lock = lock_with(dynamodb, clock, running=None)
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        lock.record_task("acme", "metrics-influx", EXECUTION_B, "task-2")


def test_a_lock_held_by_a_stopped_execution_is_taken_over_without_its_task(
    dynamodb: DynamoDBClient, clock: ManualClock
) -> None:
    lock = lock_with(dynamodb, clock, running={EXECUTION_A: False})
    lock.acquire("acme", "metrics-influx", EXECUTION_A)
    lock.record_task("acme", "metrics-influx", EXECUTION_A, "task-of-a")
    clock.advance(600)

    taken = lock.acquire("acme", "metrics-influx", EXECUTION_B)

    now = int(clock.now)
    assert taken == LockHolder(EXECUTION_B, now, now + TTL)
    assert lock.holder("acme", "metrics-influx") == LockHolder(EXECUTION_B, now, now + TTL)
    assert lock.release("acme", "metrics-influx", EXECUTION_A) is False


def test_a_lock_held_by_a_running_execution_is_not_taken(
    dynamodb: DynamoDBClient, clock: ManualClock
) -> None:
    lock = lock_with(dynamodb, clock, running={EXECUTION_A: True})
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    with pytest.raises(BackupAlreadyRunning, match="execution 'run-a'"):
        lock.acquire("acme", "metrics-influx", EXECUTION_B)


def test_without_a_liveness_check_a_held_lock_is_never_taken(
    dynamodb: DynamoDBClient, clock: ManualClock
) -> None:
    lock = lock_with(dynamodb, clock, running=None)
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    with pytest.raises(BackupAlreadyRunning):
        lock.acquire("acme", "metrics-influx", EXECUTION_B)


# --- Step Functions answers whether the holder still runs ------------------------------------


@pytest.fixture
def sfn(moto_aws: None) -> SFNClient:
    return boto3.client("stepfunctions", region_name=REGION)


def _execution(sfn: SFNClient) -> str:
    machine = sfn.create_state_machine(
        name="InfluxBackup",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine)["executionArn"]


def test_liveness_says_running_for_a_running_execution_and_not_after_it_is_stopped(
    sfn: SFNClient,
) -> None:
    is_running = step_functions_liveness(sfn)
    execution = _execution(sfn)

    assert is_running(execution) is True
    sfn.stop_execution(executionArn=execution)  # what a person does in the console: ABORTED
    assert is_running(execution) is False


def test_an_execution_step_functions_does_not_know_is_not_running(sfn: SFNClient) -> None:
    assert step_functions_liveness(sfn)(EXECUTION_A) is False


def test_when_step_functions_cannot_answer_the_holder_counts_as_running(sfn: SFNClient) -> None:
    assert step_functions_liveness(sfn)("not-an-arn") is True

"""The per-service lock: one backup per Aiven service at a time, decided by DynamoDB."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from aiven_backup.errors import BackupAlreadyRunning
from aiven_backup.workflow.lock import LockHolder, ServiceLock
from tests.support.clock import ManualClock
from tests.support.lock import LOCK_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXECUTION_A = "arn:aws:states:us-east-1:123456789012:execution:InfluxBackup:run-a"
EXECUTION_B = "arn:aws:states:us-east-1:123456789012:execution:InfluxBackup:run-b"
TTL = 3600


@pytest.fixture
def lock(dynamodb: DynamoDBClient, clock: ManualClock) -> ServiceLock:
    return ServiceLock(LOCK_TABLE, dynamodb=dynamodb, ttl_seconds=TTL, clock=clock)


def stored_item(dynamodb: DynamoDBClient, lock_id: str) -> dict[str, str] | None:
    item = dynamodb.get_item(TableName=LOCK_TABLE, Key={"lock_id": {"S": lock_id}}).get("Item")
    if item is None:
        return None
    return {name: next(iter(value.values())) for name, value in item.items()}  # type: ignore[misc]


def test_acquire_writes_one_item_keyed_by_project_and_service(
    lock: ServiceLock, dynamodb: DynamoDBClient, clock: ManualClock
) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    now = int(clock.now)
    assert stored_item(dynamodb, "acme/metrics-influx") == {
        "lock_id": "acme/metrics-influx",
        "owner": EXECUTION_A,
        "acquired_at": str(now),
        "expires_at": str(now + TTL),
    }
    assert lock.holder("acme", "metrics-influx") == LockHolder(EXECUTION_A, now, now + TTL)


def test_a_free_lock_has_no_holder(lock: ServiceLock) -> None:
    assert lock.holder("acme", "metrics-influx") is None


def test_release_frees_the_lock_for_the_next_owner(lock: ServiceLock) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    assert lock.release("acme", "metrics-influx", EXECUTION_A) is True

    assert lock.holder("acme", "metrics-influx") is None
    lock.acquire("acme", "metrics-influx", EXECUTION_B)
    assert lock.holder("acme", "metrics-influx") is not None


def test_a_second_owner_is_refused_with_the_holders_execution_named(
    lock: ServiceLock, clock: ManualClock
) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)
    clock.advance(60)

    with pytest.raises(BackupAlreadyRunning) as caught:
        lock.acquire("acme", "metrics-influx", EXECUTION_B)

    message = str(caught.value)
    assert "acme/metrics-influx already has a backup in progress" in message
    assert "execution 'run-a'" in message
    assert EXECUTION_A in message
    assert "Wait for that execution to finish" in message
    assert lock.holder("acme", "metrics-influx") == LockHolder(
        EXECUTION_A, int(clock.now) - 60, int(clock.now) - 60 + TTL
    )


def test_the_same_owner_acquiring_again_succeeds_and_extends_the_expiry(
    lock: ServiceLock, clock: ManualClock
) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)
    clock.advance(600)

    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    holder = lock.holder("acme", "metrics-influx")
    assert holder is not None
    assert holder.owner == EXECUTION_A
    assert holder.expires_at == int(clock.now) + TTL


def test_an_expired_lock_counts_as_free_and_can_be_taken_over(
    lock: ServiceLock, clock: ManualClock
) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)
    clock.advance(TTL + 1)

    assert lock.holder("acme", "metrics-influx") is None
    lock.acquire("acme", "metrics-influx", EXECUTION_B)

    holder = lock.holder("acme", "metrics-influx")
    assert holder is not None
    assert holder.owner == EXECUTION_B


def test_a_lock_at_its_exact_expiry_second_is_still_held(
    lock: ServiceLock, clock: ManualClock
) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)
    clock.advance(TTL)

    with pytest.raises(BackupAlreadyRunning):
        lock.acquire("acme", "metrics-influx", EXECUTION_B)


def test_release_by_a_non_owner_deletes_nothing(lock: ServiceLock) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    assert lock.release("acme", "metrics-influx", EXECUTION_B) is False

    holder = lock.holder("acme", "metrics-influx")
    assert holder is not None
    assert holder.owner == EXECUTION_A


def test_release_is_idempotent(lock: ServiceLock) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    assert lock.release("acme", "metrics-influx", EXECUTION_A) is True
    assert lock.release("acme", "metrics-influx", EXECUTION_A) is False
    assert lock.release("acme", "never-locked", EXECUTION_A) is False


def test_a_different_service_or_project_is_not_blocked(lock: ServiceLock) -> None:
    lock.acquire("acme", "metrics-influx", EXECUTION_A)

    lock.acquire("acme", "other-influx", EXECUTION_B)
    lock.acquire("other-project", "metrics-influx", EXECUTION_B)

    assert lock.release("acme", "metrics-influx", EXECUTION_A) is True


@pytest.mark.usefixtures("atomic_item_writes")
def test_owners_racing_for_one_service_exactly_one_wins(lock: ServiceLock) -> None:
    contenders = [f"{EXECUTION_A}-{n}" for n in range(8)]
    start_together = threading.Barrier(len(contenders))
    winners: list[str] = []
    refused: list[str] = []

    def contend(owner: str) -> None:
        start_together.wait()
        try:
            lock.acquire("acme", "metrics-influx", owner)
        except BackupAlreadyRunning:
            refused.append(owner)
        else:
            winners.append(owner)

    threads = [threading.Thread(target=contend, args=(owner,)) for owner in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    assert sorted(winners + refused) == sorted(contenders)
    holder = lock.holder("acme", "metrics-influx")
    assert holder is not None
    assert holder.owner == winners[0]


@pytest.mark.parametrize(("project", "service"), [("", "svc"), ("acme", ""), ("a/b", "svc")])
def test_names_that_would_make_an_ambiguous_lock_id_are_refused(
    lock: ServiceLock, project: str, service: str
) -> None:
    with pytest.raises(ValueError, match="without '/'"):
        lock.acquire(project, service, EXECUTION_A)

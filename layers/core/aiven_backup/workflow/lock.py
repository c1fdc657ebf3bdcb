"""One backup per service at a time: a DynamoDB lock item per ``<project>/<service>``.

A new Aiven backup replaces the previous one, so two runs for one service must never overlap.
The item (``lock_id``, ``owner``, ``acquired_at``, ``expires_at``) is written by one conditional
PutItem, so DynamoDB decides the race. ``expires_at`` is also the table's TTL attribute, but TTL
deletion is lazy (it can lag by days), so an expired lock is recognised in the condition itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import boto3

from aiven_backup.errors import BackupAlreadyRunning

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# Longer than the state machine's own 36 h timeout, so only a crashed run's lock ever expires.
DEFAULT_TTL_SECONDS = 37 * 3600

_ACQUIRE_CONDITION = "attribute_not_exists(lock_id) OR expires_at < :now OR #owner = :owner"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a service's lock; times are epoch seconds."""

    owner: str
    acquired_at: int
    expires_at: int


class ServiceLock:
    """Acquire, release and inspect the per-service lock in table ``table_name``."""

    def __init__(
        self,
        table_name: str,
        *,
        dynamodb: DynamoDBClient | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self._table = table_name
        self._dynamodb = dynamodb or boto3.client("dynamodb")
        self._ttl = ttl_seconds
        self._clock = clock

    def acquire(self, project: str, service: str, owner: str) -> None:
        """Take the lock for ``owner`` (an execution ARN).

        Re-entrant: the same owner acquiring again (a retried Lambda) succeeds and extends the
        expiry. Raises ``BackupAlreadyRunning`` naming the holder when another owner has it.
        """
        now = int(self._clock())
        dynamodb = self._dynamodb
        try:
            dynamodb.put_item(
                TableName=self._table,
                Item={
                    "lock_id": {"S": lock_id(project, service)},
                    "owner": {"S": owner},
                    "acquired_at": {"N": str(now)},
                    "expires_at": {"N": str(now + self._ttl)},
                },
                ConditionExpression=_ACQUIRE_CONDITION,
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as refused:
            # With ALL_OLD, DynamoDB returns the item that made the condition fail: the holder.
            item = cast("dict[str, AttributeValueTypeDef] | None", refused.response.get("Item"))
            holder = _holder_from_item(item) if item else None
            raise BackupAlreadyRunning(_already_running_message(project, service, holder)) from None

    def release(self, project: str, service: str, owner: str) -> bool:
        """Delete the lock if ``owner`` holds it. Idempotent; returns whether it deleted."""
        dynamodb = self._dynamodb
        try:
            dynamodb.delete_item(
                TableName=self._table,
                Key={"lock_id": {"S": lock_id(project, service)}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def holder(self, project: str, service: str) -> LockHolder | None:
        """The current holder, or None when the lock is free or has expired."""
        answer = self._dynamodb.get_item(
            TableName=self._table,
            Key={"lock_id": {"S": lock_id(project, service)}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        holder = _holder_from_item(item)
        return None if holder.expires_at < int(self._clock()) else holder


def lock_id(project: str, service: str) -> str:
    """The item's key. Names are validated upstream; a ``/`` here would make ids ambiguous."""
    if not project or not service or "/" in project or "/" in service:
        raise ValueError(
            f"project and service must be non-empty names without '/', "
            f"got project={project!r}, service={service!r}"
        )
    return f"{project}/{service}"


def _holder_from_item(item: dict[str, AttributeValueTypeDef]) -> LockHolder:
    return LockHolder(
        owner=item.get("owner", {}).get("S", "an unknown owner"),
        acquired_at=int(item.get("acquired_at", {}).get("N", "0")),
        expires_at=int(item.get("expires_at", {}).get("N", "0")),
    )


def _already_running_message(project: str, service: str, holder: LockHolder | None) -> str:
    target = f"{project}/{service}"
    if holder is None:
        return (
            f"{target} already has a backup in progress; a second one would replace the backup "
            "it is making. Wait for it to finish and start again."
        )
    execution = holder.owner.rsplit(":", 1)[-1]
    return (
        f"{target} already has a backup in progress: execution {execution!r} ({holder.owner}) "
        f"holds the lock since {_utc(holder.acquired_at)}. A second backup would replace the one "
        "it is making, so this one did not start. Wait for that execution to finish, or stop it "
        f"in the Step Functions console; if it crashed, the lock frees itself at "
        f"{_utc(holder.expires_at)}."
    )


def _utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

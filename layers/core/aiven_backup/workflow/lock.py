"""One backup per service at a time: a DynamoDB lock item per ``<project>/<service>``.

A new Aiven backup replaces the previous one, so two runs for one service must never overlap.
The item (``lock_id``, ``owner``, ``acquired_at``, ``expires_at``, and ``task_id`` once Aiven
accepted the backup request) is written by conditional writes, so DynamoDB decides every race.
``expires_at`` is also the table's TTL attribute, but TTL deletion is lazy (it can lag by days),
so an expired lock is recognised in the condition itself.

The lock heals itself: when another execution holds it, ``acquire`` asks Step Functions whether
that execution is still RUNNING, and takes the lock over (conditionally on that same holder) when
it is not, so a run that was stopped, timed out or whose failure path failed never blocks the
service until the lock expires.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.errors import BackupAlreadyRunning

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_stepfunctions import SFNClient

logger = logging.getLogger(__name__)

IsRunning = Callable[[str], bool]
"""Whether the execution with this ARN is still RUNNING (when unsure: True, so nothing is taken)."""

# Longer than the state machine's own 36 h timeout, so only a crashed run's lock ever expires.
DEFAULT_TTL_SECONDS = 37 * 3600

_FREE = "attribute_not_exists(lock_id) OR expires_at < :now"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a service's lock; times are epoch seconds."""

    owner: str
    acquired_at: int
    expires_at: int
    task_id: str | None = None


class ServiceLock:
    """Acquire, release and inspect the per-service lock in table ``table_name``."""

    def __init__(
        self,
        table_name: str,
        *,
        dynamodb: DynamoDBClient | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        is_running: IsRunning | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self._table = table_name
        self._dynamodb = dynamodb or boto3.client("dynamodb")
        self._ttl = ttl_seconds
        self._clock = clock
        self._is_running = is_running

    def acquire(self, project: str, service: str, owner: str) -> LockHolder:
        """Take the lock for ``owner`` (an execution ARN); returns the lock as it is now held.

        Re-entrant: the same owner acquiring again (a retried Lambda) succeeds, extends the expiry
        and gets back the ``task_id`` it recorded. A lock held by an execution that is no longer
        running is taken over. Raises ``BackupAlreadyRunning`` naming the holder otherwise.
        """
        now = int(self._clock())
        try:
            self._put(project, service, owner, now, condition=_FREE, values={":now": _n(now)})
            return LockHolder(owner, now, now + self._ttl)
        except self._dynamodb.exceptions.ConditionalCheckFailedException as refused:
            # With ALL_OLD, DynamoDB returns the item that made the condition fail: the holder.
            item = cast("dict[str, AttributeValueTypeDef] | None", refused.response.get("Item"))
            holder = _holder_from_item(item) if item else None
        if holder is not None and holder.owner == owner:
            return self._extend(project, service, holder, now)
        if holder is not None and self._holder_stopped(holder):
            return self._take_over(project, service, owner, holder, now)
        raise BackupAlreadyRunning(_already_running_message(project, service, holder))

    def record_task(self, project: str, service: str, owner: str, task_id: str) -> None:
        """Remember the Aiven task ``owner`` created, so a retried step reuses it instead of
        requesting a second backup (which would replace the first)."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"lock_id": {"S": lock_id(project, service)}},
            UpdateExpression="SET task_id = :task",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":task": {"S": task_id}, ":owner": {"S": owner}},
        )

    def _put(
        self,
        project: str,
        service: str,
        owner: str,
        now: int,
        *,
        condition: str,
        values: dict[str, AttributeValueTypeDef],
    ) -> None:
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "lock_id": {"S": lock_id(project, service)},
                "owner": {"S": owner},
                "acquired_at": _n(now),
                "expires_at": _n(now + self._ttl),
            },
            ConditionExpression=condition,
            ExpressionAttributeNames={"#owner": "owner"} if "#owner" in condition else {},
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _extend(self, project: str, service: str, holder: LockHolder, now: int) -> LockHolder:
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"lock_id": {"S": lock_id(project, service)}},
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":expires": _n(now + self._ttl),
                    ":owner": {"S": holder.owner},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise BackupAlreadyRunning(_already_running_message(project, service, None)) from None
        return LockHolder(holder.owner, holder.acquired_at, now + self._ttl, holder.task_id)

    def _holder_stopped(self, holder: LockHolder) -> bool:
        return self._is_running is not None and not self._is_running(holder.owner)

    def _take_over(
        self, project: str, service: str, owner: str, stale: LockHolder, now: int
    ) -> LockHolder:
        try:
            self._put(
                project,
                service,
                owner,
                now,
                condition="#owner = :stale",
                values={":stale": {"S": stale.owner}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            # Another execution took it over first.
            raise BackupAlreadyRunning(_already_running_message(project, service, None)) from None
        logger.warning(
            "took over the lock of %s/%s from an execution that is no longer running",
            project,
            service,
            extra={"stale_owner": stale.owner, "stale_since": _utc(stale.acquired_at)},
        )
        return LockHolder(owner, now, now + self._ttl)

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


def _n(number: int) -> AttributeValueTypeDef:
    return {"N": str(number)}


def _holder_from_item(item: dict[str, AttributeValueTypeDef]) -> LockHolder:
    return LockHolder(
        owner=item.get("owner", {}).get("S", "an unknown owner"),
        acquired_at=int(item.get("acquired_at", {}).get("N", "0")),
        expires_at=int(item.get("expires_at", {}).get("N", "0")),
        task_id=item.get("task_id", {}).get("S"),
    )


def step_functions_liveness(sfn: SFNClient) -> IsRunning:
    """``IsRunning`` answered by Step Functions' DescribeExecution. An execution Step Functions
    does not know is not running; any other doubt (throttling, no permission) counts as running,
    so a lock is never taken from a live run."""

    def is_running(execution_arn: str) -> bool:
        try:
            return sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
        except sfn.exceptions.ExecutionDoesNotExist:
            return False
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "could not ask Step Functions whether the lock's holder still runs; "
                "treating it as running",
                extra={"holder": execution_arn, "error": str(error)},
            )
            return True

    return is_running


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
        "in the Step Functions console (a stopped execution's lock is taken over by the next "
        f"run); otherwise the lock frees itself at {_utc(holder.expires_at)}."
    )


def _utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

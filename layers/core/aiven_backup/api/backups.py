"""The backups API's logic: start a backup, report one, list recent ones. No HTTP types here.

Every refusal is a named error (``InvalidExecutionInput``, ``InvalidRequestError``,
``BackupInProgressError``, ``IdempotencyKeyReusedError``, ``BackupNotFoundError``); the HTTP edge
maps them to status codes.

The 409 here is a courtesy that answers at once; the guarantee is the lock the state machine takes
in its first step. Two POSTs racing past this check start two executions, and the second ends
quickly with ``BackupAlreadyRunning`` without touching Aiven.

A body naming many services (``services``, ``projects``, or none while the stack's default is
``*`` or a list) starts the fan-out state machine instead: there is no 409 for the whole call,
since a service that is already being backed up is reported ``SKIPPED`` in that execution's
per-service results, which ``GET /backups/{id}`` shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import batched, islice
from typing import TYPE_CHECKING, Any, cast

import boto3

from aiven_backup.api.errors import (
    BackupInProgressError,
    BackupNotFoundError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    query_limit,
    validated_query_field,
)
from aiven_backup.api.executions import (
    EXECUTION_STATUSES,
    Execution,
    ExecutionAlreadyExistsError,
    ExecutionListing,
    Executions,
    parse_status,
)
from aiven_backup.api.links import BackupLinks
from aiven_backup.api.naming import (
    execution_name_for_key,
    is_execution_name,
    new_execution_name,
    validate_idempotency_key,
)
from aiven_backup.api.settings import ApiSettings
from aiven_backup.api.views import (
    BackupIdentity,
    detail_view,
    fanout_detail_view,
    started_fanout_view,
    started_view,
    summary_view,
)
from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.fanout.request import is_fanout_input, parse_fanout_input
from aiven_backup.workflow.execution_input import (
    ExecutionInput,
    InputDefaults,
    parse_execution_input,
    validate_project_name,
    validate_service_name,
)
from aiven_backup.workflow.lock import ServiceLock

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType

DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
LIST_QUERY_PARAMETERS = ("service", "project", "status", "limit")
_EXAMPLE_BODY = '{"service": "metrics-influx"}'


@dataclass(frozen=True)
class StartedBackup:
    """The answer to POST /backups. ``replayed``: an Idempotency-Key found an earlier start."""

    execution_id: str
    execution_arn: str
    request: ExecutionInput
    replayed: bool = False

    def to_dict(self, links: BackupLinks) -> dict[str, Any]:
        return started_view(self.execution_id, self.execution_arn, self.request, links)

    @property
    def projects(self) -> list[str]:
        return [self.request.project]

    @property
    def services(self) -> list[str]:
        return [self.request.service]


@dataclass(frozen=True)
class StartedFanOut:
    """The answer to POST /backups for many services: an execution of the fan-out."""

    execution_id: str
    execution_arn: str
    body: Mapping[str, Any]
    projects: list[str]
    services: list[str]  # the named ones; "*" stands for every InfluxDB service
    replayed: bool = False

    def to_dict(self, links: BackupLinks) -> dict[str, Any]:
        return started_fanout_view(self.execution_id, self.execution_arn, self.body, links)


@dataclass(frozen=True)
class ListFilters:
    service: str | None
    project: str | None
    status: ExecutionStatusType | None
    limit: int

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ListFilters:
        unknown = sorted(set(query) - set(LIST_QUERY_PARAMETERS))
        if unknown:
            raise InvalidRequestError(
                unknown[0],
                f"unknown query parameter; the allowed ones are {', '.join(LIST_QUERY_PARAMETERS)}",
            )
        status_text = query.get("status")
        status = parse_status(status_text) if status_text else None
        if status_text and status is None:
            raise InvalidRequestError(
                "status",
                f"{status_text!r} is not an execution status; use one of "
                f"{', '.join(EXECUTION_STATUSES)}",
            )
        return cls(
            service=_query_name(query, "service", validate_service_name),
            project=_query_name(query, "project", validate_project_name),
            status=status,
            limit=query_limit(
                query.get("limit"), default=DEFAULT_LIST_LIMIT, maximum=MAX_LIST_LIMIT
            ),
        )

    def match(self, identity: BackupIdentity) -> bool:
        return (self.service is None or identity.service == self.service) and (
            self.project is None or identity.project == self.project
        )

    @property
    def filters_by_input(self) -> bool:
        return self.service is not None or self.project is not None


class BackupsApi:
    """Start, report and list backups: executions of the stack's state machine."""

    def __init__(
        self,
        executions: Executions,
        lock: ServiceLock,
        defaults: InputDefaults,
        *,
        fanout: Executions | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        list_scan_limit: int = 300,
        running_scan_limit: int = 100,
        describe_concurrency: int = 8,
        bucket: str | None = None,
    ) -> None:
        self._executions = executions
        self._bucket = bucket  # the only bucket a mode 'verify' s3_uri may name
        self._fanout = fanout
        self._lock = lock
        self._defaults = defaults
        self._clock = clock
        self._list_scan_limit = list_scan_limit
        self._running_scan_limit = running_scan_limit
        self._describe_concurrency = describe_concurrency

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> BackupsApi:
        stepfunctions = boto3.client("stepfunctions")
        fanout = settings.fanout_state_machine_arn
        return cls(
            Executions(stepfunctions, settings.state_machine_arn),
            ServiceLock(settings.lock_table_name),
            settings.input_defaults,
            fanout=Executions(stepfunctions, fanout) if fanout else None,
            bucket=settings.bucket,
        )

    def start_backup(
        self, body: str | None, *, idempotency_key: str | None = None
    ) -> StartedBackup | StartedFanOut:
        """Validate ``body`` (an execution input; empty means all defaults) and start a backup.

        With an ``idempotency_key`` the execution's name derives from the key, so a retry finds
        the first start and returns it; the same key with a different body is refused.
        """
        now = self._clock()
        raw = _decode_body(body)
        if self._fanout is not None and is_fanout_input(raw, self._defaults):
            return self._start_fanout(self._fanout, raw, now, idempotency_key)
        request = parse_execution_input(raw, self._defaults, now=now, bucket=self._bucket)

        if idempotency_key is not None:
            name = execution_name_for_key(validate_idempotency_key(idempotency_key))
            earlier = self._executions.describe(name)
            if earlier is not None:
                return self._replay(earlier, raw, request)
        else:
            name = new_execution_name(request.service, now)

        running = self._running_backup(request.project, request.service)
        if running is not None:
            raise BackupInProgressError(request.project, request.service, running.name, running.arn)

        try:
            arn = self._executions.start(name, request.to_dict())
        except ExecutionAlreadyExistsError:
            # Only with a key: a concurrent retry started it between our describe and start.
            earlier = self._executions.describe(name)
            if earlier is None:
                raise
            return self._replay(earlier, raw, request)
        return StartedBackup(name, arn, request)

    def get_backup(self, execution_id: str, links: BackupLinks) -> dict[str, Any]:
        """One backup: an execution of the single-service state machine, or a fan-out (with
        its per-service results once it has finished)."""
        if not is_execution_name(execution_id):
            raise BackupNotFoundError(execution_id)
        execution = self._executions.describe(execution_id)
        if execution is not None:
            return detail_view(execution, links)
        fanned = self._fanout.describe(execution_id) if self._fanout is not None else None
        if fanned is None:
            raise BackupNotFoundError(execution_id)
        return fanout_detail_view(fanned, links)

    def list_backups(self, query: Mapping[str, str], links: BackupLinks) -> dict[str, Any]:
        """Recent backups, newest first, filtered by service, project and status.

        Filtering by service or project reads each execution's input, so at most
        ``list_scan_limit`` executions are examined; ``truncated`` says the scan stopped there.
        """
        filters = ListFilters.parse(query)
        listings = iter(self._executions.newest_first(filters.status))
        batch_size = 25 if filters.filters_by_input else filters.limit
        found: list[dict[str, Any]] = []
        scanned = 0
        for batch in batched(listings, batch_size):
            for execution in self._describe_all(batch):
                identity = BackupIdentity.of(execution.input_object(), self._defaults)
                if filters.match(identity):
                    found.append(summary_view(execution, identity, links))
                    if len(found) == filters.limit:
                        return {"backups": found, "count": len(found), "truncated": False}
            scanned += len(batch)
            if scanned >= self._list_scan_limit:
                more = next(listings, None) is not None
                return {"backups": found, "count": len(found), "truncated": more}
        return {"backups": found, "count": len(found), "truncated": False}

    def _start_fanout(
        self,
        fanout: Executions,
        raw: object,
        now: datetime,
        idempotency_key: str | None,
    ) -> StartedFanOut:
        """Start the fan-out for ``raw`` (checked here by its own rules; the per-service ones
        are the plan's). No 409: a busy service is SKIPPED in the execution's results."""
        request = parse_fanout_input(raw, self._defaults)
        body = dict(cast("Mapping[str, Any]", raw))
        named = [name for s in request.selections for name in (s.services or ("*",))]

        def started(execution: Execution | None, name: str, arn: str) -> StartedFanOut:
            if execution is not None and execution.input_object() != body:
                raise IdempotencyKeyReusedError(execution.name)
            return StartedFanOut(
                name, arn, body, list(request.projects), named, replayed=execution is not None
            )

        if idempotency_key is not None:
            name = execution_name_for_key(validate_idempotency_key(idempotency_key))
            if self._executions.describe(name) is not None:
                raise IdempotencyKeyReusedError(name)  # it started a single-service backup
            earlier = fanout.describe(name)
            if earlier is not None:
                return started(earlier, earlier.name, earlier.arn)
        else:
            name = new_execution_name("fanout", now)
        try:
            arn = fanout.start(name, body)
        except ExecutionAlreadyExistsError:
            earlier = fanout.describe(name)
            if earlier is None:
                raise
            return started(earlier, earlier.name, earlier.arn)
        return started(None, name, arn)

    def _running_backup(self, project: str, service: str) -> Execution | None:
        """The running execution backing up this service: the lock's holder if it still runs,
        else any running execution whose input names the service (it may not have locked yet).
        """
        holder = self._lock.holder(project, service)
        if holder is not None:
            execution = self._executions.describe_arn(holder.owner)
            if execution is not None and execution.status == "RUNNING":
                return execution
        running = list(islice(self._executions.newest_first("RUNNING"), self._running_scan_limit))
        for execution in self._describe_all(running):
            identity = BackupIdentity.of(execution.input_object(), self._defaults)
            if execution.status == "RUNNING" and (identity.project, identity.service) == (
                project,
                service,
            ):
                return execution
        return None

    def _replay(self, earlier: Execution, raw: object, request: ExecutionInput) -> StartedBackup:
        try:
            previous = parse_execution_input(
                earlier.input_object(), self._defaults, now=earlier.start_time
            )
        except InvalidExecutionInput:
            raise IdempotencyKeyReusedError(earlier.name) from None
        # An omitted backup_name means "the default", fixed when the key was first used.
        gives_name = isinstance(raw, Mapping) and "backup_name" in raw
        same = request if gives_name else replace(request, backup_name=previous.backup_name)
        if same != previous:
            raise IdempotencyKeyReusedError(earlier.name)
        return StartedBackup(earlier.name, earlier.arn, previous, replayed=True)

    def _describe_all(self, listings: Sequence[ExecutionListing]) -> Iterable[Execution]:
        """DescribeExecution for each listing, a few at a time, in the listing's order."""
        if not listings:
            return []
        workers = min(self._describe_concurrency, len(listings))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            described = list(pool.map(lambda row: self._executions.describe_arn(row.arn), listings))
        return [execution for execution in described if execution is not None]


def _decode_body(body: str | None) -> object:
    if body is None or not body.strip():
        return {}
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidExecutionInput(
            "body",
            f"is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); send "
            f"a JSON object such as {_EXAMPLE_BODY}",
        ) from None


def _query_name(
    query: Mapping[str, str], field: str, validate: Callable[[str, str], str]
) -> str | None:
    value = query.get(field)
    return None if value is None else validated_query_field(field, value, validate)

"""PlanBackups: which services this fan-out backs up, and what each run is started with.

One ``GET /v1/project/{project}/service`` per project: ``"*"`` keeps the ``influxdb`` services,
and every service (named or found) that is not ``RUNNING`` is skipped with its state, so a
powered-off service (the normal picture after Aiven's end of life for InfluxDB) never starts a
run that can only fail. A named service the list does not show still gets its run, which fails
with the single-service workflow's own named error (``ServiceNotFound``...).

The plan is small on purpose: each run is a name and ``{project, service}``; what every run
shares (backup name, mode, route, prefix, ``notify``) is in ``options`` once. The state machine
merges the two into each run's input, so the Map's input stays a few hundred bytes per service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiven_backup.aiven import Service
from aiven_backup.aiven.preflight import INFLUXDB, RUNNING
from aiven_backup.errors import TooManyServices
from aiven_backup.fanout.request import FanOutRequest, ProjectSelection, parse_fanout_input
from aiven_backup.fanout.settings import FanOutSettings
from aiven_backup.workflow.execution_input import (
    NOTIFY_FIELD,
    STARTED_BY_FIELD,
    InputDefaults,
    parse_execution_input,
)
from aiven_backup.workflow.run_state import ExecutionRef

# What one execution's payload carries comfortably (tests/unit/fanout/test_payload_size.py
# computes the largest state for this many services, with the longest names Aiven allows).
MAX_SERVICES_PER_EXECUTION = 250
_NAME_SERVICE_CHARS = 50
_NAME_DIGEST_CHARS = 16


class ServiceLister(Protocol):
    """What planning needs of the Aiven client."""

    def list_services(self, project: str) -> list[Service]: ...


AivenFactory = Callable[[], AbstractContextManager[ServiceLister]]


@dataclass(frozen=True)
class PlannedRun:
    """One single-service execution to start: its name and the service it backs up."""

    name: str
    project: str
    service: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input": {"project": self.project, "service": self.service}}


@dataclass(frozen=True)
class SkippedService:
    """A service not backed up because Aiven reports it is not RUNNING."""

    project: str
    service: str
    state: str

    def to_dict(self) -> dict[str, str]:
        return {"project": self.project, "service": self.service, "state": self.state}


@dataclass(frozen=True)
class Plan:
    runs: tuple[PlannedRun, ...]
    skipped: tuple[SkippedService, ...]
    # Merged into every run's input: the shared fields, notify and the parent's ARN.
    options: Mapping[str, Any]
    max_concurrency: int
    notify_each: bool
    projects: tuple[str, ...]
    ignored: int = 0  # services of other types that "*" left out

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [run.to_dict() for run in self.runs],
            "skipped": [skipped.to_dict() for skipped in self.skipped],
            "options": dict(self.options),
            "max_concurrency": self.max_concurrency,
            "notify_each": self.notify_each,
            "projects": list(self.projects),
            "ignored": self.ignored,
        }


def plan_backups(
    raw_input: object,
    execution: ExecutionRef,
    *,
    aiven: AivenFactory,
    defaults: InputDefaults,
    settings: FanOutSettings,
    now: datetime,
) -> Plan:
    """Validate the input, list each project's services, and decide every service's fate."""
    request = parse_fanout_input(raw_input, defaults, notify_each=settings.notify_each)
    options: dict[str, Any] = dict(request.shared)
    if not request.notify_each:
        options[NOTIFY_FIELD] = False
    options[STARTED_BY_FIELD] = execution.arn

    runs: list[PlannedRun] = []
    skipped: list[SkippedService] = []
    ignored = 0
    with aiven() as client:
        for selection in request.selections:
            listed = client.list_services(selection.project)
            chosen, left_out = _choose(selection, listed)
            ignored += left_out
            for name, service in chosen:
                if service is not None and service.state != RUNNING:
                    skipped.append(SkippedService(selection.project, name, service.state))
                else:
                    runs.append(
                        PlannedRun(
                            child_execution_name(execution.arn, selection.project, name),
                            selection.project,
                            name,
                        )
                    )
    _check_count(request, len(runs) + len(skipped))
    for run in runs:
        # Each run's own first step applies these rules; checking them here refuses a bad
        # backup name or mode once, before any service is touched.
        parse_execution_input(
            {**request.shared, "project": run.project, "service": run.service}, defaults, now=now
        )
    return Plan(
        runs=tuple(runs),
        skipped=tuple(skipped),
        options=options,
        max_concurrency=settings.max_concurrent_services,
        notify_each=request.notify_each,
        projects=request.projects,
        ignored=ignored,
    )


def child_execution_name(parent_arn: str, project: str, service: str) -> str:
    """``<service>-<16 hex>``: unique per fan-out execution and service, at most 67 characters.

    Deterministic, so a retried start of the same run is the same execution (Step Functions
    answers a repeated StartExecution of a running one with that execution), and the summary
    finds each run by name.
    """
    digest = hashlib.sha256(f"{parent_arn}|{project}|{service}".encode()).hexdigest()
    return f"{service[:_NAME_SERVICE_CHARS].rstrip('-')}-{digest[:_NAME_DIGEST_CHARS]}"


def _choose(
    selection: ProjectSelection, listed: Iterable[Service]
) -> tuple[list[tuple[str, Service | None]], int]:
    """The services of ``selection`` with what the list says of each, and how many ``*`` left
    out for not being InfluxDB."""
    by_name = {service.name: service for service in listed}
    if selection.services is None:
        influx = sorted(
            (s for s in by_name.values() if s.service_type == INFLUXDB), key=lambda s: s.name
        )
        return [(s.name, s) for s in influx], len(by_name) - len(influx)
    return [(name, by_name.get(name)) for name in selection.services], 0


def _check_count(request: FanOutRequest, count: int) -> None:
    if count > MAX_SERVICES_PER_EXECUTION:
        raise TooManyServices(
            f"this fan-out covers {count} services of {', '.join(request.projects)}; one "
            f"execution backs up at most {MAX_SERVICES_PER_EXECUTION} (its state must stay "
            "under Step Functions' 256 KB). Start one execution per project, or list the "
            "services in smaller groups."
        )

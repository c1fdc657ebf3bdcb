"""Stand-ins for the fan-out's collaborators: an Aiven account's service list, and runs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiven_backup.aiven import Service
from aiven_backup.api.executions import Execution
from aiven_backup.workflow.run_state import ExecutionRef

PARENT = ExecutionRef(
    arn="arn:aws:states:us-east-1:123456789012:execution:fanout:nightly-1",
    name="nightly-1",
    started_at="2026-11-23T03:00:00Z",
)
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def service(project: str, name: str, *, kind: str = "influxdb", state: str = "RUNNING") -> Service:
    return Service.from_api(project, {"service_name": name, "service_type": kind, "state": state})


class FakeAiven:
    """``list_services`` answers from ``projects``; every call is recorded."""

    def __init__(self, projects: Mapping[str, Sequence[Service]]) -> None:
        self.projects = projects
        self.listed: list[str] = []

    def list_services(self, project: str) -> list[Service]:
        self.listed.append(project)
        return list(self.projects.get(project, []))

    @contextlib.contextmanager
    def __call__(self) -> Iterator[FakeAiven]:
        yield self


def run_execution(
    name: str,
    status: str,
    *,
    output: Mapping[str, Any] | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> Execution:
    """A run of the single-service state machine as DescribeExecution reports it."""
    return Execution(
        name=name,
        arn=f"arn:aws:states:us-east-1:123456789012:execution:influxdb-backup:{name}",
        status=status,
        start_time=NOW,
        stop_time=NOW,
        input="{}",
        output=json.dumps(output) if output is not None else None,
        error=error,
        cause=cause,
    )

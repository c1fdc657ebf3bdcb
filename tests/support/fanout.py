"""What fan-out tests read: the per-service results of the output, and the notifications split
into the summary and the services' own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from local_runner.stack import ExecutionResult
from tests.support.workflow import Workflow


@dataclass(frozen=True)
class Notified:
    summary: dict[str, Any]
    per_service: list[dict[str, Any]]


def notified(workflow: Workflow) -> Notified:
    """Every notification published so far: exactly one summary, and the services' own."""
    notifications = workflow.stack.notifications()
    summaries = [n for n in notifications if n["attributes"].get("kind") == "summary"]
    assert len(summaries) == 1, [n["subject"] for n in notifications]
    return Notified(summaries[0], [n for n in notifications if n not in summaries])


def results_by_service(result: ExecutionResult) -> dict[str, dict[str, Any]]:
    """The fan-out's ``results``, by service name (asserting the execution itself succeeded)."""
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output is not None
    results: list[dict[str, Any]] = result.output["results"]
    by_name = {entry["service"]: entry for entry in results}
    assert len(by_name) == len(results), "a service is reported twice"
    return by_name


def locks_held() -> list[Mapping[str, Any]]:
    return list(boto3.client("dynamodb").scan(TableName="influxdb-backup-locks")["Items"])


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The body's lines that report a service: they start with its status."""
    return [
        line
        for line in str(summary["message"]).splitlines()
        if line.startswith(("SUCCEEDED ", "FAILED ", "SKIPPED "))
    ]

"""How a backup execution reads in the API's JSON answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiven_backup.api.executions import Execution
from aiven_backup.api.links import BackupLinks
from aiven_backup.redaction import redact
from aiven_backup.workflow.execution_input import ExecutionInput, InputDefaults

_FAILED_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}
_RESULT_FIELDS = ("bucket", "key", "size", "inventory_key")


def started_view(
    execution_name: str, execution_arn: str, request: ExecutionInput, links: BackupLinks
) -> dict[str, Any]:
    """The answer to POST /backups."""
    return {
        "execution_id": execution_name,
        "execution_arn": execution_arn,
        "status_url": links.backup(execution_name),
        "input": request.to_dict(),
    }


def started_fanout_view(
    execution_name: str, execution_arn: str, body: Mapping[str, Any], links: BackupLinks
) -> dict[str, Any]:
    """The answer to POST /backups for many services."""
    return {
        "execution_id": execution_name,
        "execution_arn": execution_arn,
        "status_url": links.backup(execution_name),
        "kind": "fanout",
        "input": dict(body),
    }


def fanout_detail_view(execution: Execution, links: BackupLinks) -> dict[str, Any]:
    """GET /backups/{id} of a fan-out: its status, and once it finished the summary with one
    result per service (status, key, size; error and cause on failure; reason when skipped)."""
    view: dict[str, Any] = {
        "execution_id": execution.name,
        "execution_arn": execution.arn,
        "kind": "fanout",
        "status": execution.status,
        "start_time": iso_utc(execution.start_time),
        "stop_time": iso_utc(execution.stop_time),
        "status_url": links.backup(execution.name),
        "input": execution.input_object(),
    }
    output = execution.output_object()
    if execution.status == "SUCCEEDED" and isinstance(output, Mapping):
        view["result"] = {
            name: output[name]
            for name in ("status", "projects", "bucket", "counts", "results", "truncated")
            if name in output
        }
    if execution.status in _FAILED_STATUSES:
        view["error"] = execution.error
        view["cause"] = readable_cause(execution.cause)
    return view


@dataclass(frozen=True)
class BackupIdentity:
    """What an execution backs up, read leniently from its input (which may be invalid).

    Lenient on purpose: a run whose input failed validation still belongs to its service when
    an operator lists that service's backups to find out why nothing landed.
    """

    project: str | None
    service: str | None
    backup_name: str | None
    mode: str | None

    @classmethod
    def of(cls, raw_input: object, defaults: InputDefaults) -> BackupIdentity:
        given = raw_input if isinstance(raw_input, Mapping) else {}

        def text(field: str, default: str | None) -> str | None:
            value = given.get(field)
            return value if isinstance(value, str) and value else default

        return cls(
            project=text("project", defaults.project),
            service=text("service", defaults.service),
            backup_name=text("backup_name", None),
            mode=text("mode", defaults.mode),
        )


def summary_view(
    execution: Execution, identity: BackupIdentity, links: BackupLinks
) -> dict[str, Any]:
    """One row of GET /backups."""
    return {
        "execution_id": execution.name,
        "execution_arn": execution.arn,
        "status": execution.status,
        "start_time": iso_utc(execution.start_time),
        "stop_time": iso_utc(execution.stop_time),
        "status_url": links.backup(execution.name),
        "project": identity.project,
        "service": identity.service,
        "backup_name": identity.backup_name,
        "mode": identity.mode,
    }


def detail_view(execution: Execution, links: BackupLinks) -> dict[str, Any]:
    """GET /backups/{id}: status, times, the input, and the result or the error and cause."""
    view: dict[str, Any] = {
        "execution_id": execution.name,
        "execution_arn": execution.arn,
        "status": execution.status,
        "start_time": iso_utc(execution.start_time),
        "stop_time": iso_utc(execution.stop_time),
        "status_url": links.backup(execution.name),
        "input": execution.input_object(),
    }
    if execution.status == "SUCCEEDED":
        view["result"] = backup_result(execution.output_object())
    if execution.status in _FAILED_STATUSES:
        view["error"] = execution.error
        view["cause"] = readable_cause(execution.cause)
    return view


def backup_result(output: object) -> dict[str, Any] | None:
    """Where the backup landed, from the execution's output.

    The workflow's output carries ``bucket``, ``key``, ``size``, ``inventory_key`` and
    ``inventory`` (its summary) at the top level; an output without any of them is shown whole
    rather than hidden.
    """
    if not isinstance(output, Mapping):
        return None
    result = {name: output[name] for name in _RESULT_FIELDS if name in output}
    inventory = output.get("inventory_summary", output.get("inventory"))
    if isinstance(inventory, Mapping) and isinstance(inventory.get("summary"), Mapping):
        inventory = inventory["summary"]
    if inventory is not None:
        result["inventory"] = inventory
    return result or dict(output)


def readable_cause(cause: str | None) -> str | None:
    """A Lambda error's cause is its JSON payload; people want its ``errorMessage``.

    Redacted again here: a URL with credentials must not leave through the API either.
    """
    if cause is None:
        return None
    try:
        payload = json.loads(cause)
    except ValueError:
        return redact(cause)
    if isinstance(payload, Mapping) and payload.get("errorMessage"):
        return redact(str(payload["errorMessage"]))
    return redact(cause)


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

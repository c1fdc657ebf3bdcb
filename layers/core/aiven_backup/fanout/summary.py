"""SummariseBackups: every service's outcome, and the one SNS message per fan-out execution.

Each run is an execution of the single-service state machine named in the plan; its outcome is
read from that execution (DescribeExecution), not carried through the Map, so the fan-out's
state stays small whatever the services' errors say. Services the plan skipped (not RUNNING) are
``SKIPPED`` with their state; a run that found another execution holding the service's lock is
``SKIPPED`` with that reason; everything else is ``SUCCEEDED`` or ``FAILED`` with the run's own
error and cause.

The summary's ``status`` is ``SUCCEEDED`` only when every service succeeded, ``FAILED`` when any
failed, else ``SKIPPED``. A run that succeeded with ``status=STALE`` (its newest point older
than ``MaxDataAgeHours``) is counted as succeeded and named STALE, with its data line, in the
subject and the body. Its attributes are ``status``, ``project`` (comma-separated when there
are several) and ``kind=summary``, for subscription filters.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aiven_backup.api.executions import Execution
from aiven_backup.api.views import readable_cause
from aiven_backup.workflow.notification import (
    SNS_SUBJECT_LIMIT,
    Notification,
    console_url,
    human_size,
)

if TYPE_CHECKING:
    from aiven_backup.workflow.run_state import ExecutionRef

SUCCEEDED, FAILED, SKIPPED = "SUCCEEDED", "FAILED", "SKIPPED"
STATUSES = (SUCCEEDED, FAILED, SKIPPED)
NOT_RUNNING = "ServiceNotRunning"
ALREADY_RUNNING = "BackupAlreadyRunning"
# A cause is an operator's sentence or two; the run's own execution keeps the whole of it.
CAUSE_LIMIT = 300
# The execution's output must stay under Step Functions' 256 KB; this leaves room to spare.
OUTPUT_BUDGET = 200_000
DESCRIBE_CONCURRENCY = 8

Describe = Callable[[str], Execution | None]


@dataclass(frozen=True)
class ServiceResult:
    """What happened to one service."""

    project: str
    service: str
    status: str
    key: str | None = None
    size: int | None = None
    error: str | None = None
    cause: str | None = None
    reason: str | None = None  # SKIPPED: ServiceNotRunning or BackupAlreadyRunning
    state: str | None = None  # SKIPPED for not running: what Aiven reports
    detail: str | None = None  # SKIPPED: a sentence saying why
    execution: str | None = None  # the run's execution name, when one was started
    stale: bool = False  # SUCCEEDED, but its newest point is older than MaxDataAgeHours
    data: str | None = None  # SUCCEEDED: what the backup holds (the run's Data: line)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "service": self.service,
            "project": self.project,
            "status": self.status,
            "key": self.key,
            "size": self.size,
        }
        if self.stale:
            result["stale"] = True
            result["data"] = self.data
        if self.status == FAILED:
            result["error"] = self.error
            result["cause"] = self.cause
        if self.status == SKIPPED:
            result["reason"] = self.reason
            if self.state is not None:
                result["state"] = self.state
            result["detail"] = self.detail
        if self.execution is not None:
            result["execution"] = self.execution
        return result

    def line(self, bucket: str) -> str:
        """One line of the summary's body."""
        name = f"{self.project}/{self.service}"
        if self.status == SUCCEEDED:
            text = f"{human_size(self.size or 0)}  s3://{bucket}/{self.key}"
            if self.stale:
                text += f"  STALE: {self.data or 'its newest point is older than allowed'}"
        elif self.status == FAILED:
            text = f"{self.error}: {_shorten(self.cause or '', 200)}"
        else:
            text = self.detail or self.reason or ""
        return f"{self.status:<9}  {name}  {text}"


@dataclass(frozen=True)
class FanOutSummary:
    projects: tuple[str, ...]
    bucket: str
    results: tuple[ServiceResult, ...]
    execution_arn: str
    ignored: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(result.status for result in self.results)
        return {status: counted.get(status, 0) for status in STATUSES}

    @property
    def status(self) -> str:
        counts = self.counts
        if counts[FAILED]:
            return FAILED
        if self.results and counts[SUCCEEDED] == len(self.results):
            return SUCCEEDED
        return SKIPPED

    def notification(self) -> Notification:
        projects = ", ".join(self.projects)
        counts = self.counts
        said = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        stale = sum(result.stale for result in self.results)
        if stale:
            said += f" ({stale} STALE: no recent data)"
        if not self.results:
            said = "no InfluxDB services to back up"
        lines = [
            f"Backups of {len(self.results)} InfluxDB service(s) of {projects}: {said}.",
            "",
            *(result.line(self.bucket) for result in self.results),
        ]
        if self.ignored:
            lines += ["", f"{self.ignored} service(s) of other types were left out."]
        lines += [
            "",
            "Each service's run is an execution of the single-service state machine with its own",
            "history; the results list of this execution's output names them.",
            "",
            f"Execution:   {console_url(self.execution_arn)}",
        ]
        return Notification(
            subject=subject_line(f"Backups {projects}: {said}"),
            body="\n".join(lines),
            attributes={
                "status": self.status,
                "project": ",".join(self.projects),
                "kind": "summary",
            },
        )

    def to_output(self, notification: Notification) -> dict[str, Any]:
        """The fan-out execution's output, kept under ``OUTPUT_BUDGET`` bytes."""
        output: dict[str, Any] = {
            "status": self.status,
            "kind": "summary",
            "projects": list(self.projects),
            "bucket": self.bucket,
            "counts": self.counts,
            "results": [result.to_dict() for result in self.results],
            "notification": {
                "subject": notification.subject,
                "attributes": dict(notification.attributes),
            },
        }
        return _bounded(output, self.results)


def collect_results(
    plan: Mapping[str, Any], runs: Sequence[Mapping[str, Any]], describe: Describe
) -> list[ServiceResult]:
    """Every service of the plan with its outcome, ordered by project and service."""
    results = [
        ServiceResult(
            project=item["project"],
            service=item["service"],
            status=SKIPPED,
            reason=NOT_RUNNING,
            state=item["state"],
            detail=f"Aiven reports it {item['state']}, not RUNNING: not backed up",
        )
        for item in plan.get("skipped", [])
    ]
    errors = {str(run.get("name")): run.get("error") for run in runs}
    planned = list(plan.get("runs", []))
    workers = max(1, min(DESCRIBE_CONCURRENCY, len(planned)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        described = list(pool.map(lambda item: describe(item["name"]), planned))
    for item, execution in zip(planned, described, strict=True):
        results.append(_outcome(item, execution, errors.get(item["name"])))
    return sorted(results, key=lambda result: (result.project, result.service))


def summarise(
    plan: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    execution: ExecutionRef,
    *,
    describe: Describe,
    bucket: str,
) -> FanOutSummary:
    return FanOutSummary(
        projects=tuple(plan.get("projects", [])),
        bucket=bucket,
        results=tuple(collect_results(plan, runs, describe)),
        execution_arn=execution.arn,
        ignored=int(plan.get("ignored", 0)),
    )


def failure_summary(
    failed_state: Mapping[str, Any], execution: ExecutionRef, default_project: str | None
) -> tuple[str, str, Notification]:
    """The fan-out itself failed (its input, the service list, or the Map): what to announce."""
    error = failed_state.get("error") or {}
    name = str(error.get("Error") or "UnknownError")
    cause = (readable_cause(str(error["Cause"])) if error.get("Cause") else None) or "no cause"
    projects = _projects_named(failed_state.get("input"), default_project)
    plan = failed_state.get("plan")
    started = len(plan.get("runs", [])) if isinstance(plan, Mapping) else 0
    if started:
        where = (
            f"The fan-out stopped after planning {started} run(s); each run that started is an "
            "execution of the single-service state machine with its own notification and lock."
        )
    else:
        where = "No service was backed up: the fan-out stopped before starting any run."
    body = "\n".join(
        [
            f"The fan-out backup of {projects} FAILED.",
            "",
            f"Error:       {name}",
            f"Cause:       {cause}",
            "",
            where,
            "",
            f"Execution:   {console_url(execution.arn)}",
        ]
    )
    notification = Notification(
        subject=subject_line(f"Backups {projects}: FAILED ({name})"),
        body=body,
        attributes={"status": FAILED, "project": projects.replace(", ", ","), "kind": "summary"},
    )
    return name, cause, notification


def subject_line(text: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    clean = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return clean if len(clean) <= SNS_SUBJECT_LIMIT else clean[: SNS_SUBJECT_LIMIT - 3] + "..."


def _outcome(
    item: Mapping[str, Any], execution: Execution | None, start_error: object
) -> ServiceResult:
    project, service, name = item["input"]["project"], item["input"]["service"], item["name"]
    base = ServiceResult(project=project, service=service, status=FAILED, execution=name)
    if execution is None:
        error = str(start_error or "ExecutionNotStarted")
        return replace(
            base,
            error=error,
            cause=f"the run {name} for {project}/{service} could not be started ({error}); "
            "the fan-out execution's history has the details. Start the service's backup again.",
            execution=None,
        )
    if execution.status == "SUCCEEDED":
        output = execution.output_object()
        output = output if isinstance(output, Mapping) else {}
        if output.get("status") == SKIPPED:
            return replace(
                base,
                status=SKIPPED,
                reason=str(output.get("reason") or ALREADY_RUNNING),
                detail=_shorten(str(output.get("message") or "another run holds its lock"), 300),
            )
        size = output.get("size")
        data = output.get("data")
        return replace(
            base,
            status=SUCCEEDED,
            key=output.get("key"),
            size=size if isinstance(size, int) else None,
            stale=output.get("stale") is True,
            data=data if isinstance(data, str) else None,
        )
    if execution.status == "RUNNING":
        return replace(
            base,
            error=str(start_error or "States.Timeout"),
            cause=f"the run {name} was still running when the fan-out stopped waiting for it; "
            "follow it in the Step Functions console.",
        )
    return replace(
        base,
        error=execution.error or execution.status,
        cause=_shorten(readable_cause(execution.cause) or "", CAUSE_LIMIT)
        if execution.cause
        else f"the run ended {execution.status}",
    )


def _projects_named(raw: object, default: str | None) -> str:
    if isinstance(raw, Mapping):
        listed = raw.get("projects")
        if isinstance(listed, list):
            names = [
                str(entry["project"])
                for entry in listed
                if isinstance(entry, Mapping) and isinstance(entry.get("project"), str)
            ]
            if names:
                return ", ".join(names)
        if isinstance(raw.get("project"), str) and raw["project"]:
            return str(raw["project"])
    return default or "<unknown project>"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _bounded(output: dict[str, Any], results: Sequence[ServiceResult]) -> dict[str, Any]:
    """Shorten, then drop, the longest parts of the results until the output fits the budget."""
    if _size(output) <= OUTPUT_BUDGET:
        return output
    steps: list[Callable[[ServiceResult], ServiceResult]] = [
        lambda r: replace(
            r,
            cause=_shorten(r.cause, 80) if r.cause else r.cause,
            detail=_shorten(r.detail, 80) if r.detail else r.detail,
        ),
        lambda r: replace(r, cause=None, detail=None),
        lambda r: replace(r, key=None),
    ]
    shortened = list(results)
    for step in steps:
        shortened = [step(result) for result in shortened]
        output["results"] = [result.to_dict() for result in shortened]
        output["truncated"] = (
            "the results were shortened to fit Step Functions' 256 KB output; each service's "
            "run (results[].execution) has its full result"
        )
        if _size(output) <= OUTPUT_BUDGET:
            return output
    return output


def _size(value: object) -> int:
    return len(json.dumps(value).encode())

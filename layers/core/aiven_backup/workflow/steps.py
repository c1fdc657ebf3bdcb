"""The workflow's steps as plain functions: one per Lambda, called the same way by the handlers,
the local runner and the tests.

Each step takes the run state and returns the next one. Errors are the named exceptions of
``aiven_backup.errors``; the state machine routes on their class names.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiven_backup.aiven import AivenClient, preflight, resolve_backup_url
from aiven_backup.copier import (
    CopyCursor,
    CopyDone,
    abort_incomplete_uploads,
    copy_url_to_s3,
    probe_source,
)
from aiven_backup.download_guard import check_download_url
from aiven_backup.errors import (
    BackupNotAvailable,
    BackupTaskFailed,
    BackupWaitTimedOut,
    CleanupIncomplete,
    InvalidExecutionInput,
)
from aiven_backup.redaction import redact, redact_url
from aiven_backup.verify import verify_backup, write_inventory
from aiven_backup.workflow.execution_input import ExecutionInput, parse_execution_input
from aiven_backup.workflow.notification import (
    failure_notification,
    human_duration,
    publish,
    success_notification,
)
from aiven_backup.workflow.run_state import (
    CopyState,
    ExecutionRef,
    RunState,
    SourceState,
    WaitState,
)
from aiven_backup.workflow.s3_layout import backup_key
from aiven_backup.workflow.services import Services

logger = logging.getLogger(__name__)


def start_backup(raw_input: object, execution: ExecutionRef, services: Services) -> RunState:
    """Validate the input, take the service's lock, preflight, and request the backup."""
    started = parse_timestamp(execution.started_at)
    # The parser also refuses mode 'existing' without a backup name.
    request = parse_execution_input(raw_input, services.input_defaults, now=started)
    key = backup_key(
        request.s3_prefix, request.project, request.service, request.backup_name, started
    )
    services.lock.acquire(request.project, request.service, owner=execution.arn)

    with services.aiven() as aiven:
        service = aiven.get_service(request.project, request.service)
        preflight(service, request.access_route)
        # Resolve and vet the URL now, so a bad route or host fails before hours of waiting.
        _checked_url(
            resolve_backup_url(service, request.backup_name, request.access_route), services
        )
        task_id = None
        if request.mode == "request":
            task_id = aiven.create_user_backup(
                request.project, request.service, request.backup_name
            ).task_id

    now = services.clock()
    first_wait = services.settings.poll.initial_seconds if task_id else 0
    return RunState(
        execution=execution,
        request=request,
        bucket=services.settings.bucket,
        key=key,
        task_id=task_id,
        requested_at=now,
        wait=WaitState(seconds=first_wait, deadline=now + services.settings.poll.deadline_seconds),
    )


def poll_backup(state: RunState, services: Services) -> RunState:
    """Is the backup ready: task succeeded and the download URL answers a ranged GET?"""
    request = state.request
    with services.aiven() as aiven:
        if state.task_id is not None:
            task = aiven.get_task(request.project, request.service, state.task_id)
            if task.finished and not task.succeeded:
                raise BackupTaskFailed(
                    f"Aiven reports that the backup task {state.task_id} of "
                    f"{request.project}/{request.service} failed: "
                    f"{task.result or 'no reason given'}. Check the service's health in the "
                    "Aiven console, then start a new backup."
                )
            if not task.finished:
                return _wait_again(state, services)
        url = _download_url(aiven, request, services)

    try:
        info = probe_source(url)
    except BackupNotAvailable:
        if state.task_id is None:
            raise BackupNotAvailable(
                f"there is no backup named '{request.backup_name}' on "
                f"{request.project}/{request.service} to download. Mode 'existing' copies a "
                "backup that was already requested: check the name, or use mode 'request'."
            ) from None
        misses = state.wait.not_found_polls + 1
        if misses > services.settings.not_found_grace_polls:
            raise BackupNotAvailable(
                f"the backup task of {request.project}/{request.service} succeeded but "
                f"{redact_url(url)} answered 404 on {misses} polls: the backup was probably "
                "replaced by a newer one (a backup requested elsewhere replaces this one). "
                "Make sure only this stack requests backups of the service, then retry."
            ) from None
        return _wait_again(
            replace(state, wait=replace(state.wait, not_found_polls=misses)), services
        )

    now = services.clock()
    logger.info(
        "backup ready after %s: size %s, ranges %s",
        human_duration(now - state.requested_at),
        info.size,
        info.accepts_ranges,
    )
    return replace(
        state,
        ready=True,
        ready_at=now,
        source=SourceState(size=info.size, accepts_ranges=info.accepts_ranges, url=redact_url(url)),
        wait=replace(state.wait, polls=state.wait.polls + 1),
    )


def copy_backup(state: RunState, time_budget_s: float, services: Services) -> RunState:
    """Copy until done or until the time budget is spent; then return a cursor to resume from."""
    with services.aiven() as aiven:
        url = _download_url(aiven, state.request, services)
    cursor = CopyCursor.from_dict(state.copy.cursor) if state.copy.cursor else None
    outcome = copy_url_to_s3(
        url,
        s3=services.s3,
        bucket=state.bucket,
        key=state.key,
        time_budget_s=time_budget_s,
        cursor=cursor,
        config=services.settings.copy,
        progress=ProgressLog(),
    )
    invocations = state.copy.invocations + 1
    if isinstance(outcome, CopyDone):
        return replace(
            state,
            copy=CopyState(done=True, invocations=invocations, bytes_copied=outcome.size),
            result=outcome.to_dict(),
        )
    return replace(
        state,
        copy=CopyState(
            done=False,
            cursor=outcome.to_dict(),
            invocations=invocations,
            bytes_copied=outcome.offset,
        ),
    )


def verify_and_record(state: RunState, services: Services) -> RunState:
    """Check the tar in S3 is a complete portable backup; write its inventory next to it."""
    inventory = verify_backup(services.s3, state.bucket, state.key)
    inventory_key = write_inventory(services.s3, state.bucket, state.key, inventory)
    return replace(
        state,
        inventory=inventory.summary(),
        inventory_key=inventory_key,
        inventory_text=inventory.summary_text(),
    )


def finish_backup(state: RunState, services: Services) -> dict[str, Any]:
    """Release the lock and announce success. Returns the execution's result."""
    request = state.request
    size = int((state.result or {}).get("size", 0))
    duration = services.clock() - parse_timestamp(state.execution.started_at).timestamp()
    services.lock.release(request.project, request.service, owner=state.execution.arn)
    notification = success_notification(
        project=request.project,
        service=request.service,
        backup_name=request.backup_name,
        bucket=state.bucket,
        key=state.key,
        size=size,
        duration_seconds=duration,
        inventory_key=state.inventory_key,
        inventory_text=state.inventory_text,
        execution_arn=state.execution.arn,
    )
    if request.notify:  # false in a fan-out with NotifyEach=false: its summary announces it
        publish(services.sns, services.settings.topic_arn, notification)
    return {
        "status": "SUCCEEDED",
        "project": request.project,
        "service": request.service,
        "backup_name": request.backup_name,
        "bucket": state.bucket,
        "key": state.key,
        "size": size,
        "checksum": (state.result or {}).get("checksum"),
        "version_id": (state.result or {}).get("version_id"),
        "inventory_key": state.inventory_key,
        "inventory": state.inventory,
        "duration_seconds": round(duration, 3),
        "wait_seconds": round(max(0.0, state.ready_at - state.requested_at), 3),
        "copy_invocations": state.copy.invocations,
        "notification": notification.to_dict(),
    }


def handle_failure(
    failed_state: Mapping[str, Any], execution: ExecutionRef, services: Services
) -> dict[str, Any]:
    """Abort any unfinished upload, release the lock, and announce the failure.

    ``failed_state`` is the input of the step that failed plus ``error`` ({Error, Cause}) added by
    the Catch: a run state, or the raw execution input when the first step failed. Clean-up is
    best effort and reported in the notification; only a failed publish raises (to be retried).
    """
    error = failed_state.get("error") or {}
    error_name = str(error.get("Error") or "UnknownError")
    cause = readable_cause(error.get("Cause"))
    run = _identify(failed_state, services)
    project, service, key, bucket = run.project, run.service, run.key, run.bucket

    cleanup: list[str] = []
    if key and run.copied_but_not_verified:
        # Only verified backups stay: an object that failed verification is not what Aiven
        # made (or not a backup at all), and the source can be copied again.
        try:
            services.s3.delete_object(Bucket=bucket, Key=key)
            cleanup.append(f"removed the unverified object s3://{bucket}/{key}")
        except Exception as problem:
            logger.exception("could not remove the unverified object")
            cleanup.append(
                f"could not remove the unverified object s3://{bucket}/{key} ({problem})"
            )
    if key:
        try:
            aborted = abort_incomplete_uploads(services.s3, bucket, key)
            cleanup.append(f"aborted {aborted} incomplete upload(s) of s3://{bucket}/{key}")
        except Exception as problem:
            logger.exception("could not abort the incomplete upload")
            cleanup.append(
                f"could not abort the incomplete upload of s3://{bucket}/{key} ({problem}); the "
                "bucket's lifecycle rule removes it after a day"
            )
    if project and service:
        try:
            released = services.lock.release(project, service, owner=execution.arn)
            cleanup.append("lock released" if released else "no lock held")
        except Exception as problem:
            logger.exception("could not release the lock")
            cleanup.append(f"could not release the lock ({problem}); it expires by itself")

    notification = failure_notification(
        project=project or "<unknown project>",
        service=service or "<unknown service>",
        backup_name=run.backup_name,
        error=error_name,
        cause=cause,
        execution_arn=execution.arn,
        cleanup="; ".join(cleanup) or "nothing to clean up",
    )
    try:
        if run.notify:  # false in a fan-out with NotifyEach=false: its summary announces it
            publish(services.sns, services.settings.topic_arn, notification)
    except Exception as problem:
        raise CleanupIncomplete(
            f"could not publish the failure notification to {services.settings.topic_arn}: "
            f"{problem}"
        ) from problem
    return {"error": error_name, "cause": cause, "notification": notification.to_dict()}


def readable_cause(cause: object) -> str:
    """A Lambda error's Cause is its JSON payload; people want its ``errorMessage``."""
    text = "" if cause is None else str(cause)
    try:
        payload = json.loads(text)
    except ValueError:
        return redact(text) or "no cause given"
    if isinstance(payload, Mapping) and payload.get("errorMessage"):
        return redact(str(payload["errorMessage"]))
    return redact(text)


def parse_timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidExecutionInput(
            "execution.started_at", f"{text!r} is not an ISO 8601 timestamp"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wait_again(state: RunState, services: Services) -> RunState:
    now = services.clock()
    remaining = state.wait.deadline - now
    request = state.request
    if remaining <= 0:
        raise BackupWaitTimedOut(
            f"the backup of {request.project}/{request.service} was not ready after "
            f"{human_duration(services.settings.poll.deadline_seconds)} "
            f"({state.wait.polls} polls). Large services can take hours: raise the "
            "PollDeadlineSeconds parameter, or check the task in the Aiven console."
        )
    seconds = min(services.settings.poll.next_wait(state.wait.seconds), math.ceil(remaining))
    return replace(
        state, ready=False, wait=replace(state.wait, seconds=seconds, polls=state.wait.polls + 1)
    )


def _download_url(aiven: AivenClient, request: ExecutionInput, services: Services) -> str:
    # Resolved afresh on every step, so the URL's credentials never travel in the state.
    service = aiven.get_service(request.project, request.service)
    return _checked_url(
        resolve_backup_url(service, request.backup_name, request.access_route), services
    )


def _checked_url(url: str, services: Services) -> str:
    check_download_url(
        url,
        services.settings.allowed_download_hosts,
        allow_insecure=services.settings.allow_insecure_download,
    )
    return url


@dataclass(frozen=True)
class _FailedRun:
    """What is known of a failed run: everything from a run state, less from the raw input."""

    project: str | None
    service: str | None
    backup_name: str | None
    key: str | None
    bucket: str
    copied_but_not_verified: bool = False
    notify: bool = True


def _identify(failed_state: Mapping[str, Any], services: Services) -> _FailedRun:
    if RunState.is_run_state(failed_state):
        state = RunState.from_dict(failed_state)
        request = state.request
        return _FailedRun(
            request.project,
            request.service,
            request.backup_name,
            state.key,
            state.bucket,
            copied_but_not_verified=state.copy.done and state.inventory is None,
            notify=request.notify,
        )

    raw_input = failed_state.get("input")
    given: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}

    def text(name: str, default: str | None) -> str | None:
        value = given.get(name)
        return value if isinstance(value, str) and value else default

    defaults = services.input_defaults
    return _FailedRun(
        text("project", defaults.project),
        text("service", defaults.service),
        text("backup_name", None),
        None,
        services.settings.bucket,
        notify=given.get("notify") is not False,
    )


class ProgressLog:
    """Logs copy progress every 5 % of a known size, or every 256 MiB of an unknown one."""

    def __init__(self) -> None:
        self._next_mark = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        mark = 100 * done / total if total else done / (256 * 1024 * 1024)
        if mark < self._next_mark:
            return
        step = 5.0 if total else 1.0
        self._next_mark = (mark // step + 1) * step
        if total:
            logger.info("copied %d of %d bytes (%.0f%%)", done, total, mark)
        else:
            logger.info("copied %d bytes (size unknown)", done)

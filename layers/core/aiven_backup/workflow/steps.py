"""The workflow's steps on the way to a backup, as plain functions: one per Lambda, called the
same way by the handlers, the local runner and the tests. Every failure ends in ``failure``.

Each step takes the run state and returns the next one. Errors are the named exceptions of
``aiven_backup.errors``; the state machine routes on their class names.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiven_backup.aiven import AivenClient, preflight, resolve_backup_url
from aiven_backup.copier import (
    CopyCursor,
    CopyDone,
    copy_url_to_s3,
    probe_source,
)
from aiven_backup.download_guard import check_download_url
from aiven_backup.errors import (
    BackupNotAvailable,
    BackupTaskFailed,
    BackupWaitTimedOut,
    InvalidExecutionInput,
)
from aiven_backup.metrics import MetricsSink, success_metrics
from aiven_backup.redaction import redact_url
from aiven_backup.storage import apply_retention_class, decide_retention
from aiven_backup.workflow.deadline import seconds_until
from aiven_backup.workflow.execution_input import (
    VERIFY_MODE,
    ExecutionInput,
    parse_execution_input,
)
from aiven_backup.workflow.notification import (
    Notification,
    human_duration,
    publish,
    success_notification,
)
from aiven_backup.workflow.run_state import (
    CopyState,
    ExecutionRef,
    RunState,
    SourceState,
    VerificationState,
    WaitState,
)
from aiven_backup.workflow.s3_layout import backup_key
from aiven_backup.workflow.services import Services

logger = logging.getLogger(__name__)


def start_backup(
    raw_input: object,
    execution: ExecutionRef,
    services: Services,
    deadline: float | None = None,
) -> RunState:
    """Validate the input, take the service's lock, preflight, and request the backup.

    Safe to run again for the same execution (a retry after a timeout): the lock is re-entrant
    and remembers the Aiven task the first attempt created, so no second backup is requested.
    """
    started = parse_timestamp(execution.started_at)
    # The parser also refuses mode 'existing' without a backup name.
    request = parse_execution_input(
        raw_input, services.input_defaults, now=started, bucket=services.settings.bucket
    )
    if request.s3_key is not None:
        return _verify_only(request, execution, services)
    key = backup_key(
        request.s3_prefix, request.project, request.service, request.backup_name, started
    )
    held = services.lock.acquire(request.project, request.service, owner=execution.arn)

    with services.aiven(deadline) as aiven:
        service = aiven.get_service(request.project, request.service)
        preflight(service, request.access_route)
        # Resolve and vet the URL now, so a bad route or host fails before hours of waiting.
        _checked_url(
            resolve_backup_url(service, request.backup_name, request.access_route), services
        )
        task_id = held.task_id  # a retry of this step after Aiven accepted the request
        if request.mode == "request" and task_id is None:
            task_id = aiven.create_user_backup(
                request.project, request.service, request.backup_name
            ).task_id
            services.lock.record_task(request.project, request.service, execution.arn, task_id)

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


def _verify_only(request: ExecutionInput, execution: ExecutionRef, services: Services) -> RunState:
    """Mode 'verify': the object is already in the bucket. No Aiven call, no lock (nothing is
    requested from the service, and the object is not replaced); the state machine goes
    straight to the verification, as after a finished copy."""
    now = services.clock()
    return RunState(
        execution=execution,
        request=request,
        bucket=services.settings.bucket,
        key=str(request.s3_key),
        requested_at=now,
        ready=True,
        ready_at=now,
        copy=CopyState(done=True, started_at=now, finished_at=now),
    )


def poll_backup(state: RunState, services: Services, deadline: float | None = None) -> RunState:
    """Is the backup ready: task succeeded and the download URL answers a ranged GET?"""
    request = state.request
    with services.aiven(deadline) as aiven:
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
        info = probe_source(url, config=services.settings.copy, deadline=deadline)
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


def copy_backup(
    state: RunState, deadline: float, services: Services, memory_mb: int | None = None
) -> RunState:
    """Copy until done or until ``deadline`` (``time.monotonic()``) is near; then return a cursor
    to resume from. Resolving the URL comes out of the same deadline as the copy. ``memory_mb``
    (the function's memory) bounds the part buffers and so the largest part."""
    started_at = state.copy.started_at or services.clock()
    with services.aiven(deadline) as aiven:
        url = _download_url(aiven, state.request, services)
    cursor = CopyCursor.from_dict(state.copy.cursor) if state.copy.cursor else None
    outcome = copy_url_to_s3(
        url,
        s3=services.s3,
        bucket=state.bucket,
        key=state.key,
        time_budget_s=max(seconds_until(deadline), 0.0),
        cursor=cursor,
        config=(
            services.settings.copy.for_memory(memory_mb) if memory_mb else services.settings.copy
        ),
        progress=ProgressLog(),
    )
    invocations = state.copy.invocations + 1
    if isinstance(outcome, CopyDone):
        return replace(
            state,
            copy=CopyState(
                done=True,
                invocations=invocations,
                bytes_copied=outcome.size,
                started_at=started_at,
                finished_at=services.clock(),
            ),
            result=outcome.to_dict(),
        )
    return replace(
        state,
        copy=CopyState(
            done=False,
            cursor=outcome.to_dict(),
            invocations=invocations,
            bytes_copied=outcome.offset,
            started_at=started_at,
        ),
    )


def finish_backup(
    state: RunState, services: Services, metrics: MetricsSink | None = None
) -> dict[str, Any]:
    """Give the backup its retention class, emit the run's metrics, release the lock and
    announce success. Returns the execution's result."""
    request = state.request
    verification = state.verification or VerificationState()
    size = int((state.result or {}).get("size", 0))
    now = services.clock()
    duration = now - parse_timestamp(state.execution.started_at).timestamp()
    if request.mode == VERIFY_MODE:
        return _finish_verify_only(state, services, duration)
    retention = decide_retention(services.s3, state.bucket, state.key)
    apply_retention_class(
        services.s3, state.bucket, state.key, state.inventory_key, retention.retention_class
    )
    previous = retention.previous
    run_metrics = success_metrics(
        request.project,
        request.service,
        size=size,
        duration_seconds=duration,
        wait_seconds=state.ready_at - state.requested_at,
        copy_seconds=state.copy.finished_at - state.copy.started_at,
        hours_since_previous=(now - previous.last_modified.timestamp()) / 3600
        if previous
        else None,
    )
    services.lock.release(request.project, request.service, owner=state.execution.arn)
    notification = _success_notification(state, size, duration)
    if request.notify:  # false in a fan-out with NotifyEach=false: its summary announces it
        publish(services.sns, services.settings.topic_arn, notification)
    run_metrics.emit(metrics)  # once announced: a retried or failed publish must not count twice
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
        "data": verification.data_text,
        "stale": verification.stale,
        "retention_class": retention.retention_class.value,
        "duration_seconds": round(duration, 3),
        "wait_seconds": round(max(0.0, state.ready_at - state.requested_at), 3),
        "copy_invocations": state.copy.invocations,
        "notification": notification.to_dict(),
    }


def _success_notification(
    state: RunState, size: int, duration: float, *, verified_only: bool = False
) -> Notification:
    request = state.request
    verification = state.verification or VerificationState()
    return success_notification(
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
        data_text=verification.data_text,
        stale_hours=verification.newest_age_hours if verification.stale else None,
        max_data_age_hours=verification.max_data_age_hours,
        verified_only=verified_only,
    )


def _finish_verify_only(state: RunState, services: Services, duration: float) -> dict[str, Any]:
    """Mode 'verify': announce the verification. The object keeps its retention tags (one put
    there by hand gets no retention class: S3 would expire it), no backup metrics are emitted
    (the freshness alarm counts backups made), and no lock was taken."""
    request = state.request
    verification = state.verification or VerificationState()
    size = int((state.result or {}).get("size", 0))
    notification = _success_notification(state, size, duration, verified_only=True)
    if request.notify:
        publish(services.sns, services.settings.topic_arn, notification)
    return {
        "status": "SUCCEEDED",
        "mode": VERIFY_MODE,
        "project": request.project,
        "service": request.service,
        "backup_name": request.backup_name,
        "bucket": state.bucket,
        "key": state.key,
        "size": size,
        "inventory_key": state.inventory_key,
        "inventory": state.inventory,
        "data": verification.data_text,
        "stale": verification.stale,
        "retention_class": "unchanged (mode verify)",
        "duration_seconds": round(duration, 3),
        "notification": notification.to_dict(),
    }


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

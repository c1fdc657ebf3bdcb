"""The fan-out's steps as plain functions: one per Lambda, called by the handlers and the tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiven_backup.api.executions import Executions
from aiven_backup.errors import CleanupIncomplete, FanOutFailed, StackMisconfigured
from aiven_backup.fanout.plan import plan_backups
from aiven_backup.fanout.settings import FanOutSettings
from aiven_backup.fanout.summary import failure_summary, summarise
from aiven_backup.workflow.notification import Notification, publish
from aiven_backup.workflow.run_state import ExecutionRef
from aiven_backup.workflow.services import Services

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


def plan_step(
    raw_input: object, execution: ExecutionRef, services: Services, settings: FanOutSettings
) -> dict[str, Any]:
    """PlanBackups: the runs to start, the services skipped, the Map's concurrency."""
    plan = plan_backups(
        raw_input,
        execution,
        aiven=services.aiven,
        defaults=services.input_defaults,
        settings=settings,
        now=datetime.now(UTC),
    )
    return plan.to_dict()


def summarise_step(
    plan: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    execution: ExecutionRef,
    services: Services,
    *,
    settings: FanOutSettings,
    stepfunctions: SFNClient,
) -> dict[str, Any]:
    """SummariseBackups: read every run's outcome, publish the summary, return it."""
    if not settings.backup_state_machine_arn:
        raise StackMisconfigured(
            "environment variable BACKUP_STATE_MACHINE_ARN is not set: redeploy the stack "
            "(template.yaml sets it for the summary function)"
        )
    runs_of = Executions(stepfunctions, settings.backup_state_machine_arn)
    summary = summarise(
        plan, runs, execution, describe=runs_of.describe, bucket=services.settings.bucket
    )
    notification = summary.notification()
    _publish(services, notification)
    return summary.to_output(notification)


def report_failure_step(
    failed_state: Mapping[str, Any], execution: ExecutionRef, services: Services
) -> dict[str, Any]:
    """The fan-out itself failed before (or while) running the services: announce it."""
    error, cause, notification = failure_summary(
        failed_state, execution, services.input_defaults.project
    )
    _publish(services, notification)
    if error.startswith("States."):  # a Fail state may not raise Step Functions' own names
        error, cause = FanOutFailed.__name__, f"{error}: {cause}"
    return {"error": error, "cause": cause, "notification": notification.to_dict()}


def _publish(services: Services, notification: Notification) -> None:
    try:
        publish(services.sns, services.settings.topic_arn, notification)
    except Exception as problem:
        raise CleanupIncomplete(
            f"could not publish the fan-out summary to {services.settings.topic_arn}: {problem}"
        ) from problem

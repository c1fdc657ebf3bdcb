"""What the SNS messages say, and publishing them.

Subjects read well in a mail list ("Backup SUCCEEDED acme/metrics-influx 12.3 GiB"); the
``status``, ``project`` and ``service`` message attributes let subscriptions filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiven_backup.redaction import redact
from aiven_backup.verify.data_inventory import human_hours

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

SNS_SUBJECT_LIMIT = 100


@dataclass(frozen=True)
class Notification:
    subject: str
    body: str
    attributes: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "message": self.body, "attributes": dict(self.attributes)}


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def console_url(execution_arn: str) -> str:
    region = execution_arn.split(":")[3] if execution_arn.count(":") >= 3 else "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def _subject(text: str) -> str:
    # SNS subjects: at most 100 printable ASCII characters, no line breaks.
    clean = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return clean if len(clean) <= SNS_SUBJECT_LIMIT else clean[: SNS_SUBJECT_LIMIT - 3] + "..."


def success_notification(
    *,
    project: str,
    service: str,
    backup_name: str,
    bucket: str,
    key: str,
    size: int,
    duration_seconds: float,
    inventory_key: str | None,
    inventory_text: str | None,
    execution_arn: str,
    data_text: str | None = None,
    stale_hours: float | None = None,
    max_data_age_hours: float | None = None,
    verified_only: bool = False,
) -> Notification:
    """``data_text``: what the shards hold (``DataInventory.summary_text``). ``stale_hours``:
    the newest point's age before the backup when it is over ``max_data_age_hours`` (status
    ``STALE``: the backup landed, but the service may no longer be written to)."""
    stale = stale_hours is not None
    status = "STALE" if stale else "SUCCEEDED"
    warning = (
        [
            f"STALE: the newest point is {human_hours(stale_hours)} older than the backup, more "
            f"than MaxDataAgeHours ({max_data_age_hours:g} h). Is the service still receiving "
            "writes?",
            "",
        ]
        if stale_hours is not None and max_data_age_hours is not None
        else []
    )
    body = "\n".join(
        [
            (
                f"The InfluxDB backup of {project}/{service} in S3 was verified (mode verify)."
                if verified_only
                else f"The InfluxDB backup of {project}/{service} landed in S3."
            ),
            "",
            *warning,
            f"Backup name: {backup_name}",
            f"Object:      s3://{bucket}/{key}",
            f"Size:        {human_size(size)} ({size} bytes)",
            f"Duration:    {human_duration(duration_seconds)}",
            f"Inventory:   s3://{bucket}/{inventory_key}" if inventory_key else "Inventory:   -",
            f"Contents:    {inventory_text or '-'}",
            f"Data:        {data_text or '-'}",
            "",
            f"Execution:   {console_url(execution_arn)}",
        ]
    )
    return Notification(
        subject=_subject(f"Backup {status} {project}/{service} {human_size(size)}"),
        body=body,
        attributes={"status": status, "project": project, "service": service},
    )


def failure_notification(
    *,
    project: str,
    service: str,
    backup_name: str | None,
    error: str,
    cause: str,
    execution_arn: str,
    cleanup: str,
) -> Notification:
    cause = redact(cause)
    body = "\n".join(
        [
            f"The InfluxDB backup of {project}/{service} FAILED.",
            "",
            f"Backup name: {backup_name or '-'}",
            f"Error:       {error}",
            f"Cause:       {cause}",
            f"Clean-up:    {cleanup}",
            "",
            f"Execution:   {console_url(execution_arn)}",
        ]
    )
    return Notification(
        subject=_subject(f"Backup FAILED {project}/{service}: {error}"),
        body=body,
        attributes={"status": "FAILED", "project": project, "service": service},
    )


def publish(sns: SNSClient, topic_arn: str, notification: Notification) -> str:
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=notification.subject,
        Message=notification.body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value or "-"}
            for name, value in notification.attributes.items()
        },
    )
    return response["MessageId"]

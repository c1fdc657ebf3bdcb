"""Grandfather-father-son retention: which class a new backup belongs to, decided from S3.

A successful backup is tagged ``retention-class``:

- ``yearly``: the service's first successful backup of the calendar year;
- else ``monthly``: the first of the calendar month;
- else ``weekly``: the first of the ISO week;
- else ``daily``.

"First" is decided from the service's objects in S3, not from memory: the class follows from the
day of the service's newest earlier successful backup, so a missed night (or a failed run)
promotes the next backup instead of skipping the class. Days are UTC days, read from the key
(``.../<YYYY>/<MM>/<DD>/<name>.tar``, the execution's start day). A backup counts as successful
when it is tagged ``backup-verified=true`` and carries one of those four classes; objects a
failed run had to leave are tagged ``retention-class=failed`` and never count.

Lifecycle rules filtered on the tag expire each class (template.yaml); nothing here deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.s3.translate import s3_errors_named
from aiven_backup.storage.tags import VERIFIED_TAG, merge_tags, tags_if_present
from aiven_backup.workflow.s3_layout import parse_backup_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RETENTION_CLASS_TAG = "retention-class"


class RetentionClass(StrEnum):
    YEARLY = "yearly"
    MONTHLY = "monthly"
    WEEKLY = "weekly"
    DAILY = "daily"
    FAILED = "failed"
    """An object a failed run left behind (kept under Object Lock, or verified but never
    classified): expired like a daily backup, never counted as one."""


SUCCESSFUL_CLASSES = frozenset(
    {RetentionClass.YEARLY, RetentionClass.MONTHLY, RetentionClass.WEEKLY, RetentionClass.DAILY}
)


@dataclass(frozen=True)
class StoredBackup:
    """A backup tar in the bucket, as ListObjectsV2 describes it."""

    key: str
    day: date
    size: int
    last_modified: datetime
    storage_class: str


@dataclass(frozen=True)
class RetentionDecision:
    retention_class: RetentionClass
    day: date
    previous: StoredBackup | None
    """The service's newest earlier successful backup (this year's or last year's), if any."""


def classify(day: date, previous: date | None) -> RetentionClass:
    """The class of a backup of ``day`` whose service's newest earlier success was ``previous``."""
    if previous is None or previous.year != day.year:
        return RetentionClass.YEARLY
    if previous.month != day.month:
        return RetentionClass.MONTHLY
    if previous.isocalendar()[:2] != day.isocalendar()[:2]:
        return RetentionClass.WEEKLY
    return RetentionClass.DAILY


def is_successful(tags: dict[str, str]) -> bool:
    return tags.get(VERIFIED_TAG) == "true" and tags.get(RETENTION_CLASS_TAG) in SUCCESSFUL_CLASSES


def list_service_backups(s3: S3Client, bucket: str, prefix: str) -> list[StoredBackup]:
    """Every backup tar under ``prefix`` (a service's folder, or one of its year folders),
    newest first: by day, then by the time S3 stored it."""
    found: list[StoredBackup] = []
    paginator = s3.get_paginator("list_objects_v2")
    with s3_errors_named("list the backups under", f"s3://{bucket}/{prefix}"):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                parsed = parse_backup_key(item["Key"])
                if parsed is None:
                    continue  # an inventory, or a file somebody put there
                found.append(
                    StoredBackup(
                        key=item["Key"],
                        day=parsed[1],
                        size=item["Size"],
                        last_modified=item["LastModified"],
                        storage_class=str(item.get("StorageClass", "STANDARD")),
                    )
                )
    found.sort(key=lambda b: (b.day, b.last_modified, b.key), reverse=True)
    return found


def decide_retention(s3: S3Client, bucket: str, key: str) -> RetentionDecision:
    """The class of the backup at ``key``, from the service's earlier backups in the bucket."""
    parsed = parse_backup_key(key)
    if parsed is None:
        raise InvalidExecutionInput(
            "key",
            f"{key!r} is not laid out as <prefix>/<project>/<service>/<YYYY>/<MM>/<DD>/<name>.tar,"
            " so its retention class cannot be decided",
        )
    service_folder, day = parsed
    previous = _newest_successful(s3, bucket, f"{service_folder}{day:%Y}/", key, day)
    retention_class = classify(day, previous.day if previous else None)
    if previous is None and day.year > 1:
        # Yearly regardless; last year's newest backup still says how long the gap was.
        previous = _newest_successful(s3, bucket, f"{service_folder}{day.year - 1:04d}/", key, day)
    return RetentionDecision(retention_class, day, previous)


def apply_retention_class(
    s3: S3Client,
    bucket: str,
    key: str,
    inventory_key: str | None,
    retention_class: RetentionClass,
) -> None:
    """Tag the backup and its inventory, so the lifecycle rule of that class expires both."""
    merge_tags(s3, bucket, key, {RETENTION_CLASS_TAG: retention_class.value})
    if inventory_key:
        merge_tags(s3, bucket, inventory_key, {RETENTION_CLASS_TAG: retention_class.value})


def _newest_successful(
    s3: S3Client, bucket: str, prefix: str, key: str, day: date
) -> StoredBackup | None:
    for candidate in list_service_backups(s3, bucket, prefix):
        if candidate.key == key or candidate.day > day:
            continue
        tags = tags_if_present(s3, bucket, candidate.key)
        if tags is not None and is_successful(tags):
            return candidate
    return None

"""The stack's configuration, read from the environment the template gives every function.

Each default is written once: on the dataclass field, or as the named constant of the module that
owns the setting. ``tests/unit/config`` checks that ``template.yaml`` passes the same defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiven_backup.aiven.client import DEFAULT_BASE_URL
from aiven_backup.copier import CopyConfig
from aiven_backup.download_guard import DEFAULT_ALLOWED_HOSTS, parse_allowed_hosts
from aiven_backup.env import StackEnvironment
from aiven_backup.retry import AIVEN_API_RETRY, RetryPolicy
from aiven_backup.workflow.lock import DEFAULT_TTL_SECONDS


@dataclass(frozen=True)
class PollSchedule:
    """Waits grow from ``initial`` by doubling up to ``maximum``, until ``deadline``."""

    initial_seconds: int = 30
    maximum_seconds: int = 900
    deadline_seconds: int = 86_400

    def next_wait(self, previous: int) -> int:
        return max(1, min(previous * 2 if previous else self.initial_seconds, self.maximum_seconds))


@dataclass(frozen=True)
class VerifySettings:
    """How the verification spreads over Lambda invocations (``workflow.verification``)."""

    # Shards per Map iteration, and bytes of shard files per iteration: large shards make
    # smaller batches, so more of them verify in parallel.
    batch_shards: int = 1000
    batch_bytes: int = 2 * 1024**3
    # Map iterations at once (the VerifyMaxConcurrency parameter), threads per iteration.
    max_concurrency: int = 10
    threads: int = 8
    # Seconds of each verification invocation kept free to write its progress and return.
    time_margin_seconds: float = 10.0
    # Seconds between two reads of the damage record by a batch verifying its shards: how soon
    # a batch stops after a sibling found a damaged shard (``verify.damage``).
    damage_check_seconds: float = 5.0
    # A backup whose newest point is older than this (hours before the backup) is STALE;
    # None: never (the MaxDataAgeHours parameter left empty).
    max_data_age_hours: float | None = None

    @classmethod
    def from_env(cls, read: StackEnvironment) -> VerifySettings:
        return cls(
            batch_shards=max(1, read.integer("VERIFY_BATCH_SHARDS", cls.batch_shards)),
            batch_bytes=max(1, read.integer("VERIFY_BATCH_BYTES", cls.batch_bytes)),
            max_concurrency=max(1, read.integer("VERIFY_MAX_CONCURRENCY", cls.max_concurrency)),
            threads=max(1, read.integer("VERIFY_THREADS", cls.threads)),
            time_margin_seconds=read.number("VERIFY_TIME_MARGIN_SECONDS", cls.time_margin_seconds),
            damage_check_seconds=max(
                0.0, read.number("VERIFY_DAMAGE_CHECK_SECONDS", cls.damage_check_seconds)
            ),
            max_data_age_hours=(
                read.number("MAX_DATA_AGE_HOURS", 0.0) if read.has("MAX_DATA_AGE_HOURS") else None
            ),
        )


@dataclass(frozen=True)
class Settings:
    aiven_token_secret_id: str
    bucket: str
    topic_arn: str
    lock_table: str
    aiven_api_url: str = DEFAULT_BASE_URL
    allowed_download_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    allow_insecure_download: bool = False
    poll: PollSchedule = PollSchedule()
    lock_ttl_seconds: int = DEFAULT_TTL_SECONDS
    # Seconds of CopyBackup's invocation kept free for completing and reading back the object.
    copy_time_margin_seconds: float = 60.0
    # Polls that may see the download URL answer 404 after the task succeeded before the backup
    # counts as replaced: the object store can lag the task's completion by a little.
    not_found_grace_polls: int = 3
    aiven_retry: RetryPolicy = AIVEN_API_RETRY
    copy: CopyConfig = field(default_factory=CopyConfig)
    # The bucket's Object Lock mode (NONE, GOVERNANCE, COMPLIANCE): a locked object is never
    # deleted by the failure path, even when S3 does not show this caller its retention.
    object_lock_mode: str = "NONE"
    verify: VerifySettings = VerifySettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        read = StackEnvironment(env)
        return cls(
            aiven_token_secret_id=read.required("AIVEN_TOKEN_SECRET_ID"),
            bucket=read.required("BACKUP_BUCKET"),
            topic_arn=read.required("NOTIFICATION_TOPIC_ARN"),
            lock_table=read.required("LOCK_TABLE_NAME"),
            aiven_api_url=read.text("AIVEN_API_URL", cls.aiven_api_url),
            allowed_download_hosts=(
                parse_allowed_hosts(read.raw("ALLOWED_DOWNLOAD_HOSTS"))
                if read.has("ALLOWED_DOWNLOAD_HOSTS")
                else cls.allowed_download_hosts
            ),
            allow_insecure_download=read.flag("ALLOW_INSECURE_DOWNLOAD"),
            poll=PollSchedule(
                initial_seconds=read.integer("POLL_INITIAL_SECONDS", cls.poll.initial_seconds),
                maximum_seconds=read.integer("POLL_MAX_SECONDS", cls.poll.maximum_seconds),
                deadline_seconds=read.integer("POLL_DEADLINE_SECONDS", cls.poll.deadline_seconds),
            ),
            lock_ttl_seconds=read.integer("LOCK_TTL_SECONDS", cls.lock_ttl_seconds),
            copy_time_margin_seconds=read.number(
                "COPY_TIME_MARGIN_SECONDS", cls.copy_time_margin_seconds
            ),
            not_found_grace_polls=read.integer("NOT_FOUND_GRACE_POLLS", cls.not_found_grace_polls),
            aiven_retry=_aiven_retry(read),
            copy=_copy_config(read),
            object_lock_mode=read.text("OBJECT_LOCK_MODE", cls.object_lock_mode).upper(),
            verify=VerifySettings.from_env(read),
        )


def _aiven_retry(read: StackEnvironment) -> RetryPolicy:
    default = AIVEN_API_RETRY
    total = default.max_total_wait
    return RetryPolicy(
        max_attempts=max(1, read.integer("AIVEN_RETRY_MAX_ATTEMPTS", default.max_attempts)),
        base_delay=read.number("AIVEN_RETRY_BASE_DELAY", default.base_delay),
        max_delay=read.number("AIVEN_RETRY_MAX_DELAY", default.max_delay),
        max_total_wait=None if total is None else read.number("AIVEN_RETRY_MAX_TOTAL_WAIT", total),
    )


def _copy_config(read: StackEnvironment) -> CopyConfig:
    """``COPY_MAX_ATTEMPTS`` counts attempts like every other retry setting; the older
    ``COPY_MAX_RETRIES`` (retries after the first attempt) is still read when it alone is set."""
    default = CopyConfig()
    if read.has("COPY_MAX_ATTEMPTS") or not read.has("COPY_MAX_RETRIES"):
        attempts = read.integer("COPY_MAX_ATTEMPTS", default.max_attempts)
    else:
        attempts = read.integer("COPY_MAX_RETRIES", default.max_attempts - 1) + 1
    return CopyConfig(
        max_attempts=max(1, attempts),
        retry_base_delay=read.number("COPY_RETRY_BASE_DELAY", default.retry_base_delay),
        retry_max_delay=read.number("COPY_RETRY_MAX_DELAY", default.retry_max_delay),
    )

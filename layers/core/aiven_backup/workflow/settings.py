"""The stack's configuration, read from the environment the template gives every function."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from aiven_backup.aiven.retry import RetryPolicy
from aiven_backup.copier import CopyConfig
from aiven_backup.download_guard import parse_allowed_hosts
from aiven_backup.errors import StackMisconfigured


@dataclass(frozen=True)
class PollSchedule:
    """Waits grow from ``initial`` by doubling up to ``maximum``, until ``deadline``."""

    initial_seconds: int = 30
    maximum_seconds: int = 900
    deadline_seconds: int = 86_400

    def next_wait(self, previous: int) -> int:
        return max(1, min(previous * 2 if previous else self.initial_seconds, self.maximum_seconds))


@dataclass(frozen=True)
class Settings:
    aiven_api_url: str
    aiven_token_secret_id: str
    bucket: str
    topic_arn: str
    lock_table: str
    allowed_download_hosts: tuple[str, ...]
    allow_insecure_download: bool
    poll: PollSchedule
    lock_ttl_seconds: int
    copy_time_margin_seconds: float
    # Polls that may see the download URL answer 404 after the task succeeded before the backup
    # counts as replaced: the object store can lag the task's completion by a little.
    not_found_grace_polls: int
    aiven_retry: RetryPolicy
    copy: CopyConfig
    # The bucket's Object Lock mode (NONE, GOVERNANCE, COMPLIANCE): a locked object is never
    # deleted by the failure path, even when S3 does not show this caller its retention.
    object_lock_mode: str = "NONE"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise StackMisconfigured(
                    f"environment variable {name} is not set: redeploy the stack (template.yaml "
                    "sets it for every function)"
                )
            return value

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise StackMisconfigured(f"{name}={raw!r} is not a number") from None
            if value < 0:
                raise StackMisconfigured(f"{name}={raw!r} must not be negative")
            return value

        return cls(
            aiven_api_url=env.get("AIVEN_API_URL", "").strip() or "https://api.aiven.io",
            aiven_token_secret_id=required("AIVEN_TOKEN_SECRET_ID"),
            bucket=required("BACKUP_BUCKET"),
            topic_arn=required("NOTIFICATION_TOPIC_ARN"),
            lock_table=required("LOCK_TABLE_NAME"),
            allowed_download_hosts=parse_allowed_hosts(
                env.get("ALLOWED_DOWNLOAD_HOSTS", "") or "*.aivencloud.com"
            ),
            allow_insecure_download=env.get("ALLOW_INSECURE_DOWNLOAD", "").lower() == "true",
            poll=PollSchedule(
                initial_seconds=int(number("POLL_INITIAL_SECONDS", 30)),
                maximum_seconds=int(number("POLL_MAX_SECONDS", 900)),
                deadline_seconds=int(number("POLL_DEADLINE_SECONDS", 86_400)),
            ),
            lock_ttl_seconds=int(number("LOCK_TTL_SECONDS", 133_200)),
            copy_time_margin_seconds=number("COPY_TIME_MARGIN_SECONDS", 60),
            not_found_grace_polls=int(number("NOT_FOUND_GRACE_POLLS", 3)),
            aiven_retry=RetryPolicy(
                max_attempts=max(1, int(number("AIVEN_RETRY_MAX_ATTEMPTS", 6))),
                base_delay=number("AIVEN_RETRY_BASE_DELAY", 2.0),
                max_delay=number("AIVEN_RETRY_MAX_DELAY", 15.0),
                max_total_wait=number("AIVEN_RETRY_MAX_TOTAL_WAIT", 120.0),
            ),
            copy=CopyConfig(
                max_retries=int(number("COPY_MAX_RETRIES", 5)),
                retry_base_delay=number("COPY_RETRY_BASE_DELAY", 0.5),
                retry_max_delay=number("COPY_RETRY_MAX_DELAY", 20.0),
            ),
            object_lock_mode=env.get("OBJECT_LOCK_MODE", "").strip().upper() or "NONE",
        )

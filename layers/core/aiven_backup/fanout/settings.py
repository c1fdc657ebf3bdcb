"""The fan-out's own configuration, from the environment template.yaml gives its functions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from aiven_backup.errors import StackMisconfigured

DEFAULT_MAX_CONCURRENT_SERVICES = 4
# An inline Map runs at most 40 iterations at once; more would be queued by Step Functions anyway.
MAX_CONCURRENT_SERVICES = 40


@dataclass(frozen=True)
class FanOutSettings:
    max_concurrent_services: int = DEFAULT_MAX_CONCURRENT_SERVICES
    notify_each: bool = True
    # The single-service state machine each run is an execution of (the summary reads them).
    backup_state_machine_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FanOutSettings:
        """``MAX_CONCURRENT_SERVICES``, ``NOTIFY_EACH`` and ``BACKUP_STATE_MACHINE_ARN``."""
        raw = env.get("MAX_CONCURRENT_SERVICES", "").strip()
        try:
            concurrency = int(raw) if raw else DEFAULT_MAX_CONCURRENT_SERVICES
        except ValueError:
            raise StackMisconfigured(
                f"MAX_CONCURRENT_SERVICES={raw!r} is not a whole number: fix the "
                "MaxConcurrentServices parameter and redeploy"
            ) from None
        if not 1 <= concurrency <= MAX_CONCURRENT_SERVICES:
            raise StackMisconfigured(
                f"MAX_CONCURRENT_SERVICES={concurrency} must be from 1 to "
                f"{MAX_CONCURRENT_SERVICES}: fix the MaxConcurrentServices parameter"
            )
        notify = env.get("NOTIFY_EACH", "true").strip().lower()
        if notify not in ("true", "false"):
            raise StackMisconfigured(
                f"NOTIFY_EACH={notify!r} must be true or false: fix the NotifyEach parameter"
            )
        return cls(
            max_concurrent_services=concurrency,
            notify_each=notify == "true",
            backup_state_machine_arn=env.get("BACKUP_STATE_MACHINE_ARN", "").strip(),
        )

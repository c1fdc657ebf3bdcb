"""The API function's configuration, from the environment the template gives it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiven_backup.env import StackEnvironment
from aiven_backup.errors import StackMisconfigured
from aiven_backup.workflow.execution_input import InputDefaults

_STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+")


@dataclass(frozen=True)
class ApiSettings:
    state_machine_arn: str
    lock_table_name: str
    input_defaults: InputDefaults
    bucket: str | None = None  # BACKUP_BUCKET: GET /catalog lists it

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ApiSettings:
        """``STATE_MACHINE_ARN``, ``LOCK_TABLE_NAME`` and the ``DEFAULT_*`` input defaults."""
        read = StackEnvironment(env, who="the API function")
        arn = read.required("STATE_MACHINE_ARN")
        if _STATE_MACHINE_ARN.fullmatch(arn) is None:
            raise StackMisconfigured(
                f"STATE_MACHINE_ARN={arn!r} is not a state machine ARN "
                "(arn:aws:states:<region>:<account>:stateMachine:<name>): redeploy the stack"
            )
        try:
            defaults = InputDefaults.from_env(env)
        except ValueError as error:
            raise StackMisconfigured(f"{error}; fix the stack parameter and redeploy") from error
        return cls(
            state_machine_arn=arn,
            lock_table_name=read.required("LOCK_TABLE_NAME"),
            input_defaults=defaults,
            bucket=env.get("BACKUP_BUCKET", "").strip() or None,
        )

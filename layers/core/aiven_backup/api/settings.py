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
    # The fan-out state machine (many services); empty: POST /backups takes one service only.
    fanout_state_machine_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ApiSettings:
        """``STATE_MACHINE_ARN``, ``LOCK_TABLE_NAME``, the ``DEFAULT_*`` input defaults and
        ``FANOUT_STATE_MACHINE_ARN`` (optional)."""
        read = StackEnvironment(env, who="the API function")
        arn = _state_machine_arn("STATE_MACHINE_ARN", read.required("STATE_MACHINE_ARN"))
        fanout = read.raw("FANOUT_STATE_MACHINE_ARN")
        if fanout:
            _state_machine_arn("FANOUT_STATE_MACHINE_ARN", fanout)
        try:
            defaults = InputDefaults.from_env(env)
        except ValueError as error:
            raise StackMisconfigured(f"{error}; fix the stack parameter and redeploy") from error
        return cls(
            state_machine_arn=arn,
            lock_table_name=read.required("LOCK_TABLE_NAME"),
            input_defaults=defaults,
            bucket=read.raw("BACKUP_BUCKET") or None,
            fanout_state_machine_arn=fanout,
        )


def _state_machine_arn(name: str, arn: str) -> str:
    if _STATE_MACHINE_ARN.fullmatch(arn) is None:
        raise StackMisconfigured(
            f"{name}={arn!r} is not a state machine ARN "
            "(arn:aws:states:<region>:<account>:stateMachine:<name>): redeploy the stack"
        )
    return arn

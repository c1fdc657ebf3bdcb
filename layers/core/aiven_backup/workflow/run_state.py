"""The state a backup execution carries from step to step.

Step Functions passes it between Lambdas as JSON, so it stays small: no part lists (S3 is the
source of truth for what was uploaded), no URLs with credentials, no token. ``wait.seconds``,
``ready`` and ``copy.done`` are always present because the state machine's Wait and Choice states
read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.workflow.execution_input import ExecutionInput


@dataclass(frozen=True)
class ExecutionRef:
    arn: str
    name: str
    started_at: str  # ISO 8601, from the execution's context object


@dataclass(frozen=True)
class WaitState:
    seconds: int = 0
    deadline: float = 0.0  # epoch seconds
    polls: int = 0
    not_found_polls: int = 0


@dataclass(frozen=True)
class SourceState:
    size: int | None
    accepts_ranges: bool
    url: str  # redacted: for people reading the execution history


@dataclass(frozen=True)
class CopyState:
    done: bool = False
    cursor: Mapping[str, Any] | None = None
    invocations: int = 0
    bytes_copied: int = 0
    started_at: float = 0.0  # epoch seconds: the first copy invocation began
    finished_at: float = 0.0  # epoch seconds: the upload was complete


@dataclass(frozen=True)
class VerificationState:
    """Where the verification is (``workflow.verification``): the state machine's Choice reads
    ``planned``, its Map iterates over ``batches`` (numbers of the batch files in S3, never the
    shards themselves) at most ``max_concurrency`` at a time."""

    planned: bool = False
    invocations: int = 0  # of the planning step
    size: int = 0  # the object's length
    batches: list[int] = field(default_factory=list)
    max_concurrency: int = 1
    # Filled by FinishVerification from the shards' data:
    data_text: str | None = None
    newest_age_hours: float | None = None
    stale: bool = False
    max_data_age_hours: float | None = None  # the limit ``stale`` was decided against


@dataclass(frozen=True)
class RunState:
    execution: ExecutionRef
    request: ExecutionInput
    bucket: str
    key: str
    task_id: str | None = None
    requested_at: float = (
        0.0  # epoch seconds when the backup was requested (or found, in 'existing')
    )
    wait: WaitState = field(default_factory=WaitState)
    ready: bool = False
    ready_at: float = 0.0
    source: SourceState | None = None
    copy: CopyState = field(default_factory=CopyState)
    result: Mapping[str, Any] | None = None
    inventory: Mapping[str, Any] | None = None
    inventory_key: str | None = None
    inventory_text: str | None = None
    verification: VerificationState | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunState:
        try:
            source = raw.get("source")
            verification = raw.get("verification")
            return cls(
                execution=ExecutionRef(**raw["execution"]),
                request=ExecutionInput(**raw["request"]),
                bucket=raw["bucket"],
                key=raw["key"],
                task_id=raw.get("task_id"),
                requested_at=float(raw.get("requested_at", 0.0)),
                wait=WaitState(**raw.get("wait", {})),
                ready=bool(raw.get("ready", False)),
                ready_at=float(raw.get("ready_at", 0.0)),
                source=SourceState(**source) if source else None,
                copy=CopyState(**raw.get("copy", {})),
                result=raw.get("result"),
                inventory=raw.get("inventory"),
                inventory_key=raw.get("inventory_key"),
                inventory_text=raw.get("inventory_text"),
                verification=VerificationState(**verification) if verification else None,
            )
        except (KeyError, TypeError) as error:
            raise InvalidExecutionInput(
                "state",
                f"the step's input is not a backup run state ({error}); steps after the first "
                "take the previous step's output unchanged",
            ) from None

    @staticmethod
    def is_run_state(raw: object) -> bool:
        return isinstance(raw, Mapping) and "execution" in raw and "request" in raw

    def log_keys(self) -> dict[str, str]:
        return {
            "execution": self.execution.name,
            # Powertools' own "service" key names this product; these name Aiven's.
            "aiven_project": self.request.project,
            "aiven_service": self.request.service,
            "backup_name": self.request.backup_name,
        }

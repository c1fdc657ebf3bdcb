"""What the backups API refuses, as named errors; the HTTP edge maps each to a status code.

These never reach the state machine, so they live beside the API rather than in the workflow's
error taxonomy; they still derive from ``BackupError`` so ``str(e)`` is an operator's message.
Invalid execution input is the workflow's own ``InvalidExecutionInput`` (one set of rules).
"""

from __future__ import annotations

from collections.abc import Callable

from aiven_backup.errors import BackupAlreadyRunning, BackupError, InvalidExecutionInput


class InvalidRequestError(BackupError):
    """A query parameter or header broke a rule (HTTP 400). Names the field and the rule."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid {field}: {reason}")


class BackupNotFoundError(BackupError):
    """No execution of this stack's state machine has that id (HTTP 404)."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(
            f"no backup with id {execution_id!r}: it is not an execution of this stack's state "
            "machine (ids are execution names; GET /backups lists recent ones)"
        )


class BackupInProgressError(BackupAlreadyRunning):
    """The service already has a running backup (HTTP 409); names that execution."""

    def __init__(self, project: str, service: str, execution_id: str, execution_arn: str) -> None:
        self.project = project
        self.service = service
        self.execution_id = execution_id
        self.execution_arn = execution_arn
        super().__init__(
            f"{project}/{service} already has a backup in progress (execution {execution_id!r}); "
            "a second one would replace the backup it is making. Follow that one at its "
            "status_url, and start again once it has finished."
        )


class IdempotencyKeyReusedError(BackupError):
    """An Idempotency-Key already started a backup with a different body (HTTP 422)."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(
            f"this Idempotency-Key already started backup {execution_id!r} with a different "
            "body; a retry must repeat the same body. Use a new key for a different backup."
        )


def validated_query_field(field: str, value: str, validate: Callable[[str, str], str]) -> str:
    """``value`` of query parameter ``field`` checked by an input rule (``validate(value,
    field)``); a broken rule becomes the 400 ``InvalidRequestError`` naming the parameter."""
    try:
        return validate(value, field)
    except InvalidExecutionInput as error:
        raise InvalidRequestError(field, error.reason) from None


def query_limit(text: str | None, *, default: int, maximum: int) -> int:
    """The ``limit`` query parameter: a whole number from 1 to ``maximum`` (``default`` when
    absent); anything else is the 400 ``InvalidRequestError``."""
    if text is None:
        return default
    whole_number = text.isascii() and text.isdigit() and len(text) <= 3
    if not whole_number or not 1 <= int(text) <= maximum:
        raise InvalidRequestError("limit", f"{text!r} is not a whole number from 1 to {maximum}")
    return int(text)

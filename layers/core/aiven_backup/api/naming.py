"""Execution names the API gives the backups it starts, and the ids it accepts back."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from aiven_backup.api.errors import InvalidRequestError

MAX_EXECUTION_NAME = 80
IDEMPOTENCY_KEY_MAX_LENGTH = 255
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]+")  # visible ASCII, as HTTP header values travel
# Step Functions refuses names with whitespace, these characters, or control characters.
_EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
_STAMP_LENGTH = len("20261123T030000Z")
_SERVICE_ROOM = MAX_EXECUTION_NAME - len("api--") - _STAMP_LENGTH - len("-") - 8


def new_execution_name(service: str, now: datetime) -> str:
    """``api-<service>-<UTC stamp>-<8 hex>``, at most 80 characters (long services are cut)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    short_service = service[:_SERVICE_ROOM].rstrip("-")
    return f"api-{short_service}-{stamp}-{secrets.token_hex(4)}"


def execution_name_for_key(idempotency_key: str) -> str:
    """The one execution name an Idempotency-Key maps to, so a retried POST finds it."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"api-{digest[:40]}"


def validate_idempotency_key(key: str) -> str:
    if not key:
        raise InvalidRequestError("Idempotency-Key", "is empty; send a unique value, e.g. a UUID")
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise InvalidRequestError(
            "Idempotency-Key",
            f"is {len(key)} characters long; use at most {IDEMPOTENCY_KEY_MAX_LENGTH} (a UUID)",
        )
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise InvalidRequestError(
            "Idempotency-Key", "must be visible ASCII without spaces, e.g. a UUID"
        )
    return key


def is_execution_name(candidate: str) -> bool:
    """Whether Step Functions could have an execution by this name."""
    return _EXECUTION_NAME.fullmatch(candidate) is not None

"""Backup names Aiven accepts, checked before any API call, and the default name."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiven_backup.errors import InvalidBackupName

MAX_BACKUP_NAME_LENGTH = 256
BACKUP_NAME_PATTERN = re.compile(r"[A-Za-z0-9.:_+-]{1,256}")
_ALLOWED_CHARACTERS = "letters, digits and . : _ + -"


def validate_backup_name(name: object) -> str:
    """Return ``name`` if Aiven accepts it as a backup name, else raise ``InvalidBackupName``."""
    if not isinstance(name, str):
        raise InvalidBackupName(f"must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidBackupName("must not be empty")
    if len(name) > MAX_BACKUP_NAME_LENGTH:
        raise InvalidBackupName(
            f"is {len(name)} characters long; Aiven allows at most {MAX_BACKUP_NAME_LENGTH}"
        )
    if BACKUP_NAME_PATTERN.fullmatch(name) is None:
        bad = next(c for c in name if BACKUP_NAME_PATTERN.fullmatch(c) is None)
        shown = "a space" if bad == " " else repr(bad)
        raise InvalidBackupName(
            f"contains {shown} at position {name.index(bad)}; "
            f"only {_ALLOWED_CHARACTERS} are allowed"
        )
    return name


def default_backup_name(service: str, now: datetime | None = None) -> str:
    """``<service>-<UTC stamp>``, e.g. ``metrics-influx-20261123T030000Z``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return validate_backup_name(f"{service}-{moment:%Y%m%dT%H%M%SZ}")

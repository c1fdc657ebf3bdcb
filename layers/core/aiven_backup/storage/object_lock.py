"""Object Lock as an object reports it: who may delete it, and from when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from aiven_backup.s3.translate import s3_errors_named

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class ObjectLock:
    mode: str | None  # GOVERNANCE or COMPLIANCE
    retain_until: datetime | None
    legal_hold: bool = False

    def protects(self, now: datetime) -> bool:
        """Whether a DeleteObject of this version would be refused now."""
        return self.legal_hold or (self.retain_until is not None and self.retain_until > now)

    def describe(self) -> str:
        parts = []
        if self.mode:
            until = f" until {iso_utc(self.retain_until)}" if self.retain_until else ""
            parts.append(f"{self.mode}{until}")
        if self.legal_hold:
            parts.append("a legal hold")
        return " and ".join(parts) or "no retention"


def object_lock_of(s3: S3Client, bucket: str, key: str) -> ObjectLock | None:
    """The current version's retention and legal hold; None when it has neither, or is gone.

    S3 returns these only to callers allowed ``s3:GetObjectRetention`` (and
    ``s3:GetObjectLegalHold``); without them an object looks unlocked here.
    """
    with s3_errors_named("read the Object Lock retention of", f"s3://{bucket}/{key}"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _MISSING:
                return None
            raise
    mode = head.get("ObjectLockMode")
    until = head.get("ObjectLockRetainUntilDate")
    hold = head.get("ObjectLockLegalHoldStatus") == "ON"
    if not mode and until is None and not hold:
        return None
    return ObjectLock(mode=str(mode) if mode else None, retain_until=until, legal_hold=hold)


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

"""What one call of the copier returns: ``CopyDone`` when the object is complete, else the
``CopyCursor`` to resume from.

The cursor is small enough for a Step Functions state, whatever the backup's size. S3 is the
source of truth for what was uploaded (the next call lists the parts); the cursor only says which
upload, how far the contiguous prefix goes, how parts are sized, how big the source was, the
CRC32 of the uploaded prefix (so the whole object's CRC32 can be finished later and a re-read
prefix can be checked), and the source's validators as the first probe saw them (``etag``,
``last_modified``: so every later invocation can tell the same backup from a replaced one).
Cursors written before the validators were recorded load with both None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiven_backup.copier.config import S3_MAX_PART_SIZE
from aiven_backup.errors import InvalidExecutionInput

CURSOR_VERSION = 1
MAX_VALIDATOR_LENGTH = 256  # as ``source.Validators`` accepts them


@dataclass(frozen=True)
class CopyCursor:
    """Resume point: parts ``1 .. next_part - 1`` (``offset`` bytes, CRC32 ``crc32``) are in
    upload ``upload_id``; ``part_size`` is the plan's base size and ``total_size`` the source's
    size (None: unknown); ``etag`` and ``last_modified`` are the source's validators when the
    copy started (None: not sent)."""

    upload_id: str
    next_part: int
    offset: int
    part_size: int
    total_size: int | None
    crc32: int = 0
    max_part_size: int = S3_MAX_PART_SIZE
    etag: str | None = None
    last_modified: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CURSOR_VERSION,
            "upload_id": self.upload_id,
            "next_part": self.next_part,
            "offset": self.offset,
            "part_size": self.part_size,
            "total_size": self.total_size,
            "crc32": f"{self.crc32:08x}",
            "max_part_size": self.max_part_size,
            "etag": self.etag,
            "last_modified": self.last_modified,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CopyCursor:
        """Parse ``to_dict``'s output; raises ``InvalidExecutionInput`` naming the bad field."""

        def integer(name: str, minimum: int, *, optional: bool = False) -> int | None:
            value = data.get(name)
            if value is None and optional:
                return None
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise InvalidExecutionInput(
                    f"cursor.{name}", f"must be an integer >= {minimum}, got {value!r}"
                )
            return value

        if data.get("version", CURSOR_VERSION) != CURSOR_VERSION:
            raise InvalidExecutionInput(
                "cursor.version", f"unsupported cursor version {data.get('version')!r}"
            )
        upload_id = data.get("upload_id")
        if not isinstance(upload_id, str) or not upload_id:
            raise InvalidExecutionInput("cursor.upload_id", "must be a non-empty string")
        crc_text = data.get("crc32", "00000000")
        try:
            crc32 = int(str(crc_text), 16)
        except ValueError:
            raise InvalidExecutionInput(
                "cursor.crc32", f"must be 8 hex digits, got {crc_text!r}"
            ) from None
        if not 0 <= crc32 <= 0xFFFFFFFF:
            raise InvalidExecutionInput("cursor.crc32", f"must be 8 hex digits, got {crc_text!r}")

        def validator(name: str) -> str | None:
            value = data.get(name)
            if value is None:
                return None
            if not isinstance(value, str) or not value or len(value) > MAX_VALIDATOR_LENGTH:
                raise InvalidExecutionInput(
                    f"cursor.{name}",
                    f"must be null or a string of 1 to {MAX_VALIDATOR_LENGTH} characters, "
                    f"got {value!r}",
                )
            return value

        next_part = integer("next_part", 1)
        offset = integer("offset", 0)
        part_size = integer("part_size", 1)
        assert next_part is not None
        assert offset is not None
        assert part_size is not None
        return cls(
            upload_id=upload_id,
            next_part=next_part,
            offset=offset,
            part_size=part_size,
            total_size=integer("total_size", 0, optional=True),
            crc32=crc32,
            max_part_size=integer("max_part_size", 1, optional=True) or S3_MAX_PART_SIZE,
            etag=validator("etag"),
            last_modified=validator("last_modified"),
        )


@dataclass(frozen=True)
class CopyDone:
    """The backup is in ``s3://bucket/key``: ``size`` bytes in ``parts`` parts.

    ``checksum`` is the object's full-object checksum exactly as S3 reports it for
    ``checksum_algorithm`` (base64 CRC32, e.g. ``HeadObject(ChecksumMode=ENABLED)``'s
    ``ChecksumCRC32``); ``version_id`` is None in a bucket without versioning.
    """

    bucket: str
    key: str
    size: int
    checksum: str | None
    parts: int
    etag: str
    version_id: str | None
    checksum_algorithm: str = "CRC32"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

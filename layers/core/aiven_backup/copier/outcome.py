"""What a finished copy reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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

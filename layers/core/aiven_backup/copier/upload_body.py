"""How a part's bytes reach S3 without a copy: the part buffer as the file botocore sends
(``PartBody``), and two botocore hooks on the caller's S3 client (``prepare_client``) that keep
botocore from hashing it for the signature and let urllib3 send it with one ``sendall``.

The hooks are registered once (idempotent) and touch only UploadParts that carry the copier's CRC32
header or whose body is a ``PartBody``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSRequest
    from mypy_boto3_s3 import S3Client


class PartBody(io.RawIOBase):
    """Reads ``buffer`` in the blocks its reader asks for, so no part-sized copy is made;
    seekable so botocore can size it, hash it (plain-http signing) and rewind it on retry.

    ``buffer`` is the part itself, for a sender that can take it whole (``_send_part_whole``).
    """

    def __init__(self, buffer: bytearray) -> None:
        super().__init__()
        self.buffer = buffer
        self._view = memoryview(buffer).toreadonly()
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = max(0, min(len(target), len(self._view) - self._position))
        target[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


CHECKSUM_HEADER = "x-amz-checksum-crc32"
_SIGNING_HOOK_ID = "aiven_backup.copier.header-checksum-signing"
_SEND_HOOK_ID = "aiven_backup.copier.send-part-whole"


def _declare_header_checksum(request: AWSRequest, **_: Any) -> None:
    """Let botocore's signer see the part's CRC32 header as the request checksum.

    botocore skips hashing a streaming body over https only when it knows a checksum header
    protects it; a checksum supplied by the caller is not registered, so without this every part
    would be SHA-256-hashed for the signature as well. This hook makes a caller-computed CRC32
    count exactly like one botocore would have computed (over plain http bodies stay signed).
    """
    if CHECKSUM_HEADER in request.headers:
        checksum = request.context.setdefault("checksum", {})
        checksum.setdefault(
            "request_algorithm", {"algorithm": "crc32", "in": "header", "name": CHECKSUM_HEADER}
        )


def _send_part_whole(request: AWSPreparedRequest, **_: Any) -> None:
    """Hand urllib3 the part's buffer instead of its file wrapper, just before it is sent.

    urllib3 reads a file body in 16 KiB blocks (a copy and a GIL round trip each, 512 per 8 MiB
    part) but sends a buffer with one ``sendall``. This runs last among ``before-send``
    handlers, so anything answering the request in-process (a stub, moto) still sees the file.
    botocore runs every ``before-send`` handler even when one of them answered, and rewinds only
    the body it finally holds before a retry, so the file is rewound here for the next attempt.
    """
    body = request.body
    if isinstance(body, PartBody):
        body.seek(0)
        request.body = body.buffer


def prepare_client(s3: S3Client) -> None:
    """Register both hooks on ``s3`` (idempotent)."""
    events = s3.meta.events
    events.register_first(
        "before-sign.s3.UploadPart", _declare_header_checksum, unique_id=_SIGNING_HOOK_ID
    )
    events.register_last("before-send", _send_part_whole, unique_id=_SEND_HOOK_ID)

"""Two botocore hooks that make the copier's UploadPart requests cheap to send.

They are registered on the caller's S3 client once (idempotent) and touch only UploadParts that
carry the copier's CRC32 header or whose body is the copier's ``PartBody``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiven_backup.copier.part_body import PartBody

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSRequest
    from mypy_boto3_s3 import S3Client

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

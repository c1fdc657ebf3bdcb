"""The S3 side: one multipart upload, its parts, its completion, and aborting leftovers.

Every part carries ``x-amz-checksum-crc32``, which S3 checks against the bytes it received;
the upload is created with ``ChecksumType=FULL_OBJECT`` so the finished object's CRC32 is that of
the whole backup, and completion sends that CRC32 and the expected size for S3 to check too.

Transient S3 faults (SlowDown, 5xx, throttling, dropped connections) are retried here with
bounded backoff, on top of botocore's own retries, and raise ``S3Unavailable`` when spent.
Anything else raises ``UploadFailed``; a vanished upload raises ``UploadLost``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from aiven_backup.copier.checksum import crc32_from_base64, crc32_to_base64
from aiven_backup.copier.part_body import PartBody
from aiven_backup.copier.retry import Backoff
from aiven_backup.errors import S3Unavailable, UploadFailed, UploadLost

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSRequest
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, HeadObjectOutputTypeDef

logger = logging.getLogger(__name__)

CHECKSUM_HEADER = "x-amz-checksum-crc32"
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequests",
        "RequestLimitExceeded",
        "OperationAborted",
    }
)
# S3 received different bytes than the checksum describes: corrupted on the way, worth a resend.
_CORRUPTION_CODES = frozenset(
    {"BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "IncompleteBody"}
)
_SIGNING_HOOK_ID = "aiven_backup.copier.header-checksum-signing"
_SEND_HOOK_ID = "aiven_backup.copier.send-part-whole"


@dataclass(frozen=True)
class UploadedPart:
    """A part S3 holds: its number, size, ETag and CRC32 (None when S3 did not report it)."""

    number: int
    size: int
    etag: str
    crc32: int | None


def _error_code(error: ClientError) -> tuple[str, int]:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def _is_transient(error: Exception) -> bool:
    if isinstance(error, ConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        code, status = _error_code(error)
        return code in _TRANSIENT_CODES or status in (429, 500, 502, 503, 504)
    return False


def _is_corruption(error: Exception) -> bool:
    return isinstance(error, ClientError) and _error_code(error)[0] in _CORRUPTION_CODES


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
    """Register the copier's two hooks on ``s3`` (idempotent; they only touch UploadParts
    that carry a CRC32 header, or whose body is a ``PartBody``)."""
    events = s3.meta.events
    events.register_first(
        "before-sign.s3.UploadPart", _declare_header_checksum, unique_id=_SIGNING_HOOK_ID
    )
    events.register_last("before-send", _send_part_whole, unique_id=_SEND_HOOK_ID)


class MultipartUpload:
    """One multipart upload of ``s3://bucket/key``, identified by ``upload_id``."""

    def __init__(
        self, s3: S3Client, bucket: str, key: str, upload_id: str, backoff: Backoff
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self._backoff = backoff

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def create(cls, s3: S3Client, bucket: str, key: str, backoff: Backoff) -> MultipartUpload:
        """Start a new upload whose parts carry CRC32s combined into a full-object CRC32."""
        response = _call_with_retries(
            lambda: s3.create_multipart_upload(
                Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
            ),
            backoff,
            f"start a multipart upload of s3://{bucket}/{key}",
        )
        return cls(s3, bucket, key, response["UploadId"], backoff)

    def upload_part(self, number: int, body: bytearray, crc32: int) -> UploadedPart:
        """Upload one part with its CRC32 (S3 rejects the part if the bytes do not match)."""
        checksum = crc32_to_base64(crc32)

        def send() -> UploadedPart:
            response = self.s3.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                # A file in all but name: the stubs only accept typing.IO, not io.RawIOBase.
                Body=cast(IO[bytes], PartBody(body)),
                ChecksumCRC32=checksum,
            )
            return UploadedPart(number=number, size=len(body), etag=response["ETag"], crc32=crc32)

        return self._call(send, f"upload part {number} of {self.location}", resend_corrupt=True)

    def list_parts(self) -> list[UploadedPart]:
        """Every part S3 holds for this upload, in order (the source of truth on resume)."""
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            page = self._call(
                partial(
                    self.s3.list_parts,
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumberMarker=marker,
                ),
                f"list the parts of {self.location}",
            )
            for part in page.get("Parts", []):
                checksum = part.get("ChecksumCRC32")
                parts.append(
                    UploadedPart(
                        number=part["PartNumber"],
                        size=part["Size"],
                        etag=part["ETag"],
                        crc32=crc32_from_base64(checksum) if checksum else None,
                    )
                )
            if not page.get("IsTruncated"):
                return sorted(parts, key=lambda p: p.number)
            marker = int(page.get("NextPartNumberMarker", 0))

    def complete(self, parts: list[UploadedPart], crc32: int, size: int) -> tuple[str, str | None]:
        """Join ``parts``; S3 checks the whole object's CRC32 and size. Returns (ETag, version)."""
        completed: list[CompletedPartTypeDef] = []
        for part in parts:
            entry: CompletedPartTypeDef = {"PartNumber": part.number, "ETag": part.etag}
            if part.crc32 is not None:
                entry["ChecksumCRC32"] = crc32_to_base64(part.crc32)
            completed.append(entry)
        response = self._call(
            lambda: self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": completed},
                ChecksumCRC32=crc32_to_base64(crc32),
                ChecksumType="FULL_OBJECT",
                MpuObjectSize=size,
            ),
            f"complete the upload of {self.location}",
        )
        version = response.get("VersionId")
        return response["ETag"], version if version not in (None, "", "null") else None

    def head(self, version_id: str | None) -> tuple[int, int | None]:
        """The finished object's size and full-object CRC32 (None when S3 does not report one)."""

        def call() -> HeadObjectOutputTypeDef:
            if version_id:
                return self.s3.head_object(
                    Bucket=self.bucket, Key=self.key, VersionId=version_id, ChecksumMode="ENABLED"
                )
            return self.s3.head_object(Bucket=self.bucket, Key=self.key, ChecksumMode="ENABLED")

        response = _call_with_retries(call, self._backoff, f"read back {self.location}")
        checksum = response.get("ChecksumCRC32")
        crc = crc32_from_base64(checksum.split("-")[0]) if checksum else None
        return response["ContentLength"], crc

    def delete_object(self, version_id: str | None) -> None:
        """Remove the finished object (it failed verification); best effort, logged."""
        try:
            if version_id:
                self.s3.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version_id)
            else:
                self.s3.delete_object(Bucket=self.bucket, Key=self.key)
        except (ClientError, BotoCoreError) as error:
            logger.error(
                "could not delete the object that failed verification",
                extra={"location": self.location, "error": str(error)},
            )

    def abort(self) -> None:
        """Abort the upload and drop its parts; best effort (a vanished upload is fine), logged."""
        try:
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
        except (ClientError, BotoCoreError) as error:
            if isinstance(error, ClientError) and _error_code(error)[0] == "NoSuchUpload":
                return
            logger.warning(
                "could not abort the multipart upload; the bucket's lifecycle rule or the "
                "workflow's failure path will",
                extra={"location": self.location, "error": str(error)},
            )

    def _call[T](self, call: Callable[[], T], what: str, *, resend_corrupt: bool = False) -> T:
        try:
            return _call_with_retries(call, self._backoff, what, resend_corrupt=resend_corrupt)
        except ClientError as error:
            if _error_code(error)[0] == "NoSuchUpload":
                raise UploadLost(
                    f"the multipart upload to {self.location} no longer exists (aborted, or "
                    f"expired by the bucket's lifecycle rule) while trying to {what}; the copy "
                    "must start again."
                ) from None
            raise


def _call_with_retries[T](
    call: Callable[[], T], backoff: Backoff, what: str, *, resend_corrupt: bool = False
) -> T:
    """``call()``, retried on transient S3 faults; ClientErrors other than those pass through
    only as ``NoSuchUpload`` (for the caller to name) or become ``UploadFailed``."""
    failures = 0
    while True:
        try:
            return call()
        except (ClientError, BotoCoreError) as error:
            retryable = _is_transient(error) or (resend_corrupt and _is_corruption(error))
            if isinstance(error, ClientError) and _error_code(error)[0] == "NoSuchUpload":
                raise
            if not retryable:
                raise UploadFailed(
                    f"S3 refused to {what}: {error}. Check the bucket, its policy and KMS key, "
                    "and the function's permissions."
                ) from None
            if failures >= backoff.retries:
                if _is_corruption(error):
                    raise UploadFailed(
                        f"S3 kept rejecting the checksum while trying to {what} "
                        f"({failures + 1} attempts): {error}"
                    ) from None
                raise S3Unavailable(
                    f"S3 kept failing while trying to {what} ({failures + 1} attempts): {error}. "
                    "S3 may be throttling or degraded; the copy can be retried."
                ) from None
            logger.warning("S3 call failed, retrying", extra={"what": what, "error": str(error)})
            if not backoff.wait(failures):
                raise S3Unavailable(
                    f"S3 failed while trying to {what} ({error}) and the copy is stopping or its "
                    "time is nearly spent; the copy can be resumed."
                ) from None
            failures += 1


def abort_incomplete_uploads(s3: S3Client, bucket: str, key: str) -> int:
    """Abort every in-progress multipart upload of exactly ``s3://bucket/key``; how many."""
    aborted = 0
    paginator = s3.get_paginator("list_multipart_uploads")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for upload in page.get("Uploads", []):
                if upload.get("Key") != key:
                    continue
                try:
                    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                except ClientError as error:
                    if _error_code(error)[0] != "NoSuchUpload":
                        raise
                    continue
                aborted += 1
    except (ClientError, BotoCoreError) as error:
        if _is_transient(error):
            raise S3Unavailable(
                f"S3 failed while aborting the unfinished uploads of s3://{bucket}/{key}: {error}"
            ) from None
        raise UploadFailed(
            f"S3 refused to abort the unfinished uploads of s3://{bucket}/{key}: {error}. Check "
            "the function's s3:ListBucketMultipartUploads and s3:AbortMultipartUpload permissions."
        ) from None
    return aborted

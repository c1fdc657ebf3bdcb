"""One S3 multipart upload: its parts, its completion, and aborting leftovers.

Every part carries ``x-amz-checksum-crc32``, which S3 checks against the bytes it received;
the upload is created with ``ChecksumType=FULL_OBJECT`` so the finished object's CRC32 is that of
the whole backup, and completion sends that CRC32 and the expected size for S3 to check too.
Every S3 call goes through ``aiven_backup.s3.retry``: transient faults are retried, a vanished
upload raises ``UploadLost``, a refusal ``UploadFailed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.copier.checksum import crc32_from_base64, crc32_to_base64
from aiven_backup.copier.upload_body import PartBody
from aiven_backup.retry import RetryScope
from aiven_backup.s3.faults import S3Fault, classify_s3_error
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.s3.translate import s3_failure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadedPart:
    """A part S3 holds: its number, size, ETag and CRC32 (None when S3 did not report it)."""

    number: int
    size: int
    etag: str
    crc32: int | None


class MultipartUpload:
    """One multipart upload of ``s3://bucket/key``, identified by ``upload_id``."""

    def __init__(
        self, s3: S3Client, bucket: str, key: str, upload_id: str, retry: RetryScope
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self._retry = retry

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def create(cls, s3: S3Client, bucket: str, key: str, retry: RetryScope) -> MultipartUpload:
        """Start a new upload whose parts carry CRC32s combined into a full-object CRC32."""
        response = call_with_retries(
            lambda: s3.create_multipart_upload(
                Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
            ),
            retry,
            "start a multipart upload of",
            f"s3://{bucket}/{key}",
        )
        return cls(s3, bucket, key, response["UploadId"], retry)

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

        return self._call(send, f"upload part {number} of", resend_corrupt=True)

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
                "list the parts of",
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
            "complete the upload of",
        )
        version = response.get("VersionId")
        return response["ETag"], version if version not in (None, "", "null") else None

    def head(self) -> tuple[int, int | None]:
        """The finished object's size and full-object CRC32 (None when S3 does not report one).

        The latest version is read (needs only s3:GetObject); the service lock keeps other
        writers of this key away.
        """
        response = self._call(
            partial(self.s3.head_object, Bucket=self.bucket, Key=self.key, ChecksumMode="ENABLED"),
            "read back",
        )
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
            if classify_s3_error(error) is S3Fault.NO_SUCH_UPLOAD:
                return
            logger.warning(
                "could not abort the multipart upload; the bucket's lifecycle rule or the "
                "workflow's failure path will",
                extra={"location": self.location, "error": str(error)},
            )

    def _call[T](self, call: Callable[[], T], action: str, *, resend_corrupt: bool = False) -> T:
        return call_with_retries(
            call, self._retry, action, self.location, resend_corrupt=resend_corrupt
        )


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
                    if classify_s3_error(error) is not S3Fault.NO_SUCH_UPLOAD:
                        raise
                    continue
                aborted += 1
    except (ClientError, BotoCoreError) as error:
        raise s3_failure(error, "abort the unfinished uploads of", f"s3://{bucket}/{key}") from None
    return aborted

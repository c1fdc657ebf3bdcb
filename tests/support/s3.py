"""What landed in (moto's) S3, as the tests look at it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError
from moto.core.botocore_stubber import MockRawResponse

from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PutObject = Callable[[str, bytes], str]


@dataclass
class S3Requests:
    """What the client under test asked S3 for, counted by botocore event hooks."""

    calls: list[str] = field(default_factory=list)
    bytes_received: int = 0

    def count(self, operation: str) -> int:
        return self.calls.count(operation)

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_received = 0


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``: what a stored object's digest is compared with."""
    return hashlib.sha256(data).hexdigest()


def stored_sha256(s3: S3Client, key: str, bucket: str = BUCKET) -> str:
    """Hex SHA-256 of the stored object, read back in 1 MiB chunks."""
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def object_keys(s3: S3Client, bucket: str = BUCKET) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def incomplete_upload_ids(s3: S3Client, bucket: str = BUCKET) -> list[str]:
    """The UploadId of every multipart upload neither completed nor aborted."""
    return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def client_error(code: str, status: int = 0, operation: str = "GetObject") -> ClientError:
    """A ``ClientError`` with S3's error ``code`` and HTTP ``status`` (0: none in the response)."""
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def s3_error_response(
    code: str, status: int, url: str = "https://s3.amazonaws.com/"
) -> AWSResponse:
    """An S3 error answer as botocore receives it off the wire, to answer a request in place of
    moto (from a ``before-send`` hook): XML body with ``code``, HTTP ``status``."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>injected {code}</Message></Error>"
    ).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/xml"
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, headers, MockRawResponse(body))

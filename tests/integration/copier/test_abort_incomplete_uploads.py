"""The failure path's cleanup: every unfinished upload of exactly one key is aborted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiven_backup.copier import abort_incomplete_uploads
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _start(s3: S3Client, key: str) -> str:
    return s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]


def test_aborts_every_upload_of_the_key_and_none_of_its_neighbours(s3: S3Client) -> None:
    key = "acme/metrics/2026/11/23/b.tar"
    _start(s3, key)
    _start(s3, key)
    neighbour = _start(s3, key + ".inventory.json")
    other = _start(s3, "acme/metrics/2026/11/23/a.tar")

    aborted = abort_incomplete_uploads(s3, BUCKET, key)

    left = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]}
    assert aborted == 2
    assert left == {neighbour, other}


def test_nothing_to_abort_is_zero(s3: S3Client) -> None:
    assert abort_incomplete_uploads(s3, BUCKET, "nothing/here.tar") == 0

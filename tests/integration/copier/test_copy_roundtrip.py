"""A copy produces a byte-identical object, whatever the source's shape."""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from typing import TYPE_CHECKING

import pytest

from aiven_backup.copier import CopyConfig, CopyDone, copy_url_to_s3
from aiven_backup.copier.checksum import crc32_to_base64
from tests.support.aws import BUCKET
from tests.support.s3 import sha256, stored_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
@pytest.mark.parametrize("content_length", [True, False], ids=["known-length", "chunked"])
def test_copy_is_byte_identical(
    s3: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    ranges: bool,
    content_length: bool,
) -> None:
    data = os.urandom(20 * 64 * 1024 + 12_345)  # 20 full 64 KiB parts and a short one
    server = serve(data, ranges=ranges, content_length=content_length)

    done = copy_url_to_s3(
        server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=60, config=small_parts
    )

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert done.size == len(data)
    assert done.parts == 21
    assert done.checksum == crc32_to_base64(zlib.crc32(data))
    head = s3.head_object(Bucket=BUCKET, Key="b.tar", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head["ChecksumCRC32"] == done.checksum
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_progress_reports_the_uploaded_prefix_in_order_up_to_the_total(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    data = os.urandom(9 * 64 * 1024 + 1)
    server = serve(data)
    reports: list[tuple[int, int | None]] = []

    done = copy_url_to_s3(
        server.url,
        s3=s3,
        bucket=BUCKET,
        key="b.tar",
        time_budget_s=60,
        config=small_parts,
        progress=lambda done, total: reports.append((done, total)),
    )

    assert isinstance(done, CopyDone)
    assert reports[-1] == (len(data), len(data))
    assert [d for d, _ in reports] == sorted({d for d, _ in reports})
    assert json.loads(json.dumps(done.to_dict()))["size"] == len(data)


@pytest.mark.parametrize("read_concurrency", [1, 3], ids=["one-stream", "ranged-parts"])
def test_a_host_answering_shorter_ranges_than_asked_is_followed_up(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, read_concurrency: int
) -> None:
    config = dataclasses.replace(small_parts, read_concurrency=read_concurrency)
    data = os.urandom(5 * 64 * 1024 + 3)
    server = serve(data, ranges=True, range_cap=10_000, reset_next=1, reset_after=5_000)

    done = copy_url_to_s3(
        server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=60, config=config
    )

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)


def test_ranged_reads_reuse_their_keep_alive_connections(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(30 * 64 * 1024), ranges=True)

    copy_url_to_s3(
        server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=60, config=small_parts
    )

    requests = server.behaviour.gets
    connections = {r.client_port for r in requests}
    assert len(requests) == 31  # the probe and one GET per part
    assert len(connections) <= small_parts.read_concurrency + 1


def test_a_versioned_bucket_reports_the_new_version(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    server = serve(os.urandom(3 * 64 * 1024))

    done = copy_url_to_s3(
        server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=60, config=small_parts
    )

    assert isinstance(done, CopyDone)
    assert done.version_id is not None
    assert done.version_id == s3.head_object(Bucket=BUCKET, Key="b.tar")["VersionId"]

"""Faults of S3: SlowDown and 5xx are retried, checksums are enforced, refusals abort."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
import moto.s3.models
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from aiven_backup.copier import CopyConfig, CopyDone, copy_url_to_s3
from aiven_backup.copier.checksum import crc32_from_base64
from aiven_backup.errors import S3Unavailable, UploadFailed
from tests.support.aws import BUCKET
from tests.support.copier import PART
from tests.support.s3 import (
    incomplete_upload_ids,
    object_keys,
    s3_error_response,
    sha256,
    stored_sha256,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource, SourceServer


Injector = Callable[[AWSPreparedRequest], AWSResponse | None]


def _intercept_upload_part(s3: S3Client, injector: Injector) -> list[int]:
    """Run ``injector`` before moto sees each UploadPart attempt; returns the part numbers sent."""
    attempts: list[int] = []

    def handler(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        attempts.append(int(request.url.split("partNumber=")[1].split("&")[0]))
        return injector(request)

    s3.meta.events.register_first("before-send.s3.UploadPart", handler)  # type: ignore[arg-type]
    return attempts


def _failing(times: int, code: str, status: int) -> Injector:
    left = [times]

    def inject(_: AWSPreparedRequest) -> AWSResponse | None:
        if left[0] <= 0:
            return None
        left[0] -= 1
        return s3_error_response(code, status)

    return inject


def _copy(s3: S3Client, server: SourceServer, config: CopyConfig) -> CopyDone:
    result = copy_url_to_s3(
        server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=60, config=config
    )
    assert isinstance(result, CopyDone)
    return result


@pytest.mark.parametrize(
    ("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("ServiceUnavailable", 503)]
)
def test_slowdown_and_server_errors_on_upload_part_are_retried(
    s3_once: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    code: str,
    status: int,
) -> None:
    data = os.urandom(5 * PART)
    server = serve(data)
    attempts = _intercept_upload_part(s3_once, _failing(3, code, status))

    _copy(s3_once, server, small_parts)

    assert stored_sha256(s3_once, "b.tar") == sha256(data)
    assert len(attempts) == 5 + 3


def test_upload_parts_retried_by_botocore_itself_are_resent_whole(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    """The Lambda's client retries SlowDown itself (standard mode), re-sending the same body."""
    patient = boto3.client(
        "s3",
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=16),
    )
    data = os.urandom(4 * PART)
    server = serve(data)
    attempts = _intercept_upload_part(patient, _failing(3, "SlowDown", 503))

    with mock.patch("botocore.retries.standard.ExponentialBackoff.delay_amount", return_value=0):
        _copy(patient, server, small_parts)

    assert len(attempts) == 4 + 3
    assert s3.get_object(Bucket=BUCKET, Key="b.tar")["Body"].read() == data


def test_s3_that_keeps_slowing_down_is_unavailable_and_the_upload_is_left_for_retry(
    s3_once: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(3 * PART))
    _intercept_upload_part(s3_once, _failing(10_000, "SlowDown", 503))

    with pytest.raises(S3Unavailable, match="kept failing"):
        _copy(s3_once, server, small_parts)

    # transient: the workflow may retry from its cursor
    assert len(incomplete_upload_ids(s3_once)) == 1


def test_access_denied_fails_the_upload_and_aborts_it(
    s3_once: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(3 * PART))
    attempts = _intercept_upload_part(s3_once, _failing(10_000, "AccessDenied", 403))

    with pytest.raises(UploadFailed, match="AccessDenied"):
        _copy(s3_once, server, small_parts)

    assert len(set(attempts)) <= small_parts.upload_concurrency  # no retry of a refusal
    assert incomplete_upload_ids(s3_once) == []
    assert object_keys(s3_once) == []


def _verify_checksums_like_s3(corrupt: Callable[[int], bool]) -> Injector:
    """What S3 does and moto does not: compare the body with ``x-amz-checksum-crc32`` and
    answer BadDigest on a mismatch. ``corrupt(part)`` damages the body "on the wire" first."""

    def inject(request: AWSPreparedRequest) -> AWSResponse | None:
        body = request.body
        assert isinstance(body, io.RawIOBase)  # the copier's PartBody
        received = bytearray(body.read() or b"")
        body.seek(0)
        part = int(request.url.split("partNumber=")[1].split("&")[0])
        if received and corrupt(part):
            received[len(received) // 2] ^= 0x01
        declared = crc32_from_base64(request.headers["x-amz-checksum-crc32"])
        if zlib.crc32(received) != declared:
            return s3_error_response("BadDigest", 400)
        return None

    return inject


def test_every_part_carries_a_crc32_and_a_damaged_part_is_resent(
    s3_once: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    data = os.urandom(4 * PART)
    server = serve(data)
    damaged: set[int] = set()

    def damage_part_two_once(part: int) -> bool:
        if part == 2 and part not in damaged:
            damaged.add(part)
            return True
        return False

    attempts = _intercept_upload_part(s3_once, _verify_checksums_like_s3(damage_part_two_once))

    _copy(s3_once, server, small_parts)

    assert sorted(attempts) == [1, 2, 2, 3, 4]
    body = s3_once.get_object(Bucket=BUCKET, Key="b.tar")["Body"].read()
    assert body == data


def test_a_part_s3_keeps_rejecting_as_corrupt_fails_and_aborts(
    s3_once: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(4 * PART))
    _intercept_upload_part(s3_once, _verify_checksums_like_s3(lambda part: part == 3))

    with pytest.raises(UploadFailed, match="checksum"):
        _copy(s3_once, server, small_parts)

    assert incomplete_upload_ids(s3_once) == []
    assert object_keys(s3_once) == []


def test_an_object_assembled_from_other_bytes_is_detected_and_deleted(
    s3: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto computes the finished object's CRC32 from what it stored: damage one stored part."""
    server = serve(os.urandom(4 * PART))
    store_part = moto.s3.models.FakeMultipart.set_part

    def store_damaged(self: Any, part_id: int, value: bytes) -> Any:
        if part_id == 2:
            value = value[:-1] + bytes([value[-1] ^ 0xFF])
        return store_part(self, part_id, value)

    monkeypatch.setattr(moto.s3.models.FakeMultipart, "set_part", store_damaged)

    with pytest.raises(UploadFailed, match="does not match what was read"):
        _copy(s3, server, small_parts)

    assert object_keys(s3) == []
    assert incomplete_upload_ids(s3) == []


def test_parts_are_sent_unsigned_over_https_because_the_crc32_protects_them(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(2 * PART))
    signatures: list[str] = []

    def record(request: AWSPreparedRequest) -> AWSResponse | None:
        value = request.headers["X-Amz-Content-SHA256"]
        signatures.append(value.decode() if isinstance(value, bytes) else value)
        return None

    _intercept_upload_part(s3, record)

    _copy(s3, server, small_parts)

    assert signatures == ["UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"]

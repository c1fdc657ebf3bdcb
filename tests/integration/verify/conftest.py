"""Fixtures for verifying tars stored in (in-process) moto S3."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.support.aws import BUCKET
from tests.support.s3 import PutObject, S3Requests

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def put_object(s3: S3Client) -> PutObject:
    """Store ``body`` under ``key`` in ``BUCKET``; returns the key."""

    def put(key: str, body: bytes) -> str:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return key

    return put


@pytest.fixture
def s3_requests(s3: S3Client) -> S3Requests:
    """Records every S3 operation the ``s3`` client makes from now on."""
    requests = S3Requests()

    def before_call(model: Any, **_: Any) -> None:
        requests.calls.append(model.name)

    def after_get(parsed: dict[str, Any], **_: Any) -> None:
        requests.bytes_received += int(parsed.get("ContentLength", 0))

    s3.meta.events.register("before-call.s3", before_call)
    s3.meta.events.register("after-call.s3.GetObject", after_get)
    return requests

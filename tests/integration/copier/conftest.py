"""The copier's fixtures: a loopback download source, small parts, an S3 client without retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import moto.s3.models
import pytest
from botocore.config import Config

from aiven_backup.copier import CopyConfig
from tests.support.aws import BUCKET, REGION
from tests.support.copier import PART
from tests.support.source_server import ServeSource, source_servers

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def serve() -> Iterator[ServeSource]:
    """``serve(data, **switches)``: start a loopback source server; stopped after the test."""
    with source_servers() as start:
        yield start


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> CopyConfig:
    """A config with ``PART``-sized parts (moto's 5 MiB minimum lowered) and instant retries."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    return CopyConfig(
        min_part_size=PART,
        upload_concurrency=4,
        read_concurrency=3,
        max_attempts=4,
        retry_base_delay=0.001,
        retry_max_delay=0.01,
        read_timeout=5.0,
        connect_timeout=2.0,
    )


@pytest.fixture
def s3_once(moto_aws: None) -> S3Client:
    """An S3 client on moto with botocore's own retries off, so the copier's retries are seen."""
    client = boto3.client(
        "s3",
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16),
    )
    client.create_bucket(Bucket=BUCKET)
    return client

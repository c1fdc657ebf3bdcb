"""Fixtures for the benchmark's own instruments: a throwaway CA and an in-process null sink."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from bench.null_sink import NullSinkServer, make_server
from bench.tls import Certificates, make_certificates

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def null_sink(certificates: Certificates) -> Iterator[NullSinkServer]:
    """A null sink serving https on a free loopback port, in a thread of this process."""
    server = make_server(0, certificates.server_context())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def sink_endpoint(server: NullSinkServer) -> str:
    return f"https://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def s3(null_sink: NullSinkServer, certificates: Certificates) -> S3Client:
    """boto3 against the null sink over https, trusting only the throwaway CA; no retries, so
    every error the sink answers reaches the test."""
    client = boto3.client(
        "s3",
        endpoint_url=sink_endpoint(null_sink),
        region_name="us-east-1",
        aws_access_key_id="NULLSINK",
        aws_secret_access_key="NULLSINK",
        verify=str(certificates.ca_cert),
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    client.create_bucket(Bucket="bench")
    return client


@pytest.fixture
def ca_bundle(certificates: Certificates) -> Path:
    return certificates.ca_cert

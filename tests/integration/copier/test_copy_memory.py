"""Memory stays at part size x (upload concurrency + 1) plus a fixed overhead, whatever the size.

S3 is a moto server in a child process, so tracemalloc sees only this process: the copier, httpx,
botocore and the loopback source (which serves its bytes without copying them). moto's own
CompleteMultipartUpload, which joins every part in memory, happens in the child.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config

from aiven_backup.copier import CopyConfig, CopyDone, MiB, copy_url_to_s3
from aiven_backup.copier.checksum import crc32_to_base64
from aiven_backup.copier.upload_body import prepare_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource

SIZE = 200 * MiB
FIXED_OVERHEAD = 16 * MiB


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_server_url() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/moto-api/", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _slow_down_uploads(**_: Any) -> None:
    """Make S3 the bottleneck, as it is when memory could pile up: 0.2 s more per part."""
    time.sleep(0.2)


@pytest.fixture
def remote_s3(moto_server_url: str) -> tuple[S3Client, str]:
    """A client of the moto server whose uploads are slower than the source, and a bucket."""
    client = boto3.client(
        "s3",
        endpoint_url=moto_server_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=16, s3={"addressing_style": "path"}),
    )
    bucket = f"memory-{time.monotonic_ns()}"
    client.create_bucket(Bucket=bucket)
    client.meta.events.register("before-send.s3.UploadPart", _slow_down_uploads)
    prepare_client(client)  # the copier's hooks first, so the spy below runs after them
    return client, bucket


@dataclass(frozen=True)
class MemoryCase:
    ranges: bool
    content_length: bool
    size: int
    max_buffer_memory: int
    buffers: int  # how many part buffers may exist at once


CASES = {
    "ranged-reads": MemoryCase(True, True, SIZE, 768 * MiB, buffers=4),
    "one-chunked-stream": MemoryCase(False, False, SIZE, 768 * MiB, buffers=5),
    "capped-buffer-memory": MemoryCase(False, True, SIZE // 4, 16 * MiB, buffers=2),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_peak_memory_is_bounded_by_the_part_buffers(
    remote_s3: tuple[S3Client, str], serve: ServeSource, case: MemoryCase
) -> None:
    config = CopyConfig(
        upload_concurrency=4,
        read_concurrency=4,
        retry_base_delay=0.01,
        max_buffer_memory=case.max_buffer_memory,
    )
    size = case.size
    data = os.urandom(size)
    server = serve(data, ranges=case.ranges, content_length=case.content_length)
    s3, bucket = remote_s3
    bound = config.min_part_size * case.buffers + FIXED_OVERHEAD
    sent_bodies: list[type] = []

    def spy(request: AWSPreparedRequest, **_: Any) -> None:
        if "partNumber=" in request.url:
            sent_bodies.append(type(request.body))

    s3.meta.events.register_last("before-send", spy)

    tracemalloc.start()
    try:
        done = copy_url_to_s3(
            server.url,
            s3=s3,
            bucket=bucket,
            key="big.tar",
            time_budget_s=600,
            config=config,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(done, CopyDone)
    assert done.size == size
    assert done.checksum == crc32_to_base64(zlib.crc32(data))  # what the server computed too
    print(f"peak traced memory {peak / MiB:.1f} MiB (bound {bound / MiB:.1f} MiB)")
    assert peak < bound
    assert set(sent_bodies) == {bytearray}  # each part handed to urllib3 whole, no copy

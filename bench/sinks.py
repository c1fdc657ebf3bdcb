"""The S3 sinks: s3rver (disk-backed, the throughput reference) and moto server (faithful, slow).

Each runs in its own process on a free loopback port for the length of a ``with`` block.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BENCH_DIR = Path(__file__).resolve().parent
REGION = "us-east-1"


@dataclass(frozen=True)
class Sink:
    """Where the contenders upload to, and what a client needs to reach it."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    pid: int

    @property
    def is_moto(self) -> bool:
        return self.name == "moto"

    def client(self, *, max_pool_connections: int = 10) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"}, max_pool_connections=max_pool_connections
            ),
        )

    def aws_env(self) -> dict[str, str]:
        """The environment variables an AWS SDK or CLI needs to sign requests for this sink."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sink at {url} exited with {process.returncode} while starting")
        try:
            urllib.request.urlopen(url, timeout=1).close()
        except urllib.error.HTTPError:
            return  # any HTTP answer (403 for an unsigned request) means it is up
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"sink at {url} did not answer within {timeout_s} s")


@contextmanager
def _running(
    name: str, command: list[str], port: int, access_key: str, secret_key: str
) -> Iterator[Sink]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_until_answering(endpoint + "/", process, timeout_s=30)
        yield Sink(name, endpoint, access_key, secret_key, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def s3rver() -> Iterator[Sink]:
    """s3rver 3.7.1 from bench/node_modules, storing into a temporary directory."""
    binary = BENCH_DIR / "node_modules" / ".bin" / "s3rver"
    with tempfile.TemporaryDirectory(prefix="bench-s3rver-") as data_dir:
        port = free_port()
        command = ["node", str(binary), "-d", data_dir, "-a", "127.0.0.1", "-p", str(port), "-s"]
        with _running("s3rver", command, port, "S3RVER", "S3RVER") as sink:
            yield sink


@contextmanager
def moto_server() -> Iterator[Sink]:
    """moto's server (threaded werkzeug) in its own process; objects live in its memory."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _running("moto", command, port, "testing", "testing") as sink:
        yield sink


@contextmanager
def started(name: str) -> Iterator[Sink]:
    starters = {"s3rver": s3rver, "moto": moto_server}
    with starters[name]() as sink:
        yield sink


def _abort_uploads(client: S3Client, bucket: str) -> None:
    try:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotImplemented":
            return  # s3rver: its leftover parts go with its temporary directory
        raise
    for upload in uploads:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@contextmanager
def fresh_bucket(sink: Sink, name: str) -> Iterator[str]:
    """A new empty bucket; emptied (multipart uploads aborted too) and deleted afterwards."""
    client = sink.client()
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        _abort_uploads(client, name)
        for item in client.list_objects_v2(Bucket=name).get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)

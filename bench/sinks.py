"""The S3 sinks, each in its own process on a loopback port for the length of a ``with`` block.

- ``null`` (``bench/null_sink.py``): checks every part's checksum and the final size and CRC32,
  keeps no data; the measuring instrument of the Lambda profile.
- ``s3rver`` (Node, disk-backed) and ``moto`` (faithful, slow): the end-to-end correctness check.

Every sink can serve https with the run's throwaway certificate (``tls``).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.tls import Certificates

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BENCH_DIR = Path(__file__).resolve().parent
REGION = "us-east-1"
NULL = "null"
S3RVER = "s3rver"
MOTO = "moto"
SINKS = (NULL, S3RVER, MOTO)


@dataclass(frozen=True)
class Sink:
    """Where the contenders upload to, and what a client needs to reach it."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    pid: int
    ca_bundle: Path | None = None  # the CA that signed the sink's certificate (https only)

    @property
    def is_moto(self) -> bool:
        return self.name == MOTO

    @property
    def is_null(self) -> bool:
        return self.name == NULL

    def client(self, *, max_pool_connections: int = 10) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            verify=str(self.ca_bundle) if self.ca_bundle else None,
            config=Config(
                s3={"addressing_style": "path"}, max_pool_connections=max_pool_connections
            ),
        )

    def aws_env(self) -> dict[str, str]:
        """The environment variables an AWS SDK or CLI needs to sign requests for this sink."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = str(self.ca_bundle)
        return env

    def admin(self, what: str, **query: str) -> dict[str, Any]:
        """The null sink's ``/_sink/<what>`` JSON (stats, or one object's record)."""
        if not self.is_null:
            raise ValueError(f"{self.name} has no admin endpoint")
        url = f"{self.endpoint}/_sink/{what}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=30, context=_context(self.ca_bundle)) as answer:
            found: dict[str, Any] = json.loads(answer.read())
            return found


def _context(ca_bundle: Path | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answering(
    url: str, process: subprocess.Popen[bytes], timeout_s: float, ca_bundle: Path | None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sink at {url} exited with {process.returncode} while starting")
        try:
            urllib.request.urlopen(url, timeout=1, context=_context(ca_bundle)).close()
        except urllib.error.HTTPError:
            return  # any HTTP answer (403 for an unsigned request) means it is up
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"sink at {url} did not answer within {timeout_s} s")


@contextmanager
def _running(
    name: str,
    command: list[str],
    *,
    port: int,
    access_key: str,
    secret_key: str,
    tls: Certificates | None,
) -> Iterator[Sink]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        ca = tls.ca_cert if tls else None
        _wait_until_answering(endpoint + "/", process, timeout_s=30, ca_bundle=ca)
        yield Sink(name, endpoint, access_key, secret_key, process.pid, ca)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def null_sink(tls: Certificates | None, log: Path | None = None) -> Iterator[Sink]:
    """``bench.null_sink`` in its own process (port chosen by the kernel, read from READY)."""
    command = [sys.executable, "-m", "bench.null_sink"]
    if tls:
        command += ["--tls-cert", str(tls.server_cert), "--tls-key", str(tls.server_key)]
    if log:
        command += ["--log", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=BENCH_DIR.parent)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        if len(ready) != 2 or ready[0] != "READY":
            raise RuntimeError(f"bench.null_sink did not start: {ready!r}")
        endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{ready[1]}"
        yield Sink(
            NULL, endpoint, "NULLSINK", "NULLSINK", process.pid, tls.ca_cert if tls else None
        )
    finally:
        _stop(process)


@contextmanager
def s3rver(tls: Certificates | None) -> Iterator[Sink]:
    """s3rver 3.7.1 from bench/node_modules, storing into a temporary directory."""
    binary = BENCH_DIR / "node_modules" / ".bin" / "s3rver"
    with tempfile.TemporaryDirectory(prefix="bench-s3rver-") as data_dir:
        port = free_port()
        command = ["node", str(binary), "-d", data_dir, "-a", "127.0.0.1", "-p", str(port), "-s"]
        if tls:
            command += ["--key", str(tls.server_key), "--cert", str(tls.server_cert)]
        with _running(
            S3RVER, command, port=port, access_key="S3RVER", secret_key="S3RVER", tls=tls
        ) as sink:
            yield sink


@contextmanager
def moto_server(tls: Certificates | None) -> Iterator[Sink]:
    """moto's server (threaded werkzeug) in its own process; objects live in its memory."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    if tls:
        command += ["--ssl-cert", str(tls.server_cert), "--ssl-key", str(tls.server_key)]
    with _running(
        MOTO, command, port=port, access_key="testing", secret_key="testing", tls=tls
    ) as sink:
        yield sink


@contextmanager
def started(name: str, tls: Certificates | None = None, log: Path | None = None) -> Iterator[Sink]:
    """The sink called ``name``; ``log`` is the null sink's request log (others have none)."""
    if name == NULL:
        with null_sink(tls, log) as sink:
            yield sink
        return
    starters = {S3RVER: s3rver, MOTO: moto_server}
    with starters[name](tls) as sink:
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

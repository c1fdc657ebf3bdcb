"""The download over https, as Lambda runs it: the certificate and host name verified against the
trusted CAs (the system bundle, or ``SSL_CERT_FILE``), and a host that cannot prove itself
refused before a byte is read."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from aiven_backup.copier import CopyConfig, CopyDone, copy_url_to_s3, probe_source
from aiven_backup.copier.connections import Connections
from aiven_backup.errors import SourceRejected
from bench.tls import Certificates, throwaway_certificates
from tests.support.aws import BUCKET
from tests.support.copier import PART
from tests.support.s3 import incomplete_upload_ids, object_keys, sha256, stored_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource


@pytest.fixture(scope="module")
def certificates() -> Iterator[Certificates]:
    """A throwaway CA and a certificate for 127.0.0.1 (``openssl``, as the benchmark makes)."""
    with throwaway_certificates() as made:
        yield made


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
def test_a_host_with_a_trusted_certificate_is_copied_byte_for_byte(
    s3: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    certificates: Certificates,
    ranges: bool,
) -> None:
    data = os.urandom(5 * PART + 3)
    server = serve(
        data, tls=certificates.server_context(), ranges=ranges, reset_next=1, reset_after=PART // 2
    )

    done = copy_url_to_s3(
        server.url,
        s3=s3,
        bucket=BUCKET,
        key="b.tar",
        time_budget_s=60,
        config=small_parts,
        ssl_context=certificates.client_context(),
    )

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert server.behaviour.reset_next == 0  # a reconnect over TLS happened too


def test_the_default_context_trusts_the_ca_bundle_named_by_ssl_cert_file(
    serve: ServeSource, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the Lambda does (no context given): OpenSSL's default verify paths, which
    # SSL_CERT_FILE overrides; the benchmark relies on the same.
    server = serve(os.urandom(1000), tls=certificates.server_context())
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_cert))

    assert probe_source(server.url).size == 1000


def test_a_certificate_no_trusted_ca_signed_is_refused_and_nothing_is_uploaded(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, certificates: Certificates
) -> None:
    server = serve(os.urandom(3 * PART), tls=certificates.server_context())

    with pytest.raises(SourceRejected, match="certificate that cannot be verified"):
        copy_url_to_s3(
            server.url,
            s3=s3,
            bucket=BUCKET,
            key="b.tar",
            time_budget_s=60,
            config=small_parts,
            ssl_context=ssl.create_default_context(),  # the system bundle: not the test CA
        )

    assert not incomplete_upload_ids(s3)
    assert not object_keys(s3)
    assert server.behaviour.gets == []  # refused in the handshake, before any request


def test_the_default_context_verifies_the_certificate_and_the_host_name() -> None:
    connections = Connections(
        "https", "backup.example.aivencloud.com", 443, connect_timeout=1, read_timeout=1
    )

    context = connections.context_for_https()

    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname

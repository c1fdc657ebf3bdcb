"""The probe's verdicts, and the URL's basic auth: used for the download, shown nowhere."""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from aiven_backup.copier import (
    CopyConfig,
    CopyDone,
    SourceInfo,
    copy_url_to_s3,
    probe_source,
)
from aiven_backup.copier.source import Validators
from aiven_backup.errors import BackupNotAvailable, SourceRejected, SourceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource

FAST = CopyConfig(max_attempts=3, retry_base_delay=0.001, retry_max_delay=0.01)
PASSWORD = "s3cr3t-p@ss/word"
QUOTED_PASSWORD = "s3cr3t-p%40ss%2Fword"


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ({"ranges": True}, SourceInfo(size=1000, accepts_ranges=True)),
        ({"ranges": False}, SourceInfo(size=1000, accepts_ranges=False)),
        ({"ranges": False, "content_length": False}, SourceInfo(size=None, accepts_ranges=False)),
        ({"ranges": True, "content_length": False}, SourceInfo(size=1000, accepts_ranges=True)),
    ],
    ids=["range", "no-range", "chunked", "chunked-range"],
)
def test_probe_reports_size_and_range_support(
    serve: ServeSource, switches: dict[str, bool], expected: SourceInfo
) -> None:
    server = serve(os.urandom(1000), **switches)
    validators = Validators(etag=server.behaviour.current_etag())

    assert probe_source(server.url, config=FAST) == replace(expected, validators=validators)
    assert [(r.method, r.range) for r in server.behaviour.requests] == [("GET", "bytes=0-0")]


def test_probe_of_an_empty_backup_reports_zero_bytes(serve: ServeSource) -> None:
    server = serve(b"")

    assert probe_source(server.url, config=FAST) == SourceInfo(size=0, accepts_ranges=False)


def test_probe_retries_server_errors(serve: ServeSource) -> None:
    server = serve(os.urandom(10), fail_next=2, fail_status=502)

    assert probe_source(server.url, config=FAST).size == 10
    assert len(server.behaviour.gets) == 3


def test_probe_gives_up_on_a_host_that_keeps_failing(serve: ServeSource) -> None:
    server = serve(os.urandom(10), fail_next=100, fail_status=500)

    with pytest.raises(SourceUnavailable):
        probe_source(server.url, config=FAST)
    assert len(server.behaviour.gets) == FAST.max_attempts


def test_probe_gives_up_on_a_host_that_does_not_listen() -> None:
    with pytest.raises(SourceUnavailable, match=r"http://127\.0\.0\.1:9/x"):
        probe_source("http://127.0.0.1:9/x", config=FAST, timeout=1.0)


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, BackupNotAvailable), (410, BackupNotAvailable), (403, SourceRejected)],
)
def test_probe_names_what_the_host_answered(
    serve: ServeSource, status: int, error: type[Exception]
) -> None:
    server = serve(b"", status=status)

    with pytest.raises(error, match=f"HTTP {status}"):
        probe_source(server.url, config=FAST)


def test_the_urls_basic_auth_is_sent_and_the_password_shown_nowhere(
    s3: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = os.urandom(5 * 64 * 1024)
    server = serve(data, credentials=("avnadmin", PASSWORD))
    caplog.set_level(logging.DEBUG)

    done = copy_url_to_s3(
        server.url_with_credentials("avnadmin", QUOTED_PASSWORD),
        s3=s3,
        bucket="backups-test",
        key="b.tar",
        time_budget_s=60,
        config=small_parts,
    )

    assert isinstance(done, CopyDone)
    expected = "Basic " + base64.b64encode(f"avnadmin:{PASSWORD}".encode()).decode()
    assert {r.headers.get("authorization") for r in server.behaviour.gets} == {expected}
    assert PASSWORD not in caplog.text
    assert QUOTED_PASSWORD not in caplog.text
    assert "127.0.0.1" in caplog.text  # the source is named, without its credentials


def test_a_refused_password_is_not_in_the_error(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(b"data", credentials=("avnadmin", "right"))

    with pytest.raises(SourceRejected) as raised:
        copy_url_to_s3(
            server.url_with_credentials("avnadmin", QUOTED_PASSWORD),
            s3=s3,
            bucket="backups-test",
            key="b.tar",
            time_budget_s=60,
            config=small_parts,
        )

    assert "HTTP 401" in str(raised.value)
    assert QUOTED_PASSWORD not in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_a_download_request_carries_only_its_own_headers_and_the_urls_credentials(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    # No client-wide default (an API token, a cookie, a proxy header) can reach the download
    # host: every request carries exactly these headers, and basic auth from the URL only.
    server = serve(os.urandom(3 * 64 * 1024), credentials=("avnadmin", PASSWORD))
    expected_auth = "Basic " + base64.b64encode(f"avnadmin:{PASSWORD}".encode()).decode()

    copy_url_to_s3(
        server.url_with_credentials("avnadmin", QUOTED_PASSWORD),
        s3=s3,
        bucket="backups-test",
        key="b.tar",
        time_budget_s=60,
        config=small_parts,
    )

    allowed = {"host", "accept-encoding", "user-agent", "authorization", "range", "if-range"}
    assert all(set(r.headers) <= allowed for r in server.behaviour.gets)
    assert all(r.headers["authorization"] == expected_auth for r in server.behaviour.gets)
    assert all(r.headers.get("accept-encoding") == "identity" for r in server.behaviour.gets)


def test_the_urls_query_reaches_the_host_but_no_log_or_error(
    serve: ServeSource, caplog: pytest.LogCaptureFixture
) -> None:
    # A signed URL's query is a credential too: sent, never shown.
    server = serve(b"data", fail_next=10, fail_status=503)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SourceUnavailable) as raised:
        probe_source(server.url + "?X-Signature=s3cr3t-signature", config=FAST)

    assert server.behaviour.gets[0].path.endswith("?X-Signature=s3cr3t-signature")
    assert "s3cr3t-signature" not in str(raised.value)
    assert "s3cr3t-signature" not in caplog.text


def test_a_url_that_http_cannot_carry_is_rejected_without_showing_it(serve: ServeSource) -> None:
    server = serve(b"data")

    with pytest.raises(SourceRejected) as raised:
        probe_source(server.url + "?token=s3cr3t with spaces", config=FAST)

    assert "s3cr3t" not in str(raised.value)
    assert server.behaviour.gets == []

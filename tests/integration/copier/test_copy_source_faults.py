"""Faults of the download: transient ones are retried, a short body is never stored."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import TYPE_CHECKING

import pytest

from aiven_backup.copier import CopyConfig, CopyCursor, CopyDone, copy_url_to_s3
from aiven_backup.errors import (
    BackupNotAvailable,
    SourceChanged,
    SourceRejected,
    SourceTruncated,
    SourceUnavailable,
)
from tests.support.aws import BUCKET
from tests.support.copier import PART
from tests.support.s3 import incomplete_upload_ids, object_keys, sha256, stored_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource, SourceServer


def _copy(
    s3: S3Client, server: SourceServer, config: CopyConfig, cursor: CopyCursor | None = None
) -> CopyDone | CopyCursor:
    return copy_url_to_s3(
        server.url,
        s3=s3,
        bucket=BUCKET,
        key="b.tar",
        time_budget_s=60,
        cursor=cursor,
        config=config,
    )


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
@pytest.mark.parametrize("content_length", [True, False], ids=["known-length", "chunked"])
def test_a_connection_reset_mid_body_is_retried_and_the_copy_is_intact(
    s3: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    ranges: bool,
    content_length: bool,
) -> None:
    data = os.urandom(6 * PART + 77)
    server = serve(
        data, ranges=ranges, content_length=content_length, reset_next=2, reset_after=PART // 3
    )

    done = _copy(s3, server, small_parts)

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert server.behaviour.reset_next == 0  # both resets really happened


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
@pytest.mark.parametrize("content_length", [True, False], ids=["known-length", "chunked"])
def test_a_body_that_keeps_ending_early_fails_as_truncated_and_leaves_nothing(
    s3: S3Client,
    serve: ServeSource,
    small_parts: CopyConfig,
    ranges: bool,
    content_length: bool,
) -> None:
    server = serve(
        os.urandom(6 * PART), ranges=ranges, content_length=content_length, truncate_by=1000
    )

    with pytest.raises(SourceTruncated, match="ending early"):
        _copy(s3, server, small_parts)

    assert object_keys(s3) == []
    assert incomplete_upload_ids(s3) == []


def test_a_content_length_larger_than_the_body_fails_as_truncated(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(3 * PART), ranges=False, announce_extra=100)

    with pytest.raises(SourceTruncated):
        _copy(s3, server, small_parts)

    assert object_keys(s3) == []
    assert incomplete_upload_ids(s3) == []


def test_server_errors_and_rate_limits_are_retried(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    data = os.urandom(4 * PART)
    server = serve(data, fail_next=3, fail_status=429, retry_after="0")

    done = _copy(s3, server, small_parts)

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)


def test_a_source_that_keeps_failing_is_unavailable_before_any_upload_starts(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(PART), fail_next=1000, fail_status=503)

    with pytest.raises(SourceUnavailable, match="did not answer usefully after 4 attempts"):
        _copy(s3, server, small_parts)

    assert len(server.behaviour.gets) == small_parts.max_attempts
    assert incomplete_upload_ids(s3) == []


def test_no_retry_is_waited_for_past_the_time_budget(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    patient = dataclasses.replace(small_parts, retry_base_delay=30.0, retry_max_delay=30.0)
    server = serve(os.urandom(PART), fail_next=1000, fail_status=503)

    with pytest.raises(SourceUnavailable, match="after 1 attempts"):
        copy_url_to_s3(
            server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=2.0, config=patient
        )

    assert len(server.behaviour.gets) == 1  # a 15-30 s wait would not have fitted in 2 s


def test_a_source_failing_after_progress_returns_a_cursor_that_resumes(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    data = os.urandom(12 * PART)
    server = serve(data, ranges=True)

    def break_source_after_some_parts(done: int, total: int | None) -> None:
        if done >= 3 * PART:
            server.behaviour.fail_next = 10_000

    first = copy_url_to_s3(
        server.url,
        s3=s3,
        bucket=BUCKET,
        key="b.tar",
        time_budget_s=60,
        config=small_parts,
        progress=break_source_after_some_parts,
    )
    assert isinstance(first, CopyCursor)
    assert first.offset >= 3 * PART
    server.behaviour.fail_next = 0

    done = _copy(s3, server, small_parts, cursor=first)

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_backup_is_not_available(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, status: int
) -> None:
    server = serve(b"", status=status)

    with pytest.raises(BackupNotAvailable, match=f"HTTP {status}"):
        _copy(s3, server, small_parts)

    assert len(server.behaviour.gets) == 1


@pytest.mark.parametrize("status", [401, 403, 400, 302, 301])
def test_refusals_and_redirects_are_rejected_without_retry(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, status: int
) -> None:
    server = serve(b"", status=status, location="http://169.254.169.254/latest/meta-data/")

    with pytest.raises(SourceRejected, match=f"HTTP {status}"):
        _copy(s3, server, small_parts)

    assert [r.path for r in server.behaviour.gets] == ["/backups/metrics-influx.tar"]
    assert incomplete_upload_ids(s3) == []


def test_an_empty_backup_becomes_an_empty_object(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(b"")

    done = _copy(s3, server, small_parts)

    assert isinstance(done, CopyDone)
    assert (done.size, done.parts) == (0, 1)
    assert s3.head_object(Bucket=BUCKET, Key="b.tar")["ContentLength"] == 0


@pytest.mark.parametrize("read_concurrency", [1, 4], ids=["sequential", "concurrent-ranges"])
def test_every_ranged_request_after_the_first_probe_names_the_backup_in_if_range(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, read_concurrency: int
) -> None:
    data = os.urandom(4 * PART + 5)
    # The reset falls in the second part, so the sequential reader resumes past byte 0.
    server = serve(data, ranges=True, reset_next=1, reset_after=PART + PART // 2)
    config = dataclasses.replace(small_parts, read_concurrency=read_concurrency)

    done = _copy(s3, server, config)

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    etag = server.behaviour.current_etag()
    first_probe, *later = server.behaviour.gets
    assert "if-range" not in first_probe.headers  # nothing is known yet
    ranged = [request for request in later if request.range is not None]
    assert ranged  # the resumed read at least (sequential: the first read is a plain GET)
    assert all(request.headers.get("if-range") == etag for request in ranged)


def test_a_source_replaced_mid_copy_under_concurrent_ranges_fails_and_keeps_nothing(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    # Same size, other bytes, swapped while the first parts are in flight: the host answers
    # the stale If-Range with 200 and the new ETag.
    data = os.urandom(6 * PART)
    server = serve(data, ranges=True, reset_next=1, reset_after=PART // 2)
    replacement = os.urandom(len(data))
    config = dataclasses.replace(small_parts, read_concurrency=2, upload_concurrency=2)
    original_take = server.behaviour.take

    def swap_at_the_reset(counter: str) -> bool:
        taken = original_take(counter)
        if counter == "reset_next" and taken:
            server.behaviour.data = replacement
        return taken

    server.behaviour.take = swap_at_the_reset  # type: ignore[method-assign]

    with pytest.raises(SourceChanged, match="changed during the copy"):
        _copy(s3, server, config)

    assert not incomplete_upload_ids(s3)
    assert not object_keys(s3)


def test_an_answer_with_a_content_coding_is_refused(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    # Offsets into a coded body are not offsets into the backup: never accepted, never retried.
    server = serve(os.urandom(3 * PART), content_encoding="gzip")

    with pytest.raises(SourceRejected, match="Content-Encoding 'gzip'"):
        _copy(s3, server, small_parts)

    assert len(server.behaviour.gets) == 1
    assert server.behaviour.gets[0].headers["accept-encoding"] == "identity"
    assert not incomplete_upload_ids(s3)


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
def test_a_body_that_stalls_past_the_read_timeout_is_resumed_and_the_copy_is_intact(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, ranges: bool
) -> None:
    data = os.urandom(4 * PART + 9)
    config = dataclasses.replace(small_parts, read_timeout=0.3)
    server = serve(data, ranges=ranges, stall_next=1, stall_after=PART // 2, stall_seconds=5.0)
    started = time.monotonic()

    done = _copy(s3, server, config)

    assert time.monotonic() - started < 4.0  # given up at the read timeout, not at the reset
    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert server.behaviour.stall_next == 0


def test_a_kept_alive_connection_the_host_closed_is_replaced_without_spending_an_attempt(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    # Hosts close idle keep-alive connections whenever they like; the next request on one
    # fails before an answer. That is no fault of the source: no attempt may be spent on it.
    data = os.urandom(4 * PART)
    server = serve(data, ranges=True, hang_up_idle=True)
    config = dataclasses.replace(small_parts, max_attempts=1, read_concurrency=2)

    done = _copy(s3, server, config)

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert len(server.behaviour.gets) == 1 + 4  # the probe and one GET per part, none repeated


@pytest.mark.parametrize("read_concurrency", [1, 4], ids=["sequential", "concurrent-ranges"])
def test_a_ranged_request_answered_200_with_the_whole_backup_is_skipped_ahead_correctly(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, read_concurrency: int
) -> None:
    # The probe saw Range honoured; every later ranged GET gets the whole body (same ETag).
    data = os.urandom(5 * PART + 11)
    server = serve(
        data, ranges=True, ignore_range_next=10**6, reset_next=1, reset_after=PART + PART // 2
    )
    config = dataclasses.replace(small_parts, read_concurrency=read_concurrency)

    done = _copy(s3, server, config)

    assert isinstance(done, CopyDone)
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert server.behaviour.ignore_range_next < 10**6  # ranged GETs really got a 200

"""A copy cut short by its time budget resumes from a small cursor, S3 being the truth."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from aiven_backup.copier import CopyConfig, CopyCursor, CopyDone, copy_url_to_s3
from aiven_backup.errors import BackupNotAvailable, SourceChanged, UploadLost
from tests.support.aws import BUCKET
from tests.support.copier import PART
from tests.support.s3 import incomplete_upload_ids, object_keys, sha256, stored_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.source_server import ServeSource, SourceServer


def _count_upload_parts(s3: S3Client) -> Counter[int]:
    """Part numbers of every UploadPart call the client makes (retries not included)."""
    calls: Counter[int] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        calls[params["PartNumber"]] += 1

    s3.meta.events.register("provide-client-params.s3.UploadPart", count)
    return calls


def _copy_in_slices(
    s3: S3Client, server: SourceServer, config: CopyConfig, *, key: str = "b.tar"
) -> tuple[CopyDone, int]:
    """Call the copier with no time to spare until done, passing the cursor through JSON."""
    cursor: CopyCursor | None = None
    for calls in range(1, 200):
        result = copy_url_to_s3(
            server.url,
            s3=s3,
            bucket=BUCKET,
            key=key,
            time_budget_s=0.0,
            cursor=cursor,
            config=config,
        )
        if isinstance(result, CopyDone):
            return result, calls
        state = json.dumps(result.to_dict())
        assert len(state) < 300
        cursor = CopyCursor.from_dict(json.loads(state))
    raise AssertionError("the copy never finished")


def _data_requests(server: SourceServer) -> list[str | None]:
    """The Range header of every GET but the probes (``bytes=0-0``)."""
    return [r.range for r in server.behaviour.gets if r.range != "bytes=0-0"]


def test_resume_with_range_uploads_every_part_once_and_reads_every_byte_once(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    data = os.urandom(10 * PART + 999)
    server = serve(data, ranges=True)
    uploads = _count_upload_parts(s3)

    done, calls = _copy_in_slices(s3, server, small_parts)

    assert calls > 3
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert done.parts == 11
    assert uploads == Counter(range(1, 12))
    fetched = 0
    for header in _data_requests(server):
        assert header is not None
        first, last = header.removeprefix("bytes=").split("-")
        fetched += int(last) - int(first) + 1
    assert fetched == len(data)


@pytest.mark.parametrize("content_length", [True, False], ids=["known-length", "chunked"])
def test_resume_without_range_rereads_from_the_start_and_skips_what_is_uploaded(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, content_length: bool
) -> None:
    data = os.urandom(7 * PART + 5)
    server = serve(data, ranges=False, content_length=content_length)
    uploads = _count_upload_parts(s3)

    done, calls = _copy_in_slices(s3, server, small_parts)

    assert calls > 2
    assert stored_sha256(s3, "b.tar") == sha256(data)
    assert done.size == len(data)
    assert uploads == Counter(range(1, 9))


def test_resume_with_sequential_reads_uses_range_from_the_cursor(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    config = dataclasses.replace(small_parts, read_concurrency=1)
    data = os.urandom(6 * PART)
    server = serve(data, ranges=True)

    _copy_in_slices(s3, server, config)

    assert stored_sha256(s3, "b.tar") == sha256(data)
    starts = [h.removeprefix("bytes=").split("-")[0] for h in _data_requests(server) if h]
    assert len(starts) == len(set(starts))  # no offset was asked for twice


def _first_slice(s3: S3Client, server: SourceServer, config: CopyConfig) -> CopyCursor:
    result = copy_url_to_s3(
        server.url, s3=s3, bucket=BUCKET, key="b.tar", time_budget_s=0.0, config=config
    )
    assert isinstance(result, CopyCursor)
    assert result.next_part > 1
    return result


def _resume(
    s3: S3Client, server: SourceServer, config: CopyConfig, cursor: CopyCursor
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


def _nothing_left(s3: S3Client) -> bool:
    return not incomplete_upload_ids(s3) and not object_keys(s3)


def test_a_source_whose_size_changed_between_calls_fails_and_leaves_nothing(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(8 * PART), ranges=True)
    cursor = _first_slice(s3, server, small_parts)
    server.behaviour.data = os.urandom(9 * PART)

    with pytest.raises(SourceChanged, match="changed during the copy"):
        _resume(s3, server, small_parts, cursor)

    assert _nothing_left(s3)


@pytest.mark.parametrize("ranges", [True, False], ids=["with-range", "without-range"])
def test_a_source_without_validators_whose_uploaded_bytes_changed_fails(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, ranges: bool
) -> None:
    # No ETag: only the re-read prefix's CRC32 can tell (with Range too: such a source is
    # re-read from byte 0, since a range could not tell the same backup from another).
    server = serve(os.urandom(8 * PART), ranges=ranges, etag=False)
    cursor = _first_slice(s3, server, small_parts)
    server.behaviour.data = os.urandom(8 * PART)  # same size, other bytes

    with pytest.raises(SourceChanged, match="differ from those already read"):
        _resume(s3, server, small_parts, cursor)

    assert _nothing_left(s3)
    assert server.behaviour.gets[-1].range is None


@pytest.mark.parametrize("ranges", [True, False], ids=["with-range", "without-range"])
def test_a_source_whose_etag_changed_between_calls_fails_before_reading_a_byte(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig, ranges: bool
) -> None:
    server = serve(os.urandom(8 * PART), ranges=ranges)
    cursor = _first_slice(s3, server, small_parts)
    assert cursor.etag == server.behaviour.current_etag()
    server.behaviour.data = os.urandom(8 * PART)  # same size, other bytes
    requests_before = len(server.behaviour.gets)

    with pytest.raises(SourceChanged, match="its ETag is now"):
        _resume(s3, server, small_parts, cursor)

    assert _nothing_left(s3)
    (probe,) = server.behaviour.gets[requests_before:]  # the resumed probe, nothing more
    assert probe.headers["if-range"] == cursor.etag


def test_a_backup_gone_between_calls_fails_and_leaves_nothing(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(8 * PART), ranges=True)
    cursor = _first_slice(s3, server, small_parts)
    server.behaviour.status = 404

    with pytest.raises(BackupNotAvailable):
        _resume(s3, server, small_parts, cursor)

    assert _nothing_left(s3)


def test_an_upload_that_vanished_between_calls_is_reported_lost(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(8 * PART), ranges=True)
    cursor = _first_slice(s3, server, small_parts)
    s3.abort_multipart_upload(Bucket=BUCKET, Key="b.tar", UploadId=cursor.upload_id)

    with pytest.raises(UploadLost, match="no longer exists"):
        _resume(s3, server, small_parts, cursor)


def test_a_cursor_claiming_parts_s3_does_not_hold_is_refused_and_the_upload_aborted(
    s3: S3Client, serve: ServeSource, small_parts: CopyConfig
) -> None:
    server = serve(os.urandom(8 * PART), ranges=True)
    cursor = _first_slice(s3, server, small_parts)
    claimed = cursor.next_part + 2
    overstated = CopyCursor(
        upload_id=cursor.upload_id,
        next_part=claimed,
        offset=(claimed - 1) * cursor.part_size,
        part_size=cursor.part_size,
        total_size=cursor.total_size,
        crc32=cursor.crc32,
    )

    with pytest.raises(UploadLost, match=f"part {cursor.next_part} is missing"):
        _resume(s3, server, small_parts, overstated)

    assert _nothing_left(s3)

"""Indexing a tar of many small members: read windows grow so it costs a few dozen requests, and
a walk interrupted by its deadline resumes from its cursor to the same members."""

from __future__ import annotations

import tarfile
from typing import TYPE_CHECKING

import pytest

from aiven_backup.verify.s3_ranges import MAX_WINDOW, S3RangeReader
from aiven_backup.verify.tar_index import index_tar, walk_tar
from local_runner.sample_backup import pack_tar
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.s3 import PutObject

MEMBERS = 20_000


def tar_of_small_members(count: int) -> bytes:
    """Names longer than ustar's 100 characters: each member comes with a pax header, which a
    resumed walk must not lose at a cursor."""
    folder = "aiven-user-backup-" + "f" * 100
    files = {f"20261123T030000Z.s{i}.tar.gz": b"\x1f\x8b" + bytes(i % 700) for i in range(count)}
    return pack_tar(files, folder=folder, tar_format=tarfile.PAX_FORMAT)


@pytest.fixture(scope="module")
def many_members() -> bytes:
    return tar_of_small_members(MEMBERS)


def reader_of(s3: S3Client, key: str, body: bytes, *, grow: bool) -> S3RangeReader:
    return S3RangeReader(
        s3, BUCKET, key, len(body), max_read_ahead=MAX_WINDOW if grow else None, cached_chunks=8
    )


def test_twenty_thousand_small_members_are_indexed_in_few_requests(
    s3: S3Client, put_object: PutObject, many_members: bytes
) -> None:
    key = put_object("many.tar", many_members)
    reader = reader_of(s3, key, many_members, grow=True)

    members = index_tar(reader)

    assert len(members) == MEMBERS + 1  # and the folder
    assert members[-1].name.startswith("aiven-user-backup-ffff")
    assert reader.requests < 60  # one 2 KiB request per member without growing windows


def test_a_window_starts_small_again_after_a_large_member(
    s3: S3Client, put_object: PutObject
) -> None:
    body = pack_tar({"small": b"x", "large": bytes(3 * MAX_WINDOW), "after": b"y"})
    key = put_object("mixed.tar", body)
    reader = reader_of(s3, key, body, grow=True)

    members = index_tar(reader)

    assert [m.name for m in members] == ["small", "large", "after"]
    assert reader.requests <= 3  # nothing of the large member's body is read


def test_an_interrupted_walk_resumes_from_its_cursor_to_the_same_members(
    s3: S3Client, put_object: PutObject
) -> None:
    body = tar_of_small_members(3000)
    key = put_object("some.tar", body)
    whole = index_tar(reader_of(s3, key, body, grow=True))
    found, cursor, walks = [], None, 0

    while True:
        progress = walk_tar(reader_of(s3, key, body, grow=True), cursor, should_stop=lambda: True)
        found.extend(progress.members)
        walks += 1
        cursor = progress.cursor
        if cursor is None:
            break

    assert found == whole
    assert walks > 10  # it stopped every 256 headers (pax ones too), and always got further

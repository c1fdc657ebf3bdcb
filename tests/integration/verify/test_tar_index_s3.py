"""Indexing a tar stored in S3 from its headers alone: formats, edges, damage, request count."""

from __future__ import annotations

import io
import os
import tarfile
from typing import TYPE_CHECKING

import pytest

from aiven_backup.errors import NotAnInfluxBackup
from aiven_backup.verify import TarMember, index_tar_in_s3
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.s3 import PutObject, S3Requests

LONG_FOLDER = "/".join(["a_rather_long_folder_name_" + str(i) * 40 for i in range(4)])
FILES = {
    f"{LONG_FOLDER}/first.bin": os.urandom(700),
    f"{LONG_FOLDER}/{'x' * 120}.bin": b"",
    f"{LONG_FOLDER}/third.bin": os.urandom(3000),
    "short.txt": b"hello",
}


def _tar(files: dict[str, bytes], tar_format: int, **options: object) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format, **options) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _expected(tar_bytes: bytes) -> list[TarMember]:
    """What Python's own tarfile finds, as TarMembers."""
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        return [
            TarMember(name=m.name, offset=m.offset_data, size=m.size, type="file")
            for m in archive.getmembers()
        ]


def _pax_header(records: dict[str, str]) -> bytes:
    body = b""
    for key, value in records.items():
        payload = f" {key}={value}\n".encode()
        length = len(payload) + 1
        while len(str(length)) + len(payload) != length:
            length = len(str(length)) + len(payload)
        body += str(length).encode() + payload
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = len(body)
    return info.tobuf(tarfile.USTAR_FORMAT) + body + bytes(-len(body) % 512)


def _ustar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    return info.tobuf(tarfile.USTAR_FORMAT)


@pytest.mark.parametrize(
    "tar_format",
    [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
    ids=["ustar", "gnu", "pax"],
)
def test_members_match_what_tarfile_reads(
    s3: S3Client, put_object: PutObject, tar_format: int
) -> None:
    files = dict(FILES)
    if tar_format == tarfile.USTAR_FORMAT:  # ustar: up to 155 in the prefix, 100 in the name
        files = {
            name.replace(LONG_FOLDER, "ustar/" + "p" * 120): data
            for name, data in files.items()
            if "x" * 120 not in name
        }
    tar_bytes = _tar(files, tar_format)
    key = put_object("archive.tar", tar_bytes)

    members = index_tar_in_s3(s3, BUCKET, key)

    assert members == _expected(tar_bytes)
    assert [m.name for m in members] == list(files)
    for member in members:  # offsets point at the bodies
        last = member.offset + member.size - 1
        body = s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={member.offset}-{last}")
        assert body["Body"].read() == files[member.name] or member.size == 0


def test_gnu_long_names_are_not_reported_as_members(s3: S3Client, put_object: PutObject) -> None:
    key = put_object("gnu.tar", _tar(FILES, tarfile.GNU_FORMAT))

    names = [m.name for m in index_tar_in_s3(s3, BUCKET, key)]

    assert "././@LongLink" not in names
    assert f"{LONG_FOLDER}/first.bin" in names


def test_pax_path_and_size_override_the_ustar_fields(s3: S3Client, put_object: PutObject) -> None:
    # What a writer does for a member over 8 GiB: the real size only in the pax record.
    tar_bytes = (
        _pax_header({"path": "backup/real-name.tar.gz", "size": "5", "mtime": "1.5"})
        + _ustar_header("truncated-name", size=0)
        + b"hello"
        + bytes(507)
        + _ustar_header("after.txt", size=3)
        + b"abc"
        + bytes(509)
        + bytes(1024)
    )
    key = put_object("pax.tar", tar_bytes)

    members = index_tar_in_s3(s3, BUCKET, key)

    assert members == [
        TarMember(name="backup/real-name.tar.gz", offset=1536, size=5, type="file"),
        TarMember(name="after.txt", offset=2560, size=3, type="file"),
    ]


def test_global_pax_header_is_applied_not_listed(s3: S3Client, put_object: PutObject) -> None:
    tar_bytes = _tar(FILES, tarfile.PAX_FORMAT, pax_headers={"comment": "made by a test"})
    key = put_object("global.tar", tar_bytes)

    assert index_tar_in_s3(s3, BUCKET, key) == _expected(tar_bytes)


def test_directories_and_links_are_typed_and_have_no_body(
    s3: S3Client, put_object: PutObject
) -> None:
    tar_bytes = (
        _ustar_header("./backup/", 0, tarfile.DIRTYPE)
        + _ustar_header("./backup/latest", 0, tarfile.SYMTYPE)
        + _ustar_header("./backup/data.bin", 600)
        + bytes(1024)
        + bytes(1024)
    )
    key = put_object("types.tar", tar_bytes)

    members = index_tar_in_s3(s3, BUCKET, key)

    assert [(m.name, m.type, m.offset) for m in members] == [
        ("backup", "directory", 512),
        ("backup/latest", "symlink", 1024),
        ("backup/data.bin", "file", 1536),
    ]


def test_walk_stops_at_end_of_archive_and_tolerates_its_absence(
    s3: S3Client, put_object: PutObject
) -> None:
    tar_bytes = _tar(FILES, tarfile.GNU_FORMAT)
    expected = _expected(tar_bytes)
    last = expected[-1]
    end_of_data = last.offset + -(-last.size // 512) * 512
    with_trailing_garbage = put_object("garbage.tar", tar_bytes + os.urandom(5000))
    without_end_blocks = put_object("no-end.tar", tar_bytes[:end_of_data])

    assert index_tar_in_s3(s3, BUCKET, with_trailing_garbage) == expected
    assert index_tar_in_s3(s3, BUCKET, without_end_blocks) == expected


def test_known_size_saves_the_head_request(
    s3: S3Client, put_object: PutObject, s3_requests: S3Requests
) -> None:
    tar_bytes = _tar(FILES, tarfile.GNU_FORMAT)
    key = put_object("sized.tar", tar_bytes)
    s3_requests.reset()

    index_tar_in_s3(s3, BUCKET, key, size=len(tar_bytes))

    assert s3_requests.count("HeadObject") == 0
    assert s3_requests.count("GetObject") >= 1


def test_truncated_tar_is_refused(s3: S3Client, put_object: PutObject) -> None:
    tar_bytes = _tar(FILES, tarfile.GNU_FORMAT)
    third = _expected(tar_bytes)[2]
    key = put_object("cut.tar", tar_bytes[: third.offset + 100])

    with pytest.raises(NotAnInfluxBackup, match="truncated tar"):
        index_tar_in_s3(s3, BUCKET, key)


def test_damaged_header_is_refused_with_its_offset(s3: S3Client, put_object: PutObject) -> None:
    tar_bytes = bytearray(_tar({"a.bin": b"x" * 10, "b.bin": b"y" * 10}, tarfile.GNU_FORMAT))
    tar_bytes[1024 + 148 : 1024 + 156] = b"9999999\0"  # the second header's checksum
    key = put_object("damaged.tar", bytes(tar_bytes))

    with pytest.raises(NotAnInfluxBackup, match="damaged tar: no valid header at byte 1024"):
        index_tar_in_s3(s3, BUCKET, key)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "is empty"),
        (os.urandom(4096), "is not a tar archive: it starts with bytes"),
        (b"\x1f\x8b\x08\x00" + os.urandom(2000), "gzip"),
        (b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", "AccessDenied"),
        (b"tiny", "is not a tar archive"),
    ],
    ids=["empty", "random", "gzip", "xml-error-page", "tiny"],
)
def test_objects_that_are_not_tars_are_refused_saying_what_they_are(
    s3: S3Client, put_object: PutObject, body: bytes, says: str
) -> None:
    key = put_object("not-a-tar", body)

    with pytest.raises(NotAnInfluxBackup, match=says) as caught:
        index_tar_in_s3(s3, BUCKET, key)

    assert f"s3://{BUCKET}/not-a-tar" in str(caught.value)

"""The cursor is small JSON whatever the copy's size, and parsing it names what is wrong."""

from __future__ import annotations

import json

import pytest

from aiven_backup.copier import CopyCursor, TiB
from aiven_backup.errors import InvalidExecutionInput


def _large_cursor() -> CopyCursor:
    return CopyCursor(
        upload_id="x" * 160,  # S3 upload ids are about 100 characters
        next_part=9_999,
        offset=5 * TiB - 1,
        part_size=4 * 1024**3,
        total_size=5 * TiB,
        crc32=0xFFFFFFFF,
        etag='"9b2cf535f27731c974343645a3985328-9999"',  # an S3 multipart ETag
        last_modified="Mon, 23 Nov 2026 03:00:04 GMT",
    )


def test_round_trips_through_json() -> None:
    cursor = _large_cursor()

    restored = CopyCursor.from_dict(json.loads(json.dumps(cursor.to_dict())))

    assert restored == cursor


def test_stays_a_few_hundred_bytes_at_the_largest_copy() -> None:
    # With an ETag and a date as hosts send them (each is capped at 256 characters).
    assert len(json.dumps(_large_cursor().to_dict())) < 500


def test_a_cursor_written_before_validators_were_recorded_still_loads() -> None:
    old = _large_cursor().to_dict()
    del old["etag"], old["last_modified"]

    restored = CopyCursor.from_dict(old)

    assert (restored.etag, restored.last_modified) == (None, None)
    assert restored.offset == _large_cursor().offset


def test_unknown_total_size_round_trips() -> None:
    cursor = CopyCursor(upload_id="u", next_part=3, offset=10, part_size=5, total_size=None)

    assert CopyCursor.from_dict(cursor.to_dict()) == cursor


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("upload_id", ""),
        ("next_part", 0),
        ("next_part", "2"),
        ("offset", -1),
        ("part_size", True),
        ("total_size", -5),
        ("crc32", "not-hex"),
        ("version", 99),
        ("etag", 12345),
        ("etag", ""),
        ("last_modified", "x" * 257),
    ],
)
def test_rejects_a_bad_field_by_name(field: str, value: object) -> None:
    data = _large_cursor().to_dict() | {field: value}

    with pytest.raises(InvalidExecutionInput) as raised:
        CopyCursor.from_dict(data)

    assert raised.value.field == f"cursor.{field}"

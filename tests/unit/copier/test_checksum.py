"""CRC32s of parts combine into the CRC32 of the whole, as S3's full-object checksum does."""

from __future__ import annotations

import os
import random
import zlib

import pytest

from aiven_backup.copier.checksum import crc32_combine, crc32_from_base64, crc32_to_base64


@pytest.mark.parametrize("seed", range(20))
def test_combining_part_crcs_gives_the_crc_of_the_concatenation(seed: int) -> None:
    rng = random.Random(seed)
    data = os.urandom(rng.randrange(0, 200_000))
    cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(0, 6)))
    parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]

    combined = 0
    for part in parts:
        combined = crc32_combine(combined, zlib.crc32(part), len(part))

    assert combined == zlib.crc32(data)


def test_combining_with_an_empty_part_changes_nothing() -> None:
    crc = zlib.crc32(b"influx")

    assert crc32_combine(crc, zlib.crc32(b""), 0) == crc


def test_base64_form_is_big_endian_like_s3() -> None:
    crc = zlib.crc32(b"hello world")

    assert crc32_to_base64(crc) == "DUoRhQ=="
    assert crc32_from_base64("DUoRhQ==") == crc


def test_base64_form_rejects_other_lengths() -> None:
    with pytest.raises(ValueError, match="CRC32"):
        crc32_from_base64("AAAAAAAA")

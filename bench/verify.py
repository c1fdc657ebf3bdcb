"""Checks that a contender's object is the file it was meant to copy, without a full download.

Always: the object's size. For contenders that copy the source file:
- null sink: it keeps no bytes but computes every part's CRC32 itself and combines them into the
  whole object's CRC32, which is compared with the source file's (every byte checked); it has
  also checked each part against the checksums the client sent (``part_checks``; ``none``: the
  client sent none, so only the whole-object comparison protects that part);
- s3rver: its ETag is the MD5 of the whole stored object, so comparing it with the source file's
  MD5 checks every byte for free;
- moto: its multipart ETag depends on the part sizes, so 16 ranged reads (first, last, and 14
  windows at fixed pseudo-random offsets, 64 KiB each) are compared with the file instead.
The ceiling uploads its own bytes, so only its size is checked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.payload import Payload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_WINDOW = 64 * 1024
_RANDOM_WINDOWS = 14


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: str
    problem: str = ""


def _windows(size: int) -> list[int]:
    chooser = random.Random(size)  # offsets to sample, not a secret
    last = max(size - _WINDOW, 0)
    return [0, last, *(chooser.randrange(0, last + 1) for _ in range(_RANDOM_WINDOWS))]


def _sampled_ranges_match(s3: S3Client, bucket: str, key: str, payload: Payload) -> str:
    with payload.path.open("rb") as source:
        for offset in _windows(payload.size):
            end = min(offset + _WINDOW, payload.size) - 1
            got = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{end}")[
                "Body"
            ].read()
            source.seek(offset)
            if got != source.read(end - offset + 1):
                return f"bytes {offset}-{end} differ from the source file"
    return ""


def verify_null_sink_object(
    record: dict[str, Any], *, payload: Payload, is_copy: bool
) -> Verification:
    """Check the null sink's record of an object (``/_sink/object``) against ``payload``."""
    if record.get("size") != payload.size:
        return Verification(False, "size", f"size {record.get('size')} != {payload.size}")
    checks = ", ".join(f"{n} {name}" for name, n in sorted(record["part_checks"].items()))
    parts = f"{record['parts']} parts: {checks}" if record["parts"] else f"one PUT: {checks}"
    if not is_copy:
        return Verification(True, f"size ({parts})")
    if record.get("crc32") != payload.crc32:
        return Verification(
            False,
            "size + whole-object CRC32",
            f"CRC32 {record.get('crc32')} != the source file's {payload.crc32}",
        )
    return Verification(True, f"size + whole-object CRC32 (null sink; {parts})")


def verify_object(
    s3: S3Client, *, bucket: str, key: str, payload: Payload, is_copy: bool, sink_is_moto: bool
) -> Verification:
    """Check ``bucket``/``key`` against ``payload`` as the module docstring describes."""
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] != payload.size:
        return Verification(
            False, "size", f"size {head['ContentLength']} != source size {payload.size}"
        )
    if not is_copy:
        return Verification(True, "size")
    if sink_is_moto:
        problem = _sampled_ranges_match(s3, bucket, key, payload)
        return Verification(not problem, "size + 16 sampled 64 KiB ranges", problem)
    etag = head["ETag"].strip('"')
    if etag != payload.md5_hex:
        return Verification(False, "size + whole-object MD5", f"ETag {etag} != {payload.md5_hex}")
    return Verification(True, "size + whole-object MD5 (s3rver ETag)")

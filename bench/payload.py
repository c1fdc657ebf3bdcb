"""The file every contender copies: random bytes of a given size, generated once and cached."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
CACHE_DIR = Path(tempfile.gettempdir()) / "aiven-backup-bench"
_WRITE_CHUNK = 8 * MIB


@dataclass(frozen=True)
class Payload:
    """A cached random file, the MD5 of its content (s3rver's ETag for a whole object) and its
    CRC32 (what the null sink computes for the object it was sent)."""

    path: Path
    size: int
    md5_hex: str
    crc32: int


def _crc32_of_file(path: Path) -> int:
    crc = 0
    with path.open("rb") as source:
        while chunk := source.read(_WRITE_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def cached_payload(size_mib: int, cache_dir: Path = CACHE_DIR) -> Payload:
    """Return the cached random file of ``size_mib`` MiB, creating it (and its digests) if
    needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"random-{size_mib}MiB.bin"
    md5_path = path.with_suffix(".md5")
    crc_path = path.with_suffix(".crc32")
    size = size_mib * MIB
    if path.exists() and path.stat().st_size == size and md5_path.exists():
        if not crc_path.exists():  # cached by an earlier version of the benchmark
            crc_path.write_text(str(_crc32_of_file(path)))
        return Payload(path, size, md5_path.read_text().strip(), int(crc_path.read_text()))
    digest = hashlib.md5(usedforsecurity=False)
    crc = 0
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        remaining = size
        while remaining:
            chunk = os.urandom(min(_WRITE_CHUNK, remaining))
            digest.update(chunk)
            crc = zlib.crc32(chunk, crc)
            out.write(chunk)
            remaining -= len(chunk)
    partial.replace(path)
    md5_path.write_text(digest.hexdigest())
    crc_path.write_text(str(crc))
    return Payload(path, size, digest.hexdigest(), crc)

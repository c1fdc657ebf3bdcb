"""The file every contender copies: random bytes of a given size, generated once and cached."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
CACHE_DIR = Path(tempfile.gettempdir()) / "aiven-backup-bench"
_WRITE_CHUNK = 8 * MIB


@dataclass(frozen=True)
class Payload:
    """A cached random file and the MD5 of its content (s3rver's ETag for a whole object)."""

    path: Path
    size: int
    md5_hex: str


def cached_payload(size_mib: int, cache_dir: Path = CACHE_DIR) -> Payload:
    """Return the cached random file of ``size_mib`` MiB, creating it (and its MD5) if needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"random-{size_mib}MiB.bin"
    md5_path = path.with_suffix(".md5")
    size = size_mib * MIB
    if path.exists() and path.stat().st_size == size and md5_path.exists():
        return Payload(path, size, md5_path.read_text().strip())
    digest = hashlib.md5(usedforsecurity=False)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        remaining = size
        while remaining:
            chunk = os.urandom(min(_WRITE_CHUNK, remaining))
            digest.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    partial.replace(path)
    md5_path.write_text(digest.hexdigest())
    return Payload(path, size, digest.hexdigest())

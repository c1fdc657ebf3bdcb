"""The zlib deep verification inflates and checksums with: ISA-L's drop-in ``isal.isal_zlib``.

Inflating is most of deep verification's CPU time. On the benchmark's backup ISA-L inflates in
half the time of the standard library's zlib and computes CRC32 six times faster, with the same
checks (gzip header, CRC32, ISIZE) and the same errors' meaning. The layer ships it (it has
manylinux wheels for arm64 and x86_64), so there is one code path, the one the tests run.
"""

from __future__ import annotations

import zlib
from types import ModuleType

from isal import isal_zlib

ZLIB: ModuleType = isal_zlib
"""``decompressobj``, ``crc32`` and ``error`` of the chosen implementation."""


def errors() -> tuple[type[Exception], ...]:
    """What a failed inflate raises: ISA-L's own error, and ``zlib.error`` for safety."""
    isal_error: type[Exception] = isal_zlib.error  # type: ignore[assignment]  # typed as an instance
    return (zlib.error, isal_error)


def name() -> str:
    return "isal"

"""The zlib deep verification inflates and checksums with: the standard library's, or ISA-L's
drop-in ``isal.isal_zlib`` when the ``isal`` package is installed.

Inflating is most of deep verification's CPU time; on the benchmark's backup ISA-L inflates in
half the time and computes CRC32 six times faster, with the same results and the same checks
(gzip header, CRC32, ISIZE). Nothing else changes: without ``isal`` the standard library is used.
"""

from __future__ import annotations

import importlib
import zlib
from types import ModuleType


def _load() -> ModuleType:
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:
        return zlib


ZLIB: ModuleType = _load()
"""``decompressobj``, ``crc32`` and ``error`` of the chosen implementation."""


def errors() -> tuple[type[Exception], ...]:
    """What a failed inflate raises: ``zlib.error``, and ISA-L's own error when it is in use."""
    own: type[Exception] = ZLIB.error
    return (zlib.error,) if own is zlib.error else (zlib.error, own)


def name() -> str:
    return "isal" if ZLIB is not zlib else "zlib"

"""CRC32 as S3 uses it: per part, combined into the whole object's CRC32, base64 on the wire.

``crc32_combine`` is zlib's algorithm (``crc32_combine_op`` via ``x2nmodp``): the CRC32 of
``A + B`` from the CRC32s of ``A`` and ``B`` and the length of ``B``, in microseconds instead of
re-reading ``B``. It lets parts finish in any order and a cursor carry the running CRC.
"""

from __future__ import annotations

import base64
import zlib

_POLY = 0xEDB88320  # CRC-32 (ISO-HDLC, zlib), reflected


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC polynomial (reflected bit order)."""
    m = 1 << 31
    product = 0
    while True:
        if a & m:
            product ^= b
            if (a & (m - 1)) == 0:
                break
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return product


def _x_to_two_to_the_k_table() -> tuple[int, ...]:
    table = []
    p = 1 << 30  # x^1
    for _ in range(32):
        table.append(p)
        p = _multmodp(p, p)
    return tuple(table)


_X2N = _x_to_two_to_the_k_table()


def _x2nmodp(n: int, k: int) -> int:
    """x^(n * 2^k) modulo the CRC polynomial."""
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """CRC32 of ``A + B`` given ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    if length_b <= 0:
        return crc_a
    return _multmodp(_x2nmodp(length_b, 3), crc_a) ^ crc_b


def crc32_of(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """zlib's CRC32; it releases the GIL on large buffers, so uploader threads run in parallel."""
    return zlib.crc32(data, start)


def crc32_to_base64(crc: int) -> str:
    """The value S3 expects in ``x-amz-checksum-crc32``: big-endian bytes, base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def crc32_from_base64(text: str) -> int:
    """Inverse of ``crc32_to_base64``; raises ValueError on anything else."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 4:
        raise ValueError(f"not a base64 CRC32: {text!r}")
    return int.from_bytes(raw, "big")

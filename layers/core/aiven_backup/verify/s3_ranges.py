"""Ranged reads of one S3 object, a few KiB at a time, with a small cache of what was fetched."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import TYPE_CHECKING

from aiven_backup.retry import TRANSFER_RETRY, RetriesOneOperation
from aiven_backup.s3.retry import call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READ_AHEAD = 2048
"""Bytes fetched per request at least: a tar header, a pax or GNU long-name record, the real
header behind it and the first bytes of the member's body usually fit in one request."""

CACHED_CHUNKS = 4096
MAX_WINDOW = 4 * 1024 * 1024
"""The largest read-ahead a growing window reaches (``max_read_ahead``)."""


class S3RangeReader:
    """Reads byte ranges of ``s3://bucket/key`` (whose length is ``size``) with ranged GETs.

    Each request fetches at least ``read_ahead`` bytes and is kept in a bounded cache, so reading
    a member's first bytes after indexing its header usually costs no extra request.

    With ``max_read_ahead`` above ``read_ahead`` the window grows: a miss that lands within the
    last window's reach (the next header of a tar of small members) doubles it, up to
    ``max_read_ahead``; a miss far away (past a large member) starts small again. Indexing 20,000
    small members so costs a few dozen requests instead of 20,000. Memory stays below
    ``cached_chunks`` x ``max_read_ahead``.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        size: int,
        *,
        read_ahead: int = READ_AHEAD,
        max_read_ahead: int | None = None,
        cached_chunks: int = CACHED_CHUNKS,
        retry: RetriesOneOperation = TRANSFER_RETRY,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.size = size
        self.requests = 0
        self._s3 = s3
        self._retry = retry
        self._read_ahead = read_ahead
        self._base_read_ahead = read_ahead
        self._max_read_ahead = max(read_ahead, max_read_ahead or read_ahead)
        self._last_end = 0  # where the last fetched chunk ended
        self._cached_chunks = cached_chunks
        self._chunks: OrderedDict[int, bytes] = OrderedDict()  # insertion order, for eviction
        self._starts: list[int] = []  # the same offsets, sorted, for lookup

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the object)."""
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        cached = self._from_cache(offset, end)
        if cached is not None:
            return cached
        self._adapt_window(offset)
        chunk = self._get(offset, min(max(end, offset + self._read_ahead), self.size))
        self._last_end = offset + len(chunk)
        self._remember(offset, chunk)
        return chunk[: end - offset]

    def read_through(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` in one ranged GET, not cached: for a body read
        once from start to end (a shard file deep verification streams), which a cache would
        only hold on to."""
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        return self._get(offset, end)

    def _adapt_window(self, offset: int) -> None:
        if self._max_read_ahead == self._base_read_ahead:
            return
        if abs(offset - self._last_end) < self._read_ahead:
            self._read_ahead = min(self._read_ahead * 2, self._max_read_ahead)
        else:
            self._read_ahead = self._base_read_ahead

    def _from_cache(self, offset: int, end: int) -> bytes | None:
        position = bisect.bisect_right(self._starts, offset)
        if position == 0:
            return None
        start = self._starts[position - 1]
        chunk = self._chunks[start]
        if end <= start + len(chunk):
            return chunk[offset - start : end - start]
        return None

    def _remember(self, start: int, chunk: bytes) -> None:
        if start not in self._chunks:
            bisect.insort(self._starts, start)
        self._chunks[start] = chunk
        if len(self._chunks) > self._cached_chunks:
            evicted, _ = self._chunks.popitem(last=False)
            del self._starts[bisect.bisect_left(self._starts, evicted)]

    def _get(self, start: int, end: int) -> bytes:
        def get() -> bytes:
            self.requests += 1
            response = self._s3.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}"
            )
            return response["Body"].read()

        return call_with_retries(get, self._retry, "read", self.location)

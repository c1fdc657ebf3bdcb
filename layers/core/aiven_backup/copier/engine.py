"""Moves parts from the source to S3 until the source ends or the time budget is spent.

Two shapes, both with at most ``upload_concurrency`` parts uploading at once:

- sequential: the calling thread reads the body in order into part buffers and hands each full
  buffer to an uploader thread; ``upload_concurrency + 1`` buffers bound memory, and a reader
  that runs ahead waits for a free one (backpressure).
- ranged (the source honours ``Range`` and its size is known): each part is one task that
  fetches its own byte range (at most ``read_concurrency`` at a time) and uploads it, so reads
  run in parallel too; ``upload_concurrency`` buffers bound memory.

Either way the buffers also hold at most ``max_buffer_memory`` bytes together, so large parts
mean fewer parts at once.

Every part's CRC32 is computed once, on its buffer, by the thread that filled it (zlib releases
the GIL); the sequential reader also keeps the running CRC32 so a re-read prefix can be checked.
When anything fails, the others are told to stop, the parts that did finish are still recorded,
and the error propagates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from aiven_backup.copier.budget import Budget
from aiven_backup.copier.buffers import BufferPool
from aiven_backup.copier.checksum import crc32_of
from aiven_backup.copier.config import CopyConfig
from aiven_backup.copier.ledger import PartLedger
from aiven_backup.copier.multipart import MultipartUpload, UploadedPart
from aiven_backup.copier.part_size import S3_MAX_PARTS, PartPlan, too_small_for
from aiven_backup.copier.reader import RangeFetcher, SequentialReader
from aiven_backup.copier.source import HttpSource
from aiven_backup.errors import UploadFailed
from aiven_backup.retry import RetryScope

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]


@dataclass
class CopyJob:
    """Everything one invocation's part loop needs."""

    source: HttpSource
    upload: MultipartUpload
    plan: PartPlan
    ledger: PartLedger
    budget: Budget
    config: CopyConfig
    retry: RetryScope
    total: int | None
    ranged: bool
    prefix_crc: int
    progress: ProgressCallback | None = None

    @property
    def stop(self) -> threading.Event:
        return self.retry.stop


def run_parts(job: CopyJob) -> bool:
    """Upload parts from the ledger's prefix on; True once the whole source is uploaded."""
    if job.ranged and job.total is not None and job.config.read_concurrency > 1:
        return _RangedRun(job).run()
    return _SequentialRun(job).run()


class _Run:
    def __init__(self, job: CopyJob, buffers: int) -> None:
        self.job = job
        self.first_part = job.ledger.next_part
        self.buffers = BufferPool(buffers, job.config.max_buffer_memory, job.stop)
        self.pool = ThreadPoolExecutor(
            max_workers=job.config.upload_concurrency, thread_name_prefix="copier-part"
        )
        self.inflight: set[Future[UploadedPart]] = set()
        self.reported = job.ledger.offset

    def run(self) -> bool:
        try:
            finished = self.loop()
            self.settle(raise_errors=True)
            return finished
        except BaseException:
            self.job.stop.set()
            self.settle(raise_errors=False)
            raise
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.buffers.clear()
            self.close()

    def loop(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the run holds besides threads and buffers."""

    def may_start(self, number: int) -> bool:
        """Whether part ``number`` may start now: always the first one of this call (so every
        call makes progress), later ones only while the budget allows."""
        if number > min(self.job.config.max_parts, S3_MAX_PARTS):
            raise UploadFailed(
                f"the backup from {self.job.source.display} needs more than "
                f"{min(self.job.config.max_parts, S3_MAX_PARTS)} parts at the configured part "
                f"sizes ({self.job.ledger.offset} bytes so far); {too_small_for(self.job.config)}"
            )
        return number == self.first_part or self.job.budget.allows_another_part()

    def upload(self, number: int, buffer: bytearray, crc: int, started: float) -> UploadedPart:
        """Upload one filled buffer whose CRC32 is ``crc`` (runs in an uploader thread)."""
        part = self.job.upload.upload_part(number, buffer, crc)
        self.job.budget.observe_part(started)
        return part

    def harvest(self, *, block: bool) -> None:
        """Record finished parts (waiting for one if ``block``); re-raise a failed part's error."""
        if block and self.inflight:
            wait(self.inflight, return_when=FIRST_COMPLETED)
        for future in [f for f in self.inflight if f.done()]:
            self.inflight.discard(future)
            self.job.ledger.record(future.result())
        self.report()

    def settle(self, *, raise_errors: bool) -> None:
        """Wait for every part in flight; record those that succeeded."""
        while self.inflight:
            done, _ = wait(self.inflight)
            for future in done:
                self.inflight.discard(future)
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    self.job.ledger.record(future.result())
                elif raise_errors:
                    self.job.stop.set()
                    self.settle(raise_errors=False)
                    raise error
        self.report()

    def report(self) -> None:
        offset = self.job.ledger.offset
        if self.job.progress is not None and offset != self.reported:
            self.reported = offset
            self.job.progress(offset, self.job.total)


class _SequentialRun(_Run):
    def __init__(self, job: CopyJob) -> None:
        super().__init__(job, buffers=job.config.upload_concurrency + 1)
        self.reader = SequentialReader(
            job.source,
            job.retry,
            start=job.ledger.offset,
            total=job.total,
            ranged=job.ranged,
            prefix_crc=job.prefix_crc,
        )

    def close(self) -> None:
        self.reader.close()

    def loop(self) -> bool:
        job = self.job
        number = job.ledger.next_part
        offset = job.ledger.offset
        while True:
            self.harvest(block=False)
            if job.total is not None and offset >= job.total and number > 1:
                return True
            if not self.may_start(number):
                return False
            size = job.plan.length_of(number)
            started = job.budget.now()
            buffer = self.buffers.acquire(size)
            try:
                got, crc = self.reader.read(memoryview(buffer))
            except BaseException:
                self.buffers.release(buffer)
                raise
            if got == 0 and number > 1:
                self.buffers.release(buffer)  # the body ended exactly at a part boundary
                return True
            if got < size:
                del buffer[got:]  # the last part of an unknown length
            self.inflight.add(
                self.pool.submit(self._upload_and_release, number, buffer, crc, started)
            )
            number += 1
            offset += got
            if got < size:
                return True

    def _upload_and_release(
        self, number: int, buffer: bytearray, crc: int, started: float
    ) -> UploadedPart:
        try:
            return self.upload(number, buffer, crc, started)
        finally:
            self.buffers.release(buffer)


class _RangedRun(_Run):
    def __init__(self, job: CopyJob) -> None:
        super().__init__(job, buffers=job.config.upload_concurrency)
        assert job.total is not None
        self.fetcher = RangeFetcher(job.source, job.retry, total=job.total)
        self.read_slots = threading.BoundedSemaphore(job.config.read_concurrency)

    def loop(self) -> bool:
        job = self.job
        total = job.total
        assert total is not None
        number = job.ledger.next_part
        offset = job.ledger.offset
        while True:
            self.harvest(block=len(self.inflight) >= job.config.upload_concurrency)
            if len(self.inflight) >= job.config.upload_concurrency:
                continue
            if offset >= total and number > 1:
                return True
            if not self.may_start(number):
                return False
            size = job.plan.length_of(number)
            self.inflight.add(self.pool.submit(self._fetch_and_upload, number, offset, size))
            number += 1
            offset += size

    def _fetch_and_upload(self, number: int, offset: int, size: int) -> UploadedPart:
        started = self.job.budget.now()
        buffer = self.buffers.acquire(size)
        try:
            if size:
                with self.read_slots:
                    self.fetcher.fetch(memoryview(buffer), offset)
            return self.upload(number, buffer, crc32_of(buffer), started)
        finally:
            self.buffers.release(buffer)

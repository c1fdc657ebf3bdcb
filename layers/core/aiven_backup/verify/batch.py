"""Verify many shards of one backup tar at once, each worker on its own ranged reads.

Shards are independent byte ranges of the tar, so a batch is cut into runs of neighbouring
shards and a pool of threads verifies the runs. A run of small shards shares one window of
reads (one request for dozens of shards); a shard larger than the window is a run of its own,
read as ``verify_shard`` asks. Memory stays near ``threads`` x ``CACHED_WINDOWS`` x the larger
of the window and ``verify_shard``'s own reads, whatever the batch's size.

The batch stops taking new shards once ``should_stop()`` says so (the invocation's time is up, a
sibling batch found damage); the shards done so far are returned and the caller resumes with the
rest, or ends. At least one shard is
verified per call, so a resumed batch always gets further.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiven_backup.retry import TRANSFER_RETRY, RetriesOneOperation
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.s3_ranges import READ_AHEAD, S3RangeReader
from aiven_backup.verify.shard import ShardReport, verify_shard
from aiven_backup.verify.spool_space import SpoolSpace
from aiven_backup.verify.tar_index import TarMember

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

WINDOW = 8 * 1024 * 1024
"""The most bytes one request of a run of small shards fetches."""
CACHED_WINDOWS = 2
DEFAULT_THREADS = 8

Shard = tuple[TarMember, ManifestEntry]


@dataclass(frozen=True)
class BatchProgress:
    """Reports of the batch's shards verified so far (earlier calls' included), in batch order;
    ``complete`` once every shard has one."""

    reports: list[ShardReport]
    complete: bool


def verify_batch(
    s3: S3Client,
    bucket: str,
    key: str,
    size: int,
    shards: Sequence[Shard],
    *,
    done: Mapping[str, ShardReport] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    threads: int = DEFAULT_THREADS,
    retry: RetriesOneOperation = TRANSFER_RETRY,
) -> BatchProgress:
    """Verify the ``shards`` not yet in ``done`` (reports by member name) of the tar at
    ``s3://bucket/key`` (``size`` bytes). A ``BackupContentCorrupt`` of any shard is raised
    as it is, the shard and file named in its message."""
    found: dict[str, ShardReport] = dict(done or {})
    pending = sorted((s for s in shards if s[0].name not in found), key=lambda s: s[0].offset)
    runs = _runs(pending, longest=max(1, -(-len(pending) // max(1, threads))))
    guard = threading.Lock()
    stop = threading.Event()  # another run failed
    spool_space = SpoolSpace(tempfile.gettempdir())  # the threads' TSM spools share /tmp
    verified = [0]

    def time_is_up() -> bool:
        with guard:
            if stop.is_set():
                return True
            started = verified[0] > 0
        # Outside the lock: should_stop may read S3 (a sibling's damage record, verify.damage).
        return started and should_stop()

    def verify_run(run: list[Shard]) -> None:
        span = run[-1][0].offset + run[-1][0].size - run[0][0].offset
        reader = S3RangeReader(
            s3,
            bucket,
            key,
            size,
            read_ahead=min(span, WINDOW) if span <= WINDOW else READ_AHEAD,
            cached_chunks=CACHED_WINDOWS,
            retry=retry,
        )
        for member, entry in run:
            if time_is_up():
                return
            report = verify_shard(reader, member, entry, spool_space=spool_space)
            with guard:
                found[member.name] = report
                verified[0] += 1

    if runs:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(runs)))) as pool:
            futures = [pool.submit(verify_run, run) for run in runs]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in finished if f.exception() is not None]
            if failed:
                stop.set()  # the other runs end at their next shard
                for future in futures:
                    future.cancel()
                error = failed[0].exception()
                assert error is not None
                raise error
    ordered = [found[m.name] for m, _ in shards if m.name in found]
    return BatchProgress(ordered, complete=len(ordered) == len(shards))


def _runs(shards: Sequence[Shard], longest: int) -> list[list[Shard]]:
    """Neighbouring shards whose bytes fit in one window, at most ``longest`` of them (so every
    thread gets some); a shard larger than the window alone."""
    runs: list[list[Shard]] = []
    for shard in shards:
        member = shard[0]
        if runs and len(runs[-1]) < longest:
            first = runs[-1][0][0]
            if member.offset + member.size - first.offset <= WINDOW and member.size <= WINDOW:
                runs[-1].append(shard)
                continue
        runs.append([shard])
    return runs

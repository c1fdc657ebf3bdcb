"""``copy_url_to_s3``: one invocation's share of copying the backup URL into S3.

A call probes the source, starts the multipart upload (or resumes the cursor's, rebuilding its
state from ListParts), moves parts until the source ends or the time budget is nearly spent, and
then either completes and verifies the object (``CopyDone``) or returns a ``CopyCursor`` for the
next call.

Errors: a fatal ``BackupError`` (``SourceTruncated``, ``SourceRejected``, ``BackupNotAvailable``,
``SourceChanged``, ``UploadFailed``, ``UploadLost``) aborts the upload before it propagates, so no
incomplete upload is left. A transient one (``SourceUnavailable``, ``S3Unavailable``) leaves the
upload for a retry from the cursor; if this call had already advanced the cursor, the call returns
the advanced cursor instead of raising, so the progress is kept (the next call raises if the fault
persists). The workflow's failure path calls ``abort_incomplete_uploads`` for the rest.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aiven_backup.copier.budget import Budget
from aiven_backup.copier.checksum import crc32_to_base64
from aiven_backup.copier.config import CopyConfig
from aiven_backup.copier.engine import CopyJob, ProgressCallback, run_parts
from aiven_backup.copier.ledger import PartLedger
from aiven_backup.copier.multipart import MultipartUpload, UploadedPart
from aiven_backup.copier.outcome import CopyCursor, CopyDone
from aiven_backup.copier.part_size import PartPlan, plan_parts
from aiven_backup.copier.reader import probe_with_retries
from aiven_backup.copier.source import HttpSource, SourceInfo, Validators, source_changed
from aiven_backup.copier.upload_body import prepare_client
from aiven_backup.errors import (
    BackupError,
    InvalidExecutionInput,
    SourceTruncated,
    TransientError,
    UploadFailed,
    UploadLost,
)
from aiven_backup.retry import RetryScope

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = CopyConfig()


def copy_url_to_s3(
    url: str,
    *,
    s3: S3Client,
    bucket: str,
    key: str,
    time_budget_s: float,
    cursor: CopyCursor | None = None,
    config: CopyConfig = DEFAULT_CONFIG,
    ssl_context: ssl.SSLContext | None = None,
    progress: ProgressCallback | None = None,
) -> CopyDone | CopyCursor:
    """Copy ``url`` into ``s3://bucket/key`` for at most about ``time_budget_s`` seconds.

    Returns ``CopyDone`` when the object is complete and verified, else the ``CopyCursor`` to pass
    to the next call. No part starts that the slowest part so far could not finish within the
    budget (the first part of a call always starts, so every call makes progress); the call that
    reads the last byte also completes and verifies the object, so leave a margin for that.
    ``s3`` is shared by the uploader threads (give it ``max_pool_connections`` >=
    ``config.upload_concurrency``). ``progress(bytes_done, total)`` is called from this thread.
    ``ssl_context`` replaces the system CA bundle for an https download (tests).
    """
    budget = Budget(time_budget_s)
    retry = RetryScope(config.retry_policy, deadline=budget.deadline)
    prepare_client(s3)
    _warn_if_pool_too_small(s3, config)
    source = HttpSource(
        url,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        ssl_context=ssl_context,
        max_connections=max(config.read_concurrency, 1) + 1,
    )
    with source:
        if cursor is None:
            info = probe_with_retries(source, retry)
            source.pin(info.validators)  # this backup, for the rest of the copy
            plan = plan_parts(info.size, config)
            upload = MultipartUpload.create(s3, bucket, key, retry)
            ledger = PartLedger(next_part=1, offset=0, crc32=0, earlier=[])
            total = info.size
        else:
            upload = MultipartUpload(s3, bucket, key, cursor.upload_id, retry)
            source.pin(Validators(etag=cursor.etag, last_modified=cursor.last_modified))
            with _aborted_on_fatal(upload):
                info = probe_with_retries(source, retry)
                plan, ledger, total = _resume(source, upload, cursor, info)
        job = CopyJob(
            source=source,
            upload=upload,
            plan=plan,
            ledger=ledger,
            budget=budget,
            config=config,
            retry=retry,
            total=total,
            # Ranged reads need a validator to tell the same backup from a replaced one of the
            # same size; without one every re-read starts at byte 0 and its CRC32 is checked.
            ranged=info.accepts_ranges and source.pinned.known,
            prefix_crc=ledger.crc32,
            progress=progress,
        )
        with _aborted_on_fatal(upload):
            return _copy_parts(job)


def _copy_parts(job: CopyJob) -> CopyDone | CopyCursor:
    """Move parts until done (then complete) or out of time (then return the cursor)."""
    ledger = job.ledger
    first_part = ledger.next_part
    logger.info(
        "copying %s to %s",
        job.source.display,
        job.upload.location,
        extra={
            "source": job.source.display,
            "destination": job.upload.location,
            "size": job.total,
            "ranges": job.ranged,
            "part_size": job.plan.base_size,
            "from_part": first_part,
            "from_offset": ledger.offset,
        },
    )
    try:
        finished = run_parts(job)
    except TransientError as error:
        if ledger.next_part == first_part:
            raise
        logger.warning(
            "transient fault after progress; returning the cursor to resume from",
            extra={"error": str(error), "next_part": ledger.next_part},
        )
        return _cursor(job)
    if not finished:
        logger.info(
            "time budget spent; returning the cursor",
            extra={"next_part": ledger.next_part, "offset": ledger.offset},
        )
        return _cursor(job)
    return _complete(job)


def _warn_if_pool_too_small(s3: S3Client, config: CopyConfig) -> None:
    pool = getattr(s3.meta.config, "max_pool_connections", None)
    if isinstance(pool, int) and pool < config.upload_concurrency:
        logger.warning(
            "the S3 client's connection pool is smaller than the upload concurrency; give it "
            "botocore Config(max_pool_connections=...) >= upload_concurrency",
            extra={"max_pool_connections": pool, "upload_concurrency": config.upload_concurrency},
        )


@contextmanager
def _aborted_on_fatal(upload: MultipartUpload) -> Iterator[None]:
    """Abort ``upload`` when a fatal ``BackupError`` leaves the block; transient ones keep it."""
    try:
        yield
    except BackupError as error:
        if not error.transient:
            logger.warning(
                "fatal copy error; aborting the multipart upload",
                extra={"destination": upload.location, "error_type": type(error).__name__},
            )
            upload.abort()
        raise


def _resume(
    source: HttpSource, upload: MultipartUpload, cursor: CopyCursor, info: SourceInfo
) -> tuple[PartPlan, PartLedger, int | None]:
    """Check the cursor against the source and against S3's list of parts."""
    if cursor.total_size is not None and info.size is not None and info.size != cursor.total_size:
        raise source_changed(
            source.display,
            f"it is {info.size} bytes now but was {cursor.total_size} bytes when the copy started",
        )
    plan = PartPlan(
        base_size=cursor.part_size,
        total_size=cursor.total_size,
        max_part_size=cursor.max_part_size,
    )
    if plan.offset_of(cursor.next_part) != cursor.offset:
        raise InvalidExecutionInput(
            "cursor.offset",
            f"{cursor.offset} is not where part {cursor.next_part} starts "
            f"({plan.offset_of(cursor.next_part)}) with {cursor.part_size}-byte parts",
        )
    listed = {part.number: part for part in upload.list_parts()}
    earlier: list[UploadedPart] = []
    for number in range(1, cursor.next_part):
        part = listed.get(number)
        expected = plan.length_of(number)
        if part is None or part.size != expected:
            found = "is missing" if part is None else f"has {part.size} bytes"
            raise UploadLost(
                f"the multipart upload to {upload.location} does not match the cursor: part "
                f"{number} {found}, expected {expected} bytes. The copy must start again."
            )
        earlier.append(part)
    total = cursor.total_size if cursor.total_size is not None else info.size
    return (
        plan,
        PartLedger(
            next_part=cursor.next_part, offset=cursor.offset, crc32=cursor.crc32, earlier=earlier
        ),
        total,
    )


def _cursor(job: CopyJob) -> CopyCursor:
    return CopyCursor(
        upload_id=job.upload.upload_id,
        next_part=job.ledger.next_part,
        offset=job.ledger.offset,
        part_size=job.plan.base_size,
        total_size=job.plan.total_size,
        crc32=job.ledger.crc32,
        max_part_size=job.plan.max_part_size,
        etag=job.source.pinned.etag,
        last_modified=job.source.pinned.last_modified,
    )


def _complete(job: CopyJob) -> CopyDone:
    """Complete the upload, then read the object back: its size and CRC32 must be ours."""
    upload, ledger = job.upload, job.ledger
    size = ledger.offset
    if job.total is not None and size != job.total:
        raise SourceTruncated(
            f"the download from {job.source.display} delivered {size} bytes but announced "
            f"{job.total}"
        )
    parts = ledger.parts()
    etag, version_id = upload.complete(parts, ledger.crc32, size)
    stored_size, stored_crc = upload.head()
    if stored_size != size or (stored_crc is not None and stored_crc != ledger.crc32):
        upload.delete_object(version_id)
        stored = crc32_to_base64(stored_crc) if stored_crc is not None else "not reported"
        raise UploadFailed(
            f"the object S3 assembled at {upload.location} does not match what was read "
            f"({stored_size} bytes with CRC32 {stored}, expected {size} bytes with CRC32 "
            f"{crc32_to_base64(ledger.crc32)}); it was deleted. Retry the backup."
        )
    logger.info(
        "copy complete",
        extra={"destination": upload.location, "size": size, "parts": len(parts)},
    )
    return CopyDone(
        bucket=upload.bucket,
        key=upload.key,
        size=size,
        checksum=crc32_to_base64(ledger.crc32),
        parts=len(parts),
        etag=etag,
        version_id=version_id,
    )

"""Read the source with retries: the probe, and filling part buffers across reconnects.

``probe_with_retries`` asks for the first byte (exists? how big? ``Range`` honoured?).
``SequentialReader`` keeps one body open and reads the backup front to back (a source without
``Range`` is re-read from byte 0 and skipped forward after a reconnect, the skipped bytes' CRC32
checked against that of the bytes already read). ``RangeFetcher`` reads one
part with its own ranged GET, so several parts can be fetched at once. Both resume a broken body at
the first byte not yet received, give up after the policy's attempts in a row without progress,
and then raise ``SourceTruncated`` when the body kept ending early, else ``SourceUnavailable``.
"""

from __future__ import annotations

import logging
import ssl

from aiven_backup.copier.budget import CopyStoppedError
from aiven_backup.copier.checksum import crc32_combine, crc32_of
from aiven_backup.copier.config import CopyConfig
from aiven_backup.copier.source import (
    HttpSource,
    SourceBody,
    SourceInfo,
    TransientSourceError,
    source_changed,
)
from aiven_backup.errors import SourceTruncated, SourceUnavailable
from aiven_backup.retry import Attempts, GaveUp, RetryScope

logger = logging.getLogger(__name__)


def probe_with_retries(source: HttpSource, retry: RetryScope) -> SourceInfo:
    """``source.probe()`` retried on transient faults; ``SourceUnavailable`` when spent."""
    attempts = retry.attempts()
    while True:
        try:
            return source.probe()
        except TransientSourceError as fault:
            if not attempts.wait(fault.retry_after):
                raise SourceUnavailable(
                    f"the backup download {source.display} did not answer usefully after "
                    f"{attempts.made} attempts ({fault}). The host may be down or overloaded; "
                    "retry later."
                ) from None


def probe_source(
    url: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
    config: CopyConfig | None = None,
    deadline: float | None = None,
) -> SourceInfo:
    """Probe ``url`` with a ranged GET of byte 0 (HEAD is not relied on).

    The size comes from ``Content-Range``'s total, else ``Content-Length``. 404/410 raise
    ``BackupNotAvailable``; 3xx, 401, 403 and other 4xx raise ``SourceRejected``; 5xx, 429 and
    connection faults are retried (``config``'s retry settings) and then raise
    ``SourceUnavailable``. ``timeout`` bounds connecting and each read; no retry waits past
    ``deadline`` (``time.monotonic()``). ``ssl_context`` replaces the system CA bundle (tests).
    """
    settings = config or CopyConfig()
    with HttpSource(
        url, connect_timeout=timeout, read_timeout=timeout, ssl_context=ssl_context
    ) as source:
        return probe_with_retries(source, RetryScope(settings.retry_policy, deadline=deadline))


class _ReadAttempts:
    """One read's attempts: waits between them, and names the error when they are spent."""

    def __init__(self, source: HttpSource, retry: RetryScope, total: int | None) -> None:
        self._source = source
        self._attempts: Attempts = retry.attempts()
        self._total = total

    def progressed(self) -> None:
        self._attempts.progressed()

    def failed(self, fault: TransientSourceError, position: int) -> None:
        """Wait before the next attempt, or raise when the attempts are spent."""
        attempts = self._attempts

        def announce(seconds: float) -> None:
            logger.warning(
                "download attempt failed; retrying in %.1f s",
                seconds,
                extra={"source": self._source.display, "position": position, "fault": str(fault)},
            )

        if attempts.wait(fault.retry_after, announce=announce):
            return
        if attempts.gave_up is GaveUp.STOPPED:
            raise CopyStoppedError
        if attempts.gave_up is GaveUp.OUT_OF_TIME:
            raise SourceUnavailable(
                f"the download from {self._source.display} failed at byte {position} ({fault}) "
                "and this invocation's time is nearly spent; the next one resumes the copy."
            )
        self._give_up(fault, position, attempts.made)

    def _give_up(self, fault: TransientSourceError, position: int, made: int) -> None:
        if fault.short_body:
            announced = f" of {self._total}" if self._total is not None else ""
            raise SourceTruncated(
                f"the download from {self._source.display} kept ending early: {made} attempts "
                f"in a row stopped at byte {position}{announced} ({fault}). The backup file is "
                "shorter than announced or the host cuts it off; nothing partial was kept. Check "
                "the backup in Aiven and request a new one if it is damaged."
            )
        raise SourceUnavailable(
            f"the download from {self._source.display} failed {made} times in a row at byte "
            f"{position} ({fault}). The host may be down or overloaded; the copy can be retried."
        )


def _check_total(source: HttpSource, body: SourceBody, total: int | None) -> None:
    if total is not None and body.total is not None and body.total != total:
        raise source_changed(
            source.display,
            f"it is {body.total} bytes now but was {total} bytes when the copy started",
        )


class SequentialReader:
    """Reads the backup in order from ``start`` into one buffer after another.

    It keeps the CRC32 of every byte it delivered (``crc``, starting from ``prefix_crc``, that
    of the ``start`` bytes already uploaded) and returns each part's own (``read``), so the uploads
    need not checksum again. Whenever a body starts before the next byte wanted (a re-read
    without ``Range``, or a host that ignored it), the skipped bytes' CRC32 must equal that of
    the bytes delivered up to there, else ``SourceChanged``: the host serves another backup.
    """

    def __init__(
        self,
        source: HttpSource,
        retry: RetryScope,
        *,
        start: int,
        total: int | None,
        ranged: bool,
        prefix_crc: int = 0,
    ) -> None:
        self._source = source
        self._retry = retry
        self._total = total
        self._ranged = ranged
        self._position = start
        self._crc = prefix_crc
        self._body: SourceBody | None = None

    @property
    def position(self) -> int:
        """Offset of the next byte ``read`` delivers."""
        return self._position

    @property
    def crc(self) -> int:
        """CRC32 of the bytes ``0 .. position``."""
        return self._crc

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def _open(self, offset: int, crc_to_offset: int) -> SourceBody:
        use_range = self._ranged and offset > 0
        body = self._source.open(offset) if use_range else self._source.open(0)
        try:
            _check_total(self._source, body, self._total)
            if body.start < offset:
                body.skip_to(offset, expected_crc=crc_to_offset)
        except BaseException:
            body.close()
            raise
        return body

    def read(self, view: memoryview) -> tuple[int, int]:
        """Fill ``view`` with the next bytes (fewer only at the end of the backup); returns
        how many and their CRC32."""
        filled = self._fill(view)
        crc = crc32_of(view[:filled])
        self._crc = crc32_combine(self._crc, crc, filled)
        return filled, crc

    def _fill(self, view: memoryview) -> int:
        attempts = _ReadAttempts(self._source, self._retry, self._total)
        filled = 0
        while filled < len(view):
            if self._retry.stop.is_set():
                raise CopyStoppedError
            before = filled
            try:
                if self._body is None:
                    self._body = self._open(
                        self._position + filled, crc32_of(view[:filled], self._crc)
                    )
                try:
                    self._body.readinto(view[filled:])
                finally:
                    filled = self._body.position - self._position
            except TransientSourceError as fault:
                self.close()
                if filled > before:
                    attempts.progressed()
                attempts.failed(fault, self._position + filled)
                continue
            at = self._position + filled
            if filled < len(view) and not self._reopen_after_end(attempts, at, filled > before):
                break
        self._position += filled
        return filled

    def _reopen_after_end(self, attempts: _ReadAttempts, position: int, progressed: bool) -> bool:
        """The body ended cleanly at ``position``: reopen for more (True) or accept the end."""
        body = self._body
        self.close()
        if self._total is None or position >= self._total:
            return False  # an unknown length ends where the body ends
        if progressed and body is not None and body.partial and body.exhausted:
            attempts.progressed()  # the host sent a shorter range than asked: ask for the rest
            return True
        attempts.failed(
            TransientSourceError(
                f"the body from {self._source.display} ended at byte {position}",
                short_body=True,
            ),
            position,
        )
        return True


class RangeFetcher:
    """Fetches exactly one part's bytes with ranged GETs (the source must honour ``Range``)."""

    def __init__(self, source: HttpSource, retry: RetryScope, *, total: int) -> None:
        self._source = source
        self._retry = retry
        self._total = total

    def fetch(self, view: memoryview, offset: int) -> None:
        """Fill ``view`` with the bytes at ``offset``; raises unless every byte arrived."""
        attempts = _ReadAttempts(self._source, self._retry, self._total)
        filled = 0
        last = offset + len(view) - 1
        while filled < len(view):
            if self._retry.stop.is_set():
                raise CopyStoppedError
            before = filled
            try:
                with self._source.open(offset + filled, last) as body:
                    _check_total(self._source, body, self._total)
                    if body.start < offset + filled:
                        body.skip_to(offset + filled)  # the host ignored Range this time
                    try:
                        body.readinto(view[filled:])
                    finally:
                        filled = max(filled, body.position - offset)
                shorter_range = body.partial and body.exhausted and filled > before
                if filled < len(view) and not shorter_range:
                    raise TransientSourceError(
                        f"the body from {self._source.display} ended at byte {offset + filled}",
                        short_body=True,
                    )
            except TransientSourceError as fault:
                if filled > before:
                    attempts.progressed()
                attempts.failed(fault, offset + filled)
                continue
            attempts.progressed()

"""Ask the source for its first byte: does it exist, how big is it, does it honour ``Range``."""

from __future__ import annotations

import httpx

from aiven_backup.copier.config import CopyConfig
from aiven_backup.copier.retry import Backoff
from aiven_backup.copier.source import HttpSource, SourceInfo, TransientSourceError
from aiven_backup.errors import SourceUnavailable


def probe_with_retries(source: HttpSource, backoff: Backoff) -> SourceInfo:
    """``source.probe()`` retried on transient faults; ``SourceUnavailable`` when spent."""
    failures = 0
    while True:
        try:
            return source.probe()
        except TransientSourceError as fault:
            if failures >= backoff.retries or not backoff.wait(failures, fault.retry_after):
                raise SourceUnavailable(
                    f"the backup download {source.display} did not answer usefully after "
                    f"{failures + 1} attempts ({fault}). The host may be down or overloaded; "
                    "retry later."
                ) from None
            failures += 1


def probe_source(
    url: str,
    *,
    client: httpx.Client | None = None,
    timeout: float = 30.0,
    config: CopyConfig | None = None,
) -> SourceInfo:
    """Probe ``url`` with a ranged GET of byte 0 (HEAD is not relied on).

    The size comes from ``Content-Range``'s total, else ``Content-Length``. 404/410 raise
    ``BackupNotAvailable``; 3xx, 401, 403 and other 4xx raise ``SourceRejected``; 5xx, 429 and
    connection faults are retried (``config``'s retry settings) and then raise
    ``SourceUnavailable``. ``timeout`` bounds connecting and each read.
    """
    settings = config or CopyConfig()
    backoff = Backoff(settings.max_retries, settings.retry_base_delay, settings.retry_max_delay)
    own_client = client is None
    http = client or httpx.Client()
    try:
        source = HttpSource(url, http, connect_timeout=timeout, read_timeout=timeout)
        return probe_with_retries(source, backoff)
    finally:
        if own_client:
            http.close()

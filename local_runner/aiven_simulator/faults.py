"""Faults a test can switch on: each API or download fault fires for a given number of requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from local_runner.aiven_simulator.state import aiven_error_body

RATE_LIMIT_MESSAGE = (
    "The user has sent too many requests in a given amount of time: "
    "Rate limit 120 exceeded - try again in 28s"
)
_DEFAULT_MESSAGES = {
    408: "Request timeout",
    429: RATE_LIMIT_MESSAGE,
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}

ApiFaultKind = Literal["status", "disconnect", "stall", "hold"]
DownloadFaultKind = Literal["drop", "truncate", "status", "content_length"]


@dataclass
class DownloadSettings:
    """How the backup host answers: switch ``Content-Length``, ``Range``, ``HEAD`` or the
    validators (``ETag``, ``Last-Modified``) off."""

    content_length: bool = True  # False: chunked transfer encoding, no length announced
    ranges: bool = True  # False: ``Range`` ignored, always 200 with the whole body
    head: bool = True  # False: ``HEAD`` answered 403, as some object stores do
    etag: bool = True  # False: no ``ETag`` (an ``If-Range`` naming one never matches)
    last_modified: bool = True  # False: no ``Last-Modified`` (nor a date ``If-Range`` match)


@dataclass
class Replacement:
    """Replace the served backup with ``replacement`` once a body reaches byte ``offset``."""

    offset: int
    replacement: bytes
    drop: bool
    fired: bool = False


class Hold:
    """A gate for API calls: matching calls wait until ``release()`` (see ``Faults.api_hold``).

    ``entered`` is set once a call is waiting, so a test knows the run reached that point.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def release(self) -> None:
        self.released.set()


@dataclass
class ApiFault:
    kind: ApiFaultKind
    remaining: int
    paths: str | None
    methods: tuple[str, ...] | None
    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    hold: Hold | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.paths is None or fnmatchcase(path, self.paths)


@dataclass
class DownloadFault:
    kind: DownloadFaultKind
    remaining: int
    nbytes: int = 0
    status: int = 0
    announced: int = 0


class Faults:
    """Fault switches. Each fires for ``count``/``times`` matching requests, then disarms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: list[ApiFault] = []
        self._download: list[DownloadFault] = []
        self._replacements: list[Replacement] = []
        self.trickle_bytes_per_second: float | None = None

    # --- API faults ------------------------------------------------------------------------

    def api_status(
        self,
        status: int,
        count: int = 1,
        body: Any = None,
        *,
        paths: str | None = None,
        methods: tuple[str, ...] | None = None,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching API calls with ``status``.

        ``body``: a dict/list (sent as JSON), str/bytes (sent raw, e.g. to make a malformed
        2xx), or ``None`` for Aiven's error body (429 carries the real rate-limit text).
        ``paths``: an fnmatch glob over the request path, e.g. ``"*/task/*"``.
        """
        if body is None and status >= 400:
            body = aiven_error_body(status, _DEFAULT_MESSAGES.get(status, "Simulated error"))
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._add_api(ApiFault("status", count, paths, methods, status, body, headers))

    def api_disconnect(
        self, count: int = 1, *, paths: str | None = None, methods: tuple[str, ...] | None = None
    ) -> None:
        """Close the connection without answering the next ``count`` matching API calls."""
        self._add_api(ApiFault("disconnect", count, paths, methods))

    def api_stall(
        self,
        seconds: float,
        count: int = 1,
        *,
        paths: str | None = None,
        methods: tuple[str, ...] | None = None,
    ) -> None:
        """Wait ``seconds`` before answering the next ``count`` matching API calls."""
        self._add_api(ApiFault("stall", count, paths, methods, seconds=seconds))

    def api_hold(self, *, paths: str | None = None, methods: tuple[str, ...] | None = None) -> Hold:
        """Make matching API calls wait until the returned ``Hold`` is released (or the server
        stops); after the release they are answered normally again."""
        hold = Hold()
        self._add_api(ApiFault("hold", 1, paths, methods, hold=hold))
        return hold

    def take_api_fault(self, method: str, path: str) -> ApiFault | None:
        with self._lock:
            for fault in self._api:
                if fault.hold is not None and fault.hold.released.is_set():
                    fault.remaining = 0
                if fault.remaining > 0 and fault.matches(method, path):
                    if fault.hold is None:  # a hold stays armed until it is released
                        fault.remaining -= 1
                    return fault
            return None

    # --- Download faults -------------------------------------------------------------------

    def drop_download_after(self, nbytes: int, times: int = 1) -> None:
        """Reset the connection after ``nbytes`` of the body (full length announced)."""
        self._add_download(DownloadFault("drop", times, nbytes=nbytes))

    def truncate_download(self, nbytes: int, times: int = 1) -> None:
        """Announce the full length, send only ``nbytes``, then close cleanly."""
        self._add_download(DownloadFault("truncate", times, nbytes=nbytes))

    def download_status(self, status: int, count: int = 1) -> None:
        """Answer the next ``count`` downloads with ``status`` (e.g. 500, 503, 429)."""
        self._add_download(DownloadFault("status", count, status=status))

    def wrong_content_length(self, announced: int, times: int = 1) -> None:
        """Announce ``announced`` as ``Content-Length`` but send the real body."""
        self._add_download(DownloadFault("content_length", times, announced=announced))

    def replace_backup_at(
        self, offset: int, replacement: bytes, *, drop: bool = True
    ) -> Replacement:
        """Once a download body reaches byte ``offset`` of the backup (the first GET whose range
        holds it), the service's backup becomes ``replacement`` (a new ETag, a later
        Last-Modified; the same size if the test wants the hard case) and, with ``drop``, the
        connection is reset there; without, that answer goes on with the old bytes, as an open
        file would. Probes (``bytes=0-0``, which hang up after a byte even when the whole
        body comes) never fire it. Fires once; ``fired`` says whether it did."""
        armed = Replacement(offset, replacement, drop)
        with self._lock:
            self._replacements.append(armed)
        return armed

    def take_replacement(self, start: int, end: int) -> Replacement | None:
        """The armed replacement whose offset lies in ``start <= offset < end``, now fired."""
        with self._lock:
            for armed in self._replacements:
                if not armed.fired and start <= armed.offset < end:
                    armed.fired = True
                    return armed
            return None

    def trickle(self, bytes_per_second: float | None) -> None:
        """Send every download body at this rate (``None`` switches it off)."""
        self.trickle_bytes_per_second = bytes_per_second

    def take_download_fault(self) -> DownloadFault | None:
        with self._lock:
            for fault in self._download:
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
            return None

    def arms_downloads(self) -> bool:
        """Whether a download fault or a trickle is armed here."""
        with self._lock:
            armed = any(fault.remaining > 0 for fault in self._download)
            armed = armed or any(not each.fired for each in self._replacements)
        return armed or self.trickle_bytes_per_second is not None

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._api.clear()
            self._download.clear()
            self._replacements.clear()
            self.trickle_bytes_per_second = None

    def _add_api(self, fault: ApiFault) -> None:
        with self._lock:
            self._api.append(fault)

    def _add_download(self, fault: DownloadFault) -> None:
        with self._lock:
            self._download.append(fault)

"""The backup's HTTP source: one GET at a time, its answer checked, its body read into buffers.

The download runs on ``http.client`` (``connections.py`` says why and what it guarantees), each
body read with ``readinto`` straight into the caller's part buffer. Only the URL's own basic
auth is ever sent (moved out of the URL into an ``Authorization`` header; a request carries the
headers ``HttpSource._headers`` names and no others), redirects are refused, and bodies are
requested without content coding (a coded answer is refused) so byte offsets mean the same thing
in every request. Logs and errors name the source by ``scheme://host/path`` only: never the
URL's credentials or query.

The source's identity: the first probe of a copy records its validators (``ETag``,
``Last-Modified``) and size, and they are pinned on the source (``pin``) for the rest of the copy,
across invocations (the cursor carries them). Every later ranged request then sends ``If-Range``
(the strong ETag, else the date), so a host whose backup was replaced answers 200 with the new
backup instead of splicing its bytes onto the old one, and every answer's validators are compared
with the pinned ones: a difference raises ``SourceChanged``. Bytes re-read without ``Range`` are
checked by their CRC32 instead (``SourceBody.skip_to``).

A failed attempt that may succeed on retry raises ``TransientSourceError`` (internal); the
readers in ``reader.py`` retry and turn exhaustion into ``SourceUnavailable`` or
``SourceTruncated``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit, urlunsplit

from aiven_backup.copier.connections import DEFAULT_USER_AGENT, Connections
from aiven_backup.errors import BackupNotAvailable, SourceChanged, SourceRejected
from aiven_backup.retry import parse_retry_after

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)


_MAX_VALIDATOR = 256  # longer ETag / Last-Modified values are not trusted as identity


@dataclass(frozen=True)
class Validators:
    """The source's identity as its host states it: ``ETag`` and ``Last-Modified`` (None: not
    sent). Both are opaque strings, compared exactly."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Validators:
        """From an answer's headers (any case of the names)."""
        lowered = {name.lower(): value for name, value in headers.items()}

        def value(name: str) -> str | None:
            text = (lowered.get(name.lower()) or "").strip()
            return text if text and len(text) <= _MAX_VALIDATOR and text.isprintable() else None

        return cls(etag=value("ETag"), last_modified=value("Last-Modified"))

    @property
    def known(self) -> bool:
        """Whether the host identifies the backup at all."""
        return self.etag is not None or self.last_modified is not None

    @property
    def if_range(self) -> str | None:
        """The ``If-Range`` value: the strong ETag, else the date (a weak ETag may not be used,
        RFC 9110 13.1.5); None when there is neither."""
        if self.etag is not None and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def difference(self, answer: Validators) -> str | None:
        """How ``answer`` contradicts these validators (one recorded here and changed or gone
        there), or None when it does not."""
        for name, pinned, now in (
            ("ETag", self.etag, answer.etag),
            ("Last-Modified", self.last_modified, answer.last_modified),
        ):
            if pinned is not None and now != pinned:
                shown = "no longer sent" if now is None else f"now {now}"
                return f"its {name} is {shown} (it was {pinned} when the copy started)"
        return None


@dataclass(frozen=True)
class SourceInfo:
    """What a probe learnt: the size (None: unknown, e.g. chunked), whether ranges work, and the
    validators the host sent."""

    size: int | None
    accepts_ranges: bool
    validators: Validators = Validators()


def source_changed(display: str, detail: str) -> SourceChanged:
    """The one message for a backup that changed under the copier."""
    return SourceChanged(
        f"the backup at {display} changed during the copy: {detail}. Its bytes would mix two "
        "backups, so nothing was stored (the partial upload is aborted); a new run will copy the "
        "current one."
    )


class TransientSourceError(Exception):
    """One attempt failed in a way a retry may fix (reset, timeout, 5xx, 429, short body)."""

    def __init__(
        self, description: str, *, short_body: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(description)
        self.short_body = short_body
        self.retry_after = retry_after


def public_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _content_length(headers: Mapping[str, str]) -> int | None:
    if "transfer-encoding" in headers:
        return None
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _headers_of(response: http.client.HTTPResponse) -> dict[str, str]:
    """The answer's headers by lower-case name (the first of repeated ones)."""
    headers: dict[str, str] = {}
    for name, value in response.getheaders():
        headers.setdefault(name.lower(), value)
    return headers


class Answer:
    """One response: its status, headers (lower-case names), and the connection it holds."""

    def __init__(
        self,
        response: http.client.HTTPResponse,
        connection: http.client.HTTPConnection,
        connections: Connections,
    ) -> None:
        self.response = response
        self.status = response.status
        self.headers = _headers_of(response)
        self._connection: http.client.HTTPConnection | None = connection
        self._connections = connections

    def finish_small(self, limit: int = 64 * 1024) -> None:
        """Read a short body (a probe's one byte, an error page) to its end so the connection
        is reused; a longer or unannounced one closes the connection instead."""
        length = _content_length(self.headers)
        complete = False
        if length is not None and length <= limit:
            with contextlib.suppress(OSError, http.client.HTTPException):
                self.response.read()
                complete = True
        self.release(complete=complete)

    def release(self, *, complete: bool) -> None:
        """Give the connection back for reuse when the body was read to its end (``complete``)
        and the host keeps it open; otherwise close it (an unread rest cannot be skipped)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if complete and not self.response.will_close and self.response.isclosed():
            self._connections.put(connection)
        else:
            self.response.close()
            connection.close()


_SKIP_BUFFER = 1024 * 1024
_READ_SLICE = 1024 * 1024  # one readinto call (filled in C); a failed call loses at most this


class SourceBody:
    """One response's body, read straight into caller buffers at absolute offsets.

    ``start`` is the offset of the body's first byte, ``end`` the offset after its last (None:
    until the connection says so), ``total`` the resource's size when the response told it, and
    ``position`` the offset of the next byte ``readinto`` delivers. A body that ends before its
    announced ``end`` raises ``TransientSourceError`` (short body); read errors and timeouts do
    too.
    """

    def __init__(
        self,
        answer: Answer,
        *,
        start: int,
        end: int | None,
        total: int | None,
        display: str,
    ) -> None:
        self._answer = answer
        self._response = answer.response
        self._ended = False
        self._display = display
        self.start = start
        self.end = end
        self.total = total
        self.position = start
        self.partial = answer.status == 206

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the body; one read to its announced end first has its connection reused."""
        if self.exhausted and not self._ended:
            with contextlib.suppress(OSError, http.client.HTTPException, TransientSourceError):
                self._read_some(memoryview(bytearray(1)))  # sees the end (a chunked one's too)
        self._answer.release(complete=self._ended)

    @property
    def exhausted(self) -> bool:
        """True once the body ended where its headers said it would."""
        return self.end is not None and self.position >= self.end

    def _read_some(self, view: memoryview) -> int:
        """One ``readinto`` of the response; 0 at a clean end, which is remembered."""
        try:
            got = self._response.readinto(view)
        except http.client.IncompleteRead as error:
            raise TransientSourceError(
                f"the download from {self._display} broke off at byte {self.position}: "
                f"{type(error).__name__}",
                short_body=True,
            ) from None
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise TransientSourceError(
                f"the download from {self._display} failed at byte {self.position}: "
                f"{type(error).__name__}: {error}"
            ) from None
        if got == 0 and len(view) > 0:
            if self.end is not None and self.position < self.end:
                raise TransientSourceError(
                    f"the download from {self._display} broke off at byte {self.position}, "
                    f"before byte {self.end} its headers announced",
                    short_body=True,
                )
            self._ended = True
        return got

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` from the body; fewer bytes only when the body ended cleanly."""
        filled = 0
        wanted = len(view)
        if self.end is not None:
            wanted = min(wanted, max(self.end - self.position, 0))
        while filled < wanted and not self._ended:
            # In slices: a read that fails loses what it had read, so a drop costs at most one.
            got = self._read_some(view[filled : min(wanted, filled + _READ_SLICE)])
            if got == 0:
                break
            filled += got
            self.position += got
        return filled

    def skip_to(self, offset: int, expected_crc: int | None = None) -> int:
        """Discard the body's bytes up to ``offset`` and return their CRC32 (of the bytes from
        ``start``); when ``expected_crc`` is given (that of the same bytes as read before), a
        different CRC32 raises ``SourceChanged``: the host now serves other bytes there."""
        skipped_from = self.position
        crc = 0
        scratch = memoryview(bytearray(min(_SKIP_BUFFER, max(offset - self.position, 0))))
        while self.position < offset:
            piece = scratch[: offset - self.position]
            got = self.readinto(piece)
            if got == 0:
                raise TransientSourceError(
                    f"the download from {self._display} ended at byte {self.position}, "
                    f"before byte {offset}",
                    short_body=True,
                )
            crc = zlib.crc32(piece[:got], crc)
        if expected_crc is not None and crc != expected_crc:
            raise source_changed(
                self._display,
                f"its bytes {skipped_from} to {offset} differ from those already read (CRC32 "
                f"{crc:08x}, expected {expected_crc:08x})",
            )
        return crc


class HttpSource:
    """The backup URL, opened with one GET per call to ``open`` over keep-alive connections of
    its own (``close`` them when done; also a context manager)."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 4,
    ) -> None:
        self.display = public_url(url)
        try:
            parts = urlsplit(url)
            username, password = parts.username, parts.password
            port = parts.port
        except ValueError:
            raise SourceRejected(f"the download URL {self.display} cannot be parsed") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceRejected(
                f"the download URL {self.display} is not an http(s) URL with a host"
            )
        self._authorization: str | None = None
        if username is not None or password is not None:
            pair = f"{unquote(username or '')}:{unquote(password or '')}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._target = parts.path or "/"
        if parts.query:
            self._target += "?" + parts.query
        self._connections = Connections(
            parts.scheme,
            parts.hostname,
            port,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ssl_context=ssl_context,
            max_idle=max_connections,
        )
        self.pinned = Validators()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections (bodies still open close theirs)."""
        self._connections.close()

    def pin(self, validators: Validators) -> None:
        """Hold every later answer to ``validators`` (the copy's first probe's), and send
        ``If-Range`` with them on ranged requests."""
        self.pinned = validators

    def _headers(self, byte_range: str | None) -> dict[str, str]:
        """Every header a download request carries: no others, ever (no API token, cookie or
        client-wide default can reach the download host)."""
        headers = {"Accept-Encoding": "identity", "User-Agent": DEFAULT_USER_AGENT}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization  # the URL's own credentials only
        if byte_range is not None:
            headers["Range"] = byte_range
            if_range = self.pinned.if_range
            if if_range is not None:
                headers["If-Range"] = if_range
        return headers

    def _check_identity(self, answer: Answer) -> Validators:
        """The answer's validators; ``SourceChanged`` when they contradict the pinned ones."""
        validators = Validators.of(answer.headers)
        difference = self.pinned.difference(validators)
        if difference is not None:
            raise source_changed(self.display, difference)
        return validators

    def _send(self, headers: dict[str, str]) -> Answer:
        """One GET; a kept-alive connection the host closed meanwhile is replaced once."""
        for attempt in range(2):
            try:
                connection, reused = self._connections.get(fresh=attempt > 0)
            except ssl.SSLCertVerificationError as error:
                raise SourceRejected(
                    f"the download host {self.display} presented a certificate that cannot be "
                    f"verified ({error.verify_message}); the download is refused"
                ) from None
            except (OSError, http.client.HTTPException) as error:
                raise TransientSourceError(
                    f"no answer from {self.display}: {type(error).__name__}: {error}"
                ) from None
            try:
                connection.request("GET", self._target, headers=headers)
                response = connection.getresponse()
            except (http.client.InvalidURL, UnicodeError):  # its text may hold the query
                connection.close()
                raise SourceRejected(
                    f"the download URL {self.display} is not a valid URL"
                ) from None
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                stale = isinstance(
                    error, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if reused and stale and attempt == 0:
                    continue  # the host closed the idle connection: once more on a new one
                raise TransientSourceError(
                    f"no answer from {self.display}: {type(error).__name__}: {error}"
                ) from None
            return Answer(response, connection, self._connections)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _check_status(self, response: Answer) -> None:
        status = response.status
        if status in (200, 206, 416):
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise SourceRejected(
                    f"the download host {self.display} sent the backup with Content-Encoding "
                    f"'{encoding}' although none was accepted; byte offsets would be wrong"
                )
            return
        if status in (404, 410):
            raise BackupNotAvailable(
                f"the backup download {self.display} answered HTTP {status}: the backup does not "
                "exist (not created yet, expired, or replaced by a newer backup). Request a new "
                "backup, then retry."
            )
        if status in (408, 429) or (500 <= status < 600 and status != 501):
            raise TransientSourceError(
                f"the download host {self.display} answered HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        hint = (
            "it redirects, and redirects are not followed"
            if 300 <= status < 400
            else "check the backup URL and its credentials"
        )
        raise SourceRejected(
            f"the download host {self.display} refused the request with HTTP {status}: {hint}"
        )

    def probe(self) -> SourceInfo:
        """One ranged GET of the first byte: the size, and whether ``Range`` is honoured."""
        response = self._send(self._headers("bytes=0-0"))
        try:
            self._check_status(response)
            validators = Validators()
            if response.status != 416:
                validators = self._check_identity(response)
            if response.status == 416:
                match = _UNSATISFIED_RANGE.match(response.headers.get("content-range", ""))
                if match is None or int(match.group(1)) == 0:
                    return SourceInfo(size=0, accepts_ranges=False)  # bytes=0-0 of nothing
                raise SourceRejected(
                    f"the download host {self.display} refused the first byte of a "
                    f"{match.group(1)}-byte backup (HTTP 416)"
                )
            if response.status == 206:
                match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
                if match is None or int(match.group(1)) != 0:
                    raise SourceRejected(
                        f"the download host {self.display} answered a range request with an "
                        f"invalid Content-Range {response.headers.get('content-range')!r}"
                    )
                total = match.group(3)
                if total == "*":
                    return SourceInfo(size=None, accepts_ranges=False, validators=validators)
                return SourceInfo(size=int(total), accepts_ranges=True, validators=validators)
            return SourceInfo(
                size=_content_length(response.headers), accepts_ranges=False, validators=validators
            )
        finally:
            response.finish_small()

    def open(self, start: int, end: int | None = None) -> SourceBody:
        """A GET of bytes ``start`` to ``end`` (inclusive; None: to the end) of the backup.

        ``start == 0`` with no ``end`` is a plain GET. A server that ignores ``Range`` answers
        200 from byte 0: the body says so (``start``) and the caller skips ahead.
        """
        byte_range = None
        if start > 0 or end is not None:
            byte_range = f"bytes={start}-{'' if end is None else end}"
        response = self._send(self._headers(byte_range))
        try:
            self._check_status(response)
            if response.status != 416:
                self._check_identity(response)
            return self._body(response, start)
        except BaseException:
            response.release(complete=False)
            raise

    def _body(self, response: Answer, requested_start: int) -> SourceBody:
        if response.status == 416:
            match = _UNSATISFIED_RANGE.match(response.headers.get("content-range", ""))
            now = f"{match.group(1)} bytes" if match else "a different size"
            raise source_changed(
                self.display, f"it no longer has byte {requested_start} (it is {now} now)"
            )
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match is None or int(match.group(1)) != requested_start:
                raise SourceRejected(
                    f"the download host {self.display} answered a request for bytes from "
                    f"{requested_start} with Content-Range "
                    f"{response.headers.get('content-range')!r}"
                )
            total = None if match.group(3) == "*" else int(match.group(3))
            return SourceBody(
                response,
                start=requested_start,
                end=int(match.group(2)) + 1,
                total=total,
                display=self.display,
            )
        length = _content_length(response.headers)
        return SourceBody(response, start=0, end=length, total=length, display=self.display)

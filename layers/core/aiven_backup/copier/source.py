"""The backup's HTTP source: one GET at a time, its answer checked, its body read into buffers.

Only the URL's own basic auth is ever sent (credentials are moved out of the URL into an
``Authorization`` header; any client-wide one is removed), redirects are refused, and bodies are
requested without content coding so byte offsets mean the same thing in every request. Logs and
errors name the source by ``scheme://host/path`` only.

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

import contextlib
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

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
        def value(name: str) -> str | None:
            text = (headers.get(name) or "").strip()
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


def _content_length(response: httpx.Response) -> int | None:
    if "Transfer-Encoding" in response.headers:
        return None
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


class SourceBody:
    """One response's body, delivered into caller buffers at absolute offsets.

    ``start`` is the offset of the body's first byte, ``end`` the offset after its last (None:
    until the connection says so), ``total`` the resource's size when the response told it, and
    ``position`` the offset of the next byte ``readinto`` delivers.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        start: int,
        end: int | None,
        total: int | None,
        display: str,
    ) -> None:
        self._response = response
        self._chunks: Iterator[bytes] = response.iter_raw()
        self._pending = memoryview(b"")
        self._ended = False
        self._display = display
        self.start = start
        self.end = end
        self.total = total
        self.position = start
        self.partial = response.status_code == 206

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
        """Close the response; a body read to its announced end is first finished, so its
        keep-alive connection goes back to the pool instead of being dropped."""
        if self.exhausted and not self._ended and not self._pending:
            with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                next(self._chunks, None)
        self._response.close()

    @property
    def exhausted(self) -> bool:
        """True once the body ended where its headers said it would."""
        return self.end is not None and self.position >= self.end

    def _next_chunk(self) -> memoryview | None:
        try:
            return memoryview(next(self._chunks))
        except StopIteration:
            self._ended = True
            return None
        except httpx.RemoteProtocolError as error:
            raise TransientSourceError(
                f"the download from {self._display} broke off at byte {self.position}: {error}",
                short_body=True,
            ) from None
        except (httpx.TransportError, httpx.StreamError) as error:
            raise TransientSourceError(
                f"the download from {self._display} failed at byte {self.position}: "
                f"{type(error).__name__}: {error}"
            ) from None

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` from the body; fewer bytes only when the body ended cleanly."""
        filled = 0
        wanted = len(view)
        try:
            while filled < wanted:
                if not self._pending:
                    chunk = self._next_chunk()
                    if chunk is None:
                        break
                    self._pending = chunk
                take = min(len(self._pending), wanted - filled)
                view[filled : filled + take] = self._pending[:take]
                self._pending = self._pending[take:]
                filled += take
        finally:
            self.position += filled
        return filled

    def skip_to(self, offset: int, expected_crc: int | None = None) -> int:
        """Discard the body's bytes up to ``offset`` and return their CRC32 (of the bytes from
        ``start``); when ``expected_crc`` is given (that of the same bytes as read before), a
        different CRC32 raises ``SourceChanged``: the host now serves other bytes there."""
        skipped_from = self.position
        crc = 0
        while self.position < offset:
            if not self._pending:
                chunk = self._next_chunk()
                if chunk is None:
                    raise TransientSourceError(
                        f"the download from {self._display} ended at byte {self.position}, "
                        f"before byte {offset}",
                        short_body=True,
                    )
                self._pending = chunk
            take = min(len(self._pending), offset - self.position)
            crc = zlib.crc32(self._pending[:take], crc)
            self._pending = self._pending[take:]
            self.position += take
        if expected_crc is not None and crc != expected_crc:
            raise source_changed(
                self._display,
                f"its bytes {skipped_from} to {offset} differ from those already read (CRC32 "
                f"{crc:08x}, expected {expected_crc:08x})",
            )
        return crc


class HttpSource:
    """The backup URL, opened with one GET per call to ``open``."""

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self.display = public_url(url)
        try:
            parts = urlsplit(url)
            username, password = parts.username, parts.password
        except ValueError:
            raise SourceRejected(f"the download URL {self.display} cannot be parsed") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceRejected(
                f"the download URL {self.display} is not an http(s) URL with a host"
            )
        self._auth: httpx.BasicAuth | None = None
        if username is not None or password is not None:
            self._auth = httpx.BasicAuth(unquote(username or ""), unquote(password or ""))
        host = parts.netloc.rpartition("@")[2]
        self._url = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        self._client = client
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
        )
        self.pinned = Validators()

    def pin(self, validators: Validators) -> None:
        """Hold every later answer to ``validators`` (the copy's first probe's), and send
        ``If-Range`` with them on ranged requests."""
        self.pinned = validators

    def _headers(self, byte_range: str | None) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = byte_range
            if_range = self.pinned.if_range
            if if_range is not None:
                headers["If-Range"] = if_range
        return headers

    def _check_identity(self, response: httpx.Response) -> Validators:
        """The answer's validators; ``SourceChanged`` when they contradict the pinned ones."""
        answer = Validators.of(response.headers)
        difference = self.pinned.difference(answer)
        if difference is not None:
            raise source_changed(self.display, difference)
        return answer

    def _send(self, headers: dict[str, str]) -> httpx.Response:
        try:
            request = self._client.build_request(
                "GET", self._url, headers=headers, timeout=self._timeout
            )
        except httpx.InvalidURL:
            raise SourceRejected(f"the download URL {self.display} is not a valid URL") from None
        if "Authorization" in request.headers:
            del request.headers["Authorization"]  # only the URL's own credentials, never others
        try:
            return self._client.send(request, auth=self._auth, stream=True, follow_redirects=False)
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as error:
            raise SourceRejected(
                f"the download from {self.display} cannot be requested: {error}"
            ) from None
        except httpx.TransportError as error:
            raise TransientSourceError(
                f"no answer from {self.display}: {type(error).__name__}: {error}"
            ) from None

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (200, 206, 416):
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
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
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
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
            if response.status_code != 416:
                validators = self._check_identity(response)
            if response.status_code == 416:
                match = _UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
                if match is None or int(match.group(1)) == 0:
                    return SourceInfo(size=0, accepts_ranges=False)  # bytes=0-0 of nothing
                raise SourceRejected(
                    f"the download host {self.display} refused the first byte of a "
                    f"{match.group(1)}-byte backup (HTTP 416)"
                )
            if response.status_code == 206:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if match is None or int(match.group(1)) != 0:
                    raise SourceRejected(
                        f"the download host {self.display} answered a range request with an "
                        f"invalid Content-Range {response.headers.get('Content-Range')!r}"
                    )
                total = match.group(3)
                if total == "*":
                    return SourceInfo(size=None, accepts_ranges=False, validators=validators)
                return SourceInfo(size=int(total), accepts_ranges=True, validators=validators)
            return SourceInfo(
                size=_content_length(response), accepts_ranges=False, validators=validators
            )
        finally:
            response.close()

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
            if response.status_code != 416:
                self._check_identity(response)
            return self._body(response, start)
        except BaseException:
            response.close()
            raise

    def _body(self, response: httpx.Response, requested_start: int) -> SourceBody:
        if response.status_code == 416:
            match = _UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
            now = f"{match.group(1)} bytes" if match else "a different size"
            raise source_changed(
                self.display, f"it no longer has byte {requested_start} (it is {now} now)"
            )
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != requested_start:
                raise SourceRejected(
                    f"the download host {self.display} answered a request for bytes from "
                    f"{requested_start} with Content-Range "
                    f"{response.headers.get('Content-Range')!r}"
                )
            total = None if match.group(3) == "*" else int(match.group(3))
            return SourceBody(
                response,
                start=requested_start,
                end=int(match.group(2)) + 1,
                total=total,
                display=self.display,
            )
        length = _content_length(response)
        return SourceBody(response, start=0, end=length, total=length, display=self.display)

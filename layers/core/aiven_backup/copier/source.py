"""The backup's HTTP source: one GET at a time, its answer checked, its body read into buffers.

Only the URL's own basic auth is ever sent (credentials are moved out of the URL into an
``Authorization`` header; any client-wide one is removed), redirects are refused, and bodies are
requested without content coding so byte offsets mean the same thing in every request. Logs and
errors name the source by ``scheme://host/path`` only.

A failed attempt that may succeed on retry raises ``TransientSourceError`` (internal); the
readers in ``reader.py`` retry and turn exhaustion into ``SourceUnavailable`` or
``SourceTruncated``.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from aiven_backup.errors import BackupNotAvailable, SourceChanged, SourceRejected
from aiven_backup.retry import parse_retry_after

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SourceInfo:
    """What a probe learnt: the size (None: unknown, e.g. chunked) and whether ranges work."""

    size: int | None
    accepts_ranges: bool


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

    def skip_to(self, offset: int, crc: int | None = None) -> int | None:
        """Discard bytes up to ``offset``; returns their CRC32 continued from ``crc`` if given."""
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
            if crc is not None:
                crc = zlib.crc32(self._pending[:take], crc)
            self._pending = self._pending[take:]
            self.position += take
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
        response = self._send({"Range": "bytes=0-0", "Accept-Encoding": "identity"})
        try:
            self._check_status(response)
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
                    return SourceInfo(size=None, accepts_ranges=False)
                return SourceInfo(size=int(total), accepts_ranges=True)
            return SourceInfo(size=_content_length(response), accepts_ranges=False)
        finally:
            response.close()

    def open(self, start: int, end: int | None = None) -> SourceBody:
        """A GET of bytes ``start`` to ``end`` (inclusive; None: to the end) of the backup.

        ``start == 0`` with no ``end`` is a plain GET. A server that ignores ``Range`` answers
        200 from byte 0: the body says so (``start``) and the caller skips ahead.
        """
        headers = {"Accept-Encoding": "identity"}
        if start > 0 or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end}"
        response = self._send(headers)
        try:
            self._check_status(response)
            return self._body(response, start)
        except BaseException:
            response.close()
            raise

    def _body(self, response: httpx.Response, requested_start: int) -> SourceBody:
        if response.status_code == 416:
            match = _UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
            now = f"{match.group(1)} bytes" if match else "a different size"
            raise SourceChanged(
                f"the backup at {self.display} no longer has byte {requested_start} (it is "
                f"{now} now): it changed while being copied. Start the copy again."
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

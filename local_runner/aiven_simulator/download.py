"""The simulated backup download host: ``GET /backups/<project>/<service>/<backup_name>.tar``.

Serves the service's current backup only (404 before its task succeeded and after a newer backup
replaced it), behind HTTP basic auth, with ``Range`` (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``),
``Content-Length`` and the validators (a strong ``ETag``, ``Last-Modified``) each switchable off,
``If-Range`` honoured as a real server does (a range whose validator does not match the current
backup is answered 200 with the whole body), and the download faults of ``Faults``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import socket
import struct
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from local_runner.aiven_simulator.faults import (
    DownloadFault,
    DownloadSettings,
    Faults,
    Replacement,
)
from local_runner.aiven_simulator.state import SimulatedService

CHUNK_SIZE = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, total: int) -> ByteRange | bool | None:
    """The one range asked for; ``None``: whole body (no or unsupported Range); ``False``: 416."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None  # multiple ranges or another unit: answer with the whole body
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or total == 0:
            return False
        return ByteRange(max(0, total - suffix), total - 1)
    start = int(first)
    end = min(int(last), total - 1) if last else total - 1
    if start >= total or (last and int(last) < start):
        return False
    return ByteRange(start, end)


@dataclass(frozen=True)
class Served:
    """One answer's view of the backup: its bytes and validators, taken together."""

    data: memoryview
    etag: str | None
    last_modified: str | None


def if_range_matches(header: str | None, served: Served) -> bool:
    """RFC 9110 13.1.5: an entity tag matches only strongly (a weak one never does), a date
    only when it is exactly the current ``Last-Modified``; no ``If-Range`` always matches."""
    if header is None:
        return True
    value = header.strip()
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and served.etag is not None and value == served.etag
    return served.last_modified is not None and value == served.last_modified


def basic_auth_matches(header: str | None, user: str, password: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, _, given_password = decoded.partition(":")
    return hmac.compare_digest(given_user, user) and hmac.compare_digest(given_password, password)


def send_text(handler: BaseHTTPRequestHandler, status: int, text: str, **headers: str) -> None:
    body = text.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def serve_backup(
    handler: BaseHTTPRequestHandler,
    service: SimulatedService | None,
    file_name: str,
    *,
    backup_host: str,
    settings: DownloadSettings,
    faults: Faults,
) -> None:
    """Answer one download request (``GET`` or ``HEAD``)."""
    if service is None:
        send_text(handler, 404, "no such service on this backup host\n")
        return
    if not basic_auth_matches(handler.headers.get("Authorization"), service.user, service.password):
        send_text(
            handler, 401, "authentication required\n", WWW_Authenticate='Basic realm="backup"'
        )
        return
    host = urlsplit("//" + (handler.headers.get("Host") or "")).hostname or ""
    if host not in service.routes_by_host(backup_host):
        send_text(handler, 404, f"host {host!r} does not serve this service's backups\n")
        return
    served = service.served_backup_name()
    if served is None or file_name != f"{served}.tar":
        send_text(handler, 404, "NoSuchKey: no backup by that name (not ready, or replaced)\n")
        return
    if handler.command == "HEAD" and not settings.head:
        send_text(handler, 403, "HEAD is not allowed on this object store\n")
        return
    fault = faults.take_download_fault() if handler.command == "GET" else None
    if fault is not None and fault.kind == "status":
        send_text(handler, fault.status, f"simulated download error {fault.status}\n")
        return
    _send_body(handler, service, settings, fault, faults)


def _snapshot(service: SimulatedService, settings: DownloadSettings) -> Served:
    with service.lock:
        return Served(
            data=memoryview(service.backup),
            etag=service.backup_etag() if settings.etag else None,
            last_modified=service.backup_last_modified() if settings.last_modified else None,
        )


def _send_body(
    handler: BaseHTTPRequestHandler,
    service: SimulatedService,
    settings: DownloadSettings,
    fault: DownloadFault | None,
    faults: Faults,
) -> None:
    served = _snapshot(service, settings)  # this answer's bytes, whatever replaces them later
    total = len(served.data)
    wanted = parse_range(handler.headers.get("Range"), total) if settings.ranges else None
    if not if_range_matches(handler.headers.get("If-Range"), served):
        wanted = None  # the client's copy is stale: the whole current backup instead
    if wanted is False:
        send_text(handler, 416, "range not satisfiable\n", Content_Range=f"bytes */{total}")
        return
    status, start, length = 200, 0, total
    if isinstance(wanted, ByteRange):
        status, start, length = 206, wanted.start, wanted.length
    announced = _announced_length(length, settings, fault)

    replacement: Replacement | None = None
    if handler.command == "GET" and not _is_probe(handler.headers.get("Range")):
        replacement = faults.take_replacement(start, start + length)
    _send_headers(
        handler,
        served,
        settings,
        status=status,
        span=(start, length, total),
        announced=announced,
        close=fault is not None or (replacement is not None and replacement.drop),
    )
    if handler.command == "HEAD":
        return
    limit = length
    if fault is not None and fault.kind in ("drop", "truncate"):
        limit = min(length, fault.nbytes)
    body = served.data[start : start + length]
    chunked, trickle = announced is None, faults.trickle_bytes_per_second
    try:
        sent = 0
        if replacement is not None:
            sent = min(limit, replacement.offset - start)
            _write_range(handler, body[:sent], chunked=chunked, trickle=trickle)
            service.replace_backup(replacement.replacement)
            if replacement.drop:
                _reset(handler)
                return
        # Without a drop this answer goes on with the old bytes, as an open file would.
        _write_range(handler, body[sent:limit], chunked=chunked, trickle=trickle)
        if fault is not None and fault.kind == "drop":
            _reset(handler)
            return
        if chunked and limit == length:
            handler.wfile.write(b"0\r\n\r\n")
    except ConnectionError:  # the client went away mid-body
        handler.close_connection = True


def _is_probe(range_header: str | None) -> bool:
    """A probe (``bytes=0-0``) reads one byte and hangs up, even when given the whole body."""
    return (range_header or "").strip() == "bytes=0-0"


def _announced_length(
    length: int, settings: DownloadSettings, fault: DownloadFault | None
) -> int | None:
    if fault is not None and fault.kind == "content_length":
        return fault.announced
    return length if settings.content_length else None


def _send_headers(
    handler: BaseHTTPRequestHandler,
    served: Served,
    settings: DownloadSettings,
    *,
    status: int,
    span: tuple[int, int, int],
    announced: int | None,
    close: bool,
) -> None:
    start, length, total = span
    handler.send_response(status)
    handler.send_header("Content-Type", "application/x-tar")
    if served.etag is not None:
        handler.send_header("ETag", served.etag)
    if served.last_modified is not None:
        handler.send_header("Last-Modified", served.last_modified)
    if settings.ranges:
        handler.send_header("Accept-Ranges", "bytes")
    if status == 206:
        handler.send_header("Content-Range", f"bytes {start}-{start + length - 1}/{total}")
    if announced is None:
        handler.send_header("Transfer-Encoding", "chunked")
    else:
        handler.send_header("Content-Length", str(announced))
    if close:  # a faulty answer leaves the connection unusable
        handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()


def _write_range(
    handler: BaseHTTPRequestHandler, data: memoryview, *, chunked: bool, trickle: float | None
) -> None:
    step = CHUNK_SIZE if trickle is None else max(1, int(trickle / 20))
    for offset in range(0, len(data), step):
        piece = data[offset : offset + step]
        if chunked:
            handler.wfile.write(f"{len(piece):x}\r\n".encode())
            handler.wfile.write(piece)
            handler.wfile.write(b"\r\n")
        else:
            handler.wfile.write(piece)
        if trickle is not None:
            time.sleep(len(piece) / trickle)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close with a TCP reset rather than a clean FIN, like a dropped connection."""
    handler.close_connection = True
    connection: socket.socket = handler.connection
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()

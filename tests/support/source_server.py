"""A loopback HTTP server standing in for the backup download, with switchable misbehaviour.

``source_servers()`` (the copier tests' ``serve`` fixture) gives ``start(data, ...)``, which
returns a running ``SourceServer`` whose ``behaviour`` can be changed between
calls. It serves ``data`` (zero-copy) to GET, honouring ``Range`` or not, with ``Content-Length``
or chunked, with a strong ``ETag`` derived from ``data`` (or none) honouring ``If-Range``, and can
fail, drop, truncate or misannounce on demand. Every request is recorded.
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_CHUNK = 64 * 1024


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    client_port: int

    @property
    def range(self) -> str | None:
        return self.headers.get("range")


@dataclass
class SourceBehaviour:
    """The server's switches. Counters (``*_next``) count down one per affected request."""

    data: bytes
    ranges: bool = True
    content_length: bool = True
    fail_next: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    status: int | None = None  # answer every request with this status and no body
    location: str | None = None  # with a 3xx ``status``
    reset_next: int = 0  # reset the connection (TCP RST) after ``reset_after`` body bytes
    reset_after: int = 0
    truncate_by: int = 0  # every body ends this many bytes early, then a clean close
    announce_extra: int = 0  # announce this many more bytes than sent (Content-Length/-Range)
    credentials: tuple[str, str] | None = None  # require this basic auth
    range_cap: int | None = None  # answer a range with at most this many bytes (legal, rare)
    etag: bool = True  # a strong ETag of ``data`` (a new ``data`` gets a new one); If-Range
    content_encoding: str | None = None  # send this Content-Encoding (the body is not coded)
    stall_next: int = 0  # go silent for ``stall_seconds`` after ``stall_after`` bytes (not probes)
    stall_after: int = 0
    stall_seconds: float = 0.0
    hang_up_idle: bool = False  # close every connection after its answer, without saying so
    ignore_range_next: int = 0  # answer this many ranged GETs (not probes) 200 with everything
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, counter: str) -> bool:
        """Consume one unit of ``counter`` if any is left."""
        with self.lock:
            left: int = getattr(self, counter)
            if left <= 0:
                return False
            setattr(self, counter, left - 1)
            return True

    def current_etag(self) -> str | None:
        if not self.etag:
            return None
        return f'"{len(self.data):x}-{zlib.crc32(self.data):08x}"'

    @property
    def gets(self) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == "GET"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection was reset on purpose
            super().finish()

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        with behaviour.lock:
            behaviour.requests.append(
                RecordedRequest(
                    "GET",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    client_port=self.client_address[1],
                )
            )
        if behaviour.status is not None:
            self._empty(behaviour.status, {"Location": behaviour.location or "/elsewhere"})
            return
        if behaviour.credentials is not None and not self._authorised(behaviour.credentials):
            self._empty(401, {"WWW-Authenticate": 'Basic realm="backup"'})
            return
        if behaviour.take("fail_next"):
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
            self._empty(behaviour.fail_status, headers)
            return
        self._send_data(behaviour)

    def _authorised(self, credentials: tuple[str, str]) -> bool:
        expected = base64.b64encode(":".join(credentials).encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _empty(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_data(self, behaviour: SourceBehaviour) -> None:
        data = memoryview(behaviour.data)
        size = len(data)
        start, end = 0, size - 1
        status = 200
        requested = self.headers.get("Range")
        match = _RANGE.match(requested or "")
        etag = behaviour.current_etag()
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range != etag:
            match = None  # a stale If-Range: the whole current body
        if match and requested != "bytes=0-0" and behaviour.take("ignore_range_next"):
            match = None  # Range ignored this time (a cache or proxy in front, say)
        if behaviour.ranges and match:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if behaviour.range_cap is not None:
                end = min(end, start + behaviour.range_cap - 1)
            if start >= size:
                self._empty(416, {"Content-Range": f"bytes */{size}"})
                return
            status = 206
        body = data[start : end + 1]
        announced = len(body) + behaviour.announce_extra
        self.send_response(status)
        if etag is not None:
            self.send_header("ETag", etag)
        if behaviour.content_encoding is not None:
            self.send_header("Content-Encoding", behaviour.content_encoding)
        if status == 206:
            self.send_header(
                "Content-Range",
                f"bytes {start}-{start + announced - 1}/{size + behaviour.announce_extra}",
            )
        if behaviour.content_length:
            self.send_header("Content-Length", str(announced))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        resets = len(body) > behaviour.reset_after and behaviour.take("reset_next")
        reset_at = behaviour.reset_after if resets else None
        probe = requested == "bytes=0-0"  # hangs up after a byte, even given the whole body
        if not probe and len(body) > behaviour.stall_after and behaviour.take("stall_next"):
            self._write_piece(body[: behaviour.stall_after], behaviour.content_length)
            time.sleep(behaviour.stall_seconds)  # the client's read timeout should fire
            self._reset()
            return
        send = len(body) - behaviour.truncate_by if behaviour.truncate_by else len(body)
        self._write_body(body[: max(send, 0)], behaviour.content_length, reset_at)
        if behaviour.truncate_by or behaviour.announce_extra or behaviour.hang_up_idle:
            self.close_connection = True
        elif not behaviour.content_length and reset_at is None:
            self.wfile.write(b"0\r\n\r\n")

    def _write_body(self, body: memoryview, plain: bool, reset_at: int | None) -> None:
        sent = 0
        while sent < len(body):
            piece = body[sent : sent + _CHUNK]
            if reset_at is not None and sent + len(piece) > reset_at:
                piece = piece[: max(reset_at - sent, 0)]
                self._write_piece(piece, plain)
                self._reset()
                return
            self._write_piece(piece, plain)
            sent += len(piece)

    def _write_piece(self, piece: memoryview, plain: bool) -> None:
        if not piece:
            return
        if plain:
            self.wfile.write(piece)
        else:
            self.wfile.write(f"{len(piece):x}\r\n".encode())
            self.wfile.write(piece)
            self.wfile.write(b"\r\n")

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: SourceBehaviour, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.tls = tls
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections reset on purpose are not errors worth printing."""


@dataclass
class SourceServer:
    behaviour: SourceBehaviour
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/backups/metrics-influx.tar"

    def url_with_credentials(self, user: str, password: str) -> str:
        return f"{self.scheme}://{user}:{password}@127.0.0.1:{self.port}/backups/metrics-influx.tar"


ServeSource = Callable[..., SourceServer]


@contextlib.contextmanager
def source_servers() -> Iterator[ServeSource]:
    """``start(data, tls=None, **switches)`` starts a loopback source server (https with the
    server-side ``tls`` context); all are stopped on exit."""
    servers: list[_Server] = []

    def start(data: bytes, tls: ssl.SSLContext | None = None, **switches: Any) -> SourceServer:
        server = _Server(SourceBehaviour(data=data, **switches), tls)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        servers.append(server)
        return SourceServer(
            behaviour=server.behaviour,
            port=server.server_address[1],
            scheme="http" if tls is None else "https",
        )

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()

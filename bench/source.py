"""The loopback source: serves one file over http or https, with or without Range and a length.

Run as its own process (``python -m bench.source FILE --range on|off --length on|off
[--tls-cert PEM --tls-key PEM]``) so that its work never competes for the GIL of the process
being measured. It prints ``READY <port>`` once it listens.

Like a real download host it sends validators (a strong ``ETag`` and ``Last-Modified``) and
honours ``If-Range`` (a range whose validator does not match gets the whole file, 200), and
``If-Match`` / ``If-Unmodified-Since`` (412 when they fail). Over plain http bodies go out with
``sendfile``; over TLS from a memory map in 8 MiB ``sendall`` calls (one ``SSL_write`` each, the
GIL released), so the source is not the bottleneck either way (``curl -o /dev/null`` measures
it alone at every run). ``SourceServer`` starts and stops it from the benchmark.
"""

from __future__ import annotations

import argparse
import mmap
import re
import socket
import ssl
import subprocess
import sys
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

_CHUNK = 4 * 1024 * 1024
_TLS_WRITE = 8 * 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def strong_etag(path: Path) -> str:
    """The file's ETag: its size and modification time (changes when the file is replaced)."""
    status = path.stat()
    return f'"{status.st_size:x}-{status.st_mtime_ns:x}"'


class _FileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    path_on_disk: ClassVar[Path]
    honour_range: ClassVar[bool]
    send_length: ClassVar[bool]
    mapped: ClassVar[mmap.mmap | None]  # the file, for TLS writes (None over plain http)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per request would cost more than the benchmark can spare."""

    def _respond(self, *, with_body: bool) -> None:
        status = self.path_on_disk.stat()
        size = status.st_size
        if not self._preconditions_hold(status.st_mtime):
            self.send_response(HTTPStatus.PRECONDITION_FAILED)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        wanted = self._wanted_range(size) if self._range_applies(status.st_mtime) else None
        try:
            if wanted is None:
                self._send_whole(size, with_body=with_body)
            elif wanted == (-1, -1):
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send_range(*wanted, size=size, with_body=with_body)
        except (ConnectionError, ssl.SSLError):
            self.close_connection = True  # the client stopped reading early; that is its right

    def _etag(self) -> str:
        return strong_etag(self.path_on_disk)

    def _last_modified(self, mtime: float) -> str:
        return formatdate(int(mtime), usegmt=True)

    def _preconditions_hold(self, mtime: float) -> bool:
        """RFC 9110 13.2.2: If-Match, else If-Unmodified-Since."""
        if_match = self.headers.get("If-Match")
        if if_match is not None:
            tags = [tag.strip() for tag in if_match.split(",")]
            return "*" in tags or self._etag() in tags
        since = self.headers.get("If-Unmodified-Since")
        if since is not None:
            try:
                return int(mtime) <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return True  # an unparseable date is ignored
        return True

    def _range_applies(self, mtime: float) -> bool:
        """Range is honoured when the server does ranges and ``If-Range`` (if sent) matches:
        a strong ETag compared strongly, or exactly the Last-Modified date."""
        if not self.honour_range:
            return False
        if_range = self.headers.get("If-Range")
        if if_range is None:
            return True
        if_range = if_range.strip()
        if if_range.startswith(('"', "W/")):
            return if_range == self._etag()
        return if_range == self._last_modified(mtime)

    def _wanted_range(self, size: int) -> tuple[int, int] | None:
        """(first, last) inclusive, None for "whole file", (-1, -1) for unsatisfiable."""
        header = self.headers.get("Range")
        match = _RANGE.match(header.strip()) if header else None
        if match is None:
            return None
        first_text, last_text = match.groups()
        if not first_text:
            if not last_text:
                return None
            suffix = int(last_text)
            return (max(size - suffix, 0), size - 1) if suffix and size else (-1, -1)
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
        if first >= size or first > last:
            return (-1, -1)
        return first, last

    def _common_headers(self) -> None:
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("ETag", self._etag())
        self.send_header("Last-Modified", self._last_modified(self.path_on_disk.stat().st_mtime))
        if self.honour_range:
            self.send_header("Accept-Ranges", "bytes")

    def _send_whole(self, size: int, *, with_body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self._common_headers()
        if self.send_length:
            self.send_header("Content-Length", str(size))
        elif with_body:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not with_body:
            return
        if self.send_length:
            self._send_bytes(0, size)
        else:
            self._send_chunked(size)

    def _send_range(self, first: int, last: int, *, size: int, with_body: bool) -> None:
        count = last - first + 1
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self._common_headers()
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        if with_body:
            self._send_bytes(first, count)

    def _send_bytes(self, offset: int, count: int) -> None:
        if self.mapped is None:
            with self.path_on_disk.open("rb") as body:
                self.connection.sendfile(body, offset, count)
            return
        view = memoryview(self.mapped)
        try:
            end = offset + count
            while offset < end:
                step = min(_TLS_WRITE, end - offset)
                self.connection.sendall(view[offset : offset + step])
                offset += step
        finally:
            view.release()

    def _send_chunked(self, size: int) -> None:
        with self.path_on_disk.open("rb") as body:
            while chunk := body.read(_CHUNK):
                self.connection.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        self.connection.sendall(b"0\r\n\r\n")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Over TLS, the handshake runs here, in the connection's own thread."""
        if self.tls is not None and isinstance(request, socket.socket):
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return  # a probe that connected and left, or a client that distrusts us
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-body (a probe, a cancelled range) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def serve(
    path: Path,
    *,
    honour_range: bool,
    send_length: bool,
    port: int = 0,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve ``path`` at every URL path on 127.0.0.1 until killed; print ``READY <port>`` first."""
    mapped = None
    if tls is not None and path.stat().st_size:
        with path.open("rb") as file:
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    handler = type(
        "FileHandler",
        (_FileHandler,),
        {
            "path_on_disk": path,
            "honour_range": honour_range,
            "send_length": send_length,
            "mapped": mapped,
        },
    )
    server = _QuietServer(("127.0.0.1", port), handler)
    server.tls = tls
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


class SourceServer:
    """Runs ``bench.source`` in a child process for the length of a ``with`` block."""

    def __init__(
        self,
        path: Path,
        *,
        honour_range: bool,
        send_length: bool,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self._command = [
            sys.executable,
            "-m",
            "bench.source",
            str(path),
            "--range",
            "on" if honour_range else "off",
            "--length",
            "on" if send_length else "off",
        ]
        self._scheme = "http"
        if tls_cert is not None and tls_key is not None:
            self._command += ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
            self._scheme = "https"
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> SourceServer:
        self._process = subprocess.Popen(
            self._command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline().split()
        if len(ready) != 2 or ready[0] != "READY":
            self._process.kill()
            raise RuntimeError(f"bench.source did not start: {ready!r}")
        self.url = f"{self._scheme}://127.0.0.1:{ready[1]}/backup.tar"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


def _on_off(text: str) -> bool:
    if text not in {"on", "off"}:
        raise argparse.ArgumentTypeError("expected on or off")
    return text == "on"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--range", type=_on_off, default=True, help="honour Range (on|off)")
    parser.add_argument(
        "--length", type=_on_off, default=True, help="send Content-Length, else chunked (on|off)"
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert", type=Path, help="serve https with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    args = parser.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    serve(args.file, honour_range=args.range, send_length=args.length, port=args.port, tls=tls)


if __name__ == "__main__":
    main()

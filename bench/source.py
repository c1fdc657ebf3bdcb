"""The loopback HTTP source: serves one file, with or without Range, with or without a length.

Run as its own process (``python -m bench.source FILE --range on|off --length on|off``) so that its
work never competes for the GIL of the process being measured. It prints ``READY <port>`` once it
listens. Bodies go out with ``sendfile`` (or 4 MiB writes when chunked), so the source is not the
bottleneck; ``SourceServer`` starts and stops it from the benchmark.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar

_CHUNK = 4 * 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _FileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    path_on_disk: ClassVar[Path]
    honour_range: ClassVar[bool]
    send_length: ClassVar[bool]

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per request would cost more than the benchmark can spare."""

    def _respond(self, *, with_body: bool) -> None:
        size = self.path_on_disk.stat().st_size
        wanted = self._wanted_range(size) if self.honour_range else None
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
        except ConnectionError:
            self.close_connection = True  # the client stopped reading early; that is its right

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
        self.send_header("ETag", '"bench-source"')
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
        with self.path_on_disk.open("rb") as body:
            if self.send_length:
                self.connection.sendfile(body, 0, size)
            else:
                self._send_chunked(body)

    def _send_range(self, first: int, last: int, *, size: int, with_body: bool) -> None:
        count = last - first + 1
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self._common_headers()
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        if with_body:
            with self.path_on_disk.open("rb") as body:
                self.connection.sendfile(body, first, count)

    def _send_chunked(self, body: IO[bytes]) -> None:
        while chunk := body.read(_CHUNK):
            self.connection.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        self.connection.sendall(b"0\r\n\r\n")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-body (a probe, a cancelled range) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def serve(path: Path, *, honour_range: bool, send_length: bool, port: int = 0) -> None:
    """Serve ``path`` at every URL path on 127.0.0.1 until killed; print ``READY <port>`` first."""
    handler = type(
        "FileHandler",
        (_FileHandler,),
        {"path_on_disk": path, "honour_range": honour_range, "send_length": send_length},
    )
    server = _QuietServer(("127.0.0.1", port), handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


class SourceServer:
    """Runs ``bench.source`` in a child process for the length of a ``with`` block."""

    def __init__(self, path: Path, *, honour_range: bool, send_length: bool) -> None:
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
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> SourceServer:
        self._process = subprocess.Popen(
            self._command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline().split()
        if len(ready) != 2 or ready[0] != "READY":
            self._process.kill()
            raise RuntimeError(f"bench.source did not start: {ready!r}")
        self.url = f"http://127.0.0.1:{ready[1]}/backup.tar"
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
    args = parser.parse_args()
    serve(args.file, honour_range=args.range, send_length=args.length, port=args.port)


if __name__ == "__main__":
    main()

"""Keep-alive ``http.client`` connections to the backup's one origin, for the download's bodies.

The download does not go through httpx (which stays the Aiven API's client): over TLS every socket
read returns one 16 KiB record, and httpx/httpcore/h11 spend Python per record; ``http.client``'s
``HTTPResponse.readinto`` hands the part buffer to a ``BufferedReader`` that loops over the records
in C. ``bench/body_readers.py`` (ranged 8 MiB bodies over TLS, CPU s/GiB): issue 14 measured 1.21
for the raw ``recv_into`` floor, 1.56 for ``http.client``, 4.4-4.5 for httpx's ``iter_raw`` and
4.9-5.2 for the copier's httpx reader; re-measured when choosing (256 MiB, 1 vCPU, a shared
machine): raw 0.85, ``http.client`` 1.02, urllib3 1.23, the httpx copier 2.02. urllib3 is
``http.client`` plus its own Python per read, so it costs more, not less.

What a connection here guarantees: https with certificate and host name verification (the
system CA bundle through ``ssl.create_default_context``, which also reads ``SSL_CERT_FILE``; or
the context given); a connect timeout, then a read timeout on every socket read; nothing but the
headers the caller passes (``http.client`` adds ``Host`` only, and never follows a redirect,
decodes a body, reads a proxy setting or sends a cookie). A connection goes back to the pool only
when its answer was read to its end and did not ask to close.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading

DEFAULT_USER_AGENT = "aiven-influxdb-backup"


class Connections:
    """At most ``max_idle`` idle connections to ``scheme://host:port``; ``get`` makes a new one
    when none is idle (so concurrent readers never wait here). Thread-safe."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        max_idle: int = 4,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._context = ssl_context
        self._max_idle = max_idle
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def context_for_https(self) -> ssl.SSLContext:
        """The given context, else the system's default one (made once)."""
        if self._context is None:
            self._context = ssl.create_default_context()  # verifies certificate and host name
        return self._context

    def get(self, *, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """A connected connection (a new one with ``fresh``), and whether it was reused (a
        reused one may have been closed by the host meanwhile: the caller retries once on a
        fresh one)."""
        with self._lock:
            if self._idle and not fresh:
                return self._idle.pop(), True
        return self._connect(), False

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self.scheme == "https":
            connection = http.client.HTTPSConnection(
                self.host,
                self.port,
                timeout=self._connect_timeout,
                context=self.context_for_https(),
            )
        else:
            connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self._connect_timeout
            )
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(self._read_timeout)
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            connection.close()
            raise
        return connection

    def put(self, connection: http.client.HTTPConnection) -> None:
        """Return a connection whose last answer was read to its end."""
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

"""A null S3 sink: speaks S3's multipart calls, checks every byte's checksum, keeps no data.

A measuring instrument, not an emulator. Real S3 costs the CopyBackup Lambda nothing but its
own TLS and HTTP work; every real server on this 2-core machine (s3rver, SeaweedFS, moto) spends
a core or more storing and hashing, and so measures itself as much as the contender. This one
reads each body straight into a reusable 1 MiB buffer (``readinto``, so the per-TLS-record loop
runs in C), computes its CRC32 (zlib, the GIL released) and, only where the client sent one,
its MD5 or SHA-256, then forgets the bytes.

What it checks, and answers with S3's error codes when wrong:

- each body against every integrity value the client sent: ``x-amz-checksum-crc32`` (header, or
  trailer of an ``aws-chunked`` body), ``x-amz-checksum-sha256``/``-sha1``, ``Content-MD5``,
  a hex ``x-amz-content-sha256``; ``BadDigest`` / ``XAmzContentSHA256Mismatch``;
- the body's length against ``Content-Length`` / ``x-amz-decoded-content-length``;
- ``CompleteMultipartUpload``: parts listed in order, each uploaded, with its ETag (and CRC32 if
  listed); every part but the last at least 5 MiB; the whole object's CRC32 (combined from the
  parts' CRC32s the sink computed itself) against ``x-amz-checksum-crc32`` when sent, and the
  size against ``x-amz-mp-object-size``.

What it keeps per object: size, full-object CRC32, part count, ETag, checksum type. It answers
HeadObject as S3 does (``ChecksumMode: ENABLED`` returns the FULL_OBJECT or COMPOSITE CRC32 of an
upload created with one), ListParts, ListMultipartUploads, ListObjectsV2, Abort, Delete, PutObject
and CreateBucket/HeadBucket/DeleteBucket; anything else gets ``NotImplemented`` and is counted.
Signatures are not checked (an ``Authorization`` header or presigned credential is required).

Outside S3's namespace (bucket names cannot start with ``_``):
``GET /_sink/stats`` is a JSON snapshot of its own CPU time, requests per operation, bytes,
checks done and errors sent; ``GET /_sink/object?bucket=B&key=K`` the record of one object.

``python -m bench.null_sink [--port N] [--tls-cert PEM --tls-key PEM] [--log FILE]`` prints
``READY <port>`` once it listens; ``--log`` writes one line per request with the headers that
say how the client protects its bodies (how the contenders' calls were found out).
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import itertools
import json
import resource
import socket
import ssl
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
MAX_PART_NUMBER = 10_000
_READ_BUFFER = 1 * MIB
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_MAX_ERRORS_KEPT = 200
_CRC_POLY = 0xEDB88320  # CRC-32 (zlib), reflected

# ---- CRC32 combination (zlib's crc32_combine, x^(8n) mod P by repeated squaring) -------------


def _mult_mod_p(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC-32 polynomial, reflected bit order."""
    m = 1 << 31
    product = 0
    while m:
        if a & m:
            product ^= b
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
        m >>= 1
    return product


@functools.cache
def _x_pow_8n(length: int) -> int:
    """x^(8 * length) modulo P: what appending ``length`` zero bytes multiplies a CRC by."""
    result = 1 << 31  # x^0
    square = 1 << 23  # x^8 (one zero byte)
    while length:
        if length & 1:
            result = _mult_mod_p(square, result)
        square = _mult_mod_p(square, square)
        length >>= 1
    return result


def crc32_combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """CRC32 of A + B from CRC32(A), CRC32(B) and len(B)."""
    if length_b <= 0:
        return crc_a
    return _mult_mod_p(_x_pow_8n(length_b), crc_a) ^ crc_b


def b64_crc32(crc: int) -> str:
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


# ---- state ------------------------------------------------------------------------------------


class S3Error(Exception):
    """An S3 error answer: HTTP status, S3 error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Part:
    number: int
    size: int
    crc32: int  # computed by the sink over the bytes it received
    etag: str  # without quotes
    md5: bytes | None
    client_crc32: str | None  # what the client sent (base64), echoed back like S3
    modified: float
    checks: tuple[str, ...]  # the client's integrity values this part was checked against


@dataclass
class Upload:
    upload_id: str
    bucket: str
    key: str
    algorithm: str | None  # x-amz-checksum-algorithm at creation (CRC32 or None)
    checksum_type: str | None  # FULL_OBJECT or COMPOSITE when an algorithm was given
    started: float
    parts: dict[int, Part] = field(default_factory=dict)


@dataclass
class StoredObject:
    size: int
    crc32: int  # the whole object's CRC32, always (computed by the sink)
    etag: str  # with quotes
    parts: int  # 0 for PutObject
    checksum_algorithm: str | None
    checksum_type: str | None
    composite_crc32: str | None  # "base64-N" for COMPOSITE uploads
    modified: float
    checks: dict[str, int]

    def public(self) -> dict[str, object]:
        return {
            "size": self.size,
            "crc32": self.crc32,
            "crc32_base64": b64_crc32(self.crc32),
            "etag": self.etag,
            "parts": self.parts,
            "checksum_algorithm": self.checksum_algorithm,
            "checksum_type": self.checksum_type,
            "part_checks": self.checks,
        }


class SinkState:
    """Buckets, objects' records, uploads in progress and the counters, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, dict[str, StoredObject]] = {}
        self.uploads: dict[str, Upload] = {}
        self.requests: Counter[str] = Counter()
        self.checks: Counter[str] = Counter()
        self.body_bytes = 0
        self.errors_total = 0
        self.errors: list[dict[str, object]] = []
        self.started = time.time()

    def count_error(self, operation: str, error: S3Error) -> None:
        with self.lock:
            self.errors_total += 1
            if len(self.errors) < _MAX_ERRORS_KEPT:
                entry: dict[str, object] = {
                    "operation": operation,
                    "code": error.code,
                    "message": error.message,
                }
                self.errors.append(entry)

    def stats(self) -> dict[str, object]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self.lock:
            return {
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
                "cpu_user_s": round(usage.ru_utime, 3),
                "cpu_system_s": round(usage.ru_stime, 3),
                "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
                "uptime_s": round(time.time() - self.started, 1),
                "threads": threading.active_count(),
                "requests": dict(self.requests),
                "checks": dict(self.checks),
                "body_bytes": self.body_bytes,
                "errors_total": self.errors_total,
                "errors": list(self.errors),
            }


# ---- request bodies ---------------------------------------------------------------------------


@dataclass
class BodyDigest:
    """What the sink learnt from one request body (which it did not keep)."""

    size: int
    crc32: int
    md5: bytes | None
    client_crc32: str | None
    checks: list[str]


class _Digests:
    """Running CRC32 plus whichever hashes the client's integrity values need."""

    def __init__(self, hashes: dict[str, Any]) -> None:
        self.crc = 0
        self.size = 0
        self.hashes = hashes

    def update(self, view: memoryview) -> None:
        self.crc = zlib.crc32(view, self.crc)
        for digest in self.hashes.values():
            digest.update(view)
        self.size += len(view)


class _Stream(Protocol):
    """What a body is read from: a ``BufferedReader`` over the socket, or the de-chunker."""

    def readinto(self, view: memoryview, /) -> int: ...

    def readline(self, limit: int, /) -> bytes: ...


def _consume(source: _Stream, count: int | None, buffer: memoryview, digests: _Digests) -> None:
    """Read ``count`` bytes (None: to the end) from ``source`` into ``buffer``, digesting each
    piece. ``BufferedReader.readinto`` fills the whole view, looping over TLS records in C."""
    while count is None or count:
        view = buffer if count is None else buffer[: min(len(buffer), count)]
        got = source.readinto(view)
        if not got:
            if count is None:
                return
            raise S3Error(400, "IncompleteBody", f"the body ended {count} bytes early")
        digests.update(view[:got])
        if count is not None:
            count -= got


def _read_line(source: _Stream) -> bytes:
    line = source.readline(4096)
    if not line.endswith(b"\r\n"):
        raise S3Error(400, "IncompleteBody", "a chunk header or trailer line is malformed")
    return line[:-2]


def _read_trailers(source: _Stream, trailers: dict[str, str]) -> None:
    while line := _read_line(source):
        name, _, value = line.decode("latin-1").partition(":")
        trailers[name.strip().lower()] = value.strip()


def _chunk_size(line: bytes) -> int:
    header = line.split(b";", 1)[0].strip()
    try:
        return int(header, 16)
    except ValueError:
        raise S3Error(400, "IncompleteBody", f"bad chunk size {header[:20]!r}") from None


class _Dechunked:
    """The payload of a ``Transfer-Encoding: chunked`` body (botocore sends its ``aws-chunked``
    bodies inside HTTP chunking); HTTP trailers go into ``trailers``."""

    def __init__(self, source: _Stream, trailers: dict[str, str]) -> None:
        self._source = source
        self._trailers = trailers
        self._left = 0
        self._ended = False

    def _next_chunk(self) -> bool:
        if self._ended:
            return False
        self._left = _chunk_size(_read_line(self._source))
        if self._left == 0:
            self._ended = True
            _read_trailers(self._source, self._trailers)
            return False
        return True

    def _chunk_done(self) -> None:
        if self._left == 0 and _read_line(self._source) != b"":
            raise S3Error(400, "IncompleteBody", "an HTTP chunk is longer than its size line")

    def readinto(self, view: memoryview, /) -> int:
        if self._left == 0 and not self._next_chunk():
            return 0
        got = self._source.readinto(view[: min(len(view), self._left)])
        if not got:
            raise S3Error(400, "IncompleteBody", "the body ended inside an HTTP chunk")
        self._left -= got
        self._chunk_done()
        return got

    def readline(self, limit: int, /) -> bytes:
        line = b""
        while not line.endswith(b"\n") and len(line) < limit:
            if self._left == 0 and not self._next_chunk():
                break
            piece = self._source.readline(min(limit - len(line), self._left))
            if not piece:
                raise S3Error(400, "IncompleteBody", "the body ended inside an HTTP chunk")
            self._left -= len(piece)
            self._chunk_done()
            line += piece
        return line


def _read_aws_chunked(
    source: _Stream, buffer: memoryview, digests: _Digests, trailers: dict[str, str]
) -> None:
    """An ``aws-chunked`` payload (signed or unsigned chunks); its trailers into ``trailers``."""
    while True:
        size = _chunk_size(_read_line(source))
        if size == 0:
            break
        _consume(source, size, buffer, digests)
        if _read_line(source) != b"":
            raise S3Error(400, "IncompleteBody", "a chunk is longer than its size line says")
    _read_trailers(source, trailers)


# Query parameters of the calls the sink answers; any other (``?acl``, ``?tagging``,
# ``?versioning``...) is a call it does not implement.
_KNOWN_QUERY = {
    "uploads", "uploadId", "partNumber", "location", "list-type", "prefix", "delimiter",
    "max-keys", "marker", "continuation-token", "start-after", "encoding-type", "fetch-owner",
    "max-parts", "part-number-marker", "max-uploads", "key-marker", "upload-id-marker",
    "x-id", "versionId",
}  # fmt: skip
_HASHED_CHECKSUMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
_UNCHECKABLE = ("crc32c", "crc64nvme")


def _hashes_needed(
    headers: Any, md5_header: str | None, content_sha: str, declared: dict[str, str | None]
) -> dict[str, Any]:
    """The hashes the client's integrity values (headers or announced trailers) need."""
    hashes: dict[str, Any] = {}
    if md5_header:
        hashes["md5"] = hashlib.md5(usedforsecurity=False)
    if len(content_sha) == 64 and all(c in "0123456789abcdef" for c in content_sha):
        hashes["content-sha256"] = hashlib.sha256()
    trailer = headers.get("x-amz-trailer") or ""
    trailer_names = [t.strip().lower() for t in trailer.split(",") if t]
    for algorithm in _UNCHECKABLE:
        name = f"x-amz-checksum-{algorithm}"
        if headers.get(name) or name in trailer_names:
            raise S3Error(501, "NotImplemented", f"the null sink cannot check {algorithm}")
    for name, factory in _HASHED_CHECKSUMS.items():
        if declared[name] or f"x-amz-checksum-{name}" in trailer_names:
            hashes[name] = factory()
    return hashes


def read_body(
    headers: Any, source: _Stream, buffer: memoryview, operation: str
) -> tuple[BodyDigest, dict[str, str]]:
    """Read and check one request body; raise ``S3Error`` when it does not match its headers."""
    get = headers.get
    md5_header = get("Content-MD5")
    content_sha = (get("x-amz-content-sha256") or "").strip().lower()
    declared = {name: get(f"x-amz-checksum-{name}") for name in ("crc32", *_HASHED_CHECKSUMS)}
    digests = _Digests(_hashes_needed(headers, md5_header, content_sha, declared))
    trailers: dict[str, str] = {}
    encoding = (get("Content-Encoding") or "").lower()
    length: int | None = None
    if "chunked" in (get("Transfer-Encoding") or "").lower():
        source = _Dechunked(source, trailers)
    elif get("Content-Length") is None:
        raise S3Error(411, "MissingContentLength", f"{operation} needs a Content-Length")
    else:
        length = int(get("Content-Length"))
    if "aws-chunked" in encoding:
        _read_aws_chunked(source, buffer, digests, trailers)
        if length is None:
            _consume(source, None, buffer, _Digests({}))  # nothing may follow; read to the end
        decoded = get("x-amz-decoded-content-length")
        if decoded is not None and int(decoded) != digests.size:
            raise S3Error(
                400,
                "IncompleteBody",
                f"x-amz-decoded-content-length {decoded} but {digests.size} bytes came",
            )
    else:
        _consume(source, length, buffer, digests)
    checks = _check(digests, md5_header, content_sha, declared, trailers)
    client_crc = declared["crc32"] or trailers.get("x-amz-checksum-crc32")
    md5 = digests.hashes["md5"].digest() if "md5" in digests.hashes else None
    return BodyDigest(digests.size, digests.crc, md5, client_crc, checks), trailers


def _check(
    digests: _Digests,
    md5_header: str | None,
    content_sha: str,
    declared: dict[str, str | None],
    trailers: dict[str, str],
) -> list[str]:
    checks = []
    if md5_header:
        got = base64.b64encode(digests.hashes["md5"].digest()).decode()
        if got != md5_header.strip():
            raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match.")
        checks.append("md5")
    if "content-sha256" in digests.hashes:
        if digests.hashes["content-sha256"].hexdigest() != content_sha:
            raise S3Error(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        checks.append("content-sha256")
    for name in ("crc32", *_HASHED_CHECKSUMS):
        where, value = "header", declared[name]
        if not value:
            where, value = "trailer", trailers.get(f"x-amz-checksum-{name}")
        if not value:
            continue
        if name == "crc32":
            got = b64_crc32(digests.crc)
        else:
            got = base64.b64encode(digests.hashes[name].digest()).decode()
        if got != value.strip():
            raise S3Error(
                400,
                "BadDigest",
                f"The {name.upper()} you specified did not match the calculated checksum.",
            )
        checks.append(f"{name}-{where}")
    return checks or ["none"]


# ---- XML --------------------------------------------------------------------------------------


def _xml(root: str, body: str) -> bytes:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_XMLNS}">{body}</{root}>'
    return text.encode()


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stamp))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_complete(body: bytes) -> list[dict[str, str]]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    parts = []
    for element in root:
        if _local(element.tag) == "Part":
            parts.append({_local(child.tag): (child.text or "").strip() for child in element})
    return parts


# ---- the handler ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300  # an idle keep-alive connection's thread ends after this
    state: ClassVar[SinkState]
    log_file: ClassVar[IO[str] | None] = None
    log_lock: ClassVar[threading.Lock] = threading.Lock()

    def setup(self) -> None:
        super().setup()
        self._buffer = memoryview(bytearray(_READ_BUFFER))
        self._continue_pending = False

    def handle_expect_100(self) -> bool:
        """Like S3, say ``100 Continue`` only when the body is about to be read, so a request
        refused from its headers (NoSuchUpload...) gets its final answer instead."""
        self._continue_pending = True
        return True

    def _ready_for_body(self) -> None:
        if self._continue_pending:
            self._continue_pending = False
            self.send_response_only(100)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet (``--log`` writes a line per request instead)."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- dispatch --

    def _serve(self, method: str) -> None:
        # Until a body is read, an answer must close the connection (the stream is out of step).
        self._body_read = int(self.headers.get("Content-Length") or 0) == 0 and (
            "Transfer-Encoding" not in self.headers
        )
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        bucket, _, key = split.path.lstrip("/").partition("/")
        bucket, key = unquote(bucket), unquote(key)
        operation = "unknown"
        status = 0
        try:
            if bucket == "_sink":
                operation = "sink-admin"
                status = self._admin(key, query)
                return
            operation, action = self._route(method, bucket, key, query)
            with self.state.lock:
                self.state.requests[operation] += 1
            if not self._signed(query):
                raise S3Error(403, "AccessDenied", "the request is not signed")
            status = action()
        except S3Error as error:
            status = error.status
            self.state.count_error(operation, error)
            self._send_error(error, head=method == "HEAD")
        finally:
            self._log(method, operation, query, status)

    def _route(
        self, method: str, bucket: str, key: str, query: dict[str, str]
    ) -> tuple[str, Callable[[], int]]:
        if not bucket:
            raise S3Error(501, "NotImplemented", "ListBuckets is not supported by the null sink")
        routes: dict[tuple[str, bool, str | None], tuple[str, Callable[[], int]]] = {
            ("PUT", False, None): ("CreateBucket", lambda: self._create_bucket(bucket)),
            ("HEAD", False, None): ("HeadBucket", lambda: self._head_bucket(bucket)),
            ("DELETE", False, None): ("DeleteBucket", lambda: self._delete_bucket(bucket)),
            ("GET", False, "uploads"): (
                "ListMultipartUploads",
                lambda: self._list_uploads(bucket, query),
            ),
            ("GET", False, "location"): ("GetBucketLocation", lambda: self._location(bucket)),
            ("GET", False, None): ("ListObjects", lambda: self._list_objects(bucket, query)),
            ("POST", True, "uploads"): ("CreateMultipartUpload", lambda: self._create(bucket, key)),
            ("PUT", True, "uploadId"): ("UploadPart", lambda: self._upload_part(query)),
            ("POST", True, "uploadId"): ("CompleteMultipartUpload", lambda: self._complete(query)),
            ("DELETE", True, "uploadId"): ("AbortMultipartUpload", lambda: self._abort(query)),
            ("GET", True, "uploadId"): ("ListParts", lambda: self._list_parts(query)),
            ("PUT", True, None): ("PutObject", lambda: self._put_object(bucket, key)),
            ("HEAD", True, None): ("HeadObject", lambda: self._head_object(bucket, key)),
            ("GET", True, None): ("GetObject", self._get_object),
            ("DELETE", True, None): ("DeleteObject", lambda: self._delete_object(bucket, key)),
        }
        marker = next((m for m in ("uploads", "uploadId", "location") if m in query), None)
        found = routes.get((method, bool(key), marker))
        unknown = set(query) - _KNOWN_QUERY
        if "x-amz-copy-source" in self.headers:
            unknown.add("x-amz-copy-source")
        if found is None or unknown:
            sub = ",".join(sorted(unknown or set(query))) or "-"
            sub = ",".join(sorted(query)) or "-"
            raise S3Error(
                501,
                "NotImplemented",
                f"the null sink does not implement {method} {'object' if key else 'bucket'} "
                f"with query {sub}",
            )
        return found

    def _signed(self, query: dict[str, str]) -> bool:
        return "Authorization" in self.headers or "X-Amz-Credential" in query

    # -- answers --

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
        content_type: str = "application/xml",
        length: int | None = None,
    ) -> int:
        if not self._body_read:
            self.close_connection = True  # the body was not read: the stream is out of step
        self._continue_pending = False
        self.send_response(status)
        self.send_header("x-amz-request-id", uuid.uuid4().hex[:16].upper())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body or not head:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
        return status

    def _send_error(self, error: S3Error, *, head: bool) -> None:
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n'
            + (
                "<Error>" + _el("Code", error.code) + _el("Message", error.message) + "</Error>"
            ).encode()
        )
        self._send(error.status, b"" if head else body, head=head)

    def _admin(self, what: str, query: dict[str, str]) -> int:
        if what == "stats":
            document: object = self.state.stats()
        elif what == "object":
            with self.state.lock:
                stored = self.state.buckets.get(query.get("bucket", ""), {}).get(
                    query.get("key", "")
                )
            if stored is None:
                return self._send(
                    404, b'{"error": "no such object"}', content_type="application/json"
                )
            document = stored.public()
        else:
            return self._send(404, b'{"error": "unknown"}', content_type="application/json")
        return self._send(200, json.dumps(document).encode(), content_type="application/json")

    def _read_small_body(self) -> bytes:
        self._ready_for_body()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._body_read = True
        return body

    def _read_part_body(self, operation: str) -> BodyDigest:
        self._ready_for_body()
        digest, _ = read_body(self.headers, self.rfile, self._buffer, operation)
        self._body_read = True
        with self.state.lock:
            self.state.body_bytes += digest.size
            for check in digest.checks:
                self.state.checks[f"{operation}:{check}"] += 1
        return digest

    def _bucket(self, bucket: str) -> dict[str, StoredObject]:
        found = self.state.buckets.get(bucket)
        if found is None:
            raise S3Error(404, "NoSuchBucket", f"The specified bucket does not exist: {bucket}")
        return found

    def _upload(self, query: dict[str, str]) -> Upload:
        found = self.state.uploads.get(query["uploadId"])
        if found is None:
            raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
        return found

    # -- bucket calls --

    def _create_bucket(self, bucket: str) -> int:
        self._read_small_body()
        with self.state.lock:
            self.state.buckets.setdefault(bucket, {})
        return self._send(200, headers={"Location": f"/{bucket}"})

    def _head_bucket(self, bucket: str) -> int:
        with self.state.lock:
            self._bucket(bucket)
        return self._send(200, head=True, headers={"x-amz-bucket-region": "us-east-1"})

    def _delete_bucket(self, bucket: str) -> int:
        with self.state.lock:
            objects = self._bucket(bucket)
            if objects or any(u.bucket == bucket for u in self.state.uploads.values()):
                raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
            del self.state.buckets[bucket]
        return self._send(204)

    def _location(self, bucket: str) -> int:
        with self.state.lock:
            self._bucket(bucket)
        body = '<?xml version="1.0" encoding="UTF-8"?>\n'
        body += f'<LocationConstraint xmlns="{_XMLNS}"></LocationConstraint>'
        return self._send(200, body.encode())

    def _list_objects(self, bucket: str, query: dict[str, str]) -> int:
        prefix = query.get("prefix", "")
        with self.state.lock:
            items = sorted(
                (key, stored)
                for key, stored in self._bucket(bucket).items()
                if key.startswith(prefix)
            )
        contents = "".join(
            "<Contents>"
            + _el("Key", key)
            + _el("LastModified", _iso(stored.modified))
            + _el("ETag", stored.etag)
            + _el("Size", stored.size)
            + _el("StorageClass", "STANDARD")
            + "</Contents>"
            for key, stored in items
        )
        fields = _el("Name", bucket) + _el("Prefix", prefix) + _el("MaxKeys", 1000)
        if query.get("list-type") == "2":
            fields += _el("KeyCount", len(items))
        fields += _el("IsTruncated", "false") + contents
        return self._send(200, _xml("ListBucketResult", fields))

    def _list_uploads(self, bucket: str, query: dict[str, str]) -> int:
        prefix = query.get("prefix", "")
        with self.state.lock:
            self._bucket(bucket)
            uploads = sorted(
                (u for u in self.state.uploads.values() if u.bucket == bucket),
                key=lambda u: (u.key, u.started),
            )
        entries = "".join(
            "<Upload>"
            + _el("Key", u.key)
            + _el("UploadId", u.upload_id)
            + _el("Initiated", _iso(u.started))
            + _el("StorageClass", "STANDARD")
            + "</Upload>"
            for u in uploads
            if u.key.startswith(prefix)
        )
        fields = _el("Bucket", bucket) + _el("Prefix", prefix) + _el("MaxUploads", 1000)
        fields += _el("IsTruncated", "false") + entries
        return self._send(200, _xml("ListMultipartUploadsResult", fields))

    # -- object calls --

    def _create(self, bucket: str, key: str) -> int:
        self._read_small_body()
        algorithm = (self.headers.get("x-amz-checksum-algorithm") or "").upper() or None
        if algorithm not in (None, "CRC32"):
            raise S3Error(501, "NotImplemented", f"the null sink checks CRC32 only: {algorithm}")
        checksum_type = (self.headers.get("x-amz-checksum-type") or "").upper() or None
        if algorithm and checksum_type is None:
            checksum_type = "COMPOSITE"  # S3's default for CRC32 multipart uploads
        upload_id = uuid.uuid4().hex
        with self.state.lock:
            self._bucket(bucket)
            self.state.uploads[upload_id] = Upload(
                upload_id, bucket, key, algorithm, checksum_type, time.time()
            )
        headers = {}
        if algorithm:
            headers = {
                "x-amz-checksum-algorithm": algorithm,
                "x-amz-checksum-type": checksum_type or "",
            }
        fields = _el("Bucket", bucket) + _el("Key", key) + _el("UploadId", upload_id)
        return self._send(200, _xml("InitiateMultipartUploadResult", fields), headers)

    def _upload_part(self, query: dict[str, str]) -> int:
        try:
            number = int(query.get("partNumber", ""))
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PART_NUMBER:
            raise S3Error(400, "InvalidArgument", "Part number must be between 1 and 10000.")
        with self.state.lock:
            upload = self._upload(query)
        digest = self._read_part_body("UploadPart")
        etag = (
            digest.md5.hex() if digest.md5 else f"{digest.crc32:08x}{digest.size:016x}{number:08x}"
        )
        part = Part(
            number,
            digest.size,
            digest.crc32,
            etag,
            digest.md5,
            digest.client_crc32,
            time.time(),
            tuple(digest.checks),
        )
        with self.state.lock:
            if upload.upload_id not in self.state.uploads:
                raise S3Error(404, "NoSuchUpload", "The upload was aborted during this part.")
            upload.parts[number] = part
        headers = {"ETag": f'"{etag}"'}
        if digest.client_crc32 or upload.algorithm == "CRC32":
            headers["x-amz-checksum-crc32"] = b64_crc32(digest.crc32)
        return self._send(200, headers=headers)

    def _complete(self, query: dict[str, str]) -> int:
        listed = _parse_complete(self._read_small_body())
        with self.state.lock:
            upload = self._upload(query)
            stored = self._assemble(upload, listed)
            objects = self._bucket(upload.bucket)
            objects[upload.key] = stored
            del self.state.uploads[upload.upload_id]
        fields = _el("Location", f"/{upload.bucket}/{upload.key}")
        fields += _el("Bucket", upload.bucket) + _el("Key", upload.key) + _el("ETag", stored.etag)
        if stored.checksum_type == "FULL_OBJECT":
            fields += _el("ChecksumCRC32", b64_crc32(stored.crc32))
            fields += _el("ChecksumType", "FULL_OBJECT")
        elif stored.checksum_type == "COMPOSITE":
            fields += _el("ChecksumCRC32", stored.composite_crc32)
            fields += _el("ChecksumType", "COMPOSITE")
        return self._send(200, _xml("CompleteMultipartUploadResult", fields))

    def _assemble(self, upload: Upload, listed: list[dict[str, str]]) -> StoredObject:
        """Check the completion request against the parts received; the object's record."""
        parts = _listed_parts(upload, listed)
        size = sum(p.size for p in parts)
        crc = 0
        for part in parts:
            crc = crc32_combine(crc, part.crc32, part.size)
        expected_size = self.headers.get("x-amz-mp-object-size")
        if expected_size is not None and int(expected_size) != size:
            raise S3Error(
                400,
                "InvalidRequest",
                f"x-amz-mp-object-size is {expected_size} but the parts hold {size} bytes.",
            )
        checksum_type = (self.headers.get("x-amz-checksum-type") or "").upper() or (
            upload.checksum_type
        )
        composite = None
        if upload.algorithm == "CRC32":
            raw = b"".join(p.crc32.to_bytes(4, "big") for p in parts)
            composite = f"{b64_crc32(zlib.crc32(raw))}-{len(parts)}"
        full = self.headers.get("x-amz-checksum-crc32")
        if full:
            wanted = composite if checksum_type == "COMPOSITE" else b64_crc32(crc)
            if full.strip() != wanted:
                raise S3Error(
                    400,
                    "BadDigest",
                    f"The object's CRC32 {full} does not match the parts' ({wanted}).",
                )
        md5s = [p.md5 for p in parts if p.md5]
        if len(md5s) == len(parts):  # S3's multipart ETag, where every part's MD5 is known
            etag = (
                f'"{hashlib.md5(b"".join(md5s), usedforsecurity=False).hexdigest()}-{len(parts)}"'
            )
        else:
            etag = f'"{crc:08x}{size:016x}{0:08x}-{len(parts)}"'
        checks = Counter(itertools.chain.from_iterable(p.checks for p in parts))
        return StoredObject(
            size=size,
            crc32=crc,
            etag=etag,
            parts=len(parts),
            checksum_algorithm=upload.algorithm,
            checksum_type=checksum_type if upload.algorithm else None,
            composite_crc32=composite,
            modified=time.time(),
            checks=dict(checks),
        )

    def _abort(self, query: dict[str, str]) -> int:
        with self.state.lock:
            upload = self._upload(query)
            del self.state.uploads[upload.upload_id]
        return self._send(204)

    def _list_parts(self, query: dict[str, str]) -> int:
        marker = int(query.get("part-number-marker") or 0)
        limit = min(int(query.get("max-parts") or 1000), 1000)
        with self.state.lock:
            upload = self._upload(query)
            numbers = sorted(n for n in upload.parts if n > marker)
            page = [upload.parts[n] for n in numbers[:limit]]
            truncated = len(numbers) > limit
        entries = ""
        for part in page:
            entries += "<Part>" + _el("PartNumber", part.number)
            entries += _el("LastModified", _iso(part.modified))
            entries += _el("ETag", f'"{part.etag}"') + _el("Size", part.size)
            if upload.algorithm == "CRC32":
                entries += _el("ChecksumCRC32", b64_crc32(part.crc32))
            entries += "</Part>"
        fields = _el("Bucket", upload.bucket) + _el("Key", upload.key)
        fields += _el("UploadId", upload.upload_id) + _el("PartNumberMarker", marker)
        if page:
            fields += _el("NextPartNumberMarker", page[-1].number)
        fields += _el("MaxParts", limit) + _el("IsTruncated", "true" if truncated else "false")
        if upload.algorithm:
            fields += _el("ChecksumAlgorithm", upload.algorithm)
            fields += _el("ChecksumType", upload.checksum_type)
        return self._send(200, _xml("ListPartsResult", fields + entries))

    def _put_object(self, bucket: str, key: str) -> int:
        with self.state.lock:
            self._bucket(bucket)
        digest = self._read_part_body("PutObject")
        etag = f'"{digest.md5.hex()}"' if digest.md5 else f'"{digest.crc32:08x}{digest.size:024x}"'
        algorithm = "CRC32" if digest.client_crc32 else None
        stored = StoredObject(
            size=digest.size,
            crc32=digest.crc32,
            etag=etag,
            parts=0,
            checksum_algorithm=algorithm,
            checksum_type="FULL_OBJECT" if algorithm else None,
            composite_crc32=None,
            modified=time.time(),
            checks=dict(Counter(digest.checks)),
        )
        with self.state.lock:
            self._bucket(bucket)[key] = stored
        headers = {"ETag": etag}
        if algorithm:
            headers |= {"x-amz-checksum-crc32": b64_crc32(digest.crc32)}
            headers |= {"x-amz-checksum-type": "FULL_OBJECT"}
        return self._send(200, headers=headers)

    def _head_object(self, bucket: str, key: str) -> int:
        with self.state.lock:
            stored = self._bucket(bucket).get(key)
        if stored is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        headers = {
            "ETag": stored.etag,
            "Last-Modified": formatdate(stored.modified, usegmt=True),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if stored.parts:
            headers["x-amz-mp-parts-count"] = str(stored.parts)
        mode = (self.headers.get("x-amz-checksum-mode") or "").upper()
        if mode == "ENABLED" and stored.checksum_algorithm == "CRC32":
            value = (
                stored.composite_crc32
                if stored.checksum_type == "COMPOSITE"
                else b64_crc32(stored.crc32)
            )
            headers["x-amz-checksum-crc32"] = value or ""
            headers["x-amz-checksum-type"] = stored.checksum_type or ""
        return self._send(200, headers=headers, head=True, length=stored.size)

    def _get_object(self) -> int:
        raise S3Error(501, "NotImplemented", "the null sink keeps no data; GetObject is refused")

    def _delete_object(self, bucket: str, key: str) -> int:
        with self.state.lock:
            self._bucket(bucket).pop(key, None)
        return self._send(204)

    # -- the request log --

    def _log(self, method: str, operation: str, query: dict[str, str], status: int) -> None:
        if self.log_file is None:
            return
        shown = (
            "Content-Length",
            "Content-Encoding",
            "Transfer-Encoding",
            "Expect",
            "Content-MD5",
            "x-amz-content-sha256",
            "x-amz-decoded-content-length",
            "x-amz-trailer",
            "x-amz-sdk-checksum-algorithm",
            "x-amz-checksum-algorithm",
            "x-amz-checksum-type",
            "x-amz-checksum-crc32",
            "x-amz-checksum-mode",
            "x-amz-mp-object-size",
            "User-Agent",
        )
        headers = {name: self.headers[name] for name in shown if name in self.headers}
        if "Content-MD5" in headers:
            headers["Content-MD5"] = "(sent)"
        line = {
            "method": method,
            "operation": operation,
            "query": sorted(query),
            "status": status,
            "headers": headers,
        }
        with self.log_lock:
            self.log_file.write(json.dumps(line) + "\n")
            self.log_file.flush()


def _listed_parts(upload: Upload, listed: list[dict[str, str]]) -> list[Part]:
    """The parts a CompleteMultipartUpload lists, each checked against what was received."""
    if not listed:
        raise S3Error(400, "MalformedXML", "You must specify at least one part.")
    parts: list[Part] = []
    for entry in listed:
        try:
            number = int(entry.get("PartNumber", ""))
        except ValueError:
            raise S3Error(400, "MalformedXML", "A part has no PartNumber.") from None
        if parts and number <= parts[-1].number:
            raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        part = upload.parts.get(number)
        if part is None or entry.get("ETag", "").strip('"') != part.etag:
            raise S3Error(
                400, "InvalidPart", f"Part {number} was not uploaded, or its ETag does not match."
            )
        listed_crc = entry.get("ChecksumCRC32")
        if listed_crc and listed_crc != b64_crc32(part.crc32):
            raise S3Error(
                400, "InvalidPart", f"Part {number}'s ChecksumCRC32 does not match its bytes."
            )
        parts.append(part)
    for part in parts[:-1]:
        if part.size < MIN_PART_SIZE:
            raise S3Error(
                400,
                "EntityTooSmall",
                f"Part {part.number} is {part.size} bytes; all but the last must be >= 5 MiB.",
            )
    return parts


class NullSinkServer(ThreadingHTTPServer):
    """One thread per connection; TLS handshakes in that thread."""

    daemon_threads = True
    request_queue_size = 128
    tls: ssl.SSLContext | None = None

    def finish_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if self.tls is not None and isinstance(request, socket.socket):
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def make_server(
    port: int = 0, tls: ssl.SSLContext | None = None, log: IO[str] | None = None
) -> NullSinkServer:
    handler = type("NullSinkHandler", (_Handler,), {"state": SinkState(), "log_file": log})
    server = NullSinkServer(("127.0.0.1", port), handler)
    server.tls = tls
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert", type=Path, help="serve https with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    args = parser.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    log = args.log.open("a") if args.log else None
    server = make_server(args.port, tls, log)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

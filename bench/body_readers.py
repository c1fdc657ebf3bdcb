"""Micro-benchmark: the CPU cost per GiB of reading ranged https bodies into an 8 MiB buffer.

It decides which HTTP client the copier's new source reader uses. One https source
(``bench/source.py``, the run's throwaway CA) serves a cached random file; each reader, in a
process of its own inside a cgroup CPU quota (``bench/cpu_quota.py``, Lambda's share), fetches
the file as consecutive ranged GETs of one part each (``bytes=i*P-(i+1)*P-1``, keep-alive, one
connection), each body read into the same 8 MiB buffer, as the copier reads parts when the source
honours ``Range``. ``--whole`` reads one ``bytes=0-`` body in part-sized pieces instead.

Readers:

- ``raw``: an ``ssl`` socket; the request written by hand, the headers parsed minimally, the body
  read with ``recv_into`` at the buffer's offset: the floor (TLS decryption and the kernel);
- ``http.client``: ``HTTPSConnection``, ``HTTPResponse.readinto`` (a ``BufferedReader`` loops
  over the TLS records in C);
- ``urllib3``: botocore's urllib3, ``preload_content=False``, ``decode_content=False``,
  ``HTTPResponse.readinto``;
- ``httpx``: ``Client.stream`` and ``iter_raw``, each chunk copied into the buffer;
- ``copier``: the copier's own ``HttpSource.open(...).readinto`` (``layers/core`` as it is in the
  working tree; ``http.client`` underneath since issue 14), for reference.

The figures are the reader's own process CPU (``time.process_time``) and wall time, summed over
the read calls only: interpreter start-up, imports and the CRC32 that checks every byte read
(against the file's, outside the timed calls) are excluded. CPU s/GiB decides; MiB/s is shown
because a reader that is cheap but slow would hide a stall.

``python -m bench.body_readers [--size-mib 1024] [--part-mib 8] [--cpu-quotas 0.58,1.0]
[--readers raw,http.client,urllib3,httpx,copier] [--repeat 3] [--whole] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.cpu_quota import CpuQuotaGroup, check_available
from bench.machine import load_average, machine_facts
from bench.payload import MIB, cached_payload
from bench.source import SourceServer
from bench.tls import throwaway_certificates

READERS = ("raw", "http.client", "urllib3", "httpx", "copier")
REPO_ROOT = Path(__file__).resolve().parent.parent
GIB = 1024 * MIB


# ---- the child: one reader, timed -------------------------------------------------------------


@dataclass
class Timer:
    """CPU and wall seconds spent inside the timed calls only."""

    cpu_s: float = 0.0
    wall_s: float = 0.0

    @contextmanager
    def timed(self) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu_s += time.process_time() - cpu
            self.wall_s += time.perf_counter() - wall


@dataclass(frozen=True)
class Plan:
    url: str
    size: int
    part: int
    whole: bool

    def ranges(self) -> Iterator[tuple[int, int]]:
        """(first, last) inclusive of each request; one open-ended request when ``whole``."""
        if self.whole:
            yield 0, self.size - 1
            return
        for first in range(0, self.size, self.part):
            yield first, min(first + self.part, self.size) - 1


# A reader fetches bytes first..last (inclusive), handing each buffer-full to ``deliver``; it times
# only its own work.
Deliver = Callable[[memoryview], None]


def _raw_reader(plan: Plan, context: ssl.SSLContext, timer: Timer, deliver: Deliver) -> None:
    parts = urlsplit(plan.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    buffer = memoryview(bytearray(plan.part))
    with timer.timed():
        sock = context.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
    try:
        for first, last in plan.ranges():
            with timer.timed():
                request = (
                    f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Range: bytes={first}-{last}\r\nAccept-Encoding: identity\r\n\r\n"
                ).encode()
                sock.sendall(request)
                head = bytearray()
                while b"\r\n\r\n" not in head:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise RuntimeError("the source closed the connection in the headers")
                    head += chunk
                header_block, _, early = bytes(head).partition(b"\r\n\r\n")
                length = _content_length(header_block)
            left = length
            while left:
                with timer.timed():
                    want = min(len(buffer), left)
                    filled = len(early[:want])
                    buffer[:filled] = early[:want]
                    early = early[want:]
                    while filled < want:
                        got = sock.recv_into(buffer[filled:want])
                        if not got:
                            raise RuntimeError("the source closed the connection in a body")
                        filled += got
                deliver(buffer[:want])
                left -= want
    finally:
        sock.close()


def _content_length(header_block: bytes) -> int:
    lines = header_block.decode("latin-1").split("\r\n")
    if not lines[0].split()[1].startswith("20"):
        raise RuntimeError(f"the source answered {lines[0]!r}")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value)
    raise RuntimeError("the source sent no Content-Length")


def _fill(read_into: Callable[[memoryview], int], view: memoryview) -> int:
    filled = 0
    while filled < len(view):
        got = read_into(view[filled:])
        if not got:
            break
        filled += got
    return filled


def _pieces(length: int, buffer: memoryview) -> Iterator[memoryview]:
    left = length
    while left:
        want = min(len(buffer), left)
        yield buffer[:want]
        left -= want


def _http_client_reader(
    plan: Plan, context: ssl.SSLContext, timer: Timer, deliver: Deliver
) -> None:
    import http.client  # noqa: PLC0415 - only the measured reader's modules are imported

    parts = urlsplit(plan.url)
    buffer = memoryview(bytearray(plan.part))
    with timer.timed():
        connection = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1", parts.port, context=context, timeout=60
        )
    try:
        for first, last in plan.ranges():
            with timer.timed():
                connection.request(
                    "GET",
                    parts.path,
                    headers={"Range": f"bytes={first}-{last}", "Accept-Encoding": "identity"},
                )
                response = connection.getresponse()
            for view in _pieces(last - first + 1, buffer):
                with timer.timed():
                    got = _fill(response.readinto, view)
                if got != len(view):
                    raise RuntimeError(f"http.client: body ended after {got} of {len(view)}")
                deliver(view)
            with timer.timed():
                response.close()
    finally:
        connection.close()


def _urllib3_reader(plan: Plan, context: ssl.SSLContext, timer: Timer, deliver: Deliver) -> None:
    import urllib3  # noqa: PLC0415

    parts = urlsplit(plan.url)
    buffer = memoryview(bytearray(plan.part))
    with timer.timed():
        pool = urllib3.HTTPSConnectionPool(
            parts.hostname or "127.0.0.1", parts.port, ssl_context=context, maxsize=1
        )
    try:
        for first, last in plan.ranges():
            with timer.timed():
                response = pool.request(
                    "GET",
                    parts.path,
                    headers={"Range": f"bytes={first}-{last}", "Accept-Encoding": "identity"},
                    preload_content=False,
                    decode_content=False,
                    redirect=False,
                    retries=False,
                )
            for view in _pieces(last - first + 1, buffer):
                with timer.timed():
                    got = _fill(response.readinto, view)
                if got != len(view):
                    raise RuntimeError(f"urllib3: body ended after {got} of {len(view)}")
                deliver(view)
            with timer.timed():
                response.release_conn()
    finally:
        pool.close()


def _httpx_reader(plan: Plan, context: ssl.SSLContext, timer: Timer, deliver: Deliver) -> None:
    import httpx  # noqa: PLC0415

    buffer = memoryview(bytearray(plan.part))
    with timer.timed():
        client = httpx.Client(verify=context, timeout=60)
    try:
        for first, last in plan.ranges():
            headers = {"Range": f"bytes={first}-{last}", "Accept-Encoding": "identity"}
            with timer.timed():
                stream = client.stream("GET", plan.url, headers=headers)
                response = stream.__enter__()
                chunks = response.iter_raw()
                pending = memoryview(b"")
            try:
                for view in _pieces(last - first + 1, buffer):
                    with timer.timed():
                        filled = 0
                        while filled < len(view):
                            if not pending:
                                pending = memoryview(next(chunks))
                            take = min(len(pending), len(view) - filled)
                            view[filled : filled + take] = pending[:take]
                            pending = pending[take:]
                            filled += take
                    deliver(view)
                with timer.timed():
                    for _ in chunks:  # the end of the body, so the connection is reused
                        pass
            finally:
                with timer.timed():
                    stream.__exit__(None, None, None)
    finally:
        client.close()


def _copier_reader(plan: Plan, context: ssl.SSLContext, timer: Timer, deliver: Deliver) -> None:
    sys.path.insert(0, str(REPO_ROOT / "layers" / "core"))
    from aiven_backup.copier.source import HttpSource  # noqa: PLC0415

    buffer = memoryview(bytearray(plan.part))
    with timer.timed():
        source = HttpSource(plan.url, connect_timeout=10, read_timeout=60, ssl_context=context)
    try:
        for first, last in plan.ranges():
            with timer.timed():
                body = source.open(first, last)
            try:
                for view in _pieces(last - first + 1, buffer):
                    with timer.timed():
                        got = _fill(body.readinto, view)
                    if got != len(view):
                        raise RuntimeError(f"copier: body ended after {got} of {len(view)}")
                    deliver(view)
            finally:
                with timer.timed():
                    body.close()
    finally:
        source.close()


_READER_FUNCTIONS: dict[str, Callable[[Plan, ssl.SSLContext, Timer, Deliver], None]] = {
    "raw": _raw_reader,
    "http.client": _http_client_reader,
    "urllib3": _urllib3_reader,
    "httpx": _httpx_reader,
    "copier": _copier_reader,
}


def run_child(reader: str, plan: Plan, ca_bundle: Path) -> dict[str, Any]:
    """Run one reader over the plan; its timed CPU and wall seconds and the data's CRC32."""
    context = ssl.create_default_context(cafile=str(ca_bundle))
    timer = Timer()
    state = {"crc": 0, "bytes": 0}

    def deliver(view: memoryview) -> None:  # untimed: checks every byte that was read
        state["crc"] = zlib.crc32(view, state["crc"])
        state["bytes"] += len(view)

    _READER_FUNCTIONS[reader](plan, context, timer, deliver)
    return {"cpu_s": timer.cpu_s, "wall_s": timer.wall_s, **state}


# ---- the parent: source, quotas, table ----------------------------------------------------------


@dataclass(frozen=True)
class ReaderRun:
    reader: str
    cpu_quota: float | None
    repeat: int
    ok: bool
    cpu_s_per_gib: float
    mib_s: float
    throttled: dict[str, float] | None
    load_average_before: list[float]
    problem: str = ""


def _run_in_quota(
    reader: str, plan: Plan, ca: Path, quota: float | None, expected_crc: int
) -> tuple[bool, dict[str, Any], dict[str, float] | None, str]:
    command = [sys.executable, "-m", "bench.body_readers", "--child", reader, "--url", plan.url]
    command += ["--ca", str(ca), "--size", str(plan.size), "--part", str(plan.part)]
    if plan.whole:
        command.append("--whole")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": "/tmp"}
    group = CpuQuotaGroup(quota) if quota is not None else None
    with group if group is not None else _nothing():
        wrapped = group.wrap(command) if group is not None else command
        done = subprocess.run(
            wrapped,
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=600,
        )
        throttled = asdict(group.throttling()) if group is not None else None
    if done.returncode != 0:
        return False, {}, throttled, done.stderr.strip()[-400:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["bytes"] != plan.size or result["crc"] != expected_crc:
        return False, result, throttled, "the bytes read differ from the source file"
    return True, result, throttled, ""


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def table(runs: list[ReaderRun]) -> str:
    lines = [
        "| reader | vCPU | CPU s/GiB (median) | CPU s/GiB (min-max) | MiB/s (median) "
        "| throttled periods | vs raw (CPU) | runs ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = list(dict.fromkeys((r.cpu_quota, r.reader) for r in runs))
    raw_cpu = {
        q: _median(
            [r.cpu_s_per_gib for r in runs if r.cpu_quota == q and r.reader == "raw" and r.ok]
        )
        for q, _ in keys
    }
    for quota, reader in sorted(keys, key=lambda k: (k[0] or 1e9, READERS.index(k[1]))):
        group = [r for r in runs if (r.cpu_quota, r.reader) == (quota, reader)]
        good = [r for r in group if r.ok]
        cpu = _median([r.cpu_s_per_gib for r in good])
        shares = [
            t["nr_throttled"] / t["nr_periods"]
            for r in good
            if (t := r.throttled) and t["nr_periods"]
        ]
        spread = (
            f"{min(r.cpu_s_per_gib for r in good)}-{max(r.cpu_s_per_gib for r in good)}"
            if good
            else "-"
        )
        base = raw_cpu.get(quota)
        lines.append(
            f"| {reader} | {'-' if quota is None else f'{quota:g}'} | {cpu if cpu else '-'} "
            f"| {spread} | {_median([r.mib_s for r in good]) or '-'} "
            f"| {f'{statistics.median(shares):.0%}' if shares else '-'} "
            f"| {f'{cpu / base:.2f}x' if cpu and base else '-'} | {len(good)}/{len(group)} |"
        )
    return "\n".join(lines) + "\n"


def _quotas(text: str) -> list[float | None]:
    return [None if item == "none" else float(item) for item in text.split(",") if item]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.body_readers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--cpu-quotas", type=_quotas, default=[0.58, 1.0])
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--whole", action="store_true", help="one bytes=0- body, not ranges")
    parser.add_argument("--out", type=Path, help="also write the runs and the table as JSON")
    # the child's arguments (internal)
    parser.add_argument("--child", choices=READERS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ca", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        plan = Plan(args.url, args.size, args.part, args.whole)
        print(json.dumps(run_child(args.child, plan, args.ca)))
        return 0
    readers = [r for r in args.readers.split(",") if r]
    unknown = set(readers) - set(READERS)
    if unknown:
        parser.error(f"unknown readers {sorted(unknown)}; choose from {', '.join(READERS)}")
    if any(q is not None for q in args.cpu_quotas):
        check_available()
    payload = cached_payload(args.size_mib)
    runs: list[ReaderRun] = []
    started_load = load_average()
    print(f"load average at start: {started_load}", file=sys.stderr, flush=True)
    with (
        throwaway_certificates() as certs,
        SourceServer(
            payload.path,
            honour_range=True,
            send_length=True,
            tls_cert=certs.server_cert,
            tls_key=certs.server_key,
        ) as source,
    ):
        plan = Plan(source.url, payload.size, args.part_mib * MIB, args.whole)
        for quota in args.cpu_quotas:
            for repeat in range(args.repeat):
                shift = repeat % len(readers)
                for reader in readers[shift:] + readers[:shift]:
                    before = load_average()
                    ok, result, throttled, problem = _run_in_quota(
                        reader, plan, certs.ca_cert, quota, payload.crc32
                    )
                    gib = payload.size / GIB
                    run = ReaderRun(
                        reader=reader,
                        cpu_quota=quota,
                        repeat=repeat,
                        ok=ok,
                        cpu_s_per_gib=round(result.get("cpu_s", 0.0) / gib, 2),
                        mib_s=round(payload.size / MIB / result["wall_s"], 1)
                        if result.get("wall_s")
                        else 0.0,
                        throttled=throttled,
                        load_average_before=before,
                        problem=problem,
                    )
                    runs.append(run)
                    print(
                        f"{reader:12} {quota or 'no cap'!s:>6} vCPU #{repeat}: "
                        f"{run.cpu_s_per_gib:5.2f} CPU s/GiB {run.mib_s:7.1f} MiB/s "
                        f"throttled {(throttled or {}).get('nr_throttled', '-')}/"
                        f"{(throttled or {}).get('nr_periods', '-')} load {before[0]:.1f} "
                        f"{'ok' if ok else 'FAILED ' + problem}",
                        file=sys.stderr,
                        flush=True,
                    )
    text = table(runs)
    print(text)
    if args.out:
        document = {
            "command": ["python", "-m", "bench.body_readers", *(argv or sys.argv[1:])],
            "machine": machine_facts() | {"load_average_at_end": load_average()},
            "load_average_at_start": started_load,
            "mode": "one bytes=0- body" if args.whole else f"{args.part_mib} MiB ranged GETs",
            "size_mib": args.size_mib,
            "runs": [asdict(r) for r in runs],
            "table_markdown": text,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())

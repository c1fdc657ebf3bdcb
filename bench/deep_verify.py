"""Deep-verification benchmark: verify every shard of a ~1 GiB real-format backup over the S3 API
(ranged GETs), on one core, against plainly reading the same object.

```
.venv/bin/python -m bench.deep_verify                 # 1024 MiB, one round
.venv/bin/python -m bench.deep_verify --size-mib 256 --profile
```

- The backup is ``local_runner.sample_backup``'s real format (16 shards of one TSM file each,
  8 series fields of integers, raw / run-length / simple8b timestamps, 250 points per block),
  cached in ``$TMPDIR/aiven-backup-bench/``.
- ``bench/source.py`` serves it over https (a throwaway CA: a Lambda reads S3 over TLS) from
  its own process, pinned to the other core: a file server honouring ``Range``, which boto3 and
  the AWS CLI read as a path-style S3 endpoint (any path is the file). moto is not used: it
  re-reads the whole object for every ranged GET, so it would measure itself.
- Each contender runs in its own process pinned to core 0 (``taskset``) under GNU ``time``
  (wall, CPU and peak RSS): ``aws s3 cp <object> /dev/null`` (Debian's AWS CLI v2, when
  installed: the issue's peer), a boto3 ``get_object`` read to a null sink, **read + inflate
  only** (every shard read and inflated as deep verification does, nothing checked: the floor
  no verifier of gzip shards can go below on one core) and the deep verification (index the
  tar, check the metastore, ``verify_shard`` every shard).
- ``--profile`` also runs the deep verification under cProfile on the local file (no S3) and
  prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.source import SourceServer
from bench.tls import Certificates, throwaway_certificates

CACHE_DIR = Path(tempfile.gettempdir()) / "aiven-backup-bench"
RESULTS_DIR = Path(__file__).parent / "results"
BUCKET = "deep-verify-bench"
KEY = "backup.tar"
SHARDS = 16
POINTS_PER_BLOCK = 250
_SERIES_FIELDS = 8
_BYTES_PER_POINT = 6.5  # of the packed tar, about (gzip shrinks the random 40-bit values)
_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class Measured:
    contender: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    mib_per_s: float
    cpu_s_per_gib: float
    detail: str = ""


def build_backup(size_mib: int, points_per_block: int = POINTS_PER_BLOCK) -> Path:
    """A real-format portable backup tar of about ``size_mib`` MiB, cached."""
    from local_runner.sample_backup import (  # noqa: PLC0415 - the workers need not import it
        SampleSeries,
        pack_tar,
        sample_backup_files,
    )

    blocks = "" if points_per_block == POINTS_PER_BLOCK else f"-{points_per_block}pt"
    path = CACHE_DIR / f"deep-verify-v2-{size_mib}{blocks}.tar"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    encodings = ("raw", "rle", "simple8b", "rle")
    series = tuple(
        SampleSeries(
            f"bench,host=h{n % 4},region=r{n // 4}#!~#value".encode(),
            timestamps=encodings[n % len(encodings)],
        )
        for n in range(_SERIES_FIELDS)
    )
    per_series = int(size_mib * 2**20 / SHARDS / _SERIES_FIELDS / _BYTES_PER_POINT)
    files = sample_backup_files(
        databases={"bench": ("autogen",)},
        shards_per_policy=SHARDS,
        series=series,
        points_per_series=per_series,
        points_per_block=points_per_block,
    )
    partial = path.with_suffix(".partial")
    partial.write_bytes(pack_tar(files))
    partial.rename(path)
    return path


def _s3(endpoint: str) -> Any:
    import boto3  # noqa: PLC0415 - imported where used: the parent process stays small

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=_ENV["AWS_DEFAULT_REGION"],
    )


def _run_pinned(
    contender: str,
    command: list[str],
    size: int,
    detail: str = "",
    env: dict[str, str] | None = None,
) -> Measured:
    """Run ``command`` on core 0 under GNU time: its wall time, CPU time and peak RSS (``time``
    is a small process, so the peak is the command's own, not this process's at fork)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as measured:
        completed = subprocess.run(
            ["/usr/bin/time", "-o", measured.name, "-f", "%e %U %S %M",
             "taskset", "-c", "0", *command],
            env={**os.environ, **_ENV, **(env or {}), "PYTHONPATH": _pythonpath()},
            capture_output=True,
            cwd=_ROOT,
            check=False,
        )  # fmt: skip
        figures = measured.read().split()
    output = completed.stdout.decode()
    if completed.returncode != 0:
        errors = completed.stderr.decode()[-2000:]
        raise SystemExit(f"{contender} failed with status {completed.returncode}: {errors}")
    wall, user, system, rss_kib = (float(v) for v in figures[-4:])
    cpu = user + system
    lines = output.strip().splitlines()
    return Measured(
        contender=contender,
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        peak_rss_mib=round(rss_kib / 1024, 1),
        mib_per_s=round(size / 2**20 / wall, 1),
        cpu_s_per_gib=round(cpu / (size / 2**30), 2),
        detail=detail or (lines[-1] if lines else ""),
    )


def _pythonpath() -> str:
    return f"{_ROOT}:{_ROOT / 'layers' / 'core'}"


def worker(endpoint: str, size: int) -> None:
    """The deep verification of ``s3://BUCKET/KEY``, as one process; prints a summary line."""
    verify_all(_reader(endpoint, size))


def _reader(endpoint: str, size: int) -> Any:
    from aiven_backup.verify.s3_ranges import S3RangeReader  # noqa: PLC0415

    return S3RangeReader(_s3(endpoint), BUCKET, KEY, size)


def _indexed(reader: Any) -> tuple[dict[str, Any], Any]:
    """The backup's members by name, and its manifest, read as the verification reads them."""
    from aiven_backup.verify.manifest import parse_manifest  # noqa: PLC0415
    from aiven_backup.verify.tar_index import index_tar  # noqa: PLC0415

    members = {m.name: m for m in index_tar(reader)}
    manifest_member = next(m for name, m in members.items() if name.endswith(".manifest"))
    manifest = parse_manifest(reader.read(manifest_member.offset, manifest_member.size), "bench")
    return members, manifest


def verify_all(reader: Any) -> None:
    from aiven_backup.verify import inflate  # noqa: PLC0415
    from aiven_backup.verify.data_inventory import DataInventory  # noqa: PLC0415
    from aiven_backup.verify.metastore import check_metastore  # noqa: PLC0415
    from aiven_backup.verify.shard import verify_shard  # noqa: PLC0415

    members, manifest = _indexed(reader)
    meta = members[manifest.meta_file_name]
    check_metastore(
        reader.read(meta.offset, meta.size), manifest.files, limited=False, location="bench"
    )
    inventory = DataInventory()
    for entry in manifest.files:
        inventory = inventory.merged(verify_shard(reader, members[entry.file_name], entry).data)
    print(
        f"{len(manifest.files)} shards, {inventory.blocks} blocks, {inventory.points} points, "
        f"{getattr(reader, 'requests', 0)} GETs, {inflate.name()}"
    )


def inflate_only(endpoint: str, size: int) -> None:
    """The floor under deep verification: every shard file read and inflated by deep
    verification's own reader (ranged reads with read-ahead, CRC32 and ISIZE checked by the
    inflater), the tar inside and its TSM files not looked at."""
    from aiven_backup.verify import inflate  # noqa: PLC0415
    from aiven_backup.verify.shard import CHUNK_SIZE, InflatedShard  # noqa: PLC0415

    reader = _reader(endpoint, size)
    members, manifest = _indexed(reader)
    inflated = 0
    for entry in manifest.files:
        shard = InflatedShard(
            reader, members[entry.file_name], entry, chunk_size=CHUNK_SIZE, read_ahead=True
        )
        try:
            while chunk := shard.next_chunk():
                inflated += len(chunk)
            shard.finish()
        finally:
            shard.close()
    print(f"{inflated} bytes inflated, {inflate.name()}")


def null_read(endpoint: str) -> None:
    """boto3 ``get_object``, the body read in 1 MiB reads and dropped."""
    body = _s3(endpoint).get_object(Bucket=BUCKET, Key=KEY)["Body"]
    total = 0
    while chunk := body.read(1024 * 1024):
        total += len(chunk)
    print(f"{total} bytes read")


class _FileReader:
    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        self.size = path.stat().st_size
        self.location = str(path)
        self.requests = 0

    def read(self, offset: int, length: int) -> bytes:
        self.requests += 1
        return os.pread(self._file.fileno(), length, offset)


def profile_local(path: Path) -> str:
    profiler = cProfile.Profile()
    started = time.process_time()
    profiler.runcall(verify_all, _FileReader(path))
    cpu = time.process_time() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(14)
    size_gib = path.stat().st_size / 2**30
    return f"local file, under cProfile: {cpu:.1f} CPU s ({cpu / size_gib:.1f} s/GiB)\n" + (
        out.getvalue()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument(
        "--points-per-block",
        type=int,
        default=POINTS_PER_BLOCK,
        help="points per TSM block (influxd writes up to 1000 once compacted)",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile a local run")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--worker", choices=("verify", "inflate", "null-read"), help=argparse.SUPPRESS
    )
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "verify":
        worker(args.endpoint, args.size)
        return
    if args.worker == "inflate":
        inflate_only(args.endpoint, args.size)
        return
    if args.worker == "null-read":
        null_read(args.endpoint)
        return

    path = build_backup(args.size_mib, args.points_per_block)
    size = path.stat().st_size
    with throwaway_certificates() as certificates:
        results = _measure_all(path, size, certificates)
    report = _report(results, size)
    print(report)
    profile = profile_local(path) if args.profile else ""
    if profile:
        print(profile)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out_dir / f"deep-verify-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "size_bytes": size,
                "results": [asdict(r) for r in results],
                "load_average": os.getloadavg(),
                "profile": profile,
            },
            indent=2,
        )
    )
    print(f"results: {out}")


def _measure_all(path: Path, size: int, certificates: Certificates) -> list[Measured]:
    """Every contender on core 0 against the https source on core 1 (Lambda reads S3 over TLS)."""
    source = SourceServer(
        path,
        honour_range=True,
        send_length=True,
        tls_cert=certificates.server_cert,
        tls_key=certificates.server_key,
    )
    ca = {"AWS_CA_BUNDLE": str(certificates.ca_cert)}
    with source:
        subprocess.run(
            ["taskset", "-p", "-c", "1", str(source.pid)], capture_output=True, check=True
        )
        endpoint = source.url.rsplit("/", 1)[0]  # any path is the file: a path-style S3 URL
        python = [sys.executable, "-m", "bench.deep_verify", "--endpoint", endpoint]
        results: list[Measured] = []
        aws = Path("/usr/bin/aws")
        if aws.exists():
            results.append(
                _run_pinned(
                    "aws s3 cp to /dev/null",
                    [str(aws), "s3", "cp", f"s3://{BUCKET}/{KEY}", "/dev/null",
                     "--endpoint-url", endpoint, "--no-progress"],
                    size,
                    detail=_first_line([str(aws), "--version"]).split()[0],
                    env=ca,
                )
            )  # fmt: skip
        results.append(
            _run_pinned(
                "boto3 get_object to null", [*python, "--worker", "null-read"], size, env=ca
            )
        )
        sized = ["--size", str(size)]
        results.append(
            _run_pinned(
                "read + inflate only", [*python, "--worker", "inflate", *sized], size, env=ca
            )
        )
        results.append(
            _run_pinned("deep verify", [*python, "--worker", "verify", *sized], size, env=ca)
        )
    return results


def _report(results: list[Measured], size: int) -> str:
    lines = [f"object: {size / 2**20:.0f} MiB, every contender on one core (taskset -c 0)"]
    lines.append(f"{'contender':28} {'wall s':>8} {'MiB/s':>8} {'CPU s':>7} {'CPU s/GiB':>10} "
                 f"{'peak RSS MiB':>13}")  # fmt: skip
    for r in results:
        lines.append(
            f"{r.contender:28} {r.wall_s:8.1f} {r.mib_per_s:8.1f} {r.cpu_s:7.1f} "
            f"{r.cpu_s_per_gib:10.2f} {r.peak_rss_mib:13.0f}  {r.detail}"
        )
    by_name = {r.contender: r for r in results}
    peer = by_name.get("aws s3 cp to /dev/null") or by_name["boto3 get_object to null"]
    for name in ("read + inflate only", "deep verify"):
        measured = by_name[name]
        lines.append(
            f"{name}: {measured.mib_per_s / peer.mib_per_s:.2f}x {peer.contender}'s speed "
            f"(deep verify's target >= {TARGET_RATIO}x); by CPU time, which load on the other "
            f"core does not skew, {peer.cpu_s_per_gib / measured.cpu_s_per_gib:.2f}x "
            f"({1024 / measured.cpu_s_per_gib:.0f} MiB/s on a core of its own); peak RSS "
            f"{measured.peak_rss_mib:.0f} MiB (target < 300)"
        )
    return "\n".join(lines)


def _first_line(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    return (completed.stdout or completed.stderr).strip().splitlines()[0]


if __name__ == "__main__":
    sys.path[:0] = [str(_ROOT), str(_ROOT / "layers" / "core")]
    main()

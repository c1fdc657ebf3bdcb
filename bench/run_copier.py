"""The copier as the CopyBackup Lambda runs it, in a process of its own.

Same entry (``copy_url_to_s3``), same ``CopyConfig()`` defaults, an S3 client configured as the
Lambda's (``workflow/services.py``: 32 pooled connections, standard retries) but pointed at the
sink, and the cursor round-tripped through JSON between invocations as Step Functions carries it.
Prints one JSON line: invocations, copy seconds, size, the process's own VmHWM, and an RSS
sampler's peak (with every thread's stack the first time RSS passed ``--rss-alarm-mib``).
``python -m bench.run_copier --url URL --endpoint URL --bucket B --key K --expected-size N``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import traceback
from pathlib import Path

import boto3
from botocore.config import Config

from aiven_backup.copier import CopyConfig, CopyCursor, CopyDone, copy_url_to_s3


class ProgressCount:
    """Stands in for the Lambda's progress logger (which logs every 5 %) at the same cost."""

    def __init__(self) -> None:
        self.calls = 0
        self.last_done = 0

    def __call__(self, done: int, total: int | None) -> None:
        self.calls += 1
        self.last_done = done


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s*(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def vm_hwm_kib() -> int:
    """This process's peak RSS as the kernel counts it (a cross-check of GNU time's figure)."""
    return _status_kib("VmHWM")


class RssWatch:
    """Samples RSS every 20 ms; the first time it passes ``alarm_mib``, records every thread's
    stack, so an unexpected peak can be traced to what the copier was doing at the time."""

    def __init__(self, alarm_mib: float) -> None:
        self.alarm_kib = alarm_mib * 1024
        self.started = time.perf_counter()
        self.peak_kib = 0
        self.peak_at_s = 0.0
        self.alarm: dict[str, object] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            rss = _status_kib("VmRSS")
            if rss > self.peak_kib:
                self.peak_kib, self.peak_at_s = rss, time.perf_counter() - self.started
            if rss > self.alarm_kib and self.alarm is None:
                names = {t.ident: t.name for t in threading.enumerate()}
                self.alarm = {
                    "at_s": round(time.perf_counter() - self.started, 3),
                    "rss_mib": round(rss / 1024, 1),
                    "stacks": {
                        names.get(ident, str(ident)): traceback.format_stack(frame)[-6:]
                        for ident, frame in sys._current_frames().items()
                        if ident != threading.get_ident()
                    },
                }

    def stop(self) -> dict[str, object]:
        self._stop.set()
        self._thread.join()
        return {
            "sampled_peak_rss_mib": round(self.peak_kib / 1024, 1),
            "sampled_peak_at_s": round(self.peak_at_s, 2),
            "rss_alarm": self.alarm,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--expected-size", type=int, required=True)
    parser.add_argument("--time-budget-s", type=float, default=840.0)
    parser.add_argument(
        "--rss-alarm-mib", type=float, default=200.0, help="record thread stacks above this RSS"
    )
    args = parser.parse_args()
    watch = RssWatch(args.rss_alarm_mib)

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        config=Config(
            max_pool_connections=32,
            retries={"mode": "standard", "max_attempts": 5},
            s3={"addressing_style": "path"},
        ),
    )
    config = CopyConfig()
    progress = ProgressCount()
    started = time.perf_counter()
    saved_cursor: str | None = None
    invocations = 0
    while True:
        invocations += 1
        cursor = CopyCursor.from_dict(json.loads(saved_cursor)) if saved_cursor else None
        outcome = copy_url_to_s3(
            args.url,
            s3=s3,
            bucket=args.bucket,
            key=args.key,
            time_budget_s=args.time_budget_s,
            cursor=cursor,
            config=config,
            progress=progress,
        )
        if isinstance(outcome, CopyDone):
            break
        saved_cursor = json.dumps(outcome.to_dict())
    copy_s = time.perf_counter() - started
    memory = watch.stop()

    size = s3.head_object(Bucket=args.bucket, Key=args.key)["ContentLength"]
    print(
        json.dumps(
            {
                "invocations": invocations,
                "copy_s": round(copy_s, 3),
                "size": size,
                "done": outcome.to_dict(),
                "progress_calls": progress.calls,
                "vm_hwm_mib": round(vm_hwm_kib() / 1024, 1),
                **memory,
            },
            default=str,
        )
    )
    if size != args.expected_size:
        print(f"object is {size} bytes, expected {args.expected_size}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

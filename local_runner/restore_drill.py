"""``python -m local_runner.restore_drill BACKUP``: restore a backup into a fresh influxd and check
that it answers with every point the backup holds.

``BACKUP`` is a local tar (``make demo`` writes ``demo-backup.tar``) or ``s3://bucket/key.tar``
(read with boto3's default session; ``--endpoint-url`` and ``--region`` as for the AWS CLI).

1. What the backup holds comes from the tar itself, through the verification library (see
   ``local_runner/drill_backup.py``): per (database, retention policy, measurement) its field
   values and its first and last timestamp.
2. The tar is extracted into a temporary folder (a member with an absolute name, a ``..`` step,
   a link or a device refuses the whole tar) and ``influxd restore -portable`` loads it into a
   fresh influxd with its own data folder and free loopback ports.
3. influxd imports the restored shards in the background: the restore command returns before
   every shard answers queries (Debian's 1.6.7 was seen to miss a whole shard's points when
   counted at once; a shard being imported answers "shard is disabled"). So the drill polls
   ``SELECT COUNT(*)`` per retention policy until the per-measurement counts equal the backup's
   in ``--stable-polls`` consecutive polls, or ``--timeout`` seconds pass (default 300); it
   reports progress on stderr while it waits.
4. It prints a table on stdout: measurement, expected and restored field values, expected and
   restored first and last timestamp, OK or MISMATCH (what is compared, exactly, is in
   ``local_runner/drill_report.py``).

Exit status: 0 when every measurement matches, 1 when one does not (or the backup is damaged, or
influxd refuses it), 2 on a usage error: bad arguments, a backup that cannot be read, or influxd
missing (``scripts/ensure-influxdb`` installs it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from aiven_backup.errors import BackupError, RestoreDrillUnavailable, RestoreFailed
from aiven_backup.verify.data_inventory import MeasurementKey
from local_runner.drill_backup import BackupContents, extract_backup, open_backup, read_contents
from local_runner.drill_report import (
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_USAGE,
    Figures,
    Row,
    compare,
    exit_status,
    expected_figures,
    render_table,
    verdict,
)
from local_runner.influxdb import (
    INSTALL_HINT,
    InfluxServer,
    InfluxServerError,
    influxd_available,
    quote_ident,
    shard_busy,
)

DEFAULT_TIMEOUT = 300.0
DEFAULT_POLL_INTERVAL = 0.5
DEFAULT_STABLE_POLLS = 2
PROGRESS_EVERY = 5.0
"""Seconds between two progress lines that say the same."""

type Counts = Mapping[MeasurementKey, int]
type FieldCounts = dict[MeasurementKey, dict[str, int]]
type Progress = Callable[[str], None]


@dataclass(frozen=True)
class WaitOptions:
    """How long to wait for the restored shards: ``timeout`` seconds in all, a poll every
    ``poll_interval`` seconds, done after ``stable_polls`` consecutive polls that agree with the
    backup."""

    timeout: float = DEFAULT_TIMEOUT
    poll_interval: float = DEFAULT_POLL_INTERVAL
    stable_polls: int = DEFAULT_STABLE_POLLS


@dataclass(frozen=True)
class WaitOutcome:
    """``settled``: the counts equalled the backup's in the polls asked for. ``exceeded``: they
    held steady above the backup's (or in a measurement it does not list), which no import
    still running can undo, so the wait stopped before the timeout."""

    counts: dict[MeasurementKey, int]
    settled: bool
    waited: float
    polls: int
    exceeded: bool = False


@dataclass(frozen=True)
class DrillResult:
    rows: list[Row]
    wait: WaitOutcome

    @property
    def exit_status(self) -> int:
        return exit_status(self.rows) if self.wait.settled else EXIT_MISMATCH


def wait_for_counts(
    read: Callable[[], Counts | None],
    expected: Counts,
    options: WaitOptions,
    *,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Poll ``read`` until it returns ``expected`` in ``options.stable_polls`` polls in a row.

    ``read`` returns the field values per measurement, or None while a shard is still being
    imported. Gives up (``settled=False``, with the last counts read) after ``options.timeout``
    seconds, or as soon as the counts hold steady above the backup's: an import only adds
    values, so waiting longer cannot bring them down. Progress lines go to ``progress`` when
    they change, and every few seconds.
    """
    wanted = {key: count for key, count in expected.items() if count}
    started = clock()
    latest: dict[MeasurementKey, int] = {}
    streak = steady = polls = 0
    last_line, last_time = "", -PROGRESS_EVERY
    while True:
        reading = read()
        polls += 1
        elapsed = clock() - started
        previous = latest
        if reading is not None:
            latest = {key: count for key, count in reading.items() if count}
        streak = streak + 1 if reading is not None and latest == wanted else 0
        steady = steady + 1 if reading is not None and latest == previous else 0
        line = _progress_line(reading, latest, wanted)
        if line != last_line or elapsed - last_time >= PROGRESS_EVERY:
            progress(f"[{elapsed:6.1f}s] {line}")
            last_line, last_time = line, elapsed
        if streak >= options.stable_polls:
            return WaitOutcome(latest, settled=True, waited=elapsed, polls=polls)
        if steady >= options.stable_polls and _exceeds(latest, wanted):
            return WaitOutcome(latest, settled=False, waited=elapsed, polls=polls, exceeded=True)
        if elapsed >= options.timeout:
            return WaitOutcome(latest, settled=False, waited=elapsed, polls=polls)
        sleep(min(options.poll_interval, max(options.timeout - elapsed, 0.0)))


def _exceeds(latest: dict[MeasurementKey, int], wanted: dict[MeasurementKey, int]) -> bool:
    return any(count > wanted.get(key, 0) for key, count in latest.items())


def _progress_line(
    reading: Counts | None, latest: dict[MeasurementKey, int], wanted: dict[MeasurementKey, int]
) -> str:
    if reading is None:
        return "shards still importing (influxd answers 'shard is disabled'); waiting"
    matching = sum(1 for key, count in wanted.items() if latest.get(key) == count)
    extra = len(set(latest) - set(wanted))
    text = (
        f"{matching} of {len(wanted)} measurement(s) match; "
        f"{sum(latest.values()):,} of {sum(wanted.values()):,} field values restored"
    )
    return text + (f"; {extra} measurement(s) the backup does not list" if extra else "")


def read_field_counts(server: InfluxServer) -> FieldCounts | None:
    """``COUNT(*)`` per field of every measurement of every retention policy; None while a
    shard is still being imported."""
    counts: FieldCounts = {}
    try:
        for db in server.databases():
            for policy in server.retention_policies(db):
                source = f"{quote_ident(db)}.{quote_ident(policy.name)}./.*/"
                # Every identifier is quoted by quote_ident, so none can end the statement.
                body = server.query(f"SELECT COUNT(*) FROM {source}", db=db)  # noqa: S608
                for series in _series(body):
                    row = dict(zip(series["columns"], series["values"][0], strict=True))
                    fields = {
                        column.removeprefix("count_"): int(value)
                        for column, value in row.items()
                        if column.startswith("count_") and value
                    }
                    if fields:
                        counts[db, policy.name, series["name"]] = fields
    except InfluxServerError as error:
        if shard_busy(error):
            return None
        raise
    return counts


def read_counts(server: InfluxServer) -> dict[MeasurementKey, int] | None:
    """Field values per measurement: the sum over its fields of ``COUNT(field)``."""
    per_field = read_field_counts(server)
    if per_field is None:
        return None
    return {key: sum(fields.values()) for key, fields in per_field.items()}


def read_figures(server: InfluxServer) -> dict[MeasurementKey, Figures]:
    """Field values, and the earliest ``first()`` and latest ``last()`` time over the fields.

    A shard still importing leaves the times unknown (None) rather than failing the report.
    """
    per_field = read_field_counts(server) or {}
    figures: dict[MeasurementKey, Figures] = {}
    for key, fields in per_field.items():
        source = ".".join(quote_ident(part) for part in key)
        statements = [
            f"SELECT {selector}({quote_ident(field)}) FROM {source}"  # noqa: S608 (quoted)
            for selector in ("FIRST", "LAST")
            for field in sorted(fields)
        ]
        try:
            body = server.query("; ".join(statements), db=key[0])
        except InfluxServerError as error:
            if not shard_busy(error):
                raise
            figures[key] = Figures(sum(fields.values()))
            continue
        # One result per statement, in order: the FIRST of every field, then the LAST.
        times = [_selected_time(result) for result in body.get("results", [])]
        firsts = [t for t in times[: len(fields)] if t is not None]
        lasts = [t for t in times[len(fields) :] if t is not None]
        figures[key] = Figures(
            sum(fields.values()), min(firsts, default=None), max(lasts, default=None)
        )
    return figures


def _selected_time(result: dict[str, Any]) -> int | None:
    """The time of the point a FIRST() or LAST() statement selected (None: no point)."""
    for series in result.get("series", []):
        for values in series.get("values", []):
            return int(values[0])
    return None


def _series(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [series for result in body.get("results", []) for series in result.get("series", [])]


def drill(
    tar_path: Path,
    contents: BackupContents,
    workdir: Path,
    options: WaitOptions,
    *,
    progress: Progress,
) -> DrillResult:
    """Extract ``tar_path`` into ``workdir``, restore it into a fresh influxd there, wait until
    it answers with the backup's figures (or ``options.timeout``), and compare."""
    folder = extract_backup(tar_path, contents.folder, workdir / "extracted")
    expected = expected_figures(contents.data)
    command_timeout = max(120.0, options.timeout)
    try:
        with InfluxServer(workdir / "influxd", command_timeout=command_timeout) as server:
            progress(
                f"Restoring into a fresh influxd (data in {server.workdir}, HTTP "
                f"{server.http_url}, RPC {server.rpc_address})..."
            )
            server.restore_portable(folder, wait_for_import=False)
            progress(
                "influxd restore exited; influxd imports the shards in the background, so "
                f"counting until the figures hold (at most {options.timeout:g} s)..."
            )
            outcome = wait_for_counts(
                lambda: read_counts(server),
                {key: figures.points for key, figures in expected.items()},
                options,
                progress=progress,
            )
            restored = read_figures(server)
    except InfluxServerError as error:
        raise RestoreFailed(f"the restore drill of {tar_path} failed: {error}") from error
    return DrillResult(rows=compare(expected, restored), wait=outcome)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_runner.restore_drill",
        description="Restore a backup tar into a fresh local influxd, wait until every shard is "
        "imported, and compare points and first/last timestamps per measurement with what the "
        "backup holds. Exit 0 when all match, 1 when not, 2 on a usage error.",
    )
    parser.add_argument("backup", metavar="BACKUP", help="a backup tar, or s3://bucket/key.tar")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the restored data to match (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between two counts (default {DEFAULT_POLL_INTERVAL:g})",
    )
    parser.add_argument(
        "--stable-polls",
        type=int,
        default=DEFAULT_STABLE_POLLS,
        metavar="N",
        help=f"consecutive matching counts needed (default {DEFAULT_STABLE_POLLS})",
    )
    parser.add_argument(
        "--skip-without-influxd",
        action="store_true",
        help="when influxd is missing, say the drill was skipped and exit 0 (make demo uses it)",
    )
    parser.add_argument("--endpoint-url", default=None, help="an S3-compatible endpoint")
    parser.add_argument("--region", default=None, help="the S3 bucket's region")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.poll_interval <= 0:
        parser.error("--timeout and --poll-interval must be positive")
    if args.stable_polls < 1:
        parser.error("--stable-polls must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    err = sys.stderr

    def progress(line: str) -> None:
        print(line, file=err, flush=True)

    if not influxd_available() and args.skip_without_influxd:
        print(f"Restore drill skipped: influxd (InfluxDB 1.x) is not installed; {INSTALL_HINT}")
        return EXIT_OK
    if not influxd_available():
        print(
            "restore drill: influxd (InfluxDB 1.x) is not on PATH; "
            f"{INSTALL_HINT} (or install InfluxDB 1.6 to 1.8 so that influxd is on PATH)",
            file=err,
        )
        return EXIT_USAGE
    options = WaitOptions(args.timeout, args.poll_interval, args.stable_polls)
    with tempfile.TemporaryDirectory(prefix="restore-drill-") as tmp:
        workdir = Path(tmp)
        try:
            s3 = (
                boto3.client("s3", endpoint_url=args.endpoint_url, region_name=args.region)
                if args.backup.startswith("s3://")
                else None
            )
            with open_backup(args.backup, workdir, s3=s3) as opened:
                progress(f"Reading what {opened.source.location} holds...")
                contents = read_contents(opened.source)
                _describe(opened.source.location, contents, progress)
                result = drill(opened.tar_path, contents, workdir, options, progress=progress)
        except RestoreDrillUnavailable as error:
            print(f"restore drill: {error}", file=err)
            return EXIT_USAGE
        except (ClientError, BotoCoreError) as error:
            print(f"restore drill: could not read {args.backup} from S3: {error}", file=err)
            return EXIT_USAGE
        except BackupError as error:
            print(f"restore drill: {error}", file=err)
            return EXIT_MISMATCH
    print(render_table(result.rows))
    print(verdict(result.rows))
    if result.wait.exceeded:
        print(
            "The restored influxd holds more values than the backup lists, steadily: an import "
            "only adds values, so the drill stopped waiting. The backup's inventory misses "
            "data the shards hold."
        )
    elif not result.wait.settled:
        print(
            f"The restored counts did not reach the backup's within {options.timeout:g} s "
            f"({result.wait.polls} polls): a shard may still be importing (try a longer "
            "--timeout) or the restore lost data."
        )
    else:
        waited = result.wait.waited
        print(f"The restored counts held for {options.stable_polls} polls after {waited:.1f} s.")
    return result.exit_status


def _describe(location: str, contents: BackupContents, progress: Progress) -> None:
    where = f"folder {contents.folder}/" if contents.folder else "the tar's root"
    progress(f"{location}: {contents.shards} shard(s) in {where}; {contents.data.summary_text()}")
    if contents.shards and not contents.data.measurements:
        progress(
            "  the verification library read no points from the shards: this build's "
            "verify_shard does not read TSM data yet, so every restored measurement will "
            "differ from the (empty) expectation"
        )


if __name__ == "__main__":
    sys.exit(main())

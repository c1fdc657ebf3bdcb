"""A real ``influxd`` (InfluxDB 1.x) on loopback ports in a temporary directory, for tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

type FieldValue = float | int | str | bool
type TagSet = tuple[tuple[str, str], ...]
type SeriesKey = tuple[str, TagSet, str]
"""(measurement, sorted tag pairs, retention policy)."""
type Point = tuple[int, dict[str, FieldValue]]
"""(time in epoch nanoseconds, field values)."""

INSTALL_HINT = "run scripts/ensure-influxdb (make test does it) to install Debian's influxdb"
_ADDRESS_IN_USE = "address already in use"
_SHARD_BUSY = ("shard is disabled", "engine is closed")
"""What a query meets on a shard that is still being created or imported."""


class InfluxServerError(RuntimeError):
    """influxd did not start, or a query, write, backup or restore against it failed."""


@dataclass(frozen=True)
class RetentionPolicy:
    name: str
    duration: str
    shard_group_duration: str
    default: bool


def influxd_available() -> bool:
    """Whether the ``influxd`` binary is on PATH."""
    return shutil.which("influxd") is not None


class InfluxServer:
    """Runs ``influxd run`` with its meta, data and WAL inside ``workdir``; stops it on exit.

    Use as a context manager. HTTP and the backup/RPC service bind free loopback ports.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
        command_timeout: float = 120.0,
        start_attempts: int = 3,
    ) -> None:
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.command_timeout = command_timeout
        self.start_attempts = start_attempts
        self.http_port = 0
        self.rpc_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "influxdb.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "influxd.log"

    @property
    def rpc_address(self) -> str:
        return f"127.0.0.1:{self.rpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start influxd and wait until ``/ping`` answers; retries if a picked port was taken."""
        binary = shutil.which("influxd")
        if binary is None:
            raise InfluxServerError(f"influxd is not on PATH: {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.start_attempts + 1):
            self.http_port, self.rpc_port = _free_loopback_ports(2)
            self.config_path.write_text(self._config_text(), encoding="utf-8")
            try:
                self._launch(binary)
                return
            except InfluxServerError as error:
                self.stop()
                if _ADDRESS_IN_USE not in str(error) or attempt == self.start_attempts:
                    raise
            except BaseException:
                self.stop()  # never leave an influxd behind, even on Ctrl-C or a test timeout
                raise

    def stop(self) -> None:
        """Terminate influxd (kill it if it does not exit in time). Safe to call twice."""
        if self._client is not None:
            self._client.close()
            self._client = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _launch(self, binary: str) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "run", "-config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        self._client = httpx.Client(base_url=self.http_url, timeout=self.command_timeout)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise InfluxServerError(
                    f"influxd exited with status {self._process.returncode} while starting; "
                    f"its log ({self.log_path}) ends with: {self._log_tail()}"
                )
            try:
                if self._client.get("/ping", timeout=1.0).status_code == 204:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise InfluxServerError(
            f"influxd did not answer /ping on {self.http_url} within {self.start_timeout} s; "
            f"its log ({self.log_path}) ends with: {self._log_tail()}"
        )

    def _config_text(self) -> str:
        def path(name: str) -> str:
            return json.dumps(str(self.workdir / name))  # a JSON string is a valid TOML string

        # Everything that would add data or chatter of its own is off: the _internal monitor
        # database, retention enforcement, shard precreation and continuous queries.
        return f"""\
reporting-enabled = false
bind-address = "{self.rpc_address}"

[meta]
  dir = {path("meta")}
  logging-enabled = false

[data]
  dir = {path("data")}
  wal-dir = {path("wal")}
  query-log-enabled = false

[monitor]
  store-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  bind-address = "127.0.0.1:{self.http_port}"
  log-enabled = false
  max-row-limit = 0

[logging]
  level = "error"
  suppress-logo = true
"""

    def _log_tail(self, limit: int = 2000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return text[-limit:].strip() or "(empty)"

    @property
    def _http(self) -> httpx.Client:
        if self._client is None:
            raise InfluxServerError("influxd is not running: use InfluxServer as a context manager")
        return self._client

    # -- HTTP API ----------------------------------------------------------------------------

    def query(self, q: str, db: str | None = None, *, epoch: str = "ns") -> dict[str, Any]:
        """Run InfluxQL statement(s); raise if any statement reports an error."""
        params = {"epoch": epoch} | ({"db": db} if db is not None else {})
        response = self._http.post("/query", params=params, data={"q": q})
        if response.status_code != 200:
            raise InfluxServerError(
                f"query {q!r} failed: HTTP {response.status_code} {response.text.strip()}"
            )
        body: dict[str, Any] = response.json()
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxServerError(f"query {q!r} failed: {result['error']}")
        return body

    def write(
        self, db: str, lines: Iterable[str], rp: str | None = None, precision: str = "s"
    ) -> None:
        """Write line-protocol lines into ``db`` (and ``rp``, else the default policy)."""
        params = {"db": db, "precision": precision} | ({"rp": rp} if rp is not None else {})
        body = "\n".join(lines).encode()
        response = self._http.post("/write", params=params, content=body)
        if response.status_code != 204:
            raise InfluxServerError(
                f"write into {db}.{rp or '(default)'} failed: "
                f"HTTP {response.status_code} {response.text.strip()}"
            )

    def create_database(self, db: str) -> None:
        self.query(f"CREATE DATABASE {quote_ident(db)}")

    def create_retention_policy(
        self, db: str, name: str, duration: str, shard_duration: str, default: bool = False
    ) -> None:
        statement = (
            f"CREATE RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)} "
            f"DURATION {duration} REPLICATION 1 SHARD DURATION {shard_duration}"
        )
        self.query(statement + (" DEFAULT" if default else ""))

    def databases(self) -> list[str]:
        return sorted(row[0] for row in _rows(self.query("SHOW DATABASES")))

    def retention_policies(self, db: str) -> list[RetentionPolicy]:
        body = self.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
        return [
            RetentionPolicy(
                name=row["name"],
                duration=row["duration"],
                shard_group_duration=row["shardGroupDuration"],
                default=row["default"],
            )
            for row in _records(body)
        ]

    def shard_ids(self, db: str) -> list[int]:
        """IDs of the shards that hold ``db`` (every retention policy)."""
        body = self.query("SHOW SHARDS")
        return sorted(
            row["id"]
            for series in _series(body)
            if series.get("name") == db
            for row in _series_records(series)
        )

    def field_types(self, db: str) -> dict[tuple[str, str], str]:
        """``{(measurement, field): type}`` in ``db``; types: float, integer, string, boolean."""
        body = self.query("SHOW FIELD KEYS", db=db)
        return {
            (series["name"], row["fieldKey"]): row["fieldType"]
            for series in _series(body)
            for row in _series_records(series)
        }

    def dump_points(self, db: str) -> dict[SeriesKey, list[Point]]:
        """Every point of every series of ``db``, across all retention policies, in time order."""
        measurements = [row[0] for row in _rows(self.query("SHOW MEASUREMENTS", db=db))]
        dump: dict[SeriesKey, list[Point]] = {}
        for policy in self.retention_policies(db):
            for measurement in measurements:
                source = ".".join(quote_ident(part) for part in (db, policy.name, measurement))
                # Every identifier is quoted by quote_ident, so none can end the statement.
                body = self.query(f"SELECT * FROM {source} GROUP BY *", db=db)  # noqa: S608
                for series in _series(body):
                    # GROUP BY * reports tag keys a series lacks as "": that is not a tag it has.
                    tags = tuple(sorted((k, v) for k, v in series.get("tags", {}).items() if v))
                    columns: list[str] = series["columns"]
                    points = dump.setdefault((measurement, tags, policy.name), [])
                    for values in series["values"]:
                        row = dict(zip(columns, values, strict=True))
                        timestamp = row.pop("time")
                        fields = {k: v for k, v in row.items() if v is not None}
                        points.append((timestamp, fields))
        return dump

    # -- backup and restore ------------------------------------------------------------------

    def backup_portable(self, dest: Path) -> Path:
        """``influxd backup -portable`` of every database into ``dest``; returns ``dest``."""
        self._run_influxd("backup", "-portable", "-host", self.rpc_address, str(dest))
        return dest

    def restore_portable(
        self,
        src: Path,
        db: str | None = None,
        newdb: str | None = None,
        *,
        wait_for_import: bool = True,
    ) -> None:
        """``influxd restore -portable`` from ``src`` (all databases unless ``db`` is given).

        Returns once the server has imported every shard, into databases that did not exist;
        with ``wait_for_import=False`` as soon as the command exits (the restore drill waits on
        its own terms).
        """
        args = ["restore", "-portable", "-host", self.rpc_address]
        if db is not None:
            args += ["-db", db]
        if newdb is not None:
            args += ["-newdb", newdb]
        self._run_influxd(*args, str(src))
        if wait_for_import:
            self._wait_until_imported(_tsm_files_per_policy(src, db, newdb))

    def _wait_until_imported(self, expected: dict[tuple[str, str], int]) -> None:
        """Wait until the restored shards are on disk and answer queries.

        The restore command streams each shard to the server and exits without waiting for the
        import, which runs with the shard disabled ("shard is disabled", influxdata/influxdb#19510;
        a shard still being opened answers "engine is closed").
        Once every TSM file of the backup is in place, a query that reaches every shard succeeds
        only after the last import has finished.
        """
        deadline = time.monotonic() + self.start_timeout
        while True:
            on_disk = {key: self._tsm_file_count(*key) for key in expected}
            if all(on_disk[key] >= count for key, count in expected.items()) and all(
                self._every_shard_answers(*key) for key in expected
            ):
                return
            if time.monotonic() > deadline:
                raise InfluxServerError(
                    f"restored shards still importing after {self.start_timeout} s: expected "
                    f"TSM files per (database, policy) {expected}, found {on_disk}"
                )
            time.sleep(0.05)

    def _tsm_file_count(self, db: str, rp: str) -> int:
        return sum(1 for _ in (self.workdir / "data" / db / rp).glob("*/*.tsm"))

    def _every_shard_answers(self, db: str, rp: str) -> bool:
        source = f"{quote_ident(db)}.{quote_ident(rp)}./.*/"
        try:
            self.query(f"SELECT count(*) FROM {source}", db=db)  # noqa: S608 (quoted identifiers)
        except InfluxServerError as error:
            if shard_busy(error):
                return False
            raise
        return True

    def _run_influxd(self, *args: str) -> None:
        binary = shutil.which("influxd")
        if binary is None:
            raise InfluxServerError(f"influxd is not on PATH: {INSTALL_HINT}")
        completed = subprocess.run(
            [binary, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=self.command_timeout,
            check=False,
        )
        if completed.returncode != 0:
            output = (completed.stdout + completed.stderr).decode(errors="replace").strip()
            raise InfluxServerError(
                f"influxd {args[0]} exited with status {completed.returncode}: {output[-2000:]}"
            )


def shard_busy(error: InfluxServerError) -> bool:
    """Whether a query failed only because a shard is still being created or imported."""
    return any(state in str(error) for state in _SHARD_BUSY)


def _tsm_files_per_policy(
    src: Path, db: str | None, newdb: str | None
) -> dict[tuple[str, str], int]:
    """``{(target database, policy): TSM files}`` that restoring ``src`` imports."""
    manifests = sorted(src.glob("*.manifest"))
    if not manifests:
        raise InfluxServerError(f"no *.manifest in {src}: not a portable backup")
    manifest = json.loads(manifests[-1].read_text(encoding="utf-8"))
    expected: dict[tuple[str, str], int] = {}
    for entry in manifest.get("files") or []:
        if db is not None and entry["database"] != db:
            continue
        if not (src / entry["fileName"]).is_file():
            continue  # influxd restore skips it too, and exits 0: the caller must check for it
        target = newdb if db is not None and newdb is not None else entry["database"]
        with tarfile.open(src / entry["fileName"], "r:gz") as shard:
            tsm_files = sum(1 for name in shard.getnames() if name.endswith(".tsm"))
        key = (target, entry["policy"])
        expected[key] = expected.get(key, 0) + tsm_files
    return expected


def quote_ident(name: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _free_loopback_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1 right now (each held open until all are picked)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _series(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [series for result in body.get("results", []) for series in result.get("series", [])]


def _series_records(series: dict[str, Any]) -> list[dict[str, Any]]:
    columns: list[str] = series["columns"]
    return [dict(zip(columns, values, strict=True)) for values in series.get("values", [])]


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for series in _series(body) for row in _series_records(series)]


def _rows(body: dict[str, Any]) -> list[list[Any]]:
    return [values for series in _series(body) for values in series.get("values", [])]

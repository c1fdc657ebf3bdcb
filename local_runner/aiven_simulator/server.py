"""The simulator's HTTP server: Aiven's API endpoints and the backup download host on one port."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from local_runner.aiven_simulator.download import send_text, serve_backup
from local_runner.aiven_simulator.faults import DownloadSettings, Faults
from local_runner.aiven_simulator.state import (
    BACKUP_NAME,
    DEFAULT_BACKUP,
    DEFAULT_FAILURE_RESULT,
    SimulatedService,
    TaskOutcome,
    UriLocation,
    aiven_error_body,
)

logger = logging.getLogger(__name__)

UNAUTHORIZED_MESSAGE = "Invalid token"
_PROBE_RANGE = "bytes=0-0"  # a one-byte read: is the backup there? (not its data)
SIMULATOR_TOKEN = "sim-token"  # noqa: S105 (the simulator's default, not a real credential)
DEFAULT_ROUTES: Mapping[str, bool] = {"public": True, "private": False, "privatelink": False}


class AivenSimulator:
    """A real HTTP server on a free loopback port behaving like the parts of Aiven we use.

    See the package docstring for the API; ``with AivenSimulator() as sim:`` starts and stops it.
    """

    def __init__(self, token: str = SIMULATOR_TOKEN, *, backup_host: str = "127.0.0.1") -> None:
        self.token = token
        self.backup_host = backup_host
        self.faults = Faults()
        self.download = DownloadSettings()
        self.requests: list[tuple[str, str]] = []
        self.download_requests: list[tuple[str, str, str | None]] = []
        self._services: dict[tuple[str, str], SimulatedService] = {}
        self._projects: set[str] = set()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()  # wakes stalled handlers when the server stops
        # Downloads in flight per (project, service), and the most services downloading at once.
        self._downloading_now: Counter[tuple[str, str]] = Counter()
        self.peak_concurrent_downloads = 0
        # Services with a backup in progress: a task created, its data not downloaded yet.
        self._in_progress: set[tuple[str, str]] = set()
        self._changed = threading.Condition(self._lock)
        self._lockstep_until: float | None = None  # monotonic deadline while armed
        self.lockstep_timed_out = False

    # --- Lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.simulator = self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="aiven-simulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Aiven simulator is not running; use start() or `with`")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The API base URL to give ``AivenClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}"

    # --- The account -----------------------------------------------------------------------

    def add_project(self, project: str) -> None:
        """A project with no services (a project nobody added answers 404)."""
        with self._lock:
            self._projects.add(project)

    def add_service(
        self,
        project: str,
        name: str,
        *,
        service_type: str = "influxdb",
        state: str = "RUNNING",
        vpc: bool = False,
        routes: Mapping[str, bool] | None = None,
        uri_location: UriLocation = "connection_info",
        backup: bytes = DEFAULT_BACKUP,
        polls_until_done: int = 1,
        seconds_until_done: float = 0.0,
        task_outcome: TaskOutcome = "success",
        failure_result: str = DEFAULT_FAILURE_RESULT,
        existing_backup_name: str | None = None,
    ) -> SimulatedService:
        """Add (or replace) a service; returns it so a test can change it later."""
        service = SimulatedService(
            project=project,
            name=name,
            service_type=service_type,
            state=state,
            vpc=vpc,
            routes={**DEFAULT_ROUTES, **(routes or {})},
            uri_location=uri_location,
            backup=backup,
            polls_until_done=polls_until_done,
            seconds_until_done=seconds_until_done,
            task_outcome=task_outcome,
            failure_result=failure_result,
            existing_backup_name=existing_backup_name,
        )
        with self._lock:
            self._projects.add(project)
            self._services[(project, name)] = service
        return service

    def service(self, project: str, name: str) -> SimulatedService:
        with self._lock:
            return self._services[(project, name)]

    def remove_service(self, project: str, name: str) -> None:
        """Delete a service (as Aiven did to InfluxDB services after end of life)."""
        with self._lock:
            self._services.pop((project, name), None)

    def backup_uri(self, project: str, name: str) -> str:
        """The ``user_backup_uri`` handed out for the service (with its basic-auth credentials)."""
        service = self.service(project, name)
        return (
            f"http://{service.user}:{service.password}@{self.backup_host}:{self.port}"
            f"/backups/{project}/{name}"
        )

    def hold_downloads_in_lockstep(self, timeout: float = 60.0) -> None:
        """Hold each download until every service with a backup in progress (its task created,
        its data not downloaded yet) is downloading too.

        Then ``peak_concurrent_downloads`` is exactly the number of backups that run at once:
        with a bound of N it is N (not less, as tiny downloads that overlap only by chance would
        give), and without a bound it is every service started. If a backup never downloads
        (its run failed), holding stops after ``timeout`` seconds and ``lockstep_timed_out`` is
        set, so nothing hangs.
        """
        with self._lock:
            self._lockstep_until = time.monotonic() + timeout

    def download_transport(self) -> httpx.BaseTransport:
        """An httpx transport that connects every request to this server, keeping its Host.

        For URLs whose host name does not resolve here (``public-127.0.0.1`` after the public
        route's rewrite): the request still reaches the download host, which checks the name.
        """
        return _LoopbackTransport(self.port)

    # --- Used by the request handler -------------------------------------------------------

    def _lookup(self, project: str, name: str) -> tuple[bool, SimulatedService | None]:
        with self._lock:
            return project in self._projects, self._services.get((project, name))

    def _services_of(self, project: str) -> tuple[bool, list[SimulatedService]]:
        with self._lock:
            services = [s for (p, _), s in self._services.items() if p == project]
            return project in self._projects, services

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def _record_download(self, method: str, path: str, byte_range: str | None) -> None:
        with self._lock:
            self.download_requests.append((method, path, byte_range))

    def _backup_started(self, project: str, service: str) -> None:
        with self._changed:
            self._in_progress.add((project, service))
            self._changed.notify_all()

    @contextlib.contextmanager
    def _downloading(self, project: str, service: str, byte_range: str | None) -> Iterator[None]:
        """Count one download of ``project/service`` in flight while the block runs."""
        key = (project, service)
        with self._changed:
            self._downloading_now[key] += 1
            at_once = len(self._downloading_now)
            self.peak_concurrent_downloads = max(self.peak_concurrent_downloads, at_once)
            self._changed.notify_all()
            while self._lockstep_until is not None and not self._stopping.is_set():
                if self._in_progress <= set(self._downloading_now):
                    break
                if time.monotonic() > self._lockstep_until:
                    self._lockstep_until = None
                    self.lockstep_timed_out = True
                    break
                self._changed.wait(0.05)
        try:
            yield
        finally:
            with self._changed:
                self._downloading_now[key] -= 1
                if self._downloading_now[key] <= 0:
                    del self._downloading_now[key]
                if byte_range != _PROBE_RANGE:  # the data itself: this backup is downloaded
                    self._in_progress.discard(key)
                self._changed.notify_all()


class _LoopbackTransport(httpx.BaseTransport):
    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    simulator: AivenSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up is normal here (faults, aborted downloads); anything else is a bug."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("aiven simulator: client %s went away: %s", client_address, error)
        else:
            logger.exception("aiven simulator: request from %s failed", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("aiven simulator: " + format, *args)

    def _dispatch(self) -> None:
        simulator = self.server.simulator
        parts = urlsplit(self.path)
        segments = [unquote(segment) for segment in parts.path.split("/")[1:]]
        body = self._read_body()
        if segments[:1] == ["v1"]:
            simulator._record(self.command, parts.path)
            _ApiRequest(self, simulator, segments, parts.query, body).answer()
        elif segments[:1] == ["backups"] and len(segments) == 4:
            simulator._record_download(self.command, parts.path, self.headers.get("Range"))
            found, service = simulator._lookup(segments[1], segments[2])
            # The service's own download faults, when it has any armed, else the global ones.
            faults = simulator.faults
            if found and service is not None and service.faults.arms_downloads():
                faults = service.faults
            with simulator._downloading(segments[1], segments[2], self.headers.get("Range")):
                serve_backup(
                    self,
                    service if found else None,
                    segments[3],
                    backup_host=simulator.backup_host,
                    settings=simulator.download,
                    faults=faults,
                )
        else:
            send_text(self, 404, "not found\n")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        if isinstance(body, str | bytes):
            payload = body.encode() if isinstance(body, str) else body
            content_type = "text/html; charset=utf-8"
        else:
            payload = json.dumps(body).encode()
            content_type = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class _ApiRequest:
    """One API call: faults first (like a rate limiter in front), then auth, then the endpoint."""

    def __init__(
        self,
        handler: _Handler,
        simulator: AivenSimulator,
        segments: list[str],
        query: str,
        body: bytes,
    ) -> None:
        self.handler = handler
        self.simulator = simulator
        self.segments = segments
        self.query = parse_qs(query)
        self.body = body
        self.method = handler.command

    def answer(self) -> None:
        path = urlsplit(self.handler.path).path
        fault = self.simulator.faults.take_api_fault(self.method, path)
        named = self._named_service()
        if fault is None and named is not None:
            fault = named.faults.take_api_fault(self.method, path)
        if fault is not None:
            if fault.kind == "disconnect":
                self.handler.close_connection = True
                return
            if fault.kind == "status":
                self.handler.send_json(fault.status, fault.body, fault.headers)
                return
            if fault.kind == "hold" and fault.hold is not None:
                fault.hold.entered.set()
                while not fault.hold.released.wait(0.02):
                    if self.simulator._stopping.is_set():
                        self.handler.close_connection = True
                        return
            elif self.simulator._stopping.wait(fault.seconds):
                self.handler.close_connection = True
                return
        if not self._authorized():
            self._error(401, UNAUTHORIZED_MESSAGE)
            return
        self._route()

    def _authorized(self) -> bool:
        header = self.handler.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        return scheme.lower() in ("aivenv1", "bearer") and token == self.simulator.token

    def _named_service(self) -> SimulatedService | None:
        """The service a ``/v1/project/{p}/service/{s}...`` call names, if the account has it."""
        if len(self.segments) >= 5 and self.segments[:2] == ["v1", "project"]:
            return self.simulator._lookup(self.segments[2], self.segments[4])[1]
        return None

    def _route(self) -> None:
        match self.segments:
            case ["v1", "project", project, "service"] if self.method == "GET":
                self._list_services(project)
            case ["v1", "project", project, "service", name] if self.method == "GET":
                self._get_service(project, name)
            case ["v1", "project", project, "service", name, "task"] if self.method == "POST":
                self._create_task(project, name)
            case ["v1", "project", project, "service", name, "task", task_id] if (
                self.method == "GET"
            ):
                self._get_task(project, name, task_id)
            case _:
                self._error(404, "Not found")

    def _list_services(self, project: str) -> None:
        exists, services = self.simulator._services_of(project)
        if not exists:
            self._project_missing(project)
            return
        self._ok({"services": [self._describe(service, secrets=False) for service in services]})

    def _get_service(self, project: str, name: str) -> None:
        service = self._service_or_404(project, name)
        if service is not None:
            secrets = self.query.get("include_secrets", ["false"])[0].lower() == "true"
            self._ok({"service": self._describe(service, secrets=secrets)})

    def _create_task(self, project: str, name: str) -> None:
        service = self._service_or_404(project, name)
        if service is None:
            return
        request = _json_object(self.body)
        options = request.get("create_user_backup")
        backup_name = options.get("backup_name") if isinstance(options, dict) else None
        if request.get("task_type") != "create_user_backup":
            self._error(400, "Invalid task_type", "invalid_request")
        elif not isinstance(backup_name, str) or not BACKUP_NAME.fullmatch(backup_name):
            self._error(
                400, "Invalid backup_name: letters, digits and .:_+- only", "invalid_request"
            )
        elif service.service_type != "influxdb":
            self._error(400, "Task not supported for this service type", "invalid_service_type")
        elif service.state == "POWEROFF":
            self._error(409, "Service is not powered on", "not_powered")
        elif service.state != "RUNNING":
            self._error(409, f"Service is {service.state}", "service_not_running")
        else:
            task = service.start_backup(backup_name)
            self.simulator._backup_started(project, name)
            self._ok({"message": "created", "task": task.to_api(service.service_type)})

    def _get_task(self, project: str, name: str, task_id: str) -> None:
        service = self._service_or_404(project, name)
        if service is None:
            return
        task = service.poll(task_id)
        if task is None:
            self._error(404, "Task not found")
        else:
            self._ok({"task": task.to_api(service.service_type)})

    def _service_or_404(self, project: str, name: str) -> SimulatedService | None:
        project_exists, service = self.simulator._lookup(project, name)
        if not project_exists:
            self._project_missing(project)
        elif service is None:
            self._error(404, f"Service {name} does not exist", "service_does_not_exist")
        return service if project_exists else None

    def _project_missing(self, project: str) -> None:
        self._error(404, f"Project {project} does not exist", "project_does_not_exist")

    def _describe(self, service: SimulatedService, *, secrets: bool) -> dict[str, Any]:
        port = int(self.handler.server.server_address[1])
        return service.to_api(self.simulator.backup_host, port, include_secrets=secrets)

    def _ok(self, body: Mapping[str, Any]) -> None:
        self.handler.send_json(200, body)

    def _error(self, status: int, message: str, error_code: str | None = None) -> None:
        self.handler.send_json(status, aiven_error_body(status, message, error_code))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}

"""What the simulated Aiven account holds: services, their backup tasks and their current backup."""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from local_runner.aiven_simulator.faults import Faults

UriLocation = Literal["connection_info", "service_uri_params", "components"]
TaskOutcome = Literal["success", "failure"]

BACKUP_NAME = re.compile(r"[A-Za-z0-9.:_+-]{1,256}")
DEFAULT_BACKUP = b"simulated Aiven for InfluxDB user backup\n"
DEFAULT_FAILURE_RESULT = "Backup failed: simulated failure of create_user_backup"
SUPERSEDED_RESULT = "Backup aborted: replaced by a newer create_user_backup request"
ROUTE_PREFIXES = {"public": "public-", "privatelink": "privatelink-1-"}


def aiven_error_body(status: int, message: str, error_code: str | None = None) -> dict[str, Any]:
    """Aiven's error shape: ``{"errors": [{"status", "message", "error_code"?}], "message"}``."""
    error: dict[str, Any] = {"message": message, "status": status}
    if error_code:
        error["error_code"] = error_code
    return {"errors": [error], "message": message}


@dataclass
class SimulatedTask:
    """A ``create_user_backup`` task: ``success`` is null until enough polls and seconds passed."""

    task_id: str
    backup_name: str
    polls_until_done: int
    seconds_until_done: float
    outcome: TaskOutcome
    failure_result: str
    created: float = field(default_factory=time.monotonic)
    polls: int = 0
    superseded: bool = False

    def done(self) -> bool:
        if self.superseded:
            return True
        return (
            self.polls >= self.polls_until_done
            and time.monotonic() - self.created >= self.seconds_until_done
        )

    def succeeded(self) -> bool:
        return self.done() and not self.superseded and self.outcome == "success"

    def to_api(self, service_type: str) -> dict[str, Any]:
        success: bool | None = None
        result = ""
        if self.done():
            success = self.succeeded()
            if self.superseded:
                result = SUPERSEDED_RESULT
            elif success:
                result = f"Backup {self.backup_name} created"
            else:
                result = self.failure_result
        return {
            "task_id": self.task_id,
            # Aiven may prefix the task type; clients must not compare it strictly.
            "task_type": f"{service_type}_create_user_backup",
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "success": success,
            "result": result,
            "result_codes": [],
            "simulator_note": "unknown keys like this one must be ignored",
        }


def _new_faults() -> Faults:
    # Imported here: the faults module imports this one.
    from local_runner.aiven_simulator.faults import Faults  # noqa: PLC0415

    return Faults()


@dataclass
class SimulatedService:
    """One service. Attributes may be changed by tests at any time (e.g. ``state = "POWEROFF"``)."""

    project: str
    name: str
    service_type: str = "influxdb"
    state: str = "RUNNING"
    vpc: bool = False
    routes: dict[str, bool] = field(
        default_factory=lambda: {"public": True, "private": False, "privatelink": False}
    )
    uri_location: UriLocation = "connection_info"
    backup: bytes = DEFAULT_BACKUP
    polls_until_done: int = 1
    seconds_until_done: float = 0.0
    task_outcome: TaskOutcome = "success"
    failure_result: str = DEFAULT_FAILURE_RESULT
    user: str = "avnadmin"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_urlsafe(12))
    tasks: dict[str, SimulatedTask] = field(default_factory=dict)
    # The one backup the service holds: a task (served once it succeeded) or a name (existing).
    current_task_id: str | None = None
    existing_backup_name: str | None = None
    # Bumped by ``replace_backup``: the backup's bytes changed under the same name.
    backup_generation: int = 0
    backup_modified: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # This service's own faults: its API calls and its downloads meet them before the
    # simulator's global ones, so one service can be rate-limited while the others are not.
    faults: Faults = field(default_factory=_new_faults, repr=False)

    def start_backup(self, backup_name: str) -> SimulatedTask:
        """A new backup replaces the current one at once (documented choice, see the package)."""
        with self.lock:
            running = self.tasks.get(self.current_task_id or "")
            if running is not None and not running.done():
                running.superseded = True
            task = SimulatedTask(
                task_id=str(uuid.uuid4()),
                backup_name=backup_name,
                polls_until_done=self.polls_until_done,
                seconds_until_done=self.seconds_until_done,
                outcome=self.task_outcome,
                failure_result=self.failure_result,
            )
            self.tasks[task.task_id] = task
            self.current_task_id = task.task_id
            self.existing_backup_name = None
            return task

    def poll(self, task_id: str) -> SimulatedTask | None:
        with self.lock:
            task = self.tasks.get(task_id)
            if task is not None:
                task.polls += 1
            return task

    def served_backup_name(self) -> str | None:
        """The name whose ``.tar`` the download host serves now, if any."""
        with self.lock:
            if self.existing_backup_name is not None:
                return self.existing_backup_name
            task = self.tasks.get(self.current_task_id or "")
            return task.backup_name if task is not None and task.succeeded() else None

    def backup_etag(self) -> str:
        """A strong ETag: a new task's backup, and replaced bytes, each get a new one."""
        generation = f"-g{self.backup_generation}" if self.backup_generation else ""
        return f'"{self.current_task_id or self.existing_backup_name}{generation}"'

    def backup_last_modified(self) -> str:
        """``Last-Modified`` of the served backup, an HTTP date (whole seconds)."""
        return formatdate(self.backup_modified, usegmt=True)

    def replace_backup(self, replacement: bytes) -> None:
        """Swap the served bytes for ``replacement`` under the same name, as if the backup were
        made again: a new ETag and a ``Last-Modified`` at least a second later."""
        with self.lock:
            self.backup = replacement
            self.backup_generation += 1
            self.backup_modified = max(time.time(), self.backup_modified + 1.0)

    def user_config(self) -> dict[str, Any]:
        return {
            f"{route}_access": {"user_backup": self.routes.get(route, False)}
            for route in ("public", "private", "privatelink")
        }

    def host_for_route(self, backup_host: str, route: str) -> str:
        return ROUTE_PREFIXES.get(route, "") + backup_host

    def routes_by_host(self, backup_host: str) -> dict[str, str]:
        """Host name -> route, for the routes this service exposes now."""
        hosts = {backup_host: "dynamic"}
        if self.vpc and self.routes.get("public"):
            hosts[self.host_for_route(backup_host, "public")] = "public"
        if self.routes.get("privatelink"):
            hosts[self.host_for_route(backup_host, "privatelink")] = "privatelink"
        return hosts

    def to_api(self, backup_host: str, port: int, *, include_secrets: bool) -> dict[str, Any]:
        password = self.password if include_secrets else "<redacted>"
        path = f"/backups/{self.project}/{self.name}"
        uri = f"http://{self.user}:{password}@{backup_host}:{port}{path}"
        body: dict[str, Any] = {
            "service_name": self.name,
            "service_type": self.service_type,
            "state": self.state,
            "project_vpc_id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.project))
            if self.vpc
            else None,
            "plan": "startup-4",
            "cloud_name": "aws-eu-west-1",
            "user_config": self.user_config(),
            "service_uri": f"https://avnadmin:{password}@influx-{self.name}.example:443",
            # The InfluxDB HTTP endpoint: NOT the backup host; clients must not use it.
            "service_uri_params": {
                "host": f"influx-{self.name}.example",
                "port": "443",
                "user": "avnadmin",
                "password": password,
                "dbname": "defaultdb",
            },
            "connection_info": {"influxdb": [f"influx-{self.name}.example:443"]},
            "components": [
                {
                    "component": "influxdb",
                    "host": f"influx-{self.name}.example",
                    "port": 443,
                    "route": "dynamic",
                    "usage": "primary",
                }
            ],
            "future_field": {"clients": "must ignore unknown keys"},
        }
        if self.uri_location == "connection_info":
            body["connection_info"]["user_backup_uri"] = uri
        elif self.uri_location == "service_uri_params":
            body["service_uri_params"].update(
                {
                    "user_backup_host": backup_host,
                    "user_backup_port": str(port),
                    "user_backup_user": self.user,
                    "user_backup_password": password,
                    "user_backup_path": path,
                    "user_backup_ssl": False,
                }
            )
        else:
            body["components"] += [
                {
                    "component": "user_backup",
                    "host": host,
                    "port": port,
                    "route": route,
                    "usage": "primary",
                    "path": path,
                    "ssl": False,
                    # [I] Aiven's components carry no credentials; the simulator adds them so a
                    # components-only service can still be downloaded from.
                    "user": self.user,
                    "password": password,
                }
                for host, route in self.routes_by_host(backup_host).items()
            ]
        return body

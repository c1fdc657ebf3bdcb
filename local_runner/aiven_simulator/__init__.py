"""A loopback simulator of the Aiven API parts a user backup needs, and of the backup host.

Usage::

    with AivenSimulator(token="sim-token") as sim:
        svc = sim.add_service("acme", "metrics-influx", backup=tar_bytes)
        client = AivenClient("sim-token", base_url=sim.base_url)
        # download URLs point at http://<user>:<password>@127.0.0.1:<port>/backups/acme/...,
        # so the download guard needs allowed_hosts=["127.0.0.1"] and allow_insecure=True.

``AivenSimulator(token="sim-token", *, backup_host="127.0.0.1")``
    ``start()``/``stop()`` or a ``with`` block; ``port``; ``base_url`` (the API base URL);
    ``token`` (the one token accepted, as ``aivenv1 <token>`` or ``Bearer <token>``; anything
    else gets Aiven's 401 body); ``requests``: ``(method, path)`` of every API call, so a test
    can assert "no Aiven call"; ``download_requests``: ``(method, path, Range header)``.
``add_project(project)``
    A project without services (unknown projects answer 404 ``project_does_not_exist``).
``add_service(project, name, *, service_type="influxdb", state="RUNNING", vpc=False,
routes={"public": True, "private": False, "privatelink": False},
uri_location="connection_info" | "service_uri_params" | "components", backup=b"...",
polls_until_done=1, seconds_until_done=0.0, task_outcome="success" | "failure",
failure_result="...", existing_backup_name=None) -> SimulatedService``
    ``backup`` is the exact bytes served as the tar (any size; streamed in 1 MiB chunks from a
    memoryview). ``existing_backup_name`` serves ``<name>.tar`` at once, without a task (mode
    "existing"). The task reports ``success: null`` until it was polled ``polls_until_done``
    times AND ``seconds_until_done`` passed (``polls_until_done=0``: done in the create answer),
    then ``true`` or ``false`` with ``failure_result``. The returned ``SimulatedService`` may be
    changed later: ``state``, ``backup``, ``routes``, ``vpc``, ``task_outcome``, ...; its
    ``user``/``password`` are the download host's basic-auth credentials.
``service(project, name)``, ``remove_service(project, name)`` (deleted: 404
    ``service_does_not_exist``), ``backup_uri(project, name)`` (the ``user_backup_uri`` handed out).
``peak_concurrent_downloads``
    The most services whose backups were being downloaded at the same moment (several requests
    for one service count once). ``hold_downloads_in_lockstep(timeout=60)`` holds each download
    until every service with a backup in progress (task created, data not downloaded yet) is
    downloading too, so the peak is exactly how many backups run at once; it gives up holding
    after ``timeout`` (``lockstep_timed_out``) when one never downloads.
``download_transport() -> httpx.BaseTransport``
    Sends every request to this server keeping the ``Host`` header, for host names that do not
    resolve here (the public route's ``public-127.0.0.1``, privatelink's ``privatelink-1-...``).
``download`` (``DownloadSettings``): ``content_length=False`` (chunked, no length),
    ``ranges=False`` (``Range`` ignored, always 200), ``head=False`` (``HEAD`` gets 403),
    ``etag=False`` / ``last_modified=False`` (no such validator). ``If-Range`` is honoured: a
    range whose validator is not the current backup's is answered 200 with the whole backup.
``faults`` (``Faults``), each firing for ``count``/``times`` requests, ``faults.clear()`` disarms:
    ``api_status(status, count=1, body=None, *, paths=None, methods=None, retry_after=None)``
    (429 carries Aiven's real "Rate limit 120 exceeded - try again in 28s" body; ``body`` may be
    a str for a malformed answer; ``paths`` is a glob such as ``"*/task/*"``),
    ``api_disconnect(count)``, ``api_stall(seconds, count)``, ``drop_download_after(nbytes,
    times=1)`` (TCP reset mid-body), ``truncate_download(nbytes, times=1)`` (full length
    announced, fewer bytes sent), ``wrong_content_length(announced, times=1)``,
    ``download_status(status, count=1)``, ``trickle(bytes_per_second | None)``,
    ``replace_backup_at(offset, replacement, drop=True) -> Replacement`` (once a data GET's body
    reaches ``offset``, the service serves ``replacement`` under the same name with a new ETag and
    a later Last-Modified; ``drop`` resets the connection there),
    ``api_hold(paths=None, methods=None) -> Hold`` (matching calls wait until ``hold.release()``;
    ``hold.entered`` is set once one waits).
Many services, each independent: every ``SimulatedService`` has its own ``faults`` (the same
    switches), met by its API calls (``/v1/project/{p}/service/{s}...``) and its downloads before
    the global ones; its own ``state``, tasks and backup bytes. ``GET /v1/project/{p}/service``
    lists every service of the project (any type, secrets redacted).

Endpoints (Aiven's shapes; errors are ``{"errors": [{"status", "message", "error_code"}],
"message"}``): ``GET /v1/project/{p}/service``, ``GET /v1/project/{p}/service/{s}``
(``include_secrets=true`` reveals passwords, else ``<redacted>``), ``POST .../task``
(``create_user_backup``: 400 bad name, 409 ``not_powered`` when POWEROFF), ``GET .../task/{id}``
(404 unknown task). Download host: ``GET|HEAD /backups/{p}/{s}/{backup_name}.tar`` behind basic
auth; 404 until the task succeeded, and 404 for any name but the current backup's.

Where the backup URI appears: ``connection_info.user_backup_uri``; or ``service_uri_params``
``user_backup_host``/``_port``/``_user``/``_password``/``_path``/``_ssl`` parts (beside the
InfluxDB endpoint's own ``host``/``port``, which are NOT the backup host); or ``components``
entries ``{"component": "user_backup", "route": ...}`` for each exposed route. Host names per
route: dynamic and private use ``backup_host``, public (VPC services with public access)
``public-<backup_host>``, privatelink ``privatelink-1-<backup_host>``; the download host refuses a
host name the service does not expose.

A second ``create_user_backup`` while a task runs (Aiven facts: "a new backup replaces the previous
one"; nothing says it is refused) is accepted: the running task ends at once with
``success: false`` and a "replaced by a newer create_user_backup request" result, and the previous
backup's tar answers 404 from that moment.
"""

from local_runner.aiven_simulator.faults import RATE_LIMIT_MESSAGE, DownloadSettings, Faults
from local_runner.aiven_simulator.server import AivenSimulator
from local_runner.aiven_simulator.state import (
    SimulatedService,
    TaskOutcome,
    UriLocation,
    aiven_error_body,
)

__all__ = [
    "RATE_LIMIT_MESSAGE",
    "AivenSimulator",
    "DownloadSettings",
    "Faults",
    "SimulatedService",
    "TaskOutcome",
    "UriLocation",
    "aiven_error_body",
]

"""The few Aiven API calls a user backup needs, with bounded retries and named errors.

The token goes only into this client's ``Authorization`` header: it is registered as a secret so
no log line shows it, and it is never part of an exception or ``repr``. Never use this client (or
its headers) for the backup download host.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from aiven_backup.aiven.api_errors import (
    ApiCall,
    error_for_status,
    is_retryable_status,
    parse_error_body,
)
from aiven_backup.aiven.models import BackupTask, Service
from aiven_backup.backup_name import validate_backup_name
from aiven_backup.errors import (
    AivenMalformedResponse,
    AivenUnavailable,
    InvalidExecutionInput,
)
from aiven_backup.redaction import redact, register_secret
from aiven_backup.retry import Attempts, GaveUp, RetryPolicy, parse_retry_hint

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.aiven.io"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_RETRY_POLICY = RetryPolicy()
"""Aiven's own Go client: about 6 attempts, 2-15 s apart, here at most 120 s of waiting."""
USER_AGENT = "aiven-influxdb-backup"

# Transport errors that prove the request never reached Aiven: safe to retry even a POST.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AivenClient:
    """A synchronous Aiven API client; use as a context manager or call ``close()``."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
    ) -> None:
        """``deadline``: a ``time.monotonic()`` moment (the invocation's end, less a margin) by
        which every call must be answered or given up as ``AivenUnavailable``, which the state
        machine retries: no request or wait runs past it."""
        token = token.strip()
        if not token:
            raise ValueError("an Aiven API token is required")
        register_secret(token)
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._sleep = sleep
        self._deadline = deadline
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"aivenv1 {token}", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"AivenClient(base_url={self.base_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- The API ---------------------------------------------------------------------------

    def get_service(self, project: str, service: str) -> Service:
        """The service with its secrets (``include_secrets=true``: the backup URI's password)."""
        call = self._call("GET", project, service)
        body = self._request(call, params={"include_secrets": "true"})
        return Service.from_api(project, _member(body, "service", call))

    def list_services(self, project: str) -> list[Service]:
        """Every service of the project (any type; Aiven does not paginate this list)."""
        call = self._call("GET", project)
        services = _member(self._request(call), "services", call)
        if not isinstance(services, list):
            raise AivenMalformedResponse(f"Aiven's answer to {call} has no list of services")
        return [Service.from_api(project, item) for item in services]

    def create_user_backup(self, project: str, service: str, backup_name: str) -> BackupTask:
        """Start a ``create_user_backup`` task. It REPLACES the service's previous user backup."""
        validate_backup_name(backup_name)
        call = self._call("POST", project, service, task=True)
        body = self._request(
            call,
            json={
                "task_type": "create_user_backup",
                "create_user_backup": {"backup_name": backup_name},
            },
        )
        task = BackupTask.from_api(_member(body, "task", call))
        logger.info("Aiven accepted backup %r of %s as task %s", backup_name, call, task.task_id)
        return task

    def get_task(self, project: str, service: str, task_id: str) -> BackupTask:
        """The task's current state; ``BackupTaskNotFound`` when Aiven no longer knows it."""
        call = self._call("GET", project, service, task_id=task_id)
        return BackupTask.from_api(_member(self._request(call), "task", call))

    # --- Plumbing --------------------------------------------------------------------------

    @staticmethod
    def _call(
        method: str,
        project: str,
        service: str | None = None,
        *,
        task: bool = False,
        task_id: str | None = None,
    ) -> ApiCall:
        """``/v1/project/{p}/service[/{s}[/task[/{id}]]]`` with every name percent-encoded."""
        names = {"project": project, "service": service, "task_id": task_id}
        for field_name, value in names.items():
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidExecutionInput(field_name, "must be a non-empty string")
        segments = ["v1", "project", quote(project, safe=""), "service"]
        if service is not None:
            segments.append(quote(service, safe=""))
        if task or task_id is not None:
            segments.append("task")
        if task_id is not None:
            segments.append(quote(task_id, safe=""))
        path = "/" + "/".join(segments)
        return ApiCall(method, path, project=project, service=service, task_id=task_id)

    def _request(
        self,
        call: ApiCall,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        attempts = Attempts(self.retry, deadline=self._deadline)
        while True:
            attempt = attempts.made + 1
            started = time.monotonic()
            timeout = self._timeout_before_deadline(call, started)
            try:
                response = self._http.request(
                    call.method, call.path, params=params, json=json, timeout=timeout
                )
            except httpx.TransportError as error:
                retry_safe = call.method == "GET" or isinstance(error, _NOT_SENT_ERRORS)
                wait = attempts.next_wait() if retry_safe else None
                if wait is None:
                    out_of_time = attempts.gave_up is GaveUp.OUT_OF_TIME
                    raise self._unavailable(call, error, attempt, retry_safe, out_of_time) from None
                logger.warning(
                    "Aiven API %s failed (%s); retry %d in %.1f s",
                    call,
                    type(error).__name__,
                    attempt,
                    wait,
                )
                self._sleep(wait)
                continue
            elapsed = time.monotonic() - started
            logger.debug("Aiven API %s -> %d in %.2f s", call, response.status_code, elapsed)
            if response.is_success:
                return _json_object(response, call)
            status = response.status_code
            body = parse_error_body(response)
            hint = parse_retry_hint(response.headers.get("Retry-After"), body.message)
            if is_retryable_status(status):
                wait = attempts.next_wait(hint)
                if wait is not None:
                    logger.warning(
                        "Aiven API %s answered %d; retry %d in %.1f s",
                        call,
                        status,
                        attempt,
                        wait,
                    )
                    self._sleep(wait)
                    continue
            raise error_for_status(call, status, body, attempts=attempt, retry_after=hint)

    def _timeout_before_deadline(self, call: ApiCall, now: float) -> httpx.Timeout:
        """The client's timeouts, cut so the request ends by the deadline."""
        if self._deadline is None:
            return self._timeout
        left = self._deadline - now
        if left <= 0:
            raise AivenUnavailable(
                f"No time was left in this invocation to call the Aiven API ({call}): earlier "
                "calls or their retries used it up. The step is retried."
            )
        cut = {
            name: min(value, left) if value else left
            for name, value in self._timeout.as_dict().items()
        }
        return httpx.Timeout(**cut)

    def _unavailable(
        self,
        call: ApiCall,
        error: httpx.TransportError,
        attempts: int,
        retry_safe: bool,
        out_of_time: bool = False,
    ) -> AivenUnavailable:
        reason = redact(str(error)) or "no detail"
        message = (
            f"Could not get an answer from the Aiven API at {self.base_url} for {call} after "
            f"{attempts} attempt(s): {type(error).__name__} ({reason}). Check that the "
            "functions can reach the Aiven API (NAT gateway, security groups, DNS)."
        )
        if out_of_time:
            message += " The invocation's time was nearly spent, so it stopped retrying."
        if not retry_safe:
            message += (
                " The request may have reached Aiven before the connection broke: check the "
                "service for a backup task before requesting another one."
            )
        return AivenUnavailable(message)


def _json_object(response: httpx.Response, call: ApiCall) -> Mapping[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        content_type = response.headers.get("Content-Type", "no content type")
        raise AivenMalformedResponse(
            f"Aiven answered {call} with HTTP {response.status_code} but the body is not a JSON "
            f"object ({content_type}, {len(response.content)} bytes). Check the API base URL.",
            status=response.status_code,
        )
    return data


def _member(body: Mapping[str, Any], key: str, call: ApiCall) -> Any:
    if key not in body:
        raise AivenMalformedResponse(
            f"Aiven's answer to {call} has no {key!r}; keys were {sorted(body)[:10]}"
        )
    return body[key]

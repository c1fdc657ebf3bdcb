"""Turn Aiven's error answers into the named exceptions of ``aiven_backup.errors``.

Aiven's error body is ``{"errors": [{"status", "message", "error_code"?, ...}], "message": ...}``;
codes are optional and new ones appear, so the message text is used as a fallback signal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from aiven_backup.errors import (
    AivenApiError,
    AivenForbidden,
    AivenRateLimited,
    AivenRequestRejected,
    AivenServerError,
    AivenUnauthorized,
    BackupTaskNotFound,
    ProjectNotFound,
    ServiceNotFound,
    ServiceNotPowered,
)
from aiven_backup.redaction import redact

INFLUXDB_END_OF_LIFE_NOTE = (
    "Note: Aiven for InfluxDB reached end of life on 2025-04-30; after that date Aiven powered "
    "off and deleted InfluxDB services, so a service that is gone cannot be backed up any more."
)
IP_ALLOWLIST_CODE = "api_client_ip_allowlist_blocks_caller"
_PROJECT_CODES = frozenset({"project_does_not_exist", "project_not_found"})
_SERVICE_CODES = frozenset({"service_does_not_exist", "service_not_found"})
_MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class ApiCall:
    """What was being asked, so an error can name the project, service and request."""

    method: str
    path: str
    project: str | None = None
    service: str | None = None
    task_id: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def service_name(self) -> str:
        return f"{self.project}/{self.service}"


@dataclass(frozen=True)
class AivenErrorBody:
    message: str
    error_code: str | None

    def describe(self, status: int) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        return f"HTTP {status}{code}: {self.message}"


def parse_error_body(response: httpx.Response) -> AivenErrorBody:
    """Aiven's message and ``error_code``, whatever shape (or non-JSON) the body has."""
    try:
        data: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    message: str | None = None
    code: str | None = None
    if isinstance(data, dict):
        errors = data.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else None
        if isinstance(first, dict):
            message = _text(first.get("message"))
            code = _text(first.get("error_code"))
        message = message or _text(data.get("message"))
        code = code or _text(data.get("error_code"))
    if not message:
        message = response.text.strip() or response.reason_phrase or "no message"
    return AivenErrorBody(message=redact(message[:_MAX_MESSAGE_CHARS]), error_code=code)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def is_retryable_status(status: int) -> bool:
    return status in (408, 429) or (500 <= status <= 599 and status != 501)


def error_for_status(
    call: ApiCall,
    status: int,
    body: AivenErrorBody,
    *,
    attempts: int = 1,
    retry_after: float | None = None,
) -> AivenApiError | BackupTaskNotFound:
    """The exception for a non-2xx answer (after retries, for the retryable ones)."""
    detail = body.describe(status)
    code = body.error_code
    lowered = body.message.lower()
    if status in _CLIENT_ERROR_BUILDERS:
        return _CLIENT_ERROR_BUILDERS[status](call, detail, code, lowered)
    if status == 409 and (code == "not_powered" or "not powered" in lowered):
        return ServiceNotPowered(
            f"Aiven service '{call.service_name}' is powered off ({detail}). Power it on in the "
            f"Aiven console (or `avn service update --project {call.project} --power-on "
            f"{call.service}`), wait until it is RUNNING, then start the backup again. "
            + INFLUXDB_END_OF_LIFE_NOTE,
            status=status,
            error_code=code,
        )
    if status == 429:
        waited = f" after {attempts} attempts" if attempts > 1 else ""
        return AivenRateLimited(
            f"Aiven kept rate-limiting {call}{waited} ({detail}). Too many API calls are made "
            "with this token; the backup can be retried later.",
            status=status,
            error_code=code,
            retry_after=retry_after,
        )
    if is_retryable_status(status):
        return AivenServerError(
            f"The Aiven API answered {call} with a server error after {attempts} attempt(s) "
            f"({detail}). This is usually temporary; the backup can be retried later.",
            status=status,
            error_code=code,
        )
    return AivenRequestRejected(
        f"Aiven rejected {call} ({detail}); repeating the same request will not help. "
        "Check the project, service and backup settings the request was made with.",
        status=status,
        error_code=code,
    )


def _unauthorized(call: ApiCall, detail: str, code: str | None, lowered: str) -> AivenUnauthorized:
    return AivenUnauthorized(
        f"Aiven rejected the API token for {call} ({detail}). Check that the token in the "
        "Secrets Manager secret is current and not revoked; create a new application-user "
        "token in the Aiven console if needed.",
        status=401,
        error_code=code,
    )


def _forbidden(call: ApiCall, detail: str, code: str | None, lowered: str) -> AivenForbidden:
    if code == IP_ALLOWLIST_CODE or IP_ALLOWLIST_CODE in lowered:
        advice = (
            f"The token's IP allow-list blocks this caller ({IP_ALLOWLIST_CODE}): add the "
            "egress IP address of the backup functions (for example the NAT gateway's) to the "
            "token's allowed IP ranges, or use a token without an IP allow-list."
        )
    else:
        advice = (
            "The token's user lacks permission: give it access to the project (read the "
            "service, and create tasks on it to request backups)."
        )
    where = f"project '{call.project}'" if call.project else "the account"
    return AivenForbidden(
        f"Aiven refused {call} on {where} ({detail}). {advice}", status=403, error_code=code
    )


def _not_found(
    call: ApiCall, detail: str, code: str | None, lowered: str
) -> AivenApiError | BackupTaskNotFound:
    project_gone = code in _PROJECT_CODES or (
        code not in _SERVICE_CODES and "project" in lowered and "service" not in lowered
    )
    service_gone = code in _SERVICE_CODES or (code is None and "service" in lowered)
    if project_gone or call.service is None:
        return ProjectNotFound(
            f"Aiven project '{call.project}' was not found ({detail}). Check the project name "
            "and that the token's user is a member of the project.",
            status=404,
            error_code=code,
        )
    if call.task_id is not None and not service_gone:
        return BackupTaskNotFound(
            f"Backup task {call.task_id} of Aiven service '{call.service_name}' is not readable "
            f"any more ({detail}). Aiven may have expired it; check the service's backup in the "
            "Aiven console, or request a new backup."
        )
    return ServiceNotFound(
        f"Aiven service '{call.service_name}' was not found ({detail}). Check the service and "
        f"project names. {INFLUXDB_END_OF_LIFE_NOTE}",
        status=404,
        error_code=code,
    )


_ErrorBuilder = Callable[[ApiCall, str, "str | None", str], "AivenApiError | BackupTaskNotFound"]
_CLIENT_ERROR_BUILDERS: dict[int, _ErrorBuilder] = {
    401: _unauthorized,
    403: _forbidden,
    404: _not_found,
}

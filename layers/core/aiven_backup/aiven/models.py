"""What the client reads from Aiven: a service and a backup task, parsed leniently.

Unknown keys are ignored (Aiven adds fields over time) and ``task_type`` is kept but never compared
(Aiven may prefix it with the service type). A missing required key is ``AivenMalformedResponse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiven_backup.errors import AivenMalformedResponse

AccessRoute = Literal["auto", "public", "private", "privatelink"]
ACCESS_ROUTES: Final[tuple[AccessRoute, ...]] = ("auto", "public", "private", "privatelink")


def _required_str(body: Mapping[str, Any], key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise AivenMalformedResponse(
            f"Aiven's {what} has no {key!r} (got {type(value).__name__}); the API answer does "
            "not look like Aiven's documented shape. Check the API base URL."
        )
    return value


def _optional_mapping(body: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AivenMalformedResponse(
            f"Aiven's {what} has {key!r} of type {type(value).__name__}, expected an object"
        )
    return value


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Service:
    """An Aiven service as ``GET .../service/{name}?include_secrets=true`` describes it.

    ``connection_info``, ``service_uri_params`` and ``components`` may carry passwords, so they
    are left out of ``repr``.
    """

    project: str
    name: str
    service_type: str
    state: str
    project_vpc_id: str | None
    user_config: Mapping[str, Any]
    connection_info: Mapping[str, Any] = field(repr=False)
    service_uri_params: Mapping[str, Any] = field(repr=False)
    components: tuple[Mapping[str, Any], ...] = field(repr=False)

    @classmethod
    def from_api(cls, project: str, body: Mapping[str, Any]) -> Service:
        """Parse the ``service`` object of Aiven's answer (not the ``{"service": ...}`` wrapper)."""
        if not isinstance(body, Mapping):
            raise AivenMalformedResponse(
                f"Aiven returned a service of type {type(body).__name__}, expected an object"
            )
        what = "service description"
        components = body.get("components")
        components = [] if components is None else components
        if not isinstance(components, list):
            raise AivenMalformedResponse(f"Aiven's {what} has 'components' that is not a list")
        vpc_id = body.get("project_vpc_id")
        return cls(
            project=project,
            name=_required_str(body, "service_name", what),
            service_type=_required_str(body, "service_type", what),
            state=_required_str(body, "state", what),
            project_vpc_id=str(vpc_id) if vpc_id else None,
            user_config=_optional_mapping(body, "user_config", what),
            connection_info=_optional_mapping(body, "connection_info", what),
            service_uri_params=_optional_mapping(body, "service_uri_params", what),
            components=tuple(item for item in components if isinstance(item, Mapping)),
        )

    @property
    def in_vpc(self) -> bool:
        return self.project_vpc_id is not None

    @property
    def full_name(self) -> str:
        """``project/service``, the way messages name a service."""
        return f"{self.project}/{self.name}"


@dataclass(frozen=True)
class BackupTask:
    """A ``create_user_backup`` task: ``success`` is ``None`` while it runs."""

    task_id: str
    task_type: str
    success: bool | None
    result: str
    create_time: str | None
    task_status: str | None
    result_codes: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> BackupTask:
        """Parse the ``task`` object of Aiven's answer (not the ``{"task": ...}`` wrapper)."""
        if not isinstance(body, Mapping):
            raise AivenMalformedResponse(
                f"Aiven returned a task of type {type(body).__name__}, expected an object"
            )
        success = body.get("success")
        if success is not None and not isinstance(success, bool):
            raise AivenMalformedResponse(
                f"Aiven's task has 'success' = {success!r}; expected true, false or null"
            )
        result = body.get("result")
        codes = body.get("result_codes")
        return cls(
            task_id=_required_str(body, "task_id", "task"),
            task_type=_optional_str(body, "task_type") or "",
            success=success,
            result=result if isinstance(result, str) else "",
            create_time=_optional_str(body, "create_time"),
            task_status=_optional_str(body, "task_status"),
            result_codes=tuple(c for c in codes if isinstance(c, Mapping))
            if isinstance(codes, list)
            else (),
        )

    @property
    def finished(self) -> bool:
        """True once Aiven reported an outcome (``success`` set, or ``task_status`` DONE)."""
        return self.success is not None or (self.task_status or "").upper() == "DONE"

    @property
    def succeeded(self) -> bool:
        """True only for an explicit success (``success: true``, or DONE without a failure)."""
        if self.success is not None:
            return self.success
        return (self.task_status or "").upper() == "DONE"

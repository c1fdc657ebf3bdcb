"""The fan-out's execution input: which services of which projects, and what every run shares.

```json
{"project": "acme", "services": "*" | "a,b,c" | ["a", "b", "c"],
 "backup_name": "optional", "mode": "request | existing", "access_route": "...",
 "s3_prefix": "optional", "notify_each": true}
{"projects": [{"project": "acme", "services": "*"}, {"project": "beta", "services": ["x"]}], ...}
{"project": "acme", "service": "metrics-influx", ...}   a single-service input: a fan-out of one
{}                                                      the stack's AivenProject and AivenService
```

``services`` is ``"*"`` (every service of the project whose ``service_type`` is ``influxdb``),
a comma-separated string (what the stack's ``AivenService`` parameter holds) or a list of names.
The shared fields are the single-service input's own, checked by the same rules for every run.
A name given twice is backed up once.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.workflow.execution_input import (
    InputDefaults,
    validate_project_name,
    validate_service_name,
)

ALL_SERVICES = "*"
SHARED_FIELDS = ("backup_name", "mode", "access_route", "s3_prefix")
NOTIFY_EACH_FIELD = "notify_each"
FIELDS = ("project", "service", "services", "projects", *SHARED_FIELDS, NOTIFY_EACH_FIELD)
PROJECT_ENTRY_FIELDS = ("project", "services")
_EXAMPLE = '{"project": "acme", "services": "*"}'


@dataclass(frozen=True)
class ProjectSelection:
    """The services wanted in one project: named ones, or ``None`` for every InfluxDB one."""

    project: str
    services: tuple[str, ...] | None

    @property
    def everything(self) -> bool:
        return self.services is None


@dataclass(frozen=True)
class FanOutRequest:
    selections: tuple[ProjectSelection, ...]
    # The single-service fields every run gets, as given (each run's parser checks them).
    shared: Mapping[str, str] = field(default_factory=dict)
    notify_each: bool = True

    @property
    def projects(self) -> tuple[str, ...]:
        return tuple(selection.project for selection in self.selections)


def is_fanout_input(raw: object, defaults: InputDefaults) -> bool:
    """Whether ``raw`` asks for many services: ``services``/``projects``, or no ``service`` while
    the stack's default service is ``*`` or a list. The API starts the fan-out for these."""
    if not isinstance(raw, Mapping):
        return False
    if "services" in raw or "projects" in raw:
        return True
    return "service" not in raw and not _single_name(defaults.service)


def parse_fanout_input(
    raw: object, defaults: InputDefaults, *, notify_each: bool = True
) -> FanOutRequest:
    """Validate ``raw`` (a decoded JSON value); omitted fields come from ``defaults``.

    ``notify_each`` is the stack's ``NotifyEach`` (the input's ``notify_each`` overrides it).
    Raises ``InvalidExecutionInput(field, reason)`` for the first rule broken.
    """
    if not isinstance(raw, Mapping):
        raise InvalidExecutionInput(
            "input", f"must be a JSON object such as {_EXAMPLE}, got {type(raw).__name__}"
        )
    _reject_unknown(raw, FIELDS, "")
    shared: dict[str, str] = {}
    for name in SHARED_FIELDS:
        if name in raw:
            shared[name] = _string(raw[name], name)
    notify = raw.get(NOTIFY_EACH_FIELD, notify_each)
    if not isinstance(notify, bool):
        raise InvalidExecutionInput(NOTIFY_EACH_FIELD, "expected true or false")

    if "projects" in raw:
        for clashing in ("project", "service", "services"):
            if clashing in raw:
                raise InvalidExecutionInput(
                    clashing,
                    "cannot be combined with 'projects'; give each project's services inside "
                    'its entry, e.g. {"projects": [{"project": "acme", "services": "*"}]}',
                )
        selections = _projects(raw["projects"])
    else:
        selections = (_one_project(raw, defaults),)
    return FanOutRequest(selections=selections, shared=shared, notify_each=notify)


def parse_services(value: object, field: str = "services") -> tuple[str, ...] | None:
    """``"*"`` -> None (every InfluxDB service); ``"a, b"`` or ``["a", "b"]`` -> the names."""
    if isinstance(value, str):
        if value.strip() == ALL_SERVICES:
            return None
        names: Sequence[object] = [part.strip() for part in value.split(",")]
        if any(not name for name in names):
            raise InvalidExecutionInput(
                field,
                f"{value!r} has an empty name; separate service names with single commas "
                "('metrics-a,metrics-b'), or give '*' for every InfluxDB service",
            )
    elif isinstance(value, list):
        names = value
    else:
        raise InvalidExecutionInput(
            field, "expected '*', a comma-separated string or a list of service names"
        )
    if not names:
        raise InvalidExecutionInput(
            field, "is empty; name at least one service, or give '*' for every InfluxDB service"
        )
    checked: list[str] = []
    for index, name in enumerate(names):
        where = f"{field}[{index}]"
        if name == ALL_SERVICES:
            raise InvalidExecutionInput(where, "'*' stands alone: give it instead of the list")
        checked.append(validate_service_name(_string(name, where), where))
    return tuple(dict.fromkeys(checked))  # once each, in the order given


def _one_project(raw: Mapping[str, Any], defaults: InputDefaults) -> ProjectSelection:
    if "service" in raw and "services" in raw:
        raise InvalidExecutionInput(
            "service", "give either 'service' (one) or 'services' (many), not both"
        )
    if "project" in raw:
        project = validate_project_name(_string(raw["project"], "project"))
    elif defaults.project:
        project = _default(defaults.project, "project", validate_project_name)
    else:
        raise InvalidExecutionInput(
            "project", "is required: the stack has no default project, so give it in the input"
        )
    if "services" in raw:
        services = parse_services(raw["services"])
    elif "service" in raw:
        services = (validate_service_name(_string(raw["service"], "service")),)
    elif defaults.service:
        try:
            services = parse_services(defaults.service)
        except InvalidExecutionInput as error:
            raise InvalidExecutionInput(
                "services",
                f"the stack's default (AivenService, DEFAULT_SERVICE) {error.reason}; fix the "
                "stack parameter or give 'services' in the input",
            ) from error
    else:
        raise InvalidExecutionInput(
            "services",
            "is required: the stack has no default service, so give 'services' ('*' for every "
            "InfluxDB service of the project)",
        )
    return ProjectSelection(project, services)


def _projects(value: object) -> tuple[ProjectSelection, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidExecutionInput(
            "projects",
            'expected a non-empty list of {"project": ..., "services": ...} objects',
        )
    seen: set[str] = set()
    selections = []
    for index, entry in enumerate(value):
        where = f"projects[{index}]"
        if not isinstance(entry, Mapping):
            raise InvalidExecutionInput(
                where, 'expected an object {"project": ..., "services": ...}'
            )
        _reject_unknown(entry, PROJECT_ENTRY_FIELDS, f"{where}.")
        if "project" not in entry:
            raise InvalidExecutionInput(f"{where}.project", "is required")
        project = validate_project_name(
            _string(entry["project"], f"{where}.project"), f"{where}.project"
        )
        if project in seen:
            raise InvalidExecutionInput(
                f"{where}.project",
                f"{project!r} is listed twice; list its services once, in one entry",
            )
        seen.add(project)
        services = parse_services(entry.get("services", ALL_SERVICES), f"{where}.services")
        selections.append(ProjectSelection(project, services))
    return tuple(selections)


def _single_name(service: str | None) -> bool:
    return bool(service) and service != ALL_SERVICES and "," not in (service or "")


def _default(value: str, field: str, validate: Any) -> str:
    try:
        checked: str = validate(value, field)
    except InvalidExecutionInput as error:
        raise InvalidExecutionInput(
            field,
            f"the stack's default {error.reason}; fix the stack parameter or give the field",
        ) from error
    return checked


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        got = "null" if value is None else type(value).__name__
        raise InvalidExecutionInput(field, f"expected a string, got {got}")
    return value


def _reject_unknown(raw: Mapping[str, Any], allowed: Sequence[str], prefix: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if not unknown:
        return
    name = unknown[0]
    match = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {match[0]!r}?)" if match else ""
    raise InvalidExecutionInput(
        f"{prefix}{name}",
        f"unknown field{hint}; the allowed fields are {', '.join(allowed)}",
    )

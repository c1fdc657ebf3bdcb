"""The execution input: what a schedule, the API or a person in the console starts a backup with.

One parser, used by the state machine's first step and by the API, so both apply the same rules:

```json
{"project": "acme", "service": "metrics-influx", "backup_name": "optional",
 "mode": "request | existing | verify", "access_route": "auto | public | private | privatelink",
 "s3_prefix": "optional", "notify": true}
```

Mode ``verify`` makes no Aiven call and takes no lock: it verifies a tar already in the stack's
bucket (a backup downloaded from Aiven's console and put there by hand, say), named by
``s3_key`` (``backups/acme/old.tar``) or ``s3_uri`` (``s3://<this stack's bucket>/<key>``), writes
its inventory and tags it. ``project`` and ``service`` (defaults from the stack) only name it in the
notification; ``backup_name`` defaults to the key's file name without ``.tar``.

``notify`` (a boolean, default true) set to false leaves this run's own notification out: the
fan-out sets it from its ``NotifyEach`` parameter and announces the run in its summary instead.
``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` (the parent's ARN, which Step Functions' console
uses to link a nested execution to the one that started it) is accepted and ignored. A
``services`` or ``projects`` field belongs to the fan-out state machine's input, and the refusal
says so.

Name rules. Aiven publishes its service-name rule in its schemas (the operator's
``^[a-z][-a-z0-9]{0,63}$``): lowercase letters, digits and hyphens, starting with a letter, at most
64 characters. For projects its own tools disagree (the operator uses the same lowercase rule,
capped at 63 characters; the Terraform provider accepts ``[a-zA-Z0-9_-]``), so projects get the
union: letters of either case, digits, ``_`` and ``-``, starting with a letter or digit, at most 63.
A real project is never refused, and no name can carry ``/``, ``..`` or a space into an Aiven URL
path, an S3 key or the lock's id.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

from aiven_backup.aiven.models import ACCESS_ROUTES, AccessRoute
from aiven_backup.backup_name import default_backup_name, validate_backup_name
from aiven_backup.errors import InvalidExecutionInput

__all__ = [
    "ACCESS_ROUTES",
    "FIELDS",
    "MODES",
    "AccessRoute",
    "ExecutionInput",
    "InputDefaults",
    "Mode",
    "parse_execution_input",
    "validate_project_name",
    "validate_s3_prefix",
    "validate_service_name",
]

Mode = Literal["request", "existing", "verify"]
MODES: tuple[Mode, ...] = get_args(Mode)
VERIFY_MODE: Mode = "verify"

FIELDS = ("project", "service", "backup_name", "mode", "access_route", "s3_prefix")
# Mode 'verify' names the object to verify with one of these.
OBJECT_FIELDS = ("s3_key", "s3_uri")
S3_KEY_MAX_LENGTH = 1024
# Fields that are not strings, and the key Step Functions' console links nested executions by.
NOTIFY_FIELD = "notify"
STARTED_BY_FIELD = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
FANOUT_FIELDS = ("services", "projects")

SERVICE_NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,63}")
PROJECT_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
S3_PREFIX_MAX_LENGTH = 512
S3_PREFIX_CHARACTERS = re.compile(r"[A-Za-z0-9!_.*'()/-]*")
DEFAULT_S3_PREFIX = "influxdb-backups"

_JSON_TYPE_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


@dataclass(frozen=True)
class InputDefaults:
    """What an omitted field means, from the stack's parameters."""

    project: str | None = None
    service: str | None = None
    mode: Mode = "request"
    access_route: AccessRoute = "auto"
    s3_prefix: str = DEFAULT_S3_PREFIX

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InputDefaults:
        """Read ``DEFAULT_PROJECT``, ``DEFAULT_SERVICE``, ``DEFAULT_MODE``, ``DEFAULT_ACCESS_ROUTE``
        and ``DEFAULT_S3_PREFIX``; unset or empty means "no default" (or the built-in one).

        A bad value is a deployment mistake, so it fails loudly here (ValueError naming the
        variable) rather than on every execution.
        """
        try:
            mode = _choice("mode", env.get("DEFAULT_MODE") or cls.mode, MODES)
            route = _choice(
                "access_route", env.get("DEFAULT_ACCESS_ROUTE") or cls.access_route, ACCESS_ROUTES
            )
            prefix_value = env.get("DEFAULT_S3_PREFIX")
            prefix = cls.s3_prefix if prefix_value is None else validate_s3_prefix(prefix_value)
        except InvalidExecutionInput as error:
            variable = f"DEFAULT_{error.field.upper()}"
            raise ValueError(f"environment variable {variable}: {error.reason}") from error
        return cls(
            project=env.get("DEFAULT_PROJECT") or None,
            service=env.get("DEFAULT_SERVICE") or None,
            mode=cast("Mode", mode),
            access_route=cast("AccessRoute", route),
            s3_prefix=prefix,
        )


@dataclass(frozen=True)
class ExecutionInput:
    """A validated, fully resolved execution input: every field present and checked."""

    project: str
    service: str
    backup_name: str
    mode: Mode
    access_route: AccessRoute
    s3_prefix: str
    notify: bool = True
    s3_key: str | None = None  # mode 'verify': the object in the stack's bucket

    def to_dict(self) -> dict[str, Any]:
        """Every string field; ``notify`` only when it is false (the default stays implicit),
        ``s3_key`` only in mode 'verify'."""
        fields: dict[str, Any] = {field: getattr(self, field) for field in FIELDS}
        if not self.notify:
            fields[NOTIFY_FIELD] = False
        if self.s3_key is not None:
            fields["s3_key"] = self.s3_key
        return fields


def parse_execution_input(
    raw: object,
    defaults: InputDefaults,
    *,
    now: datetime | None = None,
    bucket: str | None = None,
) -> ExecutionInput:
    """Validate ``raw`` (a decoded JSON value) and fill omitted fields from ``defaults``.

    An omitted ``backup_name`` defaults to ``<service>-<UTC stamp of now>``, except in mode
    ``existing``, which downloads a backup that already exists and so needs its name.
    ``bucket`` (the stack's) is the only bucket an ``s3_uri`` may name; ``None``: not checked.
    Raises ``InvalidExecutionInput(field, reason)`` for the first rule broken.
    """
    if not isinstance(raw, dict):
        raise InvalidExecutionInput(
            "input",
            f'must be a JSON object such as {{"service": "metrics-influx"}}, got {_json_type(raw)}',
        )
    _reject_unknown_fields(raw)
    raw = dict(raw)
    notify = raw.pop(NOTIFY_FIELD, True)
    if not isinstance(notify, bool):
        raise InvalidExecutionInput(
            NOTIFY_FIELD, f"expected true or false, got {_json_type(notify)}"
        )
    for field, value in raw.items():
        if not isinstance(value, str):
            raise InvalidExecutionInput(
                field,
                f"expected a string, got {_json_type(value)}"
                + ("; omit the field to use the default" if value is None else ""),
            )
    fields = cast("dict[str, str]", raw)
    fields.pop(STARTED_BY_FIELD, None)

    project = _name_with_default(
        "project", fields.get("project"), defaults.project, validate_project_name
    )
    service = _name_with_default(
        "service", fields.get("service"), defaults.service, validate_service_name
    )
    mode = cast("Mode", _choice("mode", fields.get("mode", defaults.mode), MODES))
    s3_key = _object_key(fields, bucket) if mode == VERIFY_MODE else None
    if s3_key is None:
        given = next((name for name in OBJECT_FIELDS if name in fields), None)
        if given is not None:
            raise InvalidExecutionInput(
                given,
                "names an object to verify, which only mode 'verify' does: add "
                '"mode": "verify", or leave the field out to back up the service',
            )
    backup_name = fields.get("backup_name")
    if backup_name is None and s3_key is not None:
        backup_name = posixpath.basename(s3_key).removesuffix(".tar") or s3_key
    if backup_name is None and mode == "existing":
        raise InvalidExecutionInput(
            "backup_name",
            "is required when mode is 'existing': give the name of the backup already on the "
            "service (the name it was requested with), or use mode 'request'",
        )
    return ExecutionInput(
        project=project,
        service=service,
        backup_name=(
            default_backup_name(service, now)
            if backup_name is None
            else backup_name
            if s3_key is not None  # names the object in the notification, never sent to Aiven
            else _validate_input_backup_name(backup_name)
        ),
        mode=mode,
        access_route=cast(
            "AccessRoute",
            _choice(
                "access_route", fields.get("access_route", defaults.access_route), ACCESS_ROUTES
            ),
        ),
        s3_prefix=(
            defaults.s3_prefix
            if "s3_prefix" not in fields
            else validate_s3_prefix(fields["s3_prefix"])
        ),
        notify=notify,
        s3_key=s3_key,
    )


def _object_key(fields: Mapping[str, str], bucket: str | None) -> str:
    """The key mode 'verify' verifies, from ``s3_key`` or ``s3_uri``."""
    if "s3_key" in fields and "s3_uri" in fields:
        raise InvalidExecutionInput("s3_uri", "give either s3_key or s3_uri, not both")
    if "s3_uri" in fields:
        uri = fields["s3_uri"]
        scheme, _, rest = uri.partition("://")
        named_bucket, _, key = rest.partition("/")
        if scheme != "s3" or not named_bucket or not key:
            raise InvalidExecutionInput(
                "s3_uri", f"{uri!r} is not an S3 URI such as s3://<bucket>/backups/old.tar"
            )
        if bucket is not None and named_bucket != bucket:
            raise InvalidExecutionInput(
                "s3_uri",
                f"names the bucket {named_bucket!r}, but this stack verifies only objects in its "
                f"own bucket {bucket!r}: copy the object there first",
            )
        return _validate_object_key(key, "s3_uri")
    if "s3_key" not in fields:
        raise InvalidExecutionInput(
            "s3_key",
            "is required when mode is 'verify': give the key of the tar in the stack's bucket "
            "(for example 'influxdb-backups/acme/metrics-influx/2026/11/23/old.tar'), or s3_uri",
        )
    return _validate_object_key(fields["s3_key"], "s3_key")


def _validate_object_key(key: str, field: str) -> str:
    if not key or key.startswith("/"):
        raise InvalidExecutionInput(
            field, "must be the object's key in the bucket, without a leading '/'"
        )
    if len(key.encode()) > S3_KEY_MAX_LENGTH:
        raise InvalidExecutionInput(
            field, f"is longer than S3's {S3_KEY_MAX_LENGTH} bytes for a key"
        )
    if key.endswith(".inventory.json") or ".verification/" in key:
        raise InvalidExecutionInput(
            field, f"{key!r} is a file this stack writes next to a backup, not a backup tar"
        )
    return key


def validate_service_name(name: str, field: str = "service") -> str:
    """Aiven's service-name rule: lowercase letters, digits, ``-``; a letter first; max 64."""
    if not name:
        raise InvalidExecutionInput(field, "must not be empty; give the Aiven service's name")
    if len(name) > 64:
        raise InvalidExecutionInput(
            field, f"is {len(name)} characters long; Aiven service names have at most 64"
        )
    if SERVICE_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidExecutionInput(
            field,
            f"{name!r} is not an Aiven service name: use lowercase letters, digits and hyphens, "
            "starting with a letter (as shown in the Aiven console)",
        )
    return name


def validate_project_name(name: str, field: str = "project") -> str:
    """Aiven project names: letters, digits, ``_``, ``-``; a letter or digit first; max 63."""
    if not name:
        raise InvalidExecutionInput(field, "must not be empty; give the Aiven project's name")
    if len(name) > 63:
        raise InvalidExecutionInput(
            field, f"is {len(name)} characters long; Aiven project names have at most 63"
        )
    if PROJECT_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidExecutionInput(
            field,
            f"{name!r} is not an Aiven project name: use letters, digits, '_' and '-', "
            "starting with a letter or digit (as shown in the Aiven console)",
        )
    return name


def validate_s3_prefix(prefix: str, field: str = "s3_prefix") -> str:
    """Return the prefix without a trailing slash; empty means the bucket's root."""
    if len(prefix) > S3_PREFIX_MAX_LENGTH:
        raise InvalidExecutionInput(
            field, f"is {len(prefix)} characters long; use at most {S3_PREFIX_MAX_LENGTH}"
        )
    if "\\" in prefix:
        raise InvalidExecutionInput(
            field, "contains a backslash; separate folders with '/' (for example 'backups/influx')"
        )
    if S3_PREFIX_CHARACTERS.fullmatch(prefix) is None:
        bad = next(c for c in prefix if S3_PREFIX_CHARACTERS.fullmatch(c) is None)
        raise InvalidExecutionInput(
            field,
            f"contains {bad!r}; use only letters, digits, '/' and the S3-safe characters "
            "! _ . * ' ( ) -",
        )
    if prefix.startswith("/"):
        raise InvalidExecutionInput(
            field, "starts with '/'; S3 keys have no leading slash, write 'backups' not '/backups'"
        )
    if "//" in prefix:
        raise InvalidExecutionInput(
            field, "contains '//' (an empty folder name); use single slashes between folders"
        )
    if any(segment in {".", ".."} for segment in prefix.split("/")):
        raise InvalidExecutionInput(
            field,
            "has a '.' or '..' folder, which tools that download the backup would resolve "
            "against a local path; name the folder plainly",
        )
    return prefix.removesuffix("/")


def _validate_input_backup_name(name: str) -> str:
    validate_backup_name(name)
    if ".." in name:
        raise InvalidExecutionInput(
            "backup_name",
            "contains '..'; the name becomes part of a download URL and an S3 key, where '..' "
            "reads as a parent folder. Use single dots",
        )
    return name


def _name_with_default(
    field: str,
    given: str | None,
    default: str | None,
    validate: Callable[[str, str], str],
) -> str:
    if given is not None:
        return validate(given, field)
    if default is None:
        raise InvalidExecutionInput(
            field,
            f"is required: the stack has no default {field} "
            f"(DEFAULT_{field.upper()}), so give it in the input",
        )
    try:
        return validate(default, field)
    except InvalidExecutionInput as error:
        raise InvalidExecutionInput(
            field,
            f"the stack's default (DEFAULT_{field.upper()}) {error.reason}; fix the stack "
            "parameter or give the field in the input",
        ) from error


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value in allowed:
        return value
    hint = difflib.get_close_matches(value.lower(), allowed, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise InvalidExecutionInput(
        field,
        f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}{suggestion}",
    )


def _reject_unknown_fields(raw: Mapping[str, object]) -> None:
    known = (*FIELDS, *OBJECT_FIELDS, NOTIFY_FIELD, STARTED_BY_FIELD)
    unknown = sorted(key for key in raw if key not in known)
    if not unknown:
        return
    fanout = [name for name in unknown if name in FANOUT_FIELDS]
    if fanout:
        raise InvalidExecutionInput(
            fanout[0],
            "names many services: this state machine backs up one service; start the fan-out "
            "state machine (stack output FanOutStateMachineArn) with this input, or give one "
            "'service'",
        )
    hints = [
        f"{name!r} (did you mean {match[0]!r}?)" if match else repr(name)
        for name in unknown
        for match in [difflib.get_close_matches(name, FIELDS, n=1)]
    ]
    raise InvalidExecutionInput(
        unknown[0] if len(unknown) == 1 else ", ".join(unknown),
        f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
        f"the allowed fields are {', '.join((*FIELDS, *OBJECT_FIELDS))}",
    )


def _json_type(value: object) -> str:
    if isinstance(value, str):
        return "a string"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)

"""The template and the code agree on every default.

For each environment variable ``template.yaml`` gives a function as a parameter's ``Default`` (or as
a literal), the configuration the code reads with that value must equal the one it reads with the
variable unset: the template cannot quietly pass a default the code does not have, and the code's
default cannot drift from the stack's. No mapping table: the variables come from the template and
the readers are the real ``from_env`` methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from aiven_backup.api.settings import ApiSettings
from aiven_backup.workflow.execution_input import InputDefaults
from aiven_backup.workflow.settings import Settings
from local_runner.template import functions, load_template

TEMPLATE = load_template()
REQUIRED = {  # what the stack always sets, with values of the right shape
    "AIVEN_TOKEN_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven-AbCdEf",
    "BACKUP_BUCKET": "backups",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:backups",
    "LOCK_TABLE_NAME": "locks",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:backup",
}
READERS: dict[str, Callable[[Mapping[str, str]], object]] = {
    "Settings": Settings.from_env,
    "InputDefaults": InputDefaults.from_env,
    "ApiSettings": ApiSettings.from_env,
}


def _template_value(value: Any) -> str | None:
    """The value a deployed function sees when every parameter keeps its default (None when
    that depends on the deployment: a Ref to a resource or to a parameter without a default)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        parameter = TEMPLATE["Parameters"].get(value["Ref"], {})
        if "Default" in parameter:
            return str(parameter["Default"])
    return None


def _defaults_passed_by_the_template() -> list[tuple[str, str, str]]:
    """(variable, value, the functions given it), once per variable and value."""
    passed: dict[tuple[str, str], list[str]] = {}
    for function in functions(TEMPLATE):
        for name, value in function.environment.items():
            default = _template_value(value)
            if default is not None and name not in REQUIRED:
                passed.setdefault((name, default), []).append(function.logical_id)
    return [(name, default, ", ".join(fns)) for (name, default), fns in sorted(passed.items())]


DEFAULTS = _defaults_passed_by_the_template()


def test_the_template_passes_defaults_to_check() -> None:
    names = {name for name, _, _ in DEFAULTS}

    assert {"POLL_INITIAL_SECONDS", "POLL_MAX_SECONDS", "POLL_DEADLINE_SECONDS"} <= names
    assert {"LOCK_TTL_SECONDS", "COPY_TIME_MARGIN_SECONDS", "DEFAULT_MODE"} <= names


@pytest.mark.parametrize(("name", "default", "functions"), DEFAULTS)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_default_the_template_passes_is_the_codes_own(
    name: str, default: str, functions: str, reader: str
) -> None:
    read = READERS[reader]

    unset = read(REQUIRED)
    passed = read({**REQUIRED, name: default})

    assert passed == unset, (
        f"{functions} get {name}={default!r} from template.yaml, but {reader} reads a different "
        "value when it is unset: make the code's default and the template's the same"
    )

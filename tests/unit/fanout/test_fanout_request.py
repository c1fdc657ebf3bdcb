"""The fan-out's input: services as "*", a comma-separated string or a list; projects; defaults."""

from __future__ import annotations

from typing import Any

import pytest

from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.fanout.request import (
    FanOutRequest,
    ProjectSelection,
    is_fanout_input,
    parse_fanout_input,
)
from aiven_backup.workflow.execution_input import InputDefaults

STACK = InputDefaults(project="acme", service="metrics-influx")


def parse(raw: object, defaults: InputDefaults = STACK, **options: Any) -> FanOutRequest:
    return parse_fanout_input(raw, defaults, **options)


def refusal(raw: object, defaults: InputDefaults = STACK) -> InvalidExecutionInput:
    with pytest.raises(InvalidExecutionInput) as caught:
        parse(raw, defaults)
    return caught.value


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        ("*", None),
        (" * ", None),
        ("influx-a", ("influx-a",)),
        ("influx-a,influx-b", ("influx-a", "influx-b")),
        ("influx-a, influx-b ,influx-a", ("influx-a", "influx-b")),
        (["influx-b", "influx-a", "influx-b"], ("influx-b", "influx-a")),
    ],
)
def test_services_may_be_star_a_comma_separated_string_or_a_list_each_name_once(
    services: object, expected: tuple[str, ...] | None
) -> None:
    request = parse({"services": services})

    assert request.selections == (ProjectSelection("acme", expected),)


def test_a_single_service_input_is_a_fan_out_of_one_with_its_shared_fields() -> None:
    request = parse(
        {"project": "beta", "service": "influx-x", "backup_name": "pre", "mode": "request"}
    )

    assert request.selections == (ProjectSelection("beta", ("influx-x",)),)
    assert request.shared == {"backup_name": "pre", "mode": "request"}


def test_an_empty_input_backs_up_the_stacks_default_services() -> None:
    assert parse({}, InputDefaults(project="acme", service="*")).selections == (
        ProjectSelection("acme", None),
    )
    assert parse({}, InputDefaults(project="acme", service="a-1,b-2")).selections == (
        ProjectSelection("acme", ("a-1", "b-2")),
    )


def test_a_projects_list_gives_each_project_its_services_star_by_default() -> None:
    request = parse(
        {"projects": [{"project": "acme", "services": ["influx-a"]}, {"project": "beta"}]}
    )

    assert request.selections == (
        ProjectSelection("acme", ("influx-a",)),
        ProjectSelection("beta", None),
    )
    assert request.projects == ("acme", "beta")


def test_notify_each_comes_from_the_stack_unless_the_input_says() -> None:
    assert parse({"services": "*"}, notify_each=False).notify_each is False
    assert parse({"services": "*", "notify_each": True}, notify_each=False).notify_each is True


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ([], "input", "JSON object"),
        ({"services": ""}, "services", "empty name"),
        ({"services": "a,,b"}, "services", "empty name"),
        ({"services": []}, "services", "is empty"),
        ({"services": ["ok-1", "Bad Name"]}, "services[1]", "not an Aiven service name"),
        ({"services": ["*", "x"]}, "services[0]", "stands alone"),
        ({"services": 3}, "services", "comma-separated"),
        ({"service": "a", "services": "b"}, "service", "not both"),
        ({"projects": [{"project": "acme"}], "project": "acme"}, "project", "'projects'"),
        ({"projects": []}, "projects", "non-empty list"),
        ({"projects": ["acme"]}, "projects[0]", "expected an object"),
        ({"projects": [{"services": "*"}]}, "projects[0].project", "required"),
        ({"projects": [{"project": "acme"}, {"project": "acme"}]}, "projects[1].project", "twice"),
        (
            {"projects": [{"project": "acme", "service": "x"}]},
            "projects[0].service",
            "did you mean",
        ),
        ({"services": "*", "notify_each": "no"}, "notify_each", "true or false"),
        ({"services": "*", "mode": 1}, "mode", "expected a string"),
        ({"servcies": "*"}, "servcies", "did you mean 'services'"),
    ],
)
def test_bad_input_is_refused_naming_the_field(raw: object, field: str, words: str) -> None:
    error = refusal(raw)

    assert error.field == field
    assert words in error.reason


def test_without_defaults_the_project_and_services_are_required() -> None:
    assert refusal({"services": "*"}, InputDefaults()).field == "project"
    assert refusal({"project": "acme"}, InputDefaults()).field == "services"


@pytest.mark.parametrize(
    ("raw", "default_service", "fanout"),
    [
        ({"services": "*"}, "metrics-influx", True),
        ({"projects": [{"project": "acme"}]}, "metrics-influx", True),
        ({}, "*", True),
        ({}, "a-1,b-2", True),
        ({}, "metrics-influx", False),
        ({"service": "x"}, "*", False),
        ({"service": "x", "backup_name": "b"}, "metrics-influx", False),
        ("not an object", "*", False),
    ],
)
def test_which_inputs_start_the_fan_out(raw: object, default_service: str, fanout: bool) -> None:
    defaults = InputDefaults(project="acme", service=default_service)

    assert is_fanout_input(raw, defaults) is fanout

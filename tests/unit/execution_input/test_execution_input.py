"""The execution input: one set of rules for schedules, the API and the console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aiven_backup.errors import InvalidExecutionInput
from aiven_backup.workflow.execution_input import (
    ACCESS_ROUTES,
    FIELDS,
    MODES,
    ExecutionInput,
    InputDefaults,
    parse_execution_input,
)

NOW = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)
STACK_DEFAULTS = InputDefaults(project="acme", service="metrics-influx")
NO_DEFAULTS = InputDefaults()
FULL_INPUT = {
    "project": "acme",
    "service": "metrics-influx",
    "backup_name": "nightly-2026.11.23",
    "mode": "existing",
    "access_route": "privatelink",
    "s3_prefix": "team/influx",
}


def parse(raw: object, defaults: InputDefaults = STACK_DEFAULTS) -> ExecutionInput:
    return parse_execution_input(raw, defaults, now=NOW)


def rejection(raw: object, defaults: InputDefaults = STACK_DEFAULTS) -> InvalidExecutionInput:
    with pytest.raises(InvalidExecutionInput) as caught:
        parse(raw, defaults)
    return caught.value


# --- what valid input becomes ------------------------------------------------------------------


def test_a_full_input_is_kept_as_given() -> None:
    parsed = parse(FULL_INPUT)

    assert parsed.to_dict() == FULL_INPUT


def test_an_empty_input_takes_every_default_and_names_the_backup_after_the_service() -> None:
    parsed = parse({})

    assert parsed == ExecutionInput(
        project="acme",
        service="metrics-influx",
        backup_name="metrics-influx-20261123T030000Z",
        mode="request",
        access_route="auto",
        s3_prefix="influxdb-backups",
    )


def test_the_default_backup_name_follows_the_given_service() -> None:
    assert parse({"service": "other-influx"}).backup_name == "other-influx-20261123T030000Z"


def test_to_dict_has_every_field_as_a_string() -> None:
    as_dict = parse({}).to_dict()

    assert tuple(as_dict) == FIELDS
    assert all(isinstance(value, str) for value in as_dict.values())


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_is_accepted(mode: str) -> None:
    names_an_object = {"s3_key": "influx/old.tar"} if mode == "verify" else {}

    assert parse({"mode": mode, "backup_name": "nightly", **names_an_object}).mode == mode


def test_mode_verify_names_an_object_by_key_and_needs_no_backup_name() -> None:
    request = parse({"mode": "verify", "s3_key": "by-hand/metrics-influx-old.tar"})

    assert request.s3_key == "by-hand/metrics-influx-old.tar"
    assert request.backup_name == "metrics-influx-old"
    assert request.to_dict()["s3_key"] == "by-hand/metrics-influx-old.tar"


def test_mode_verify_takes_an_s3_uri_of_the_stacks_own_bucket_only() -> None:
    uri = {"mode": "verify", "s3_uri": "s3://stack-bucket/by-hand/old.tar"}

    accepted = parse_execution_input(uri, STACK_DEFAULTS, bucket="stack-bucket")
    with pytest.raises(InvalidExecutionInput) as refused:
        parse_execution_input(uri, STACK_DEFAULTS, bucket="another-bucket")

    assert accepted.s3_key == "by-hand/old.tar"
    assert refused.value.field == "s3_uri"
    assert "only objects in its own bucket 'another-bucket'" in refused.value.reason


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        ({"mode": "verify"}, "s3_key", "is required when mode is 'verify'"),
        ({"mode": "verify", "s3_key": "/old.tar"}, "s3_key", "without a leading '/'"),
        ({"mode": "verify", "s3_key": "a.tar.inventory.json"}, "s3_key", "not a backup tar"),
        ({"mode": "verify", "s3_uri": "https://x/y.tar"}, "s3_uri", "is not an S3 URI"),
        ({"mode": "verify", "s3_uri": "s3://b/k", "s3_key": "k"}, "s3_uri", "not both"),
        ({"s3_key": "old.tar"}, "s3_key", "only mode 'verify' does"),
    ],
)
def test_mode_verify_refuses_what_names_no_object_it_may_verify(
    raw: dict[str, Any], field: str, says: str
) -> None:
    error = rejection(raw)

    assert error.field == field
    assert says in error.reason


def test_mode_existing_needs_the_name_of_the_backup_to_download() -> None:
    error = rejection({"mode": "existing"})

    assert error.field == "backup_name"
    assert "required when mode is 'existing'" in error.reason


def test_mode_existing_from_the_stack_default_also_needs_a_name() -> None:
    error = rejection({}, InputDefaults(project="acme", service="metrics-influx", mode="existing"))

    assert error.field == "backup_name"


@pytest.mark.parametrize("route", ACCESS_ROUTES)
def test_every_access_route_is_accepted(route: str) -> None:
    assert parse({"access_route": route}).access_route == route


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("", ""),
        ("backups", "backups"),
        ("backups/", "backups"),
        ("a/b/c", "a/b/c"),
        ("Team_1/(prod)/it's!*.x-y", "Team_1/(prod)/it's!*.x-y"),
        ("p" * 512, "p" * 512),
    ],
)
def test_s3_prefix_is_accepted_and_its_trailing_slash_dropped(given: str, stored: str) -> None:
    assert parse({"s3_prefix": given}).s3_prefix == stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", "a"),
        ("service", "influx-01"),
        ("service", "a" + "b" * 63),
        ("project", "acme"),
        ("project", "Acme_Corp-2"),
        ("project", "9lives"),
        ("project", "p" * 63),
    ],
)
def test_names_aiven_allows_are_accepted(field: str, value: str) -> None:
    assert getattr(parse({field: value}), field) == value


# --- what is refused, and how the refusal reads ----------------------------------------------

REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, input, field named, fragment of the reason)
    ("unknown field", {"sevice": "x"}, "sevice", "did you mean 'service'"),
    ("unknown fields", {"foo": "1", "bar": "2"}, "bar, foo", "unknown fields"),
    ("project wrong type", {"project": 7}, "project", "expected a string, got a number"),
    ("service wrong type", {"service": ["a"]}, "service", "expected a string, got an array"),
    ("backup_name wrong type", {"backup_name": {}}, "backup_name", "got an object"),
    ("mode wrong type", {"mode": True}, "mode", "expected a string, got a boolean"),
    ("route wrong type", {"access_route": 1.5}, "access_route", "got a number"),
    ("s3_prefix null", {"s3_prefix": None}, "s3_prefix", "got null; omit the field"),
    ("project empty", {"project": ""}, "project", "must not be empty"),
    ("service empty", {"service": ""}, "service", "must not be empty"),
    ("backup_name empty", {"backup_name": ""}, "backup_name", "must not be empty"),
    ("mode empty", {"mode": ""}, "mode", "is not one of 'request', 'existing'"),
    ("route empty", {"access_route": ""}, "access_route", "'privatelink'"),
    ("project too long", {"project": "p" * 64}, "project", "at most 63"),
    ("service too long", {"service": "s" * 65}, "service", "at most 64"),
    ("backup_name too long", {"backup_name": "b" * 257}, "backup_name", "257 characters"),
    ("s3_prefix too long", {"s3_prefix": "p" * 513}, "s3_prefix", "at most 512"),
    ("service uppercase", {"service": "Metrics"}, "service", "lowercase letters"),
    ("service leading digit", {"service": "1influx"}, "service", "starting with a letter"),
    ("service underscore", {"service": "my_influx"}, "service", "hyphens"),
    ("service slash", {"service": "a/b"}, "service", "not an Aiven service name"),
    ("project slash", {"project": "acme/x"}, "project", "not an Aiven project name"),
    ("project dots", {"project": ".."}, "project", "not an Aiven project name"),
    ("project leading hyphen", {"project": "-acme"}, "project", "starting with a letter"),
    ("project space", {"project": "ac me"}, "project", "not an Aiven project name"),
    ("backup_name slash", {"backup_name": "a/b"}, "backup_name", "'/'"),
    ("backup_name dot-dot", {"backup_name": "a..b"}, "backup_name", "contains '..'"),
    ("backup_name only dots", {"backup_name": ".."}, "backup_name", "contains '..'"),
    ("backup_name space", {"backup_name": "a b"}, "backup_name", "a space"),
    ("mode unknown", {"mode": "copy"}, "mode", "'copy' is not one of"),
    ("mode wrong case", {"mode": "Request"}, "mode", "did you mean 'request'"),
    ("route unknown", {"access_route": "vpn"}, "access_route", "'vpn' is not one of"),
    ("route wrong case", {"access_route": "PUBLIC"}, "access_route", "did you mean 'public'"),
    ("s3_prefix leading slash", {"s3_prefix": "/backups"}, "s3_prefix", "starts with '/'"),
    ("s3_prefix only slash", {"s3_prefix": "/"}, "s3_prefix", "starts with '/'"),
    ("s3_prefix double slash", {"s3_prefix": "a//b"}, "s3_prefix", "contains '//'"),
    ("s3_prefix trailing //", {"s3_prefix": "a//"}, "s3_prefix", "contains '//'"),
    ("s3_prefix dot-dot", {"s3_prefix": "a/../b"}, "s3_prefix", "'..' folder"),
    ("s3_prefix leading ..", {"s3_prefix": "../b"}, "s3_prefix", "'..' folder"),
    ("s3_prefix dot folder", {"s3_prefix": "a/./b"}, "s3_prefix", "'.' or '..'"),
    ("s3_prefix backslash", {"s3_prefix": "a\\b"}, "s3_prefix", "backslash"),
    ("s3_prefix space", {"s3_prefix": "my backups"}, "s3_prefix", "contains ' '"),
    ("s3_prefix unicode", {"s3_prefix": "sauvegardes-été"}, "s3_prefix", "contains 'é'"),
    ("s3_prefix query char", {"s3_prefix": "a?b"}, "s3_prefix", "contains '?'"),
]


@pytest.mark.parametrize(
    ("raw", "field", "reason_fragment"),
    [pytest.param(raw, field, fragment, id=case) for case, raw, field, fragment in REJECTIONS],
)
def test_each_broken_rule_names_the_field_and_the_rule(
    raw: dict[str, Any], field: str, reason_fragment: str
) -> None:
    error = rejection(raw)

    assert error.field == field
    assert reason_fragment in error.reason
    assert str(error).startswith(f"invalid input field '{field}': ")


def test_unknown_fields_list_the_allowed_ones() -> None:
    error = rejection({"project": "acme", "retention": "7d"})

    assert error.field == "retention"
    assert "allowed fields are project, service, backup_name, mode, access_route, s3_prefix" in (
        error.reason
    )


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        ([], "an array"),
        ("metrics-influx", "a string"),
        (None, "null"),
        (3, "a number"),
    ],
)
def test_input_that_is_not_an_object_is_refused(raw: object, got: str) -> None:
    error = rejection(raw)

    assert error.field == "input"
    assert f'must be a JSON object such as {{"service": "metrics-influx"}}, got {got}' in (
        error.reason
    )


@pytest.mark.parametrize("field", ["project", "service"])
def test_project_and_service_are_required_when_the_stack_has_no_default(field: str) -> None:
    given = {"project": "acme", "service": "metrics-influx"}
    del given[field]

    error = rejection(given, NO_DEFAULTS)

    assert error.field == field
    assert "is required" in error.reason
    assert f"DEFAULT_{field.upper()}" in error.reason


def test_a_bad_stack_default_is_reported_as_the_stacks_mistake() -> None:
    error = rejection({}, InputDefaults(project="acme", service="Bad Name"))

    assert error.field == "service"
    assert "the stack's default (DEFAULT_SERVICE)" in error.reason


def test_an_explicit_empty_s3_prefix_overrides_the_default() -> None:
    assert parse({"s3_prefix": ""}).s3_prefix == ""


# --- defaults from the environment -----------------------------------------------------------


def test_defaults_are_read_from_the_stacks_environment_variables() -> None:
    env = {
        "DEFAULT_PROJECT": "acme",
        "DEFAULT_SERVICE": "metrics-influx",
        "DEFAULT_MODE": "existing",
        "DEFAULT_ACCESS_ROUTE": "private",
        "DEFAULT_S3_PREFIX": "team/influx/",
    }

    assert InputDefaults.from_env(env) == InputDefaults(
        project="acme",
        service="metrics-influx",
        mode="existing",
        access_route="private",
        s3_prefix="team/influx",
    )


def test_unset_or_empty_variables_mean_no_project_or_service_and_built_in_defaults() -> None:
    env = {"DEFAULT_PROJECT": "", "DEFAULT_SERVICE": "", "DEFAULT_MODE": ""}

    assert InputDefaults.from_env(env) == InputDefaults(
        project=None,
        service=None,
        mode="request",
        access_route="auto",
        s3_prefix="influxdb-backups",
    )


def test_an_empty_default_prefix_means_the_bucket_root() -> None:
    assert InputDefaults.from_env({"DEFAULT_S3_PREFIX": ""}).s3_prefix == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEFAULT_MODE", "sometimes"),
        ("DEFAULT_ACCESS_ROUTE", "vpn"),
        ("DEFAULT_S3_PREFIX", "/abs"),
    ],
)
def test_a_bad_environment_default_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"environment variable {variable}: "):
        InputDefaults.from_env({variable: value})

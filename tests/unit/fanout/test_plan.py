"""PlanBackups: one service list per project, "*" keeps InfluxDB, not RUNNING is skipped."""

from __future__ import annotations

from typing import Any

import pytest

from aiven_backup.errors import InvalidBackupName, InvalidExecutionInput, TooManyServices
from aiven_backup.fanout.plan import (
    MAX_SERVICES_PER_EXECUTION,
    Plan,
    child_execution_name,
    plan_backups,
)
from aiven_backup.fanout.settings import FanOutSettings
from aiven_backup.workflow.execution_input import InputDefaults
from tests.unit.fanout.fanout_support import NOW, PARENT, FakeAiven, service

ACCOUNT = {
    "acme": [
        service("acme", "influx-b"),
        service("acme", "influx-a"),
        service("acme", "influx-off", state="POWEROFF"),
        service("acme", "influx-rebuilding", state="REBUILDING"),
        service("acme", "pg-main", kind="pg"),
    ],
    "beta": [service("beta", "influx-x")],
}


def plan(raw: object, *, aiven: FakeAiven | None = None, **settings: Any) -> Plan:
    return plan_backups(
        raw,
        PARENT,
        aiven=aiven or FakeAiven(ACCOUNT),
        defaults=InputDefaults(project="acme", service="*"),
        settings=FanOutSettings(**settings),
        now=NOW,
    )


def run_names(planned: Plan) -> list[tuple[str, str]]:
    return [(run.project, run.service) for run in planned.runs]


def test_star_plans_every_running_influxdb_service_and_skips_the_others_with_their_state() -> None:
    planned = plan({"services": "*"})

    assert run_names(planned) == [("acme", "influx-a"), ("acme", "influx-b")]
    assert [(s.service, s.state) for s in planned.skipped] == [
        ("influx-off", "POWEROFF"),
        ("influx-rebuilding", "REBUILDING"),
    ]
    assert planned.ignored == 1  # pg-main


def test_named_services_keep_their_order_and_unknown_ones_still_get_a_run() -> None:
    planned = plan({"services": ["influx-b", "gone-influx", "influx-off", "pg-main"]})

    # gone-influx fails in its own run with ServiceNotFound, pg-main with ServiceNotInfluxDB:
    # the single-service workflow's named errors, not guesses made here.
    assert run_names(planned) == [
        ("acme", "influx-b"),
        ("acme", "gone-influx"),
        ("acme", "pg-main"),
    ]
    assert [s.service for s in planned.skipped] == ["influx-off"]


def test_one_service_list_call_per_project() -> None:
    aiven = FakeAiven(ACCOUNT)

    planned = plan(
        {"projects": [{"project": "acme", "services": "influx-a"}, {"project": "beta"}]},
        aiven=aiven,
    )

    assert aiven.listed == ["acme", "beta"]
    assert run_names(planned) == [("acme", "influx-a"), ("beta", "influx-x")]
    assert planned.projects == ("acme", "beta")


def test_every_run_shares_the_options_once_with_notify_and_the_parent() -> None:
    planned = plan(
        {"services": "influx-a", "backup_name": "pre-move", "s3_prefix": "team"},
        notify_each=False,
        max_concurrent_services=7,
    )
    as_dict = planned.to_dict()

    assert as_dict["options"] == {
        "backup_name": "pre-move",
        "s3_prefix": "team",
        "notify": False,
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": PARENT.arn,
    }
    assert as_dict["runs"] == [
        {
            "name": child_execution_name(PARENT.arn, "acme", "influx-a"),
            "input": {"project": "acme", "service": "influx-a"},
        }
    ]
    assert as_dict["max_concurrency"] == 7


def test_with_notify_each_the_runs_notify_by_default() -> None:
    assert "notify" not in plan({"services": "influx-a"}).options


def test_run_names_are_short_unique_per_fan_out_and_stable() -> None:
    name = child_execution_name(PARENT.arn, "acme", "s" * 64)
    other_parent = child_execution_name(PARENT.arn + "-2", "acme", "s" * 64)
    other_project = child_execution_name(PARENT.arn, "beta", "s" * 64)

    assert name == child_execution_name(PARENT.arn, "acme", "s" * 64)
    assert len(name) <= 80
    assert name.startswith("s" * 50 + "-")
    assert len({name, other_parent, other_project}) == 3


def test_shared_fields_are_checked_by_the_single_service_rules_before_anything_starts() -> None:
    with pytest.raises(InvalidBackupName):
        plan({"services": "*", "backup_name": "with space"})
    with pytest.raises(InvalidExecutionInput) as caught:
        plan({"services": "*", "mode": "existing"})
    assert caught.value.field == "backup_name"


def test_more_services_than_one_execution_carries_is_refused_with_what_to_do() -> None:
    many = {"acme": [service("acme", f"influx-{i}") for i in range(MAX_SERVICES_PER_EXECUTION + 1)]}

    with pytest.raises(TooManyServices, match="one execution per project"):
        plan({"services": "*"}, aiven=FakeAiven(many))

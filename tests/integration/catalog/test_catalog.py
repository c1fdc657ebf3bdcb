"""GET /catalog after several runs through the real state machine, one of which left an
unverified object under Object Lock: what an operator sees, and the local runner prints the same.

The API function is invoked as API Gateway would (a real-shaped event from events/api/) with the
environment template.yaml gives it in the local stack.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aiven_backup.verify.data_inventory import DataInventory, iso_time
from local_runner import cli
from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.clock import SimulatedClock
from tests.support.workflow import (
    Workflow,
    WorkflowFactory,
)

EVENTS = Path(__file__).resolve().parents[3] / "events" / "api"
PREFIX = f"influxdb-backups/{PROJECT}/{SERVICE}"


def _get_catalog(workflow: Workflow, query: dict[str, str] | None) -> tuple[int, Any]:
    event = json.loads((EVENTS / "get_catalog.json").read_text())
    event = copy.deepcopy(event)
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = (
        {name: [value] for name, value in query.items()} if query else None
    )
    payload, errored = workflow.stack.lambdas.invoke(
        "BackupsApiFunction", event, "arn:aws:lambda:us-east-1:123456789012:function:api"
    )
    assert not errored, payload
    answer = json.loads(payload)
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def four_runs(make_workflow: WorkflowFactory, sample_backup: bytes) -> Workflow:
    """Three nightly backups, then a night whose download was not a backup, all locked 5 days."""
    clock = SimulatedClock(datetime(2027, 3, 1, 3, tzinfo=UTC))
    workflow = make_workflow(
        parameters={"ObjectLockMode": "GOVERNANCE", "ObjectLockDays": "5"}, clock=clock
    )
    service = workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    for day in (1, 2, 3):
        clock.set(datetime(2027, 3, day, 3, tzinfo=UTC))
        assert workflow.run({"backup_name": f"nightly-{day}"}).status == "SUCCEEDED"
    clock.set(datetime(2027, 3, 4, 3, tzinfo=UTC))
    service.backup = os.urandom(48 * 1024)
    assert workflow.run({"backup_name": "nightly-4"}).error == "NotAnInfluxBackup"
    return workflow


def test_the_catalogue_lists_backups_newest_first_with_what_to_trust_and_honours_limit(
    four_runs: Workflow, sample_backup: bytes
) -> None:
    now = datetime.now(UTC)

    status, body = _get_catalog(four_runs, {"project": PROJECT, "service": SERVICE})

    assert status == 200
    assert (body["project"], body["service"], body["bucket"]) == (PROJECT, SERVICE, BUCKET)
    assert (body["count"], body["total"], body["truncated"]) == (4, 4, False)
    backups = body["backups"]
    assert [b["key"] for b in backups] == [
        f"{PREFIX}/2027/03/04/nightly-4.tar",
        f"{PREFIX}/2027/03/03/nightly-3.tar",
        f"{PREFIX}/2027/03/02/nightly-2.tar",
        f"{PREFIX}/2027/03/01/nightly-1.tar",
    ]
    assert [b["verified"] for b in backups] == [False, True, True, True]
    assert [b["retention_class"] for b in backups] == ["failed", "daily", "daily", "yearly"]
    assert [b["day"] for b in backups] == ["2027-03-04", "2027-03-03", "2027-03-02", "2027-03-01"]
    for backup in backups:
        assert backup["lock"]["mode"] == "GOVERNANCE"
        assert backup["lock"]["active"] is True
        locked_until = datetime.fromisoformat(backup["locked_until"].replace("Z", "+00:00"))
        # moto stamps retention from its own (real) clock: five days from when it was written.
        assert now + timedelta(days=4) < locked_until <= now + timedelta(days=5, minutes=5)
        assert backup["last_modified"].endswith("Z")
        assert backup["storage_class"] == "STANDARD"

    unverified, *verified = backups
    assert unverified["size"] == 48 * 1024
    assert unverified["inventory"] is None
    assert unverified["inventory_key"] is None
    for backup in verified:
        assert backup["size"] == len(sample_backup)
        assert backup["inventory_key"] == f"{backup['key']}.inventory.json"
        inventory = backup["inventory"]
        assert inventory["databases"] == ["metrics", "telegraf"]
        assert inventory["database_count"] == 2
        assert inventory["shard_count"] == 6
        assert inventory["total_size"] == len(sample_backup)
        # The points and time range deep verification read from the TSM blocks.
        data = DataInventory.from_dict(
            json.loads(four_runs.object_bytes(backup["inventory_key"]))["data"]
        )
        assert data.first_ns is not None
        assert data.newest_ns is not None
        assert (inventory["points"], inventory["first_point"], inventory["last_point"]) == (
            data.points,
            iso_time(data.first_ns),
            iso_time(data.newest_ns),
        )

    status, body = _get_catalog(four_runs, {"limit": "2"})  # the stack's service by default

    assert status == 200
    assert (body["count"], body["total"], body["truncated"]) == (2, 4, True)
    assert [b["backup_name"] for b in body["backups"]] == ["nightly-4", "nightly-3"]


def test_a_service_without_backups_has_an_empty_catalogue(workflow: Workflow) -> None:
    status, body = _get_catalog(workflow, {"project": PROJECT, "service": "other-influx"})

    assert status == 200
    assert (body["count"], body["total"], body["backups"]) == (0, 0, [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"service": "Not_A_Service"}, "service"),
        ({"s3_prefix": "../elsewhere"}, "s3_prefix"),
        ({"status": "SUCCEEDED"}, "status"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(
    workflow: Workflow, query: dict[str, str], field: str
) -> None:
    status, body = _get_catalog(workflow, query)

    assert status == 400
    assert body["error"] == "InvalidRequest"
    assert body["field"] == field


def test_the_local_runner_prints_the_same_catalogue(
    four_runs: Workflow, capsys: pytest.CaptureFixture[str]
) -> None:
    _, from_the_api = _get_catalog(four_runs, {"project": PROJECT, "service": SERVICE})
    capsys.readouterr()

    code = cli.main(
        ["catalog", "--bucket", BUCKET, "--project", PROJECT, "--service", SERVICE, "--json"]
    )
    printed_json = json.loads(capsys.readouterr().out)
    cli.main(["catalog", "--bucket", BUCKET, "--project", PROJECT, "--service", SERVICE])
    table = capsys.readouterr().out

    assert code == 0
    for entry in (*printed_json["backups"], *from_the_api["backups"]):
        entry["lock"].pop("active")  # decided at the moment each was asked
    assert printed_json == from_the_api
    lines = table.splitlines()
    assert lines[0].startswith(f"s3://{BUCKET}/{PREFIX}/: 4 backup(s) of {PROJECT}/{SERVICE}")
    assert "NOT VERIFIED" in lines[1]
    assert lines[1].endswith(f"{PREFIX}/2027/03/04/nightly-4.tar")
    assert "no inventory" in lines[2]
    assert "yearly" in lines[-2]
    assert "metrics, telegraf; 6 shards" in lines[-1]


def test_a_local_run_with_catalog_prints_the_catalogue_of_what_it_made(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["--json", "--catalog", "--poll-interval", "1"])

    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    (entry,) = summary["catalog"]["backups"]
    assert entry["key"] == summary["key"]
    assert (entry["verified"], entry["retention_class"], entry["lock"]) == (True, "yearly", None)
    assert entry["inventory"]["database_count"] == len(entry["inventory"]["databases"]) > 0

"""``python -m local_runner --services a,b`` and ``--all-services``: the fan-out from the runner,
its ``--json`` summary with one result per service, and its exit status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runner import cli
from local_runner.sample_backup import build_sample_backup


@pytest.fixture(autouse=True)
def sample_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in sample instead of a fresh influxd backup: these tests are about the fan-out."""
    monkeypatch.setattr(cli, "_demo_backup", lambda progress: (build_sample_backup(), "sample"))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = cli.main([*args, "--json", "--poll-interval", "1"])
    return code, json.loads(capsys.readouterr().out)


def test_all_services_backs_up_every_influxdb_service_and_skips_the_powered_off_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, summary = run_cli(capsys, "--all-services")

    assert code == 0  # a service skipped for not running is no failure
    assert summary["kind"] == "summary"
    by_name = {entry["service"]: entry for entry in summary["results"]}
    assert sorted(by_name) == ["demo-influx", "demo-influx-2", "demo-influx-retired"]
    for name in ("demo-influx", "demo-influx-2"):
        assert by_name[name]["status"] == "SUCCEEDED"
        assert by_name[name]["key"].endswith(".tar")
        assert by_name[name]["size"] > 0
    assert by_name["demo-influx-retired"]["status"] == "SKIPPED"
    assert by_name["demo-influx-retired"]["state"] == "POWEROFF"
    assert summary["notification"]["subject"] == "Backups demo-project: 2 SUCCEEDED, 1 SKIPPED"
    assert summary["service_notifications"] == 2
    assert summary["incomplete_uploads"] == 0


def test_services_backs_up_exactly_the_named_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = run_cli(capsys, "--services", "influx-a,influx-b", "--project", "acme")

    assert code == 0
    assert [(e["project"], e["service"], e["status"]) for e in summary["results"]] == [
        ("acme", "influx-a", "SUCCEEDED"),
        ("acme", "influx-b", "SUCCEEDED"),
    ]


@pytest.mark.parametrize(
    ("results", "fine"),
    [
        ([{"status": "SUCCEEDED"}, {"status": "SKIPPED", "reason": "ServiceNotRunning"}], True),
        ([{"status": "SUCCEEDED"}, {"status": "FAILED", "error": "BackupTaskFailed"}], False),
        ([{"status": "SKIPPED", "reason": "BackupAlreadyRunning"}], False),
    ],
)
def test_the_exit_status_is_0_only_when_every_service_succeeded_or_was_not_running(
    results: list[dict[str, Any]], fine: bool
) -> None:
    summary = {"execution_status": "SUCCEEDED", "results": results}

    assert cli._every_service_fine(summary) is fine
    assert cli._every_service_fine({**summary, "execution_status": "FAILED"}) is False


@pytest.mark.parametrize(
    "args",
    [
        ["--services", "a,b", "--output", "x.tar"],
        ["--service", "a", "--services", "b"],
        ["--all-services", "--services", "b"],
        ["--services", " , "],
        ["--all-services", "--max-concurrent-services", "0"],
    ],
)
def test_conflicting_arguments_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(args)

    assert exited.value.code == 2

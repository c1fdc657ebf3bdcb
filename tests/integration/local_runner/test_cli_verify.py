"""``python -m local_runner --verify TAR``: a local backup tar is put into the local bucket and
verified in mode 'verify', with no Aiven simulator and no Aiven call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_runner import cli
from local_runner.sample_backup import build_non_backup_tar, build_sample_backup


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = cli.main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_local_tar_is_verified_in_mode_verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tar = tmp_path / "metrics-influx-old.tar"
    tar.write_bytes(build_sample_backup())
    monkeypatch.setattr(cli, "_simulated_aiven", _no_simulator)

    code, summary = run_cli(capsys, "--verify", str(tar), "--service", "metrics-influx")

    assert code == 0
    assert summary["status"] == "SUCCEEDED"
    assert summary["key"] == "by-hand/metrics-influx-old.tar"
    assert summary["inventory"]["shard_count"] == 6
    assert "was verified (mode verify)" in summary["notification"]["message"]


def test_a_tar_that_is_no_backup_fails_with_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tar = tmp_path / "report.tar"
    tar.write_bytes(build_non_backup_tar())

    code, summary = run_cli(capsys, "--verify", str(tar), "--verify-key", "hand/report.tar")

    assert code == 1
    assert summary["error"] == "NotAnInfluxBackup"
    assert summary["key"] is None


def test_verify_with_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--verify", str(tmp_path / "missing.tar")])

    assert exited.value.code == 2


def _no_simulator(*args: object) -> object:
    raise AssertionError("mode verify must not start the Aiven simulator")

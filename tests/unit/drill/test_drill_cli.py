"""``python -m local_runner.restore_drill``: its exit status when it cannot run (2) or the backup
is damaged (1), and what it tells the person running it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from local_runner import restore_drill
from local_runner.sample_backup import DEFAULT_STAMP, build_sample_backup
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def influxd_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """These cases end before any influxd would start."""
    monkeypatch.setattr(restore_drill, "influxd_available", lambda: True)


def test_without_influxd_it_says_how_to_install_it_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no influxd there
    backup = tmp_path / "backup.tar"
    backup.write_bytes(build_sample_backup())

    code = restore_drill.main([str(backup)])

    assert code == 2
    err = capsys.readouterr().err
    assert "influxd (InfluxDB 1.x) is not on PATH" in err
    assert "scripts/ensure-influxdb" in err


@pytest.mark.usefixtures("influxd_on_path")
def test_a_backup_path_that_is_no_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = restore_drill.main([str(tmp_path / "missing.tar")])

    assert code == 2
    assert "missing.tar is not a file" in capsys.readouterr().err


@pytest.mark.usefixtures("influxd_on_path")
def test_an_s3_object_that_cannot_be_read_exits_2(
    s3: S3Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code = restore_drill.main([f"s3://{BUCKET}/no/such.tar"])

    assert code == 2
    assert f"could not read s3://{BUCKET}/no/such.tar from S3" in capsys.readouterr().err


@pytest.mark.usefixtures("influxd_on_path")
def test_a_damaged_backup_exits_1_naming_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.tar"
    backup.write_bytes(build_sample_backup(drop_files=[f"{DEFAULT_STAMP}.s2.tar.gz"]))

    code = restore_drill.main([str(backup)])

    assert code == 1
    assert f"{DEFAULT_STAMP}.s2.tar.gz" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments",
    [[], ["b.tar", "--timeout", "0"], ["b.tar", "--stable-polls", "0"]],
    ids=["no-backup", "zero-timeout", "zero-stable-polls"],
)
def test_bad_arguments_exit_2(arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        restore_drill.main(arguments)

    assert raised.value.code == 2


def test_the_demos_drill_without_influxd_says_it_was_skipped_and_why_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no influxd there
    backup = tmp_path / "demo-backup.tar"
    backup.write_bytes(build_sample_backup())

    code = restore_drill.main(["--skip-without-influxd", str(backup)])

    assert code == 0
    out = capsys.readouterr().out
    assert "Restore drill skipped: influxd (InfluxDB 1.x) is not installed" in out
    assert "scripts/ensure-influxdb" in out

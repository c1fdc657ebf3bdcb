"""The whole restore drill, as ``make restore-drill`` runs it: a real influxd backup packed like
Aiven's, its figures read from the tar by the verification library, restored into a fresh
influxd and compared.

Needs ``verify_shard`` to fill ``ShardReport.data`` from the shards' TSM indexes: with a
``verify_shard`` that reads no data, every restored measurement differs from the (empty)
expectation and the first test fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aiven_backup.verify.shard import RangeSource
from local_runner import restore_drill
from local_runner.drill_backup import BackupContents, read_contents
from local_runner.real_backup import make_real_backup_tar
from tests.support.aws import BUCKET
from tests.support.drill import tampered

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MEM = ("telegraf", "autogen", "mem")


@pytest.fixture
def backup_tar(influxd_installed: None, tmp_path: Path) -> Path:
    tar = make_real_backup_tar(tmp_path / "source", folder="metrics-influx-backup")
    assert tar is not None
    path = tmp_path / "backup.tar"
    path.write_bytes(tar)
    return path


@pytest.mark.influxdb
def test_a_real_backup_passes_the_drill_and_it_exits_0(
    backup_tar: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = restore_drill.main([str(backup_tar), "--timeout", "60", "--poll-interval", "0.2"])

    out, err = capsys.readouterr()
    assert code == 0, out + err
    table = out.splitlines()
    measurements = [line.split()[0] for line in table[1:] if line.split()[-1] in ("OK", "MISMATCH")]
    assert measurements == [
        "sensors.autogen.calibration",
        "sensors.forever.status",
        "sensors.forever.temperature",
        "telegraf.autogen.cpu",
        "telegraf.autogen.events",
        "telegraf.autogen.mem",
    ]
    assert all(line.split()[-1] == "OK" for line in table[1:7])
    mem = next(line for line in table if line.startswith("telegraf.autogen.mem"))
    assert mem.split()[1:3] == ["1,536", "1,536"]  # 768 points x 2 fields, both sides
    assert "OK: all 6 measurement(s) restored with the backup's figures" in out


@pytest.mark.influxdb
def test_a_backup_whose_figures_the_restore_misses_fails_the_drill_with_exit_1(
    backup_tar: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def one_value_more(source: RangeSource) -> BackupContents:
        contents = read_contents(source)
        assert MEM in contents.data.measurements, "verify_shard read no data from the shards"
        return BackupContents(contents.folder, contents.shards, tampered(contents.data, MEM))

    monkeypatch.setattr(restore_drill, "read_contents", one_value_more)

    code = restore_drill.main([str(backup_tar), "--timeout", "3", "--poll-interval", "0.2"])

    out, _ = capsys.readouterr()
    assert code == 1
    mem = next(line for line in out.splitlines() if line.startswith("telegraf.autogen.mem"))
    assert mem.split()[1:3] == ["1,537", "1,536"]
    assert mem.split()[-1] == "MISMATCH"
    assert "MISMATCH: 1 of 6 measurement(s) differ from the backup" in out
    assert "did not reach the backup's within 3 s" in out


@pytest.mark.influxdb
def test_a_backup_in_s3_is_drilled_from_its_uri(
    backup_tar: Path, s3: S3Client, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "influxdb-backups/acme/metrics-influx/2024/03/05/metrics-influx-20240305T030000Z.tar"
    s3.put_object(Bucket=BUCKET, Key=key, Body=backup_tar.read_bytes())

    code = restore_drill.main([f"s3://{BUCKET}/{key}", "--timeout", "60", "--poll-interval", "0.2"])

    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert f"s3://{BUCKET}/{key}: 11 shard(s) in folder metrics-influx-backup/" in err
    assert "OK: all 6 measurement(s) restored with the backup's figures" in out

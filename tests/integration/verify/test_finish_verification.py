"""FinishVerification: the shards' reports in S3 become the backup's data inventory, its one-line
summary in the notification, and STALE when the newest point is older than MaxDataAgeHours.

The reports are written here as VerifyShards writes them (``ShardReport.to_dict`` through
``Scratch``), with data in them, so these tests do not depend on what ``verify_shard`` reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aiven_backup.verify.data_inventory import DataInventory, MeasurementStats
from aiven_backup.verify.scratch import Scratch
from aiven_backup.verify.shard import ShardReport
from aiven_backup.workflow import steps, verification
from aiven_backup.workflow.run_state import RunState
from aiven_backup.workflow.services import Services
from local_runner.sample_backup import build_sample_backup
from tests.support.aws import BUCKET
from tests.support.services import copied_run, services_on_moto

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAMP_TIME = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # the sample backup's manifest stamp
KEY = "influxdb-backups/acme/metrics-influx/2026/11/23/nightly.tar"
FAR_AWAY = 10**9  # a deadline (time.monotonic()) no step reaches


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def verified_with_newest_point(
    s3: S3Client, environment: dict[str, str], newest: datetime
) -> tuple[RunState, dict[str, Any]]:
    """Plan the sample backup's verification, write its reports with points up to ``newest``,
    then run FinishVerification and FinishBackup; returns the state and the result."""
    body = build_sample_backup()
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    services = services_on_moto(environment)
    planned = verification.plan_verification(copied_run(KEY, len(body)), services, FAR_AWAY)
    scratch = Scratch(s3, BUCKET, KEY)
    assert planned.verification is not None
    for batch in planned.verification.batches:
        reports = [
            ShardReport(
                name=member.name,
                database=entry.database,
                policy=entry.policy,
                shard_id=entry.shard_id,
                tsm_files=1,
                data=DataInventory(
                    MappingProxyType(
                        {
                            (entry.database, entry.policy, "cpu"): MeasurementStats(
                                series=2,
                                fields=("value",),
                                blocks=1,
                                points=600_000,
                                first_ns=ns(datetime(2023, 11, 14, tzinfo=UTC)),
                                last_ns=ns(newest),
                            )
                        }
                    )
                ),
            )
            for member, entry in scratch.read_batch(batch)
        ]
        scratch.write_reports(batch, reports, complete=True)

    finished = verification.finish_verification(planned, services)
    return finished, steps.finish_backup(finished, services)


def test_a_backup_whose_newest_point_is_too_old_lands_and_is_announced_stale(
    s3: S3Client,
) -> None:
    state, result = verified_with_newest_point(
        s3, {"MAX_DATA_AGE_HOURS": "24"}, newest=STAMP_TIME - timedelta(hours=30)
    )

    notification = result["notification"]
    assert notification["attributes"]["status"] == "STALE"
    assert notification["subject"].startswith("Backup STALE acme/metrics-influx ")
    assert "STALE: the newest point is 30 h older than the backup" in notification["message"]
    assert "MaxDataAgeHours (24 h)" in notification["message"]
    assert result["status"] == "SUCCEEDED"  # it landed: the execution succeeds
    assert result["stale"] is True
    inventory = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{KEY}.inventory.json")["Body"].read())
    assert inventory["stale"] is True
    assert round(inventory["newest_age_hours"]) == 30
    assert inventory["data"]["telegraf"]["autogen"]["cpu"]["points"] == 2 * 600_000
    assert state.verification is not None
    assert state.verification.stale


def test_a_recent_newest_point_is_announced_as_succeeded_with_the_data_summary(
    s3: S3Client,
) -> None:
    _, result = verified_with_newest_point(
        s3, {"MAX_DATA_AGE_HOURS": "24"}, newest=STAMP_TIME - timedelta(hours=3)
    )

    notification = result["notification"]
    assert notification["attributes"]["status"] == "SUCCEEDED"
    assert (
        "Data:        2 databases, 2 measurements, 3.6 M points, 2023-11-14 -> 2026-11-23 "
        "(newest 3 h before the backup)" in notification["message"]
    )
    assert "STALE" not in notification["message"]


def test_without_max_data_age_hours_no_backup_is_stale(s3: S3Client) -> None:
    _, result = verified_with_newest_point(s3, {}, newest=STAMP_TIME - timedelta(days=400))

    assert result["notification"]["attributes"]["status"] == "SUCCEEDED"
    assert result["stale"] is False


def test_finishing_deletes_every_working_file(s3: S3Client) -> None:
    verified_with_newest_point(s3, {}, newest=STAMP_TIME)

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert sorted(keys) == [KEY, f"{KEY}.inventory.json"]


def test_finishing_again_after_a_finished_attempt_gives_the_same_state(s3: S3Client) -> None:
    """Step Functions retries a step whose invocation timed out after it had done its work."""
    finished, _ = verified_with_newest_point(
        s3, {"MAX_DATA_AGE_HOURS": "24"}, newest=STAMP_TIME - timedelta(hours=30)
    )

    again = verification.finish_verification(finished, services_again())

    assert again == finished


def services_again() -> Services:
    """The same stack's services a second time (the lock table and topic exist already)."""
    return services_on_moto({"MAX_DATA_AGE_HOURS": "24"}, create=False)


def test_working_files_are_tagged_so_that_s3_expires_any_left_behind(s3: S3Client) -> None:
    body = build_sample_backup()
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)

    verification.plan_verification(copied_run(KEY, len(body)), services_on_moto(), FAR_AWAY)

    working = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{KEY}.verification/")["Contents"]
    ]
    assert working  # the plan and one batch
    for key in working:
        assert s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == [
            {"Key": "retention-class", "Value": "failed"}
        ]

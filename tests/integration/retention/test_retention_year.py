"""A year of nightly backups through the real state machine: each lands with the retention class
grandfather-father-son retention gives it, decided from what is already in S3.

The clock is the test's: each execution starts at 03:00 UTC on the day the table names, so its key
lands in that day's folder. Missed nights and failed runs are in the table too: the next
successful backup takes the class the missed one would have had.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.clock import SimulatedClock
from tests.support.workflow import (
    WorkflowFactory,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FAILS = "the Aiven task fails"

# (day, class the run's backup must get, or FAILS). Weekdays matter: ISO weeks start on Monday.
A_YEAR = [
    (date(2026, 12, 28), "yearly"),  # Monday; the service's first backup ever
    (date(2026, 12, 29), "daily"),
    (date(2026, 12, 30), "daily"),
    (date(2026, 12, 31), "daily"),
    # 2027-01-01 (Friday): the schedule did not fire.
    (date(2027, 1, 2), "yearly"),  # Saturday: the first of 2027 all the same
    (date(2027, 1, 3), "daily"),  # Sunday: same ISO week (2026-W53) as the 2nd
    (date(2027, 1, 4), "weekly"),  # Monday: 2027-W01
    (date(2027, 1, 5), "daily"),
    (date(2027, 1, 6), FAILS),
    (date(2027, 1, 7), "daily"),
    # The 8th to the 10th missed.
    (date(2027, 1, 11), "weekly"),  # Monday after a missed weekend
    (date(2027, 2, 1), FAILS),  # the first of the month fails...
    (date(2027, 2, 2), "monthly"),  # ...so the next success is February's first
    (date(2027, 2, 3), "daily"),
    (date(2027, 3, 1), "monthly"),  # a Monday: monthly outranks weekly
    (date(2027, 3, 2), "daily"),
    (date(2027, 3, 8), "weekly"),
    # April to November: one backup a quarter (the rest of the year's nights missed).
    (date(2027, 4, 1), "monthly"),
    (date(2027, 7, 1), "monthly"),
    (date(2027, 10, 1), "monthly"),
    (date(2027, 12, 1), "monthly"),  # a Wednesday
    (date(2027, 12, 31), "weekly"),  # a Friday: the first success of its ISO week
    (date(2028, 1, 1), "yearly"),
]


def test_a_year_of_nightly_runs_gets_grandfather_father_son_classes(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    clock = SimulatedClock(datetime(2026, 12, 28, 3, tzinfo=UTC))
    workflow = make_workflow(clock=clock)
    service = workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    s3 = workflow.stack.s3

    seen: list[tuple[date, str]] = []
    for day, expected in A_YEAR:
        clock.set(datetime(day.year, day.month, day.day, 3, tzinfo=UTC))
        service.task_outcome = "failure" if expected == FAILS else "success"

        result = workflow.run({"backup_name": f"nightly-{day:%Y%m%d}"})

        if expected == FAILS:
            assert (result.status, result.error) == ("FAILED", "BackupTaskFailed"), day
            seen.append((day, FAILS))
            continue
        assert result.status == "SUCCEEDED", (day, result.cause)
        assert result.output is not None
        key = result.output["key"]
        assert key == (
            f"influxdb-backups/{PROJECT}/{SERVICE}/{day:%Y/%m/%d}/nightly-{day:%Y%m%d}.tar"
        )
        tar_tags = _tags(s3, key)
        inventory_tags = _tags(s3, f"{key}.inventory.json")
        assert tar_tags["retention-class"] == inventory_tags["retention-class"], day
        assert result.output["retention_class"] == tar_tags["retention-class"], day
        seen.append((day, tar_tags["retention-class"]))

    assert seen == A_YEAR
    # Nothing a failed run started is left: the classes above counted only real backups.
    keys = workflow.stack.object_keys()
    assert not [k for k in keys if "20270106" in k or "20270201" in k]
    assert workflow.stack.incomplete_uploads() == []
    assert len([k for k in keys if k.endswith(".tar")]) == len(A_YEAR) - 2


def _tags(s3: S3Client, key: str) -> dict[str, str]:
    tag_set = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}

"""STALE through the whole state machine: the deep verification reads the backup's points from
its TSM blocks, and MaxDataAgeHours, against the backup's stamp, decides the status."""

from __future__ import annotations

import json

from local_runner.sample_backup import build_sample_backup, pack_tar, sample_backup_files
from tests.support.aiven import PROJECT, SERVICE
from tests.support.workflow import WorkflowFactory, assert_lock_released

DATA_STAMP = "20261101T030000Z"  # the sample's points lie in the shard groups around this time
BACKUP_STAMP = "20261123T030000Z"  # the stamp the backup is named with: three weeks later


def backup_of_old_data() -> bytes:
    """A sample backup whose points stopped three weeks before the backup was made (a service
    nobody writes to any more): the sample's files, renamed to the later stamp."""
    files = sample_backup_files(stamp=DATA_STAMP)
    return pack_tar(
        {
            name.replace(DATA_STAMP, BACKUP_STAMP): (
                data.replace(DATA_STAMP.encode(), BACKUP_STAMP.encode())
                if name.endswith(".manifest")
                else data
            )
            for name, data in files.items()
        }
    )


def test_a_backup_whose_newest_point_is_older_than_max_data_age_lands_but_says_stale(
    make_workflow: WorkflowFactory,
) -> None:
    workflow = make_workflow(environment={"MAX_DATA_AGE_HOURS": "24"})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup_of_old_data())

    result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    inventory = json.loads(workflow.object_bytes(f"{result.output['key']}.inventory.json"))
    assert inventory["stale"] is True
    assert inventory["newest_age_hours"] > 24
    assert (
        sum(
            stats["points"]
            for policies in inventory["data"].values()
            for measurements in policies.values()
            for stats in measurements.values()
        )
        > 0
    )  # the points were read from the TSM blocks, not assumed
    (notification,) = workflow.stack.notifications()
    assert notification["attributes"]["status"] == "STALE"
    assert notification["subject"].startswith(f"Backup STALE {PROJECT}/{SERVICE} ")
    assert "points" in notification["message"]
    assert_lock_released(workflow)


def test_a_backup_of_data_written_up_to_its_stamp_is_not_stale(
    make_workflow: WorkflowFactory,
) -> None:
    workflow = make_workflow(environment={"MAX_DATA_AGE_HOURS": "24"})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=build_sample_backup())

    result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    (notification,) = workflow.stack.notifications()
    assert notification["attributes"]["status"] == "SUCCEEDED"
    assert "STALE" not in notification["message"]

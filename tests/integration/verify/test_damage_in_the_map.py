"""A damaged shard found by one batch of the Map while the other batches are mid-way: the run
fails under the shard's error, the other batches stop early, and the failure path cleans up after
the last of them, leaving no working file. (AWS lets a running invocation finish after its Map
failed; ``tests/support/map_iterations`` makes the siblings that late on purpose.)"""

from __future__ import annotations

import pytest

from local_runner.sample_backup import pack_tar, sample_backup_files
from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.map_iterations import late_siblings
from tests.support.workflow import WorkflowFactory, assert_failure_notified, assert_lock_released

STAMP = "20261123T030000Z"
SHARDS = 60  # 20 in each of the sample's 3 policies, ids 1 to 60 in tar order
BATCH_SHARDS = 15  # 4 batches; batch 0 holds shards 1 to 15
THREADS = 2


def test_siblings_of_a_batch_that_found_damage_stop_early_and_leave_no_working_file(
    make_workflow: WorkflowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sample_backup_files(shards_per_policy=SHARDS // 3)
    damaged = f"{STAMP}.s1.tar.gz"
    files[damaged] = b"this is not gzip, the host's backup is damaged" + bytes(100)
    workflow = make_workflow(
        environment={
            "VERIFY_BATCH_SHARDS": str(BATCH_SHARDS),
            "VERIFY_THREADS": str(THREADS),
            "VERIFY_DAMAGE_CHECK_SECONDS": "0",  # a sibling reads the record between shards
        }
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=pack_tar(files))

    with late_siblings(
        workflow, monkeypatch, first_batch_shard_ids=range(1, BATCH_SHARDS + 1)
    ) as siblings:
        result = workflow.run({}, timeout=600)
        siblings.settle()  # every invocation still running has ended and written

    assert result.status == "FAILED"
    assert result.error == "ShardCorrupt"
    (key,) = [k for k in workflow.stack.object_keys() if k.endswith(".tar")]
    assert workflow.stack.object_keys() == [key]  # no inventory, no working file
    assert siblings.held_too_long == []
    # The other batches were mid-way (or not started) when batch 0 found the damage; each
    # stopped at its next shard once one of its threads had read the damage record.
    answers = siblings.siblings_answers()
    assert len(answers) == SHARDS // BATCH_SHARDS - 1
    assert {answer["stopped"] for answer in answers} == {"batch 0 found ShardCorrupt"}
    assert all(answer["verified"] < BATCH_SHARDS for answer in answers), answers
    assert siblings.shards_verified < SHARDS
    tags = workflow.stack.s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {"Key": "backup-verify-error", "Value": "ShardCorrupt"} in tags
    notification = assert_failure_notified(workflow, "ShardCorrupt")
    assert damaged in notification["message"]
    assert_lock_released(workflow)

"""Verification through the whole state machine at scale: thousands of shards are verified in a
Map of batches, and each step resumes from S3 when its invocation's time runs out.

Budgets are made small through the functions' time limits and the verification's time margin
(a second or less per invocation, against Lambda's 300 and 900), never by asserting how long
anything took: the tests show the loops are taken by counting invocations.
"""

from __future__ import annotations

import json

from local_runner.sample_backup import build_sample_backup, pack_tar, sample_backup_files
from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.workflow import (
    Workflow,
    WorkflowFactory,
    assert_failure_notified,
    assert_lock_released,
    assert_success_notified,
)

STAMP = "20261123T030000Z"
MARGIN = 10.0  # VERIFY_TIME_MARGIN_SECONDS: the time limits below leave 0.1 s and 1.0 s
TINY_BUDGET = {"VerifyBackupFunction": MARGIN + 0.1, "VerifyShardsFunction": MARGIN + 1.0}


def many_shards(databases: int, shards_each: int) -> bytes:
    """A real-format backup of ``databases`` x ``shards_each`` small shards."""
    return build_sample_backup(
        databases={f"db{i:02d}": ("autogen",) for i in range(databases)},
        shards_per_policy=shards_each,
        shard_payload_bytes=64,
    )


def scratch_objects(workflow: Workflow) -> list[str]:
    return [key for key in workflow.stack.object_keys() if ".verification/" in key]


def test_twenty_thousand_members_verify_under_a_tiny_time_budget_by_resuming(
    make_workflow: WorkflowFactory,
) -> None:
    backup = many_shards(databases=20, shards_each=1000)  # 20,000 shards + meta + manifest
    workflow = make_workflow(
        environment={"VERIFY_TIME_MARGIN_SECONDS": str(MARGIN), "VERIFY_BATCH_SHARDS": "5000"},
        timeouts=TINY_BUDGET,
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)

    result = workflow.run({}, timeout=600)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    key = result.output["key"]
    assert sha256(workflow.object_bytes(key)) == sha256(backup)
    inventory = json.loads(workflow.object_bytes(f"{key}.inventory.json"))
    assert inventory["shard_count"] == 20_000
    assert inventory["file_count"] == 20_002
    # The index resumed from its cursor, and the batches (4 of 5,000, each more than a second of
    # work against a second an invocation) from their reports.
    assert workflow.invocations("VerifyBackupFunction") > 1
    assert workflow.invocations("VerifyShardsFunction") > 4
    assert workflow.invocations("FinishVerificationFunction") == 1
    assert scratch_objects(workflow) == []
    assert_success_notified(workflow)
    assert_lock_released(workflow)


def test_five_thousand_shards_verify_in_parallel_batches_through_the_map(
    make_workflow: WorkflowFactory,
) -> None:
    backup = many_shards(databases=5, shards_each=1000)
    workflow = make_workflow(
        environment={"VERIFY_BATCH_SHARDS": "500"}, parameters={"VerifyMaxConcurrency": "4"}
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)

    result = workflow.run({}, timeout=600)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    inventory = json.loads(workflow.object_bytes(f"{result.output['key']}.inventory.json"))
    assert inventory["shard_count"] == 5000
    assert {name for name in inventory["databases"]} == {f"db{i:02d}" for i in range(5)}
    batches = [
        i.event
        for i in workflow.stack.lambdas.invocations
        if i.function_name == "VerifyShardsFunction"
    ]
    assert sorted(event["batch"] for event in batches) == list(range(10))
    (plan,) = [
        i.event
        for i in workflow.stack.lambdas.invocations
        if i.function_name == "FinishVerificationFunction"
    ]
    assert plan["verification"]["max_concurrency"] == 4
    assert scratch_objects(workflow) == []


def test_a_corrupt_shard_inside_the_map_fails_the_run_and_keeps_the_object_tagged(
    make_workflow: WorkflowFactory,
) -> None:
    files = sample_backup_files(shards_per_policy=400)  # 1,200 shards in 3 policies
    damaged = f"{STAMP}.s777.tar.gz"
    files[damaged] = b"this is not gzip, the host's backup is damaged" + bytes(100)
    backup = pack_tar(files)
    workflow = make_workflow(environment={"VERIFY_BATCH_SHARDS": "100"})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)

    result = workflow.run({}, timeout=600)

    assert result.status == "FAILED"
    assert result.error == "ShardCorrupt"
    (key,) = [k for k in workflow.stack.object_keys() if k.endswith(".tar")]
    assert sha256(workflow.object_bytes(key)) == sha256(backup)
    tags = {
        t["Key"]: t["Value"]
        for t in workflow.stack.s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    }
    assert tags["backup-verified"] == "false"
    assert tags["backup-verify-error"] == "ShardCorrupt"
    assert workflow.stack.object_keys() == [key]  # no inventory, no working files
    notification = assert_failure_notified(workflow, "ShardCorrupt")
    assert damaged in notification["message"]
    assert f"kept the copied object s3://{BUCKET}/{key}" in notification["message"]
    assert "byte-identical to what Aiven served" in notification["message"]
    assert_lock_released(workflow)

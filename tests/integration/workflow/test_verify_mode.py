"""Mode 'verify': a backup put into the bucket by hand (downloaded from Aiven's console before the
service was deleted, say) is verified, inventoried and tagged, with no Aiven call and no lock."""

from __future__ import annotations

import json
from typing import Any

import boto3

from local_runner.sample_backup import build_non_backup_tar, pack_tar, sample_backup_files
from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.workflow import Workflow, assert_failure_notified, hold_lock

BY_HAND = "by-hand/acme/metrics-influx/metrics-influx-2025-04-01.tar"
STAMP = "20261123T030000Z"


def put_by_hand(workflow: Workflow, body: bytes) -> None:
    workflow.stack.s3.put_object(Bucket=BUCKET, Key=BY_HAND, Body=body)


def tags_of(workflow: Workflow, key: str) -> dict[str, str]:
    tag_set = workflow.stack.s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def lock_items() -> list[dict[str, Any]]:
    return [
        dict(item)
        for item in boto3.client("dynamodb").scan(TableName="influxdb-backup-locks")["Items"]
    ]


def test_an_object_put_there_by_hand_is_verified_without_aiven_or_the_lock(
    workflow: Workflow, sample_backup: bytes
) -> None:
    put_by_hand(workflow, sample_backup)
    hold_lock("arn:aws:states:us-east-1:123456789012:execution:influxdb-backup:another-run")
    held = lock_items()

    result = workflow.run({"mode": "verify", "s3_key": BY_HAND})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert result.output["key"] == BY_HAND
    assert result.output["mode"] == "verify"
    assert workflow.aiven_calls() == []
    assert lock_items() == held  # neither taken nor released: another run holds it
    assert sha256(workflow.object_bytes(BY_HAND)) == sha256(sample_backup)
    inventory = json.loads(workflow.object_bytes(f"{BY_HAND}.inventory.json"))
    assert inventory["shard_count"] == 6
    tags = tags_of(workflow, BY_HAND)
    assert tags["backup-verified"] == "true"
    assert "retention-class" not in tags  # S3 never expires what a person put there
    assert sorted(workflow.stack.object_keys()) == [BY_HAND, f"{BY_HAND}.inventory.json"]
    (notification,) = workflow.stack.notifications()
    assert notification["attributes"]["status"] == "SUCCEEDED"
    assert "was verified (mode verify)" in notification["message"]
    assert "Data:" in notification["message"]


def test_an_s3_uri_of_the_stacks_bucket_names_the_object_too(
    workflow: Workflow, sample_backup: bytes
) -> None:
    put_by_hand(workflow, sample_backup)

    result = workflow.run({"mode": "verify", "s3_uri": f"s3://{BUCKET}/{BY_HAND}"})

    assert result.status == "SUCCEEDED", result.cause
    assert tags_of(workflow, BY_HAND)["backup-verified"] == "true"


def test_a_damaged_object_put_there_by_hand_is_kept_and_tagged_with_the_error(
    workflow: Workflow,
) -> None:
    files = sample_backup_files()
    files[f"{STAMP}.s2.tar.gz"] = b"not gzip at all" + bytes(64)
    body = pack_tar(files)
    put_by_hand(workflow, body)

    result = workflow.run({"mode": "verify", "s3_key": BY_HAND})

    assert result.status == "FAILED"
    assert result.error == "ShardCorrupt"
    assert sha256(workflow.object_bytes(BY_HAND)) == sha256(body)
    tags = tags_of(workflow, BY_HAND)
    assert tags["backup-verified"] == "false"
    assert tags["backup-verify-error"] == "ShardCorrupt"
    assert "retention-class" not in tags
    notification = assert_failure_notified(workflow, "ShardCorrupt")
    assert f"{STAMP}.s2.tar.gz" in notification["message"]
    assert "never deleted" in notification["message"]


def test_an_object_that_is_no_backup_is_never_deleted_in_mode_verify(workflow: Workflow) -> None:
    put_by_hand(workflow, build_non_backup_tar())

    result = workflow.run({"mode": "verify", "s3_key": BY_HAND})

    assert result.status == "FAILED"
    assert result.error == "NotAnInfluxBackup"
    assert BY_HAND in workflow.stack.object_keys()
    assert tags_of(workflow, BY_HAND)["backup-verify-error"] == "NotAnInfluxBackup"


def test_a_key_with_no_object_fails_naming_the_field(workflow: Workflow) -> None:
    result = workflow.run({"mode": "verify", "s3_key": BY_HAND, "project": PROJECT})

    assert result.status == "FAILED"
    assert result.error == "InvalidExecutionInput"
    assert "invalid input field 's3_key'" in (result.cause or "")
    assert workflow.stack.object_keys() == []
    notification = assert_failure_notified(workflow, "InvalidExecutionInput")
    assert SERVICE in notification["subject"]

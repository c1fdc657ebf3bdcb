"""Object Lock on: the backup still lands (every PUT carries a checksum), is WORM for
ObjectLockDays, and a failed run keeps and tags the locked object instead of deleting it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.workflow import (
    WorkflowFactory,
    assert_failure_notified,
    assert_lock_released,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The SDK only adds checksums to PUTs that require one: what older SDKs, and the Lambda runtime's
# boto3 before 1.36, always did. A PUT to a locked bucket without Content-MD5 or a checksum is
# refused, so every PUT of the workflow must ask for its checksum itself.
ONLY_REQUIRED_CHECKSUMS = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required"}


def _tags(s3: S3Client, key: str) -> dict[str, str]:
    tag_set = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_with_object_lock_the_backup_and_its_inventory_land_locked(
    make_workflow: WorkflowFactory, sample_backup: bytes, mode: str
) -> None:
    workflow = make_workflow(
        parameters={"ObjectLockMode": mode, "ObjectLockDays": "7"},
        environment=ONLY_REQUIRED_CHECKSUMS,
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    s3 = workflow.stack.s3
    before = datetime.now(UTC).replace(microsecond=0)  # S3 gives retain-until in whole seconds

    result = workflow.run({"backup_name": "locked-1"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    key = result.output["key"]
    assert sha256(workflow.object_bytes(key)) == sha256(sample_backup)
    for locked in (key, f"{key}.inventory.json"):
        head = s3.head_object(Bucket=BUCKET, Key=locked)
        assert head["ObjectLockMode"] == mode
        until = head["ObjectLockRetainUntilDate"]
        assert before + timedelta(days=7) <= until <= datetime.now(UTC) + timedelta(days=7)
        version = head["VersionId"]
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=BUCKET, Key=locked, VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert _tags(s3, key)["retention-class"] == "yearly"
    assert workflow.stack.incomplete_uploads() == []


def test_a_failed_verification_keeps_and_tags_the_locked_object_instead_of_deleting_it(
    make_workflow: WorkflowFactory,
) -> None:
    workflow = make_workflow(parameters={"ObjectLockMode": "COMPLIANCE", "ObjectLockDays": "3"})
    not_a_backup = os.urandom(64 * 1024)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=not_a_backup)
    s3 = workflow.stack.s3

    result = workflow.run({"backup_name": "garbage"})

    assert result.status == "FAILED"
    assert result.error == "NotAnInfluxBackup"
    (key,) = workflow.stack.object_keys()
    assert key.endswith("/garbage.tar")
    assert sha256(workflow.object_bytes(key)) == sha256(not_a_backup)
    # Not even a delete marker: the failure path never asked S3 to delete it.
    versions = s3.list_object_versions(Bucket=BUCKET)
    assert versions.get("DeleteMarkers", []) == []
    assert [v["Key"] for v in versions["Versions"]] == [key]
    assert _tags(s3, key)["backup-verified"] == "false"
    assert _tags(s3, key)["retention-class"] == "failed"
    notification = assert_failure_notified(workflow, "NotAnInfluxBackup")
    assert f"kept the unverified object s3://{BUCKET}/{key}" in notification["message"]
    assert "Object Lock (COMPLIANCE until " in notification["message"]
    assert "removed the unverified object" not in notification["message"]
    assert workflow.stack.incomplete_uploads() == []
    assert_lock_released(workflow)


def test_without_object_lock_a_failed_verification_still_removes_the_object(
    make_workflow: WorkflowFactory,
) -> None:
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=os.urandom(64 * 1024))

    result = workflow.run({"backup_name": "garbage"})

    assert result.error == "NotAnInfluxBackup"
    assert workflow.stack.object_keys() == []
    notification = assert_failure_notified(workflow, "NotAnInfluxBackup")
    assert "removed the unverified object" in notification["message"]

"""S3 throttling while VerifyBackup reads the object: retried like every other S3 call, and a
verification that S3 keeps refusing never costs the copied object.

botocore's own retries (standard mode, 5 attempts) absorb a short burst; the faults here last
longer than that, so the product's own S3 retries are what the run depends on.
"""

from __future__ import annotations

import pytest

from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.faults import failing_s3_calls
from tests.support.s3 import sha256
from tests.support.workflow import (
    WorkflowFactory,
    assert_failure_notified,
    assert_lock_released,
    assert_success_notified,
)

BOTOCORE_ATTEMPTS = 6  # services_for: retries={"mode": "standard", "max_attempts": 5} = 5 retries
THROTTLING = [
    ("SlowDown", 503),
    ("Throttling", 400),
    ("ThrottlingException", 400),
    ("TooManyRequests", 429),
    ("BadGateway", 502),
    ("GatewayTimeout", 504),
]


@pytest.mark.parametrize(("code", "status"), THROTTLING)
def test_throttled_verification_reads_are_retried_and_the_backup_lands(
    make_workflow: WorkflowFactory, sample_backup: bytes, code: str, status: int
) -> None:
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    # Every botocore attempt of the first ranged read fails: only the product's retry saves it.
    with failing_s3_calls("GetObject", code, status, times=BOTOCORE_ATTEMPTS) as attempts:
        result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    assert len(attempts) > BOTOCORE_ATTEMPTS
    assert isinstance(result.output, dict)
    assert sha256(workflow.object_bytes(result.output["key"])) == sha256(sample_backup)
    assert workflow.invocations("VerifyBackupFunction") == 1
    assert_success_notified(workflow)
    assert_lock_released(workflow)


def test_verification_that_s3_keeps_throttling_keeps_the_copied_object_tagged_unverified(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(environment={"COPY_MAX_ATTEMPTS": "2"})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    with failing_s3_calls("GetObject", "Throttling", 400, times=10**6):
        result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "S3Unavailable"
    assert "Throttling" in (result.cause or "")
    assert workflow.invocations("VerifyBackupFunction") == 4  # first run + 3 Retry runs
    (key,) = workflow.stack.object_keys()
    assert sha256(workflow.object_bytes(key)) == sha256(sample_backup)
    tags = workflow.stack.s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {"Key": "backup-verified", "Value": "false"} in tags
    assert workflow.stack.incomplete_uploads() == []
    notification = assert_failure_notified(workflow, "S3Unavailable")
    assert f"kept the copied object s3://{BUCKET}/{key}" in notification["message"]
    assert "tagged backup-verified=false" in notification["message"]
    assert_lock_released(workflow)

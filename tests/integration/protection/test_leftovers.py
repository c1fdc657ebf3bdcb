"""What the failure path does with an object a failed run left, on moto's S3 (see
``aiven_backup.workflow.leftovers``): tag it so S3 expires it, never delete a locked one."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiven_backup.workflow.leftovers import protect_leftovers
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KEY = "influxdb-backups/acme/metrics-influx/2027/03/07/nightly.tar"


def _failed_state(*, copied: bool, verified: bool, bucket: str = BUCKET) -> dict[str, Any]:
    """A run state as the Catch hands it to HandleFailure."""
    return {
        "execution": {"arn": "arn:x", "name": "x", "started_at": "2027-03-07T03:00:00Z"},
        "request": {
            "project": "acme",
            "service": "metrics-influx",
            "backup_name": "nightly",
            "mode": "request",
            "access_route": "auto",
            "s3_prefix": "influxdb-backups",
        },
        "bucket": bucket,
        "key": KEY,
        "copy": {"done": copied, "invocations": 1, "bytes_copied": 4},
        "inventory": {"databases": 2} if verified else None,
        "inventory_key": f"{KEY}.inventory.json" if verified else None,
        "error": {"Error": "SomethingFailed", "Cause": "{}"},
    }


def _tags(s3: S3Client, key: str, bucket: str = BUCKET) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_a_verified_object_whose_run_failed_before_it_was_classified_expires_as_failed(
    s3: S3Client,
) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"tar", Tagging="backup-verified=true")
    s3.put_object(Bucket=BUCKET, Key=f"{KEY}.inventory.json", Body=b"{}")

    leftovers = protect_leftovers(
        s3, _failed_state(copied=True, verified=True), lock_mode="NONE", clock=time.time
    )

    assert _tags(s3, KEY) == {"backup-verified": "true", "retention-class": "failed"}
    assert _tags(s3, f"{KEY}.inventory.json") == {"retention-class": "failed"}
    assert not leftovers.kept_unverified
    (report,) = leftovers.report
    assert "retention-class=failed" in report


def test_a_class_finish_backup_already_gave_is_kept(s3: S3Client) -> None:
    s3.put_object(
        Bucket=BUCKET, Key=KEY, Body=b"tar", Tagging="backup-verified=true&retention-class=yearly"
    )

    leftovers = protect_leftovers(
        s3, _failed_state(copied=True, verified=True), lock_mode="NONE", clock=time.time
    )

    assert _tags(s3, KEY)["retention-class"] == "yearly"
    assert leftovers.report == []


def test_an_unverified_unlocked_object_is_left_to_the_failure_paths_delete(s3: S3Client) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"tar")

    leftovers = protect_leftovers(
        s3, _failed_state(copied=True, verified=False), lock_mode="NONE", clock=time.time
    )

    assert not leftovers.kept_unverified
    assert leftovers.report == []
    assert _tags(s3, KEY) == {}


def test_a_lock_the_object_itself_reports_is_honoured_even_if_the_stack_set_none(
    s3: S3Client,
) -> None:
    # ExistingBucketName: the operator's own bucket has Object Lock; the stack's parameter is NONE.
    s3.create_bucket(Bucket="their-locked-bucket", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="their-locked-bucket",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    s3.put_object(Bucket="their-locked-bucket", Key=KEY, Body=b"tar", ChecksumAlgorithm="CRC32")

    leftovers = protect_leftovers(
        s3,
        _failed_state(copied=True, verified=False, bucket="their-locked-bucket"),
        lock_mode="NONE",
        clock=time.time,
    )

    assert leftovers.kept_unverified
    assert "Object Lock (COMPLIANCE until " in leftovers.report[0]
    assert _tags(s3, KEY, "their-locked-bucket") == {
        "backup-verified": "false",
        "retention-class": "failed",
    }


def test_nothing_is_touched_when_the_copy_never_finished_or_the_input_was_bad(
    s3: S3Client,
) -> None:
    for state in (_failed_state(copied=False, verified=False), {"input": {"service": "x"}}):
        leftovers = protect_leftovers(s3, state, lock_mode="COMPLIANCE", clock=time.time)

        assert (leftovers.report, leftovers.kept_unverified) == ([], False)

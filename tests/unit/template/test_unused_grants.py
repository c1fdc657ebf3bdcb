"""Grants no code path uses are taken away (least privilege).

CopyBackup never lists the bucket's uploads (``abort_incomplete_uploads`` runs in HandleFailure);
StartBackup takes the lock with one conditional PutItem and reads no item; the verification's
steps write nothing but their working files (``<key>.verification/``) and the inventory next to
the backup, and delete nothing else.
"""

from __future__ import annotations

import pytest

from aiven_backup.verify.publish import INVENTORY_SUFFIX, inventory_key
from aiven_backup.verify.scratch import SCRATCH_SUFFIX, scratch_keys
from tests.support.sam_template import (
    StackContext,
    actions,
    allowed,
    granted_actions,
    resources_of,
    translated,
)

TRANSLATED = translated()


def test_copy_backup_may_not_list_the_buckets_multipart_uploads() -> None:
    assert "s3:ListBucketMultipartUploads" not in granted_actions(TRANSLATED, "CopyBackupFunction")


def test_start_backup_may_not_read_lock_items() -> None:
    granted = granted_actions(TRANSLATED, "StartBackupFunction")

    assert "dynamodb:GetItem" not in granted
    assert "dynamodb:PutItem" in granted


def _resources_granted(function: str, action: str) -> list[str]:
    deployment = StackContext.of(TRANSLATED, "s")
    return [
        arn
        for statement in allowed(TRANSLATED, function)
        if action in actions(statement)
        for listed in resources_of(statement)
        for arn in deployment.resolve(listed)
    ]


SCRATCH_OBJECTS = "/*" + SCRATCH_SUFFIX + "*"


@pytest.mark.parametrize("function", ["VerifyBackupFunction", "VerifyShardsFunction"])
def test_verification_steps_may_put_only_their_working_files(function: str) -> None:
    resources = _resources_granted(function, "s3:PutObject")

    assert resources, f"{function} must be allowed to write its working files"
    assert all(arn.endswith(SCRATCH_OBJECTS) for arn in resources), resources
    assert scratch_keys("p/acme/s/2026/11/23/b.tar", 1)[0].startswith("p/acme/s/2026/11/23/b.tar")
    assert "s3:DeleteObject" not in granted_actions(TRANSLATED, function)
    tagged = _resources_granted(function, "s3:PutObjectTagging")
    assert tagged, f"{function} tags its working files as it writes them"
    assert all(arn.endswith(SCRATCH_OBJECTS) for arn in tagged), tagged


def test_finish_verification_may_put_only_the_inventory_and_delete_only_working_files() -> None:
    puts = _resources_granted("FinishVerificationFunction", "s3:PutObject")
    deletes = _resources_granted("FinishVerificationFunction", "s3:DeleteObject")

    assert puts, "FinishVerification must be allowed to write the inventory"
    assert all(arn.endswith("/*" + INVENTORY_SUFFIX) for arn in puts), puts
    assert inventory_key("p/acme/s/2026/11/23/b.tar").endswith(INVENTORY_SUFFIX)
    assert deletes, "FinishVerification must be allowed to delete its working files"
    assert all(arn.endswith(SCRATCH_OBJECTS) for arn in deletes), deletes

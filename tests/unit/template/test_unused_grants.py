"""Grants no code path uses are taken away (least privilege).

CopyBackup never lists the bucket's uploads (``abort_incomplete_uploads`` runs in HandleFailure);
StartBackup takes the lock with one conditional PutItem and reads no item; VerifyBackup writes
nothing but the inventory next to the backup.
"""

from __future__ import annotations

from aiven_backup.verify.publish import INVENTORY_SUFFIX, inventory_key
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


def test_verify_backup_may_put_only_inventory_objects() -> None:
    deployment = StackContext.of(TRANSLATED, "s")
    puts = [
        statement
        for statement in allowed(TRANSLATED, "VerifyBackupFunction")
        if "s3:PutObject" in actions(statement)
    ]
    resources = [
        arn
        for statement in puts
        for listed in resources_of(statement)
        for arn in deployment.resolve(listed)
    ]

    assert resources, "VerifyBackup must be allowed to write the inventory"
    assert all(arn.endswith("/*" + INVENTORY_SUFFIX) for arn in resources), resources
    assert inventory_key("p/acme/s/2026/11/23/b.tar").endswith(INVENTORY_SUFFIX)

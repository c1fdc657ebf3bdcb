"""What happens to a copied object when verification fails, and how shards are cut into batches."""

from __future__ import annotations

import pytest

from aiven_backup import errors
from aiven_backup.verify.manifest import ManifestEntry
from aiven_backup.verify.tar_index import TarMember
from aiven_backup.workflow.failure import CopiedObjectVerdict, copied_object_verdict
from aiven_backup.workflow.settings import VerifySettings
from aiven_backup.workflow.verification import plan_batches
from tests.support.content_errors import CONTENT_CORRUPT


@pytest.mark.parametrize("error", CONTENT_CORRUPT, ids=lambda e: e.__name__)
def test_a_backup_whose_content_is_damaged_is_kept(error: type[errors.BackupError]) -> None:
    assert copied_object_verdict(error.__name__) is CopiedObjectVerdict.KEEP_CORRUPT


@pytest.mark.parametrize("error", [errors.NotAnInfluxBackup, errors.BackupFileMissing])
def test_an_object_proven_not_the_backup_is_deleted_unless_put_there_by_hand(
    error: type[errors.BackupError],
) -> None:
    assert copied_object_verdict(error.__name__) is CopiedObjectVerdict.DELETE
    assert (
        copied_object_verdict(error.__name__, put_by_hand=True)
        is CopiedObjectVerdict.KEEP_UNVERIFIED
    )


@pytest.mark.parametrize("name", ["S3Unavailable", "States.Timeout", "Sandbox.Timedout"])
def test_a_transient_failure_keeps_the_object_unverified(name: str) -> None:
    assert copied_object_verdict(name) is CopiedObjectVerdict.KEEP_UNVERIFIED


def shard(number: int, offset: int, size: int) -> tuple[TarMember, ManifestEntry]:
    name = f"s{number}.tar.gz"
    return (
        TarMember(name=name, offset=offset, size=size, type="file"),
        ManifestEntry("db", "autogen", number, name, size, 0),
    )


def test_batches_hold_at_most_so_many_shards_and_bytes_in_tar_order() -> None:
    shards = [shard(1, 0, 10), shard(2, 512, 10), shard(3, 1024, 90), shard(4, 2048, 20)]

    batches = plan_batches(shards, VerifySettings(batch_shards=2, batch_bytes=100))

    assert [[s[1].shard_id for s in batch] for batch in batches] == [[1, 2], [3], [4]]


def test_a_shard_larger_than_a_batch_is_a_batch_of_its_own() -> None:
    batches = plan_batches([shard(1, 0, 500)], VerifySettings(batch_bytes=100))

    assert len(batches) == 1


def test_a_backup_without_shards_has_no_batches() -> None:
    assert plan_batches([], VerifySettings()) == []

"""A backup the host serves damaged, through the whole state machine: the copy is byte-identical
to what Aiven served, deep verification finds the damage, the run FAILS naming the shard (and
the TSM file), and the object is kept, tagged with the error, since it may be the only copy."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from local_runner.sample_backup import pack_tar, sample_backup_files
from local_runner.stack import BUCKET
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.tsm import (
    STAMP,
    corrupt_block,
    index_entries,
    regzip,
    shard_files,
    shard_members,
    with_byte_flipped,
)
from tests.support.workflow import WorkflowFactory, assert_failure_notified, assert_lock_released

FLIPPED_SHARD = f"{STAMP}.s2.tar.gz"


def byte_flipped_in_a_shards_gzip_data() -> tuple[bytes, list[str]]:
    files = sample_backup_files()
    files[FLIPPED_SHARD] = with_byte_flipped(files[FLIPPED_SHARD], len(files[FLIPPED_SHARD]) // 2)
    return pack_tar(files), [FLIPPED_SHARD]


def a_corrupted_tsm_block_regzipped() -> tuple[bytes, list[str]]:
    files = sample_backup_files()
    shard = shard_files(files)[1]
    ((tsm_name, tsm),) = shard_members(shard.data).items()
    damaged = regzip(shard, {tsm_name: corrupt_block(tsm, next(iter(index_entries(tsm))))})
    files[shard.entry.file_name] = damaged.data
    files[f"{STAMP}.manifest"] = files[f"{STAMP}.manifest"].replace(
        f'"size": {shard.entry.size},'.encode(), f'"size": {damaged.entry.size},'.encode(), 1
    )
    return pack_tar(files), [shard.entry.file_name, tsm_name]


def a_metastore_that_disagrees_with_the_manifest() -> tuple[bytes, list[str]]:
    """Another backup's metastore (it knows one shard per policy), with the manifest's meta size
    made to match it, so only the comparison of their shards can tell."""
    files = sample_backup_files()
    other = sample_backup_files(shards_per_policy=1)
    files[f"{STAMP}.meta"] = other[f"{STAMP}.meta"]
    own_size = _meta_size(files[f"{STAMP}.manifest"])
    files[f"{STAMP}.manifest"] = files[f"{STAMP}.manifest"].replace(
        f'"size": {own_size}\n'.encode(),
        f'"size": {_meta_size(other[f"{STAMP}.manifest"])}\n'.encode(),
        1,
    )
    return pack_tar(files), ["shard 2 (telegraf.autogen"]


def _meta_size(manifest: bytes) -> int:
    size: int = json.loads(manifest)["meta"]["size"]
    return size


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (byte_flipped_in_a_shards_gzip_data, "ShardCorrupt"),
        (a_corrupted_tsm_block_regzipped, "TsmCorrupt"),
        (a_metastore_that_disagrees_with_the_manifest, "MetaManifestMismatch"),
    ],
)
def test_damaged_content_fails_naming_where_and_keeps_the_object_tagged(
    make_workflow: WorkflowFactory,
    damage: Callable[[], tuple[bytes, list[str]]],
    error: str,
) -> None:
    backup, named = damage()
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == error
    (key,) = [k for k in workflow.stack.object_keys() if k.endswith(".tar")]
    assert sha256(workflow.object_bytes(key)) == sha256(backup)  # kept, byte for byte
    tags = {
        t["Key"]: t["Value"]
        for t in workflow.stack.s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    }
    assert tags["backup-verified"] == "false"
    assert tags["backup-verify-error"] == error
    notification = assert_failure_notified(workflow, error)
    for name in named:
        assert name in notification["message"]
    assert_lock_released(workflow)

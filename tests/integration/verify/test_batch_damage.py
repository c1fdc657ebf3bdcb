"""VerifyShards and FinishVerification on moto when a batch's shard is damaged: the batch records
the damage instead of failing its Map iteration, its siblings stop on seeing the record, and
FinishVerification raises the recorded error under its own name (``verify.damage``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from aiven_backup.errors import ShardCorrupt, UploadFailed
from aiven_backup.verify import batch as batch_module
from aiven_backup.verify.damage import DamageFound
from aiven_backup.verify.scratch import Scratch, scratch_keys
from aiven_backup.verify.shard import verify_shard
from aiven_backup.workflow import verification
from aiven_backup.workflow.run_state import RunState
from aiven_backup.workflow.services import Services
from local_runner.sample_backup import pack_tar, sample_backup_files
from tests.support.aws import BUCKET
from tests.support.services import copied_run, services_on_moto

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAMP = "20261123T030000Z"
KEY = "influxdb-backups/acme/metrics-influx/2026/11/23/nightly.tar"
FAR_AWAY = 10**9  # a deadline (time.monotonic()) no step reaches
DAMAGED = f"{STAMP}.s1.tar.gz"  # the first shard: batch 0


def planned(
    s3: S3Client, environment: dict[str, str], *, damaged: bool = True
) -> tuple[RunState, Services]:
    """Two batches of 6 shards of the sample backup planned, s1 (batch 0) damaged or not."""
    files = sample_backup_files(shards_per_policy=4)
    if damaged:
        files[DAMAGED] = b"this is not gzip, the host's backup is damaged" + bytes(100)
    body = pack_tar(files)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    services = services_on_moto({"VERIFY_BATCH_SHARDS": "6", **environment})
    state = verification.plan_verification(copied_run(KEY, len(body)), services, FAR_AWAY)
    assert state.verification is not None
    assert state.verification.batches == [0, 1]
    return state, services


def item(state: RunState, batch: int) -> verification.BatchItem:
    assert state.verification is not None
    return verification.BatchItem(BUCKET, KEY, state.verification.size, batch)


def counting_shards(monkeypatch: pytest.MonkeyPatch, after_first: Any = None) -> list[str]:
    """Count the shards ``verify_shard`` checks; run ``after_first()`` after the first one."""
    checked: list[str] = []

    def counting(reader: Any, member: Any, entry: Any, **options: Any) -> Any:
        report = verify_shard(reader, member, entry, **options)
        checked.append(member.name)
        if after_first is not None and len(checked) == 1:
            after_first()
        return report

    monkeypatch.setattr(batch_module, "verify_shard", counting)
    return checked


def test_a_batch_that_finds_a_damaged_shard_records_it_and_ends_without_raising(
    s3: S3Client,
) -> None:
    state, services = planned(s3, {})

    result = verification.verify_shard_batch(item(state, 0), services, FAR_AWAY)

    assert result.done is True
    assert result.stopped == "batch 0 found ShardCorrupt"
    damage = Scratch(s3, BUCKET, KEY).read_damage()
    assert damage is not None
    assert (damage.name, damage.batch) == ("ShardCorrupt", 0)
    assert DAMAGED in damage.message
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=f"{KEY}.verification/damage.json")["TagSet"]
    assert tags == [{"Key": "retention-class", "Value": "failed"}]  # S3 expires it if left


def test_a_batch_started_after_a_sibling_recorded_damage_verifies_nothing(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, services = planned(s3, {})
    Scratch(s3, BUCKET, KEY).write_damage(DamageFound("ShardCorrupt", f"{DAMAGED}: bad", 0))
    checked = counting_shards(monkeypatch)

    result = verification.verify_shard_batch(item(state, 1), services, FAR_AWAY)

    assert checked == []
    assert (result.done, result.verified, result.stopped) == (True, 0, "batch 0 found ShardCorrupt")


def test_a_batch_stops_between_shards_once_a_sibling_records_damage(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, services = planned(
        s3, {"VERIFY_THREADS": "1", "VERIFY_DAMAGE_CHECK_SECONDS": "0"}, damaged=False
    )
    scratch = Scratch(s3, BUCKET, KEY)
    checked = counting_shards(
        monkeypatch,
        after_first=lambda: scratch.write_damage(DamageFound("TsmCorrupt", "s9: bad block", 0)),
    )

    result = verification.verify_shard_batch(item(state, 1), services, FAR_AWAY)

    assert len(checked) == 1  # of 6
    assert (result.done, result.verified, result.shards) == (True, 1, 6)
    assert result.stopped == "batch 0 found TsmCorrupt"


def test_without_damage_every_shard_is_verified_and_nothing_is_stopped(s3: S3Client) -> None:
    state, services = planned(s3, {}, damaged=False)

    result = verification.verify_shard_batch(item(state, 1), services, FAR_AWAY)

    assert (result.done, result.verified, result.stopped) == (True, 6, None)
    assert Scratch(s3, BUCKET, KEY).read_damage() is None  # the plan wrote an empty record


def test_finishing_raises_the_recorded_damage_under_its_own_name_and_keeps_the_files(
    s3: S3Client,
) -> None:
    state, services = planned(s3, {})
    for batch in (0, 1):
        verification.verify_shard_batch(item(state, batch), services, FAR_AWAY)

    with pytest.raises(ShardCorrupt, match=DAMAGED.replace(".", r"\.")):
        verification.finish_verification(state, services)

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert f"{KEY}.inventory.json" not in keys
    # Left for the failure path, which deletes every one of them (scratch_keys).
    assert keys - {KEY} <= set(scratch_keys(KEY, 2))
    assert f"{KEY}.verification/damage.json" in keys


def test_a_damage_record_s3_refuses_to_give_is_no_reason_to_stop_verifying(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run planned before the record existed: VerifyShards' role has no s3:ListBucket, so S3
    # answers 403 for the missing key, which the retry layer names UploadFailed.
    state, services = planned(s3, {}, damaged=False)

    def refused(self: Scratch) -> DamageFound | None:
        raise UploadFailed("S3 refused to read the verification's working file (AccessDenied)")

    monkeypatch.setattr(Scratch, "read_damage", refused)

    result = verification.verify_shard_batch(item(state, 1), services, FAR_AWAY)

    assert (result.done, result.verified, result.stopped) == (True, 6, None)

"""Recording a verified backup next to its object: the inventory file and the object's tags."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiven_backup.verify import verify_backup, write_inventory
from local_runner.sample_backup import build_sample_backup
from tests.support.aws import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.s3 import PutObject

KEY = "backups/acme/metrics-influx/2026/11/23/metrics-influx-20261123T0300Z.tar"
SAMPLE = build_sample_backup()


def _tags(s3: S3Client, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def test_inventory_json_is_written_next_to_the_object(s3: S3Client, put_object: PutObject) -> None:
    put_object(KEY, build_sample_backup())
    inventory = verify_backup(s3, BUCKET, KEY)

    written = write_inventory(s3, BUCKET, KEY, inventory)

    assert written == KEY + ".inventory.json"
    stored = s3.get_object(Bucket=BUCKET, Key=written)
    assert stored["ContentType"] == "application/json"
    document = json.loads(stored["Body"].read())
    assert document == {"object": {"bucket": BUCKET, "key": KEY}, **inventory.to_dict()}
    assert document["databases"]["metrics"] == {"autogen": [3, 4], "one_week": [5, 6]}


def test_object_is_tagged_as_verified(s3: S3Client, put_object: PutObject) -> None:
    put_object(KEY, build_sample_backup())

    write_inventory(s3, BUCKET, KEY, verify_backup(s3, BUCKET, KEY))

    assert _tags(s3, KEY) == {
        "backup-verified": "true",
        "manifest-stamp": "20261123T030000Z",
        "databases": "2",
        "shards": "6",
    }


def test_tags_already_on_the_object_are_kept_and_rewriting_is_harmless(
    s3: S3Client, put_object: PutObject
) -> None:
    put_object(KEY, build_sample_backup())
    s3.put_object_tagging(
        Bucket=BUCKET,
        Key=KEY,
        Tagging={"TagSet": [{"Key": "owner", "Value": "data-team"}]},
    )
    inventory = verify_backup(s3, BUCKET, KEY)

    write_inventory(s3, BUCKET, KEY, inventory)
    write_inventory(s3, BUCKET, KEY, inventory)

    tags = s3.get_object_tagging(Bucket=BUCKET, Key=KEY)["TagSet"]
    assert len(tags) == 5  # the owner's tag and the four verification tags
    assert _tags(s3, KEY)["owner"] == "data-team"
    assert _tags(s3, KEY)["backup-verified"] == "true"


def test_tags_stay_within_s3s_limit_of_ten(s3: S3Client, put_object: PutObject) -> None:
    put_object(KEY, build_sample_backup())
    existing = [{"Key": f"k{i}", "Value": "v"} for i in range(10)]
    s3.put_object_tagging(Bucket=BUCKET, Key=KEY, Tagging={"TagSet": existing})  # type: ignore[typeddict-item]

    write_inventory(s3, BUCKET, KEY, verify_backup(s3, BUCKET, KEY))

    tags = _tags(s3, KEY)
    assert len(tags) == 10
    assert tags["backup-verified"] == "true"
    assert tags["manifest-stamp"] == "20261123T030000Z"

"""Record a verified backup next to its object: an inventory JSON file and tags on the object."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiven_backup.retry import TRANSFER_RETRY, RetriesOneOperation
from aiven_backup.s3.retry import call_with_retries
from aiven_backup.verify.data_inventory import DataInventory
from aiven_backup.verify.inventory import Inventory, InventoryFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import TagTypeDef

INVENTORY_SUFFIX = ".inventory.json"
MAX_TAGS = 10  # S3's limit per object
_TAG_VALUE_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


def inventory_key(key: str) -> str:
    """Where the inventory of ``key`` is written."""
    return key + INVENTORY_SUFFIX


def verification_tags(inventory: Inventory) -> dict[str, str]:
    """The tags a verified backup object carries."""
    return {
        "backup-verified": "true",
        "manifest-stamp": _tag_value(inventory.stamp),
        "databases": str(len(inventory.databases)),
        "shards": str(inventory.shard_count),
    }


def write_inventory(
    s3: S3Client,
    bucket: str,
    key: str,
    inventory: Inventory,
    *,
    data: DataInventory | None = None,
    extra: Mapping[str, Any] | None = None,
    retry: RetriesOneOperation = TRANSFER_RETRY,
) -> str:
    """Write ``<key>.inventory.json``, tag ``key`` as verified; returns the inventory's key.

    Tags the object already has are kept (as many as S3's limit of 10 leaves room for). Writing
    twice gives the same result, so a retried step is harmless. ``data`` (what the shards hold)
    goes in as ``data``, ``extra`` fields at the top level.
    """
    target = inventory_key(key)
    body: dict[str, Any] = {"object": {"bucket": bucket, "key": key}, **inventory.to_dict()}
    if data is not None:
        body["data"] = data.to_dict()
    body.update(extra or {})
    call_with_retries(
        lambda: s3.put_object(
            Bucket=bucket,
            Key=target,
            Body=json.dumps(body, indent=2).encode(),
            ContentType="application/json",
            # A bucket with Object Lock refuses a PUT without Content-MD5 or a checksum; asked
            # for explicitly, it does not depend on the SDK version's checksum defaults.
            ChecksumAlgorithm="CRC32",
        ),
        retry,
        "write the inventory to",
        f"s3://{bucket}/{target}",
    )
    location = f"s3://{bucket}/{key}"
    existing = call_with_retries(
        lambda: s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"],
        retry,
        "read the tags of",
        location,
    )
    ours = verification_tags(inventory)
    kept = [tag for tag in existing if tag["Key"] not in ours][: MAX_TAGS - len(ours)]
    tag_set: list[TagTypeDef] = [*kept]
    tag_set.extend({"Key": name, "Value": value} for name, value in ours.items())
    call_with_retries(
        lambda: s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tag_set}),
        retry,
        "tag",
        location,
    )
    return target


def read_inventory(
    s3: S3Client, bucket: str, key: str, *, retry: RetriesOneOperation = TRANSFER_RETRY
) -> tuple[Inventory, DataInventory] | None:
    """The inventory ``write_inventory`` wrote for ``key`` (and its data), or None if there is
    none (the caller needs ``s3:ListBucket`` for S3 to say so rather than refuse)."""
    target = inventory_key(key)

    def get() -> bytes | None:
        try:
            return s3.get_object(Bucket=bucket, Key=target)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    raw = call_with_retries(get, retry, "read the inventory", f"s3://{bucket}/{target}")
    if raw is None:
        return None
    document = json.loads(raw)
    inventory = Inventory(
        stamp=str(document["stamp"]),
        folder=str(document["folder"]),
        databases=document["databases"],
        files=[InventoryFile(**file) for file in document["files"]],
        total_size=int(document["total_size"]),
        limited=bool(document["limited"]),
    )
    return inventory, DataInventory.from_dict(document.get("data") or {})


def _tag_value(value: str) -> str:
    return _TAG_VALUE_UNSAFE.sub("_", value)[:256]

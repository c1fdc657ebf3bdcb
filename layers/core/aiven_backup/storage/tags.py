"""Object tags: read them, and change some without losing the others (S3 replaces the set)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiven_backup.errors import UploadLost
from aiven_backup.s3.translate import s3_errors_named

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import TagTypeDef

VERIFIED_TAG = "backup-verified"
"""``true`` once VerifyBackup checked the object (see ``verify.publish``); ``false`` on an object
a failed run had to keep."""
MAX_TAGS = 10  # S3's limit per object


def read_tags(s3: S3Client, bucket: str, key: str) -> dict[str, str]:
    """The object's tags (``UploadLost`` when it does not exist)."""
    with s3_errors_named("read the tags of", f"s3://{bucket}/{key}"):
        tag_set = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def tags_if_present(s3: S3Client, bucket: str, key: str) -> dict[str, str] | None:
    """The object's tags, or None when it no longer exists (expired, deleted)."""
    try:
        return read_tags(s3, bucket, key)
    except UploadLost:
        return None


def merge_tags(s3: S3Client, bucket: str, key: str, updates: Mapping[str, str]) -> dict[str, str]:
    """Set ``updates`` on the object, keeping its other tags (as many as S3's 10 leave room for).

    Writing the same updates twice gives the same tags, so a retried step is harmless.
    """
    existing = read_tags(s3, bucket, key)
    kept = [(name, value) for name, value in existing.items() if name not in updates]
    merged = dict(kept[: MAX_TAGS - len(updates)])
    merged.update(updates)
    tag_set: list[TagTypeDef] = [{"Key": name, "Value": value} for name, value in merged.items()]
    with s3_errors_named("tag", f"s3://{bucket}/{key}"):
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})
    return merged

"""What the bucket keeps and for how long: retention classes, Object Lock, object tags.

S3 does the keeping and the deleting (lifecycle rules filtered by the ``retention-class`` tag,
Object Lock's default retention); this package only decides and writes the tags the rules read.
"""

from aiven_backup.storage.object_lock import ObjectLock, object_lock_of
from aiven_backup.storage.retention import (
    RETENTION_CLASS_TAG,
    RetentionClass,
    RetentionDecision,
    StoredBackup,
    apply_retention_class,
    classify,
    decide_retention,
    list_service_backups,
)
from aiven_backup.storage.tags import VERIFIED_TAG, merge_tags, read_tags, tags_if_present

__all__ = [
    "RETENTION_CLASS_TAG",
    "VERIFIED_TAG",
    "ObjectLock",
    "RetentionClass",
    "RetentionDecision",
    "StoredBackup",
    "apply_retention_class",
    "classify",
    "decide_retention",
    "list_service_backups",
    "merge_tags",
    "object_lock_of",
    "read_tags",
    "tags_if_present",
]

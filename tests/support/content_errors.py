"""The errors that mean the backup's content is damaged (``BackupContentCorrupt`` and its family),
listed by hand: a test over them fails when a class is added without being thought about."""

from __future__ import annotations

from aiven_backup import errors

CONTENT_CORRUPT = [
    errors.BackupContentCorrupt,
    errors.ShardCorrupt,
    errors.TsmCorrupt,
    errors.MetastoreCorrupt,
    errors.MetaManifestMismatch,
]

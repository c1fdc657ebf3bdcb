"""The backups HTTP API's core: start, report and list backups. No Lambda or HTTP types."""

from aiven_backup.api.backups import BackupsApi, StartedBackup
from aiven_backup.api.catalog import BackupCatalog, CatalogQuery
from aiven_backup.api.errors import (
    BackupInProgressError,
    BackupNotFoundError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
)
from aiven_backup.api.settings import ApiSettings

__all__ = [
    "ApiSettings",
    "BackupCatalog",
    "BackupInProgressError",
    "BackupNotFoundError",
    "BackupsApi",
    "CatalogQuery",
    "IdempotencyKeyReusedError",
    "InvalidRequestError",
    "StartedBackup",
]

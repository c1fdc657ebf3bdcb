"""The Aiven API: client, models, preflight, backup URL resolution, token (and, re-exported for
callers of the client, the shared ``RetryPolicy``)."""

from aiven_backup.aiven.backup_uri import effective_route, resolve_backup_url
from aiven_backup.aiven.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, AivenClient
from aiven_backup.aiven.models import ACCESS_ROUTES, AccessRoute, BackupTask, Service
from aiven_backup.aiven.preflight import preflight
from aiven_backup.aiven.token import get_aiven_token
from aiven_backup.retry import RetryPolicy

__all__ = [
    "ACCESS_ROUTES",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AccessRoute",
    "AivenClient",
    "BackupTask",
    "RetryPolicy",
    "Service",
    "effective_route",
    "get_aiven_token",
    "preflight",
    "resolve_backup_url",
]

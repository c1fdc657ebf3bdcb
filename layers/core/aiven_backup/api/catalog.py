"""GET /catalog: what the bucket holds for one service, newest first, and whether to trust it.

Read from S3 itself (not from the executions): the backups under the service's folder, each
with its size and time, its ``retention-class`` and ``backup-verified`` tags, its Object Lock
retention, and a summary of its inventory file. The same listing serves
``python -m local_runner catalog``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from aiven_backup.api.errors import InvalidRequestError, query_limit, validated_query_field
from aiven_backup.api.settings import ApiSettings
from aiven_backup.errors import BackupError, StackMisconfigured
from aiven_backup.s3.translate import s3_errors_named
from aiven_backup.storage.object_lock import iso_utc, object_lock_of
from aiven_backup.storage.retention import RETENTION_CLASS_TAG, StoredBackup, list_service_backups
from aiven_backup.storage.tags import VERIFIED_TAG, tags_if_present
from aiven_backup.workflow.execution_input import (
    InputDefaults,
    validate_project_name,
    validate_s3_prefix,
    validate_service_name,
)
from aiven_backup.workflow.s3_layout import BACKUP_SUFFIX, inventory_key, service_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_CATALOG_LIMIT = 20
MAX_CATALOG_LIMIT = 100
CATALOG_QUERY_PARAMETERS = ("project", "service", "s3_prefix", "limit")
INVENTORY_MAX_BYTES = 64 * 1024 * 1024  # a 20,000-shard inventory is a few MiB
SUMMARY_MAX_DATABASES = 50

# What an inventory may call its point counts and data time range (tolerant on purpose: older
# inventories have none; deep verification's ``data`` holds them per database, retention policy
# and measurement, the time range in nanoseconds as ``first_ns``/``last_ns``).
_POINT_KEYS = ("point_count", "points")
_FIRST_KEYS = ("first_ns", "first_timestamp", "first_time", "first_point", "oldest", "start")
_LAST_KEYS = ("last_ns", "last_timestamp", "last_time", "last_point", "newest", "end")


@dataclass(frozen=True)
class CatalogQuery:
    project: str
    service: str
    s3_prefix: str
    limit: int

    @classmethod
    def parse(cls, query: Mapping[str, str], defaults: InputDefaults) -> CatalogQuery:
        unknown = sorted(set(query) - set(CATALOG_QUERY_PARAMETERS))
        if unknown:
            raise InvalidRequestError(
                unknown[0],
                "unknown query parameter; the allowed ones are "
                f"{', '.join(CATALOG_QUERY_PARAMETERS)}",
            )
        return cls(
            project=validated_query_field(
                "project", query.get("project", defaults.project or ""), validate_project_name
            ),
            service=validated_query_field(
                "service", query.get("service", defaults.service or ""), validate_service_name
            ),
            s3_prefix=validated_query_field(
                "s3_prefix", query.get("s3_prefix", defaults.s3_prefix), validate_s3_prefix
            ),
            limit=query_limit(
                query.get("limit"), default=DEFAULT_CATALOG_LIMIT, maximum=MAX_CATALOG_LIMIT
            ),
        )


class BackupCatalog:
    """The backups of a bucket, per service, as the catalogue shows them."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        defaults: InputDefaults,
        *,
        concurrency: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._defaults = defaults
        self._concurrency = concurrency
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> BackupCatalog:
        if not settings.bucket:
            raise StackMisconfigured(
                "environment variable BACKUP_BUCKET is not set: redeploy the stack "
                "(template.yaml sets it for every function)"
            )
        return cls(boto3.client("s3"), settings.bucket, settings.input_defaults)

    def answer(self, query: Mapping[str, str]) -> dict[str, Any]:
        """GET /catalog: parse the query, list the service's backups."""
        return self.listing(CatalogQuery.parse(query, self._defaults))

    def listing(self, query: CatalogQuery) -> dict[str, Any]:
        """The service's backups, newest first, at most ``query.limit`` of them described."""
        folder = service_prefix(query.s3_prefix, query.project, query.service)
        stored = list_service_backups(self._s3, self._bucket, folder)
        newest = stored[: query.limit]
        return {
            "project": query.project,
            "service": query.service,
            "bucket": self._bucket,
            "prefix": folder,
            "count": len(newest),
            "total": len(stored),
            "truncated": len(stored) > len(newest),
            "backups": self._describe_all(newest),
        }

    def _describe_all(self, backups: Iterable[StoredBackup]) -> list[dict[str, Any]]:
        backups = list(backups)
        if not backups:
            return []
        workers = min(self._concurrency, len(backups))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self._describe, backups))

    def _describe(self, backup: StoredBackup) -> dict[str, Any]:
        tags = tags_if_present(self._s3, self._bucket, backup.key) or {}
        try:
            lock = object_lock_of(self._s3, self._bucket, backup.key)
        except BackupError:
            lock = None  # not allowed to read it: shown as unknown rather than failing the list
        now = self._clock()
        entry: dict[str, Any] = {
            "key": backup.key,
            "backup_name": backup.key.rsplit("/", 1)[-1].removesuffix(BACKUP_SUFFIX),
            "day": backup.day.isoformat(),
            "last_modified": iso_utc(backup.last_modified),
            "size": backup.size,
            "storage_class": backup.storage_class,
            "retention_class": tags.get(RETENTION_CLASS_TAG),
            "verified": tags.get(VERIFIED_TAG) == "true",
            "locked_until": iso_utc(lock.retain_until) if lock else None,
            "lock": {
                "mode": lock.mode,
                "retain_until": iso_utc(lock.retain_until),
                "legal_hold": lock.legal_hold,
                "active": lock.protects(now),
            }
            if lock
            else None,
        }
        entry.update(self._inventory(backup.key))
        return entry

    def _inventory(self, key: str) -> dict[str, Any]:
        target = inventory_key(key)
        location = f"s3://{self._bucket}/{target}"
        try:
            with s3_errors_named("read the inventory", location):
                response = self._s3.get_object(Bucket=self._bucket, Key=target)
                if response["ContentLength"] > INVENTORY_MAX_BYTES:
                    return {"inventory_key": target, "inventory": None}
                body = response["Body"].read()
        except BackupError:
            return {"inventory_key": None, "inventory": None}
        try:
            document = json.loads(body)
        except ValueError:
            return {"inventory_key": target, "inventory": None}
        summary = inventory_summary(document) if isinstance(document, Mapping) else None
        return {"inventory_key": target, "inventory": summary}


def inventory_summary(document: Mapping[str, Any]) -> dict[str, Any]:
    """Databases, points and the data's time range from an inventory file; absent ones are null.

    Point counts and time ranges are read at the top level (``point_count``,
    ``first_timestamp``/``last_timestamp``, ``time_range``) or, failing that, summed and spanned
    over whatever nested entries carry them (per database, retention policy or measurement).
    """
    databases = document.get("databases")
    names = sorted(databases) if isinstance(databases, Mapping | list) else []
    points = _number(document, _POINT_KEYS)
    first, last = _time_range(document)
    if points is None or first is None or last is None:
        nested_points, nested_first, nested_last = _walk(
            {k: v for k, v in document.items() if k != "files"}
        )
        points = points if points is not None else nested_points
        first = first if first is not None else nested_first
        last = last if last is not None else nested_last
    return {
        "stamp": document.get("stamp"),
        "databases": [str(name) for name in names[:SUMMARY_MAX_DATABASES]],
        "database_count": document.get("database_count", len(names)),
        "shard_count": document.get("shard_count"),
        "total_size": document.get("total_size"),
        "points": points,
        "first_point": _timestamp(first),
        "last_point": _timestamp(last),
    }


def _time_range(node: Mapping[str, Any]) -> tuple[Any, Any]:
    span = node.get("time_range")
    if isinstance(span, Mapping):
        return _first_present(span, ("first", *_FIRST_KEYS)), _first_present(
            span, ("last", *_LAST_KEYS)
        )
    return _first_present(node, _FIRST_KEYS), _first_present(node, _LAST_KEYS)


def _walk(node: Any) -> tuple[int | None, Any, Any]:
    """Points summed over the innermost entries that carry them; the widest time range."""
    if isinstance(node, list):
        children: Iterable[Any] = node
    elif isinstance(node, Mapping):
        own_points = _number(node, _POINT_KEYS)
        own_first, own_last = _time_range(node)
        if own_points is not None or own_first is not None or own_last is not None:
            return own_points, own_first, own_last
        children = node.values()
    else:
        return None, None, None
    total: int | None = None
    first: Any = None
    last: Any = None
    for child in children:
        points, child_first, child_last = _walk(child)
        if points is not None:
            total = (total or 0) + points
        first = _extreme(first, child_first, min)
        last = _extreme(last, child_last, max)
    return total, first, last


def _extreme(current: Any, candidate: Any, pick: Callable[..., Any]) -> Any:
    """The earlier (``min``) or later (``max``) of two timestamps; either may be None."""
    known = [value for value in (current, candidate) if _as_datetime(value) is not None]
    return pick(known, key=_as_datetime) if known else None


def _timestamp(value: Any) -> str | None:
    moment = _as_datetime(value)
    return iso_utc(moment) if moment else None


def _as_datetime(value: Any) -> datetime | None:
    """An ISO 8601 text, or epoch seconds, ms, us or ns (InfluxDB's own unit, by magnitude)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        magnitude = abs(value)
        divisor = (
            1e9
            if magnitude >= 1e17
            else 1e6
            if magnitude >= 1e14
            else 1e3
            if magnitude >= 1e11
            else 1
        )
        try:
            return datetime.fromtimestamp(value / divisor, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _number(node: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    value = _first_present(node, names)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _first_present(node: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if node.get(name) is not None:
            return node[name]
    return None

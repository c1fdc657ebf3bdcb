"""Where a backup lands: ``<prefix>/<project>/<service>/<YYYY>/<MM>/<DD>/<name>.tar``."""

from __future__ import annotations

import re
from datetime import date

BACKUP_SUFFIX = ".tar"
INVENTORY_SUFFIX = ".inventory.json"
# The day folders and the name of a backup key; a backup name never holds a slash.
_DAY_AND_NAME = re.compile(r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/[^/]+\.tar")


def backup_key(prefix: str, project: str, service: str, backup_name: str, day: date) -> str:
    parts = [prefix.strip("/"), project, service, f"{day:%Y}", f"{day:%m}", f"{day:%d}"]
    return "/".join(part for part in parts if part) + f"/{backup_name}.tar"


def inventory_key(key: str) -> str:
    return f"{key}{INVENTORY_SUFFIX}"


def service_prefix(prefix: str, project: str, service: str) -> str:
    """The folder holding every backup of one service under ``prefix``, ending in ``/``."""
    return "/".join(part for part in (prefix.strip("/"), project, service) if part) + "/"


def parse_backup_key(key: str) -> tuple[str, date] | None:
    """``(service prefix, day)`` of a backup key laid out as above, or None for any other key."""
    match = _DAY_AND_NAME.search(key)
    if match is None or match.end() != len(key):
        return None
    if match.start() and key[match.start() - 1] != "/":
        return None
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return None
    return key[: match.start()], day

"""Where a backup lands: ``<prefix>/<project>/<service>/<YYYY>/<MM>/<DD>/<name>.tar``."""

from __future__ import annotations

from datetime import datetime


def backup_key(prefix: str, project: str, service: str, backup_name: str, day: datetime) -> str:
    parts = [prefix.strip("/"), project, service, f"{day:%Y}", f"{day:%m}", f"{day:%d}"]
    return "/".join(part for part in parts if part) + f"/{backup_name}.tar"


def inventory_key(key: str) -> str:
    return f"{key}.inventory.json"

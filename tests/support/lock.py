"""The service lock's table name in tests."""

from __future__ import annotations

LOCK_TABLE = "backup-locks-test"

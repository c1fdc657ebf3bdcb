"""The fake AWS every test runs against: one region, one bucket name."""

from __future__ import annotations

REGION = "us-east-1"
BUCKET = "backups-test"

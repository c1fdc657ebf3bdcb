"""Botocore errors shaped as S3 sends them, for tests of the S3 fault handling."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def client_error(code: str, status: int = 0, operation: str = "GetObject") -> ClientError:
    """A ``ClientError`` with S3's error ``code`` and HTTP ``status`` (0: none in the response)."""
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)

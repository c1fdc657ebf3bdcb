"""S3 failures during verification become the product's named errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from aiven_backup.errors import BackupError, S3Unavailable, UploadFailed, UploadLost
from aiven_backup.verify.s3_errors import s3_errors


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")


@pytest.mark.parametrize(
    ("raised", "expected", "says"),
    [
        (_client_error("SlowDown"), S3Unavailable, "can be retried"),
        (_client_error("InternalError"), S3Unavailable, "can be retried"),
        (EndpointConnectionError(endpoint_url="https://s3"), S3Unavailable, "could not reach S3"),
        (_client_error("NoSuchKey"), UploadLost, "does not exist"),
        (_client_error("404"), UploadLost, "does not exist"),
        (_client_error("AccessDenied"), UploadFailed, "IAM permissions"),
    ],
)
def test_s3_failures_are_named(raised: Exception, expected: type[BackupError], says: str) -> None:
    with pytest.raises(expected, match=says) as caught, s3_errors("s3://b/k", "read"):
        raise raised

    assert "s3://b/k" in str(caught.value)
    assert caught.value.__cause__ is raised


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), s3_errors("s3://b/k", "read"):
        raise KeyError("x")

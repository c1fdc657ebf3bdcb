"""S3 failures become the product's named errors, with the location and what to do."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from aiven_backup.errors import BackupError, S3Unavailable, UploadFailed, UploadLost
from aiven_backup.s3.translate import s3_errors_named
from tests.support.s3 import client_error


@pytest.mark.parametrize(
    ("raised", "expected", "says"),
    [
        (client_error("SlowDown"), S3Unavailable, "can be retried"),
        (client_error("InternalError"), S3Unavailable, "can be retried"),
        (client_error("Throttling", 400), S3Unavailable, "can be retried"),
        (client_error("", 429), S3Unavailable, "can be retried"),
        (client_error("", 502), S3Unavailable, "can be retried"),
        (client_error("", 504), S3Unavailable, "can be retried"),
        (EndpointConnectionError(endpoint_url="https://s3"), S3Unavailable, "could not reach S3"),
        (client_error("NoSuchKey"), UploadLost, "does not exist"),
        (client_error("404"), UploadLost, "does not exist"),
        (client_error("NoSuchUpload"), UploadLost, "no longer exists"),
        (client_error("AccessDenied"), UploadFailed, "IAM permissions"),
    ],
)
def test_s3_failures_are_named(raised: Exception, expected: type[BackupError], says: str) -> None:
    with pytest.raises(expected, match=says) as caught, s3_errors_named("read", "s3://b/k"):
        raise raised

    assert "s3://b/k" in str(caught.value)
    assert caught.value.__cause__ is raised


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), s3_errors_named("read", "s3://b/k"):
        raise KeyError("x")


def test_a_client_error_keeps_its_code_in_the_message() -> None:
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    with (
        pytest.raises(UploadFailed, match=r"write s3://b/k \(AccessDenied\)"),
        s3_errors_named("write", "s3://b/k"),
    ):
        raise error

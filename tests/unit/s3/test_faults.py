"""One classifier decides what every S3 failure in the core is."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from aiven_backup.s3.faults import S3Fault, classify_s3_error
from tests.support.s3 import client_error


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        client_error("ServiceUnavailable", 503),
        client_error("Throttling", 400),
        client_error("ThrottlingException", 400),
        client_error("TooManyRequests", 429),
        client_error("RequestLimitExceeded", 400),
        client_error("", 429),
        client_error("BadGateway", 502),
        client_error("GatewayTimeout", 504),
        client_error("503"),
        EndpointConnectionError(endpoint_url="https://s3"),
        ReadTimeoutError(endpoint_url="https://s3"),
        ResponseStreamingError(error="reset"),
    ],
    ids=lambda e: str(e)[:40],
)
def test_throttling_5xx_and_broken_connections_are_transient(error: Exception) -> None:
    assert classify_s3_error(error) is S3Fault.TRANSIENT


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (client_error("BadDigest", 400), S3Fault.CORRUPTED),
        (client_error("XAmzContentChecksumMismatch", 400), S3Fault.CORRUPTED),
        (client_error("NoSuchUpload", 404), S3Fault.NO_SUCH_UPLOAD),
        (client_error("NoSuchKey", 404), S3Fault.MISSING),
        (client_error("404", 404), S3Fault.MISSING),
        (client_error("AccessDenied", 403), S3Fault.REFUSED),
        (client_error("KMS.DisabledException", 400), S3Fault.REFUSED),
        (client_error("NotImplemented", 501), S3Fault.REFUSED),
        (NoCredentialsError(), S3Fault.REFUSED),
    ],
)
def test_everything_else_has_its_own_kind(error: Exception, fault: S3Fault) -> None:
    assert classify_s3_error(error) is fault


def test_a_non_botocore_exception_is_not_an_s3_fault() -> None:
    assert classify_s3_error(KeyError("x")) is None

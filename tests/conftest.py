"""Fixtures shared by every test: fake AWS credentials, moto, and a bucket to write into."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from local_runner.sample_backup import build_sample_backup
from tests.support.aws import BUCKET, REGION
from tests.support.workflow import Workflow, WorkflowFactory, workflow_factory

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Records the handlers' AWS calls and checks them against template.yaml's roles at the end.
pytest_plugins = ["tests.support.least_privilege_plugin"]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS: fake credentials, a fixed region, no profile."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "influxdb-backup-test")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "InfluxDBBackupTest")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """Every AWS call inside the test goes to moto, in this process."""
    with mock_aws():
        yield


@pytest.fixture
def s3(moto_aws: None) -> S3Client:
    """An S3 client on moto with an empty bucket named ``BUCKET``."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def atomic_item_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give moto what DynamoDB guarantees: a conditional write checks and writes atomically.

    moto evaluates the condition and stores the item in plain Python with no lock, so two
    threads could both pass the check; real DynamoDB serialises writes to one item.
    """
    guard = threading.Lock()

    def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            with guard:
                return original(*args, **kwargs)

        return write

    for name in ("put_item", "delete_item", "update_item"):
        monkeypatch.setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))


@pytest.fixture
def sample_backup() -> bytes:
    """A small real-format InfluxDB portable backup tar."""
    return build_sample_backup()


@pytest.fixture
def make_workflow() -> Iterator[WorkflowFactory]:
    """Build whole local stacks (simulator + moto + real state machine) for a test."""
    with workflow_factory() as make:
        yield make


@pytest.fixture
def workflow(make_workflow: WorkflowFactory) -> Workflow:
    return make_workflow()

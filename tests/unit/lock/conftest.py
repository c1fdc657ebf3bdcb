"""A lock table in moto and a clock the test moves by hand (tests/support/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest

from tests.support.aws import REGION
from tests.support.clock import ManualClock
from tests.support.lock import LOCK_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dynamodb(moto_aws: None) -> DynamoDBClient:
    """A DynamoDB client on moto with the lock table as template.yaml declares it."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=LOCK_TABLE,
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=LOCK_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    return client

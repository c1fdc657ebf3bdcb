"""Fixtures for driving the API function against moto (helpers in tests/support/api.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from aiven_backup.api import BackupsApi
from aiven_backup.api.executions import Executions
from aiven_backup.workflow.execution_input import InputDefaults
from aiven_backup.workflow.lock import ServiceLock
from local_runner import call_recording
from tests.support.api import (
    ROLE_ARN,
    STAND_IN_DEFINITION,
    STAND_IN_NAME,
    CallApi,
    FakeLambdaContext,
    HttpAnswer,
    InstallCore,
    StandIn,
    api_deployment,
    load_api_module,
)
from tests.support.aws import REGION
from tests.support.lock import LOCK_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient


@pytest.fixture
def aws() -> Iterator[None]:
    """moto with Step Functions really executing definitions."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def sfn(aws: None) -> SFNClient:
    # Executions still waiting when the test ends are left alone: moto runs each in a daemon
    # thread blocked on its Wait, and stopping one that has only just started races moto itself.
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def state_machine_arn(sfn: SFNClient) -> str:
    return sfn.create_state_machine(
        name=STAND_IN_NAME, definition=json.dumps(STAND_IN_DEFINITION), roleArn=ROLE_ARN
    )["stateMachineArn"]


@pytest.fixture
def stand_in(sfn: SFNClient, state_machine_arn: str) -> StandIn:
    return StandIn(sfn, state_machine_arn)


@pytest.fixture
def dynamodb(aws: None) -> DynamoDBClient:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=LOCK_TABLE,
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def api_environment(
    monkeypatch: pytest.MonkeyPatch, state_machine_arn: str, dynamodb: DynamoDBClient
) -> None:
    """The environment template.yaml gives the API function."""
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn)
    monkeypatch.setenv("LOCK_TABLE_NAME", LOCK_TABLE)
    monkeypatch.setenv("DEFAULT_PROJECT", "acme")
    monkeypatch.setenv("DEFAULT_SERVICE", "metrics-influx")
    monkeypatch.setenv("DEFAULT_MODE", "request")
    monkeypatch.setenv("DEFAULT_ACCESS_ROUTE", "auto")
    monkeypatch.setenv("DEFAULT_S3_PREFIX", "influxdb-backups")


@pytest.fixture
def api_module(api_environment: None) -> ModuleType:
    return load_api_module()


@pytest.fixture
def install_core(
    monkeypatch: pytest.MonkeyPatch, api_module: ModuleType, stand_in: StandIn
) -> InstallCore:
    """Replace the handler's core with one built with test options (a clock, scan bounds)."""

    def install(**options: Any) -> BackupsApi:
        core = BackupsApi(
            Executions(stand_in.sfn, stand_in.arn),
            ServiceLock(LOCK_TABLE),
            InputDefaults.from_env(),
            **options,
        )
        monkeypatch.setattr(api_module, "backups", lambda: core)
        return core

    return install


@pytest.fixture
def call_api(api_module: ModuleType) -> CallApi:
    """Invoke the Lambda handler as API Gateway would, and decode its proxy answer."""

    def call(event: dict[str, Any]) -> HttpAnswer:
        with call_recording.invocation("BackupsApiFunction", api_deployment()):
            answer = api_module.lambda_handler(event, FakeLambdaContext())
        headers = {name: str(value) for name, value in (answer.get("headers") or {}).items()}
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            headers.setdefault(name, str(values[0]))
        body = answer.get("body")
        return HttpAnswer(answer["statusCode"], headers, json.loads(body) if body else None)

    return call

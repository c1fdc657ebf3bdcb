"""The API function as API Gateway drives it: real-shaped events, a stand-in state machine.

moto runs the stand-in state machine (the real one is tested elsewhere) whose executions behave as
their ``backup_name`` says: ``done*`` succeeds with a backup result, ``fails*`` fails with a
Lambda-shaped cause, anything else waits for an hour (a backup in progress).
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aiven_backup.api import BackupsApi
from local_runner.call_recording import Deployment
from local_runner.template import PROJECT_ROOT, load_template, parameter_defaults
from tests.support.aws import REGION
from tests.support.lock import LOCK_TABLE
from tests.support.sam_template import REQUIRED_PARAMETER_VALUES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

EVENTS = PROJECT_ROOT / "events" / "api"
# /backups as a caller of the sample events reached it: the execute-api host and the v1 stage.
BACKUPS_URL = "https://1234567890.execute-api.us-east-1.amazonaws.com/v1/backups"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stand-in-state-machine"
STAND_IN_NAME = "InfluxBackupStandIn"
FANOUT_STAND_IN_NAME = "InfluxBackupFanOutStandIn"

BACKUP_RESULT = {
    "status": "SUCCEEDED",
    "bucket": "backups-test",
    "key": "influxdb-backups/acme/metrics-influx/2026/11/23/done-1.tar",
    "size": 1048576,
    "inventory_key": "influxdb-backups/acme/metrics-influx/2026/11/23/done-1.tar.inventory.json",
    "inventory": {"databases": 2, "retention_policies": 2, "shards": 3, "bytes": 1048576},
    "notification": {"subject": "Backup SUCCEEDED acme/metrics-influx 1.0 MiB"},
}
FAILURE_CAUSE = json.dumps(
    {
        "errorType": "ServiceNotRunning",
        "errorMessage": "acme/metrics-influx is POWEROFF; power it on in the Aiven console",
        "stackTrace": ["  File app.py, line 1"],
    }
)
STAND_IN_DEFINITION = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.backup_name", "StringMatches": "done*", "Next": "Done"},
                {"Variable": "$.backup_name", "StringMatches": "fails*", "Next": "Fails"},
            ],
            "Default": "InProgress",
        },
        "InProgress": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": BACKUP_RESULT, "End": True},
        "Fails": {"Type": "Fail", "Error": "ServiceNotRunning", "Cause": FAILURE_CAUSE},
    },
}


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: Any


CallApi = Callable[[dict[str, Any]], HttpAnswer]
InstallCore = Callable[..., BackupsApi]


def api_deployment() -> Deployment:
    """The API function's stack as these tests build it (the stand-ins for the two state
    machines, the lock table), for the least-privilege check of its calls."""

    def machine(name: str) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"

    return Deployment(
        parameters={**parameter_defaults(load_template()), **REQUIRED_PARAMETER_VALUES},
        refs={
            "AWS::AccountId": ACCOUNT,
            "BackupStateMachine": machine(STAND_IN_NAME),
            "FanOutStateMachine": machine(FANOUT_STAND_IN_NAME),
            "BackupBucket": str(BACKUP_RESULT["bucket"]),
        },
        attributes={
            "BackupStateMachine.Name": STAND_IN_NAME,
            "FanOutStateMachine.Name": FANOUT_STAND_IN_NAME,
            "LockTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{LOCK_TABLE}",
        },
    )


class FakeLambdaContext:
    function_name = "BackupsApiFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:BackupsApiFunction"
    aws_request_id = "5c6a1b2e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


class StandIn:
    """The stand-in state machine and its executions."""

    def __init__(self, sfn: SFNClient, state_machine_arn: str) -> None:
        self.sfn = sfn
        self.arn = state_machine_arn

    def start(self, name: str, **execution_input: str) -> str:
        """Start an execution directly, as a schedule or the console would."""
        full_input = {"project": "acme", "service": "metrics-influx", **execution_input}
        return self.sfn.start_execution(
            stateMachineArn=self.arn, name=name, input=json.dumps(full_input)
        )["executionArn"]

    def wait_until_finished(self, execution_arn: str) -> str:
        """Poll until the execution leaves RUNNING (moto runs it in a thread).

        The bound is generous on purpose: it only stops a broken run from hanging the suite.
        """
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            status = self.sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                return status
            time.sleep(0.01)
        raise AssertionError(f"{execution_arn} still RUNNING after 60 s")

    def execution_names(self) -> list[str]:
        listed = self.sfn.list_executions(stateMachineArn=self.arn)["executions"]
        return [execution["name"] for execution in listed]

    def execution_input(self, execution_arn: str) -> dict[str, str]:
        described = self.sfn.describe_execution(executionArn=execution_arn)
        parsed: dict[str, str] = json.loads(described["input"])
        return parsed


def load_api_module() -> ModuleType:
    """functions/api/app.py under a fresh name: every function directory has an app.py."""
    spec = importlib.util.spec_from_file_location(
        f"api_app_{uuid.uuid4().hex}", PROJECT_ROOT / "functions" / "api" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- events ------------------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def with_body(
    event: dict[str, Any], body: str | bytes, *, base64_encoded: bool = True
) -> dict[str, Any]:
    """The event with another body, encoded as API Gateway would deliver it."""
    changed = copy.deepcopy(event)
    raw = body.encode() if isinstance(body, str) else body
    if base64_encoded:
        changed["body"] = base64.b64encode(raw).decode()
    else:
        changed["body"] = raw.decode()
    changed["isBase64Encoded"] = base64_encoded
    return changed


def with_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["headers"][name] = value
    changed["multiValueHeaders"][name] = [value]
    return changed


def with_query(event: dict[str, Any], query: dict[str, str] | None) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["queryStringParameters"] = query
    changed["multiValueQueryStringParameters"] = (
        {name: [value] for name, value in query.items()} if query else None
    )
    return changed


def with_backup_id(event: dict[str, Any], execution_id: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["path"] = f"/backups/{execution_id}"
    changed["pathParameters"] = {"id": execution_id}
    changed["requestContext"]["path"] = (
        f"/{changed['requestContext']['stage']}/backups/{execution_id}"
    )
    return changed


# --- executions and locks as the workflow leaves them ------------------------------------------


def hold_lock(
    dynamodb: DynamoDBClient, lock_id: str, owner: str, *, expires_in: int = 3600
) -> None:
    """The lock item the state machine's first step writes."""
    now = int(time.time())
    dynamodb.put_item(
        TableName=LOCK_TABLE,
        Item={
            "lock_id": {"S": lock_id},
            "owner": {"S": owner},
            "acquired_at": {"N": str(now)},
            "expires_at": {"N": str(now + expires_in)},
        },
    )

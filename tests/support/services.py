"""The steps' ``Services`` on moto, for tests that call a step directly (no state machine)."""

from __future__ import annotations

from collections.abc import Mapping

import boto3

from aiven_backup.workflow.execution_input import ExecutionInput, InputDefaults
from aiven_backup.workflow.lock import ServiceLock
from aiven_backup.workflow.run_state import CopyState, ExecutionRef, RunState
from aiven_backup.workflow.services import Services
from aiven_backup.workflow.settings import Settings
from tests.support.aiven import PROJECT, SERVICE
from tests.support.aws import BUCKET, REGION
from tests.support.lock import LOCK_TABLE

EXECUTION = ExecutionRef(
    arn="arn:aws:states:us-east-1:123456789012:execution:influxdb-backup:run-1",
    name="run-1",
    started_at="2026-11-23T03:30:00Z",
)


def services_on_moto(
    environment: Mapping[str, str] | None = None, *, create: bool = True
) -> Services:
    """Services whose bucket (``BUCKET``, made by the ``s3`` fixture), topic and lock table are
    in moto (made here unless ``create`` is false); call inside ``mock_aws``. ``environment``
    adds to the stack's variables."""
    sns = boto3.client("sns", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    if create:
        dynamodb.create_table(
            TableName=LOCK_TABLE,
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    env = {
        "AIVEN_TOKEN_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:t",
        "BACKUP_BUCKET": BUCKET,
        "NOTIFICATION_TOPIC_ARN": sns.create_topic(Name="backups")["TopicArn"],
        "LOCK_TABLE_NAME": LOCK_TABLE,
        **(environment or {}),
    }
    return Services(
        settings=Settings.from_env(env),
        input_defaults=InputDefaults(project=PROJECT, service=SERVICE),
        s3=boto3.client("s3", region_name=REGION),
        sns=sns,
        lock=ServiceLock(LOCK_TABLE, dynamodb=dynamodb),
    )


def copied_run(key: str, size: int) -> RunState:
    """The run state after CopyBackup put ``size`` bytes at ``key`` in ``BUCKET``."""
    return RunState(
        execution=EXECUTION,
        request=ExecutionInput(
            project=PROJECT,
            service=SERVICE,
            backup_name="nightly",
            mode="request",
            access_route="auto",
            s3_prefix="influxdb-backups",
        ),
        bucket=BUCKET,
        key=key,
        copy=CopyState(done=True, invocations=1, bytes_copied=size),
        result={"size": size},
    )

"""ReportFailure: the fan-out itself failed; its Fail state gets a name it may raise."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aiven_backup.fanout.steps import report_failure_step
from aiven_backup.workflow.execution_input import InputDefaults
from aiven_backup.workflow.lock import ServiceLock
from aiven_backup.workflow.services import Services
from aiven_backup.workflow.settings import Settings
from tests.unit.fanout.fanout_support import PARENT


@pytest.fixture
def services() -> Any:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="backups")["TopicArn"]
        env = {
            "AIVEN_TOKEN_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:t",
            "BACKUP_BUCKET": "backups",
            "NOTIFICATION_TOPIC_ARN": topic,
            "LOCK_TABLE_NAME": "locks",
        }
        yield Services(
            settings=Settings.from_env(env),
            input_defaults=InputDefaults(project="acme", service="*"),
            s3=boto3.client("s3", region_name="us-east-1"),
            sns=sns,
            lock=ServiceLock("locks", dynamodb=boto3.client("dynamodb", region_name="us-east-1")),
        )


def test_our_own_error_names_are_raised_as_they_are(services: Services) -> None:
    failed = {
        "input": {"services": "*"},
        "error": {"Error": "AivenUnauthorized", "Cause": json.dumps({"errorMessage": "no"})},
    }

    report = report_failure_step(failed, PARENT, services)

    assert (report["error"], report["cause"]) == ("AivenUnauthorized", "no")


def test_a_step_functions_error_is_raised_as_fan_out_failed_naming_it(services: Services) -> None:
    failed = {"input": {}, "error": {"Error": "States.Runtime", "Cause": "the Map broke"}}

    report = report_failure_step(failed, PARENT, services)

    assert report["error"] == "FanOutFailed"
    assert report["cause"] == "States.Runtime: the Map broke"
    assert report["notification"]["subject"] == "Backups acme: FAILED (States.Runtime)"

"""The EventBridge Scheduler schedule: what it sends, and what happens when sending fails.

Scheduler never fires in moto, so the schedule is read from the translated template and its input
goes through the same parser the first state uses.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from aiven_backup.fanout.request import parse_fanout_input
from aiven_backup.workflow.execution_input import (
    PROJECT_NAME_PATTERN,
    SERVICE_NAME_PATTERN,
    InputDefaults,
    parse_execution_input,
)
from local_runner.template import load_template
from tests.support.sam_template import (
    StackContext,
    actions,
    resources_of_type,
    role_statements,
    translated,
)

ALARM_TOPIC = {
    "Fn::If": ["UseStackTopicForAlarms", {"Ref": "NotificationTopic"}, {"Ref": "AlarmTopicArn"}]
}

FIRED_AT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def the_schedule(template: dict[str, Any]) -> dict[str, Any]:
    (schedule,) = resources_of_type(template, "AWS::Scheduler::Schedule").values()
    return schedule


def scheduled_input(deployment: StackContext) -> object:
    """The JSON the schedule sends to StartExecution in this deployment."""
    target = the_schedule(dict(deployment.template))["Properties"]["Target"]
    return json.loads(deployment.resolve_one(target["Input"]))


def input_defaults(deployment: StackContext) -> InputDefaults:
    """The DEFAULT_* variables the template gives StartBackup, resolved for this deployment."""
    variables = deployment.resources["StartBackupFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    return InputDefaults.from_env(
        {
            name: deployment.resolve_one(value)
            for name, value in variables.items()
            if name.startswith("DEFAULT_")
        }
    )


@pytest.mark.parametrize("backup_mode", ["request", "existing"])
def test_a_scheduled_run_requests_a_new_backup_whatever_the_default_mode(
    backup_mode: str,
) -> None:
    deployment = StackContext.of(translated(), "s", BackupMode=backup_mode)
    defaults = input_defaults(deployment)

    # The schedule starts the fan-out; each service's run gets the fan-out's shared fields.
    fanout = parse_fanout_input(scheduled_input(deployment), defaults)
    (selection,) = fanout.selections
    assert selection.services is not None
    (service,) = selection.services
    run_input = {"project": selection.project, "service": service, **fanout.shared}
    request = parse_execution_input(run_input, defaults, now=FIRED_AT)

    assert defaults.mode == backup_mode
    assert request.mode == "request"
    assert (request.project, request.service) == ("acme", "metrics-influx")
    assert request.backup_name == "metrics-influx-20261123T030000Z"


def test_the_schedules_project_and_service_follow_the_parsers_name_rules() -> None:
    parameters = load_template()["Parameters"]

    # What the parameters accept is what the input parser accepts, so a deployed schedule's
    # input always parses (and no quote can break its JSON).
    assert parameters["AivenProject"]["AllowedPattern"] == PROJECT_NAME_PATTERN.pattern
    # AivenService: one name, a comma-separated list of names, or "*" (the fan-out's rule).
    service_pattern = parameters["AivenService"]["AllowedPattern"]
    for accepted in ("metrics-influx", "a,b", "a, b", "*"):
        assert re.fullmatch(service_pattern, accepted), accepted
        names = [] if accepted == "*" else [name.strip() for name in accepted.split(",")]
        assert all(SERVICE_NAME_PATTERN.fullmatch(name) for name in names)
    injected = 'x", "mode": "existing'
    assert re.fullmatch(service_pattern, injected) is None


# --- a firing that cannot start an execution -----------------------------------------------------


def the_dead_letter_queue(template: dict[str, Any]) -> str:
    target = the_schedule(template)["Properties"]["Target"]
    arn = target.get("DeadLetterConfig", {}).get("Arn")
    assert arn is not None, f"the schedule has no dead-letter queue: {target}"
    assert set(arn) == {"Fn::GetAtt"}, arn
    queue, attribute = arn["Fn::GetAtt"]
    assert (template["Resources"][queue]["Type"], attribute) == ("AWS::SQS::Queue", "Arn")
    return str(queue)


def test_a_failed_start_is_retried_a_few_times_within_an_hour() -> None:
    policy = the_schedule(translated())["Properties"]["Target"]["RetryPolicy"]

    # The per-service lock makes a duplicate execution end SKIPPED, so retrying is safe.
    assert 1 <= policy["MaximumRetryAttempts"] <= 10
    assert 60 <= policy["MaximumEventAgeInSeconds"] <= 3600


def test_a_firing_that_still_cannot_start_an_execution_lands_in_a_dead_letter_queue() -> None:
    template = translated()
    queue = the_dead_letter_queue(template)

    properties = template["Resources"][queue]["Properties"]

    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert properties["SqsManagedSseEnabled"] is True


def test_the_scheduler_may_send_to_its_dead_letter_queue() -> None:
    template = translated()
    queue = the_dead_letter_queue(template)
    schedule_id = next(iter(resources_of_type(template, "AWS::Scheduler::Schedule")))
    role = template["Resources"][schedule_id]["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]

    sends = [
        statement
        for statement in role_statements(template, role)
        if "sqs:SendMessage" in actions(statement) and statement["Effect"] == "Allow"
    ]

    assert [statement["Resource"] for statement in sends] == [{"Fn::GetAtt": [queue, "Arn"]}], sends


def test_a_message_in_the_dead_letter_queue_raises_an_alarm_on_the_notification_topic() -> None:
    template = translated()
    queue = the_dead_letter_queue(template)

    alarms = [
        alarm["Properties"]
        for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        and alarm["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]

    (alarm,) = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
    )
    # The stack's topic unless AlarmTopicArn names another (see test_operations_template.py).
    assert alarm["AlarmActions"] == [ALARM_TOPIC]
    assert alarm["TreatMissingData"] == "notBreaching"

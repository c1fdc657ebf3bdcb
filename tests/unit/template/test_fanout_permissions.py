"""Least privilege for the fan-out: what its state machine and functions may do, and on what.

Read from template.yaml as written (intrinsics unresolved). AWS documents what
``startExecution.sync:2`` needs of the parent's role: StartExecution on the child state machine,
DescribeExecution and StopExecution on its executions, and PutTargets, PutRule and DescribeRule
on the EventBridge rule Step Functions manages for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from local_runner.template import load_template

RESOURCES: dict[str, Any] = load_template()["Resources"]
CHILD_EXECUTIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
    "${BackupStateMachine.Name}:*"
}
FANOUT_EXECUTIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
    "${FanOutStateMachine.Name}:*"
}
SYNC_RULE = {
    "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
    "StepFunctionsGetEventsForStepFunctionsExecutionRule"
}
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def policies(logical_id: str) -> list[Any]:
    return list(RESOURCES[logical_id]["Properties"].get("Policies", []))


def statements(logical_id: str) -> Iterator[Mapping[str, Any]]:
    for policy in policies(logical_id):
        if isinstance(policy, Mapping) and "Statement" in policy:
            yield from policy["Statement"]


def grants(logical_id: str) -> list[tuple[str, Any]]:
    """(action, resource) for every inline statement of the resource's role."""
    found = []
    for statement in statements(logical_id):
        if "Effect" not in statement:  # a Fn::If on a parameter, e.g. the token's KMS key
            continue
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            found.append((action, statement["Resource"]))
    return found


def templates(logical_id: str) -> list[Mapping[str, Any]]:
    """The SAM policy templates (one-key mappings other than Statement)."""
    return [p for p in policies(logical_id) if isinstance(p, Mapping) and "Statement" not in p]


def test_the_fan_out_may_start_follow_and_stop_only_runs_of_the_single_service_machine() -> None:
    granted = [(a, r) for a, r in grants("FanOutStateMachine") if a not in LOG_DELIVERY]

    assert sorted(granted, key=lambda g: g[0]) == [
        ("events:DescribeRule", SYNC_RULE),
        ("events:PutRule", SYNC_RULE),
        ("events:PutTargets", SYNC_RULE),
        ("states:DescribeExecution", CHILD_EXECUTIONS),
        ("states:StartExecution", {"Ref": "BackupStateMachine"}),
        ("states:StopExecution", CHILD_EXECUTIONS),
    ]


def test_the_fan_out_invokes_only_its_own_two_functions() -> None:
    assert templates("FanOutStateMachine") == [
        {"LambdaInvokePolicy": {"FunctionName": {"Ref": "PlanBackupsFunction"}}},
        {"LambdaInvokePolicy": {"FunctionName": {"Ref": "SummariseBackupsFunction"}}},
    ]


def test_only_log_delivery_is_granted_on_every_resource() -> None:
    wildcard = {a for a, r in grants("FanOutStateMachine") if r == "*"}

    assert wildcard == LOG_DELIVERY


def test_planning_reads_the_token_and_nothing_else() -> None:
    (secret, token_key) = templates("PlanBackupsFunction")
    assert secret == {
        "AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "AivenTokenSecretArn"}}
    }
    assert token_key["Fn::If"][0] == "HasTokenSecretKmsKey"  # kms:Decrypt, only with that key
    assert grants("PlanBackupsFunction") == []


def test_the_summary_publishes_and_reads_runs_of_the_single_service_machine_only() -> None:
    assert templates("SummariseBackupsFunction") == [
        {
            "SNSPublishMessagePolicy": {
                "TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}
            }
        }
    ]
    assert grants("SummariseBackupsFunction") == [("states:DescribeExecution", CHILD_EXECUTIONS)]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("states:StartExecution", {"Ref": "FanOutStateMachine"}),
        ("states:DescribeExecution", FANOUT_EXECUTIONS),
    ],
)
def test_the_api_may_start_and_read_fan_outs(action: str, resource: Any) -> None:
    assert (action, resource) in grants("BackupsApiFunction")

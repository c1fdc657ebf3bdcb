"""Every log the stack writes goes to a log group the stack declares, kept ``LogRetentionDays``.

A function without a declared log group writes to ``/aws/lambda/<name>``, which Lambda creates
on first use with no retention (kept forever, outliving the stack). Step Functions' log group
sits under ``/aws/vendedlogs/states/``: CloudWatch Logs then needs no resource policy per log
group, whose size limit many state machines in one account otherwise exhaust.
"""

from __future__ import annotations

from typing import Any

import pytest

from local_runner.template import load_template
from tests.support.sam_template import StackContext, resources_of_type, translated

STACK = "influxdb-backup-eu"
TRANSLATED = translated(STACK)
FUNCTIONS = sorted(resources_of_type(TRANSLATED, "AWS::Lambda::Function"))
LOG_GROUPS = resources_of_type(TRANSLATED, "AWS::Logs::LogGroup")


def log_group_of_function(function: str) -> str:
    config = TRANSLATED["Resources"][function]["Properties"].get("LoggingConfig", {})
    target = config.get("LogGroup")
    assert isinstance(target, dict), f"{function} has no LoggingConfig.LogGroup: {config}"
    assert set(target) == {"Ref"}, f"{function} logs to {target}, not to a log group of the stack"
    logical_id: str = target["Ref"]
    assert logical_id in LOG_GROUPS, f"{function} logs to {logical_id}, which is not a log group"
    return logical_id


def test_the_retention_parameter_defaults_to_90_days_and_takes_only_valid_values() -> None:
    parameter = load_template()["Parameters"]["LogRetentionDays"]

    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 90
    assert 90 in parameter["AllowedValues"]
    # cfn-lint (make template-check) holds AllowedValues against CloudWatch's list.


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_to_its_own_declared_log_group_kept_log_retention_days(
    function: str,
) -> None:
    log_group: dict[str, Any] = LOG_GROUPS[log_group_of_function(function)]

    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_no_two_functions_share_a_log_group() -> None:
    groups = [log_group_of_function(function) for function in FUNCTIONS]

    assert len(set(groups)) == len(groups)


def test_the_state_machines_log_under_vendedlogs_to_groups_named_after_the_stack() -> None:
    deployment = StackContext.of(TRANSLATED, STACK)
    machines = resources_of_type(TRANSLATED, "AWS::StepFunctions::StateMachine")
    assert machines

    for machine in machines.values():
        (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
        arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
        assert set(arn) == {"Fn::GetAtt"}, arn
        logical_id, attribute = arn["Fn::GetAtt"]

        log_group = LOG_GROUPS[logical_id]["Properties"]
        name = deployment.resolve_one(log_group["LogGroupName"])

        assert attribute == "Arn"
        assert name.startswith("/aws/vendedlogs/states/")
        assert STACK in name
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_log_group_of_the_stack_is_kept_log_retention_days() -> None:
    kept = {
        logical_id: group["Properties"].get("RetentionInDays")
        for logical_id, group in LOG_GROUPS.items()
    }

    assert kept == {logical_id: {"Ref": "LogRetentionDays"} for logical_id in LOG_GROUPS}

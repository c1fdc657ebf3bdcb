"""A second stack deploys next to the first: no resource carries a name fixed by the template.

CloudFormation generates a unique name for a resource whose name property is left out; an
explicit name must contain the stack name, or a second stack in the same account and region fails
to create. SAM sets some names itself (a ScheduleV2 schedule is named after its logical id unless
``OmitName: true``; a layer after its logical id), so the check reads the translated template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from local_runner.template import load_template
from tests.support.sam_template import StackContext, translate_template, translated

STACKS = ("influxdb-backup", "influxdb-backup-eu")

# The property that names each resource type in its account and region (the scope a second stack
# shares), or () for a type without one. A type the template adds that is not listed fails the
# test below, so nobody adds a named resource without this check seeing its name.
PHYSICAL_NAME_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::ApiGateway::Deployment": (),
    "AWS::ApiGateway::RestApi": ("Name",),
    "AWS::ApiGateway::Stage": (),  # StageName is scoped to its own API
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::Events::EventBus": ("Name",),
    "AWS::Events::Rule": ("Name",),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::IAM::Policy": (),  # inline, scoped to its role
    "AWS::IAM::RolePolicy": (),  # inline, scoped to its role
    "AWS::IAM::Role": ("RoleName",),
    "AWS::Lambda::EventInvokeConfig": (),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Lambda::LayerVersion": ("LayerName",),
    "AWS::Lambda::Permission": (),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Logs::MetricFilter": ("FilterName",),
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::S3::BucketPolicy": (),
    "AWS::SNS::Subscription": (),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SNS::TopicPolicy": (),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::SQS::QueuePolicy": (),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::Scheduler::ScheduleGroup": ("Name",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
}


def explicit_names(template: Mapping[str, Any], stack_name: str) -> dict[str, set[str]]:
    """``<type> <name>`` -> the logical ids that would carry that name in ``stack_name``."""
    context = StackContext.of(template, stack_name, PHYSICAL_NAME_PROPERTIES)
    names: dict[str, set[str]] = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for name_property in PHYSICAL_NAME_PROPERTIES[resource["Type"]]:
            if name_property in props:
                for name in context.resolve(props[name_property]):
                    names.setdefault(f"{resource['Type']} {name}", set()).add(logical_id)
    for output_id, output in template.get("Outputs", {}).items():
        if "Export" in output:
            for name in context.resolve(output["Export"]["Name"]):
                names.setdefault(f"Export {name}", set()).add(f"Outputs.{output_id}")
    return names


def collisions(template_for: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """Names two of the given stacks (stack name -> its translated template) would both use."""
    first, second = (explicit_names(template, stack) for stack, template in template_for.items())
    return {name: first[name] | second[name] for name in first.keys() & second.keys()}


def test_every_resource_type_of_the_stack_is_known_to_this_check() -> None:
    types = {resource["Type"] for resource in translated()["Resources"].values()}

    unknown = sorted(types - PHYSICAL_NAME_PROPERTIES.keys())

    assert not unknown, f"add the name property of {unknown} to PHYSICAL_NAME_PROPERTIES"


def test_two_stacks_in_one_account_and_region_share_no_resource_name() -> None:
    by_stack = {stack: translated(stack) for stack in STACKS}

    shared = collisions(by_stack)

    assert not shared, (
        "these names are fixed by the template, so a second stack cannot create them: "
        f"{shared}. Leave the name out, or build it from ${{AWS::StackName}}"
    )


@pytest.mark.parametrize(
    ("resource", "fixed_name"),
    [
        (
            {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "backups-dlq"}},
            "AWS::SQS::Queue backups-dlq",
        ),
        (
            {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${AivenService}"}},
            },
            "AWS::Logs::LogGroup /aws/lambda/metrics-influx",
        ),
    ],
)
def test_the_check_reports_a_name_that_does_not_depend_on_the_stack(
    resource: dict[str, Any], fixed_name: str
) -> None:
    template = load_template()
    template["Resources"]["Extra"] = resource
    by_stack = {stack: translate_template(template, stack) for stack in STACKS}

    shared = collisions(by_stack)

    assert shared == {fixed_name: {"Extra"}}

"""``template.yaml`` as CloudFormation receives it: translated offline by aws-sam-translator.

What SAM generates (schedule names, the scheduler's role, the functions' roles from policy
templates) is only visible after the transform, so structural tests read the translated template.
Intrinsics are resolved here the way CloudFormation would for one deployment: ``StackContext``
names the stack, the parameter values and the pseudo parameters, and gives every resource without
an explicit name a generated one that contains the stack name, as CloudFormation does.

Also used by ``tests/tools/lint_translated_template.py`` (in the SAM CLI's environment), so the
linted template and the tested one come from the same translation.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runner.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
DEFAULT_STACK_NAME = "influxdb-backup"

# What an operator gives for the parameters without a default (the rest keep their defaults).
REQUIRED_PARAMETER_VALUES = {
    "AivenProject": "acme",
    "AivenService": "metrics-influx",
    "AivenTokenSecretArn": (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:aiven/influxdb-backup-token-AbC123"
    ),
}


class _NoManagedPolicies:
    """The template names managed policies by ARN only: the translator needs no IAM look-ups."""

    def load(self) -> dict[str, str]:
        return {}


def local_paths_to_s3(template: dict[str, Any], root: Path = ROOT) -> None:
    """What ``sam package`` would do: code in S3, the state machine's definition inline."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://translated-artifacts/{props[key].strip('/')}.zip"
        if isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((root / props.pop("DefinitionUri")).read_text())


def translate_template(
    template: Mapping[str, Any], stack_name: str | None = DEFAULT_STACK_NAME
) -> dict[str, Any]:
    """Translate a SAM template (already loaded) to plain CloudFormation.

    With a ``stack_name`` SAM resolves ``${AWS::StackName}`` where it resolves parameters (a
    layer's name, for one), as CloudFormation's transform does; without one it leaves it be.
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)  # the translator insists on one
    from samtranslator.translator.transform import transform  # noqa: PLC0415 - heavy import

    sam = copy.deepcopy(dict(template))
    local_paths_to_s3(sam)
    pseudo = {"AWS::Region": REGION, "AWS::Partition": PARTITION, "AWS::AccountId": ACCOUNT_ID}
    if stack_name is not None:
        pseudo["AWS::StackName"] = stack_name
    translated: dict[str, Any] = transform(sam, pseudo, _NoManagedPolicies())
    return translated


@functools.cache
def _translated(stack_name: str, path: str) -> dict[str, Any]:
    return translate_template(load_template(Path(path)), stack_name)


def translated(stack_name: str = DEFAULT_STACK_NAME, path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The project's template translated for a stack called ``stack_name`` (a private copy)."""
    return copy.deepcopy(_translated(stack_name, str(path)))


def parameter_values(template: Mapping[str, Any], **overrides: str) -> dict[str, str]:
    """Every parameter's value for a typical deployment: defaults, the required ones, overrides."""
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    return {**values, **REQUIRED_PARAMETER_VALUES, **overrides}


# --- resolving intrinsics for one deployment ---------------------------------------------------


class UnsupportedIntrinsic(ValueError):
    """The template uses an intrinsic this resolver does not know; extend ``StackContext``."""


@dataclass(frozen=True)
class StackContext:
    """One deployment of a translated template: resolve its intrinsics to the strings it makes."""

    template: Mapping[str, Any]
    stack_name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    # A resource without an explicit name gets one CloudFormation generates from these.
    name_properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        template: Mapping[str, Any],
        stack_name: str,
        name_properties: Mapping[str, tuple[str, ...]] | None = None,
        **parameter_overrides: str,
    ) -> StackContext:
        return cls(
            template,
            stack_name,
            parameter_values(template, **parameter_overrides),
            name_properties or {},
        )

    @property
    def resources(self) -> Mapping[str, Any]:
        resources: Mapping[str, Any] = self.template["Resources"]
        return resources

    def resolve(self, value: Any) -> list[str]:
        """Every string ``value`` can become (``Fn::If`` contributes both branches)."""
        if isinstance(value, bool):
            return [str(value).lower()]
        if isinstance(value, str | int | float):
            return [str(value)]
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, argument),) = value.items()
            handlers = {
                "Ref": self._ref,
                "Fn::GetAtt": self._get_att,
                "Fn::If": self._if,
                "Fn::Join": self._join,
                "Fn::Sub": self._sub,
            }
            if key in handlers:
                return handlers[key](argument)
        raise UnsupportedIntrinsic(f"cannot resolve {value!r}")

    def resolve_one(self, value: Any) -> str:
        """The one string ``value`` becomes; an error when it depends on a condition."""
        (only,) = self.resolve(value)
        return only

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name`` for this deployment's parameters."""
        return self._truth(self.template["Conditions"][name])

    def _truth(self, expression: Any) -> bool:
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::Not":
            return not self._truth(argument[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in argument)
        if key == "Fn::Or":
            return any(self._truth(item) for item in argument)
        if key == "Fn::Equals":
            left, right = (self.resolve_one(item) for item in argument)
            return left == right
        raise UnsupportedIntrinsic(f"cannot evaluate the condition {expression!r}")

    def physical_id(self, logical_id: str) -> list[str]:
        """What ``Ref`` of a resource gives, as far as names go: its explicit name if it has one,
        else a name CloudFormation generates from the stack name and the logical id."""
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        for name_property in self.name_properties.get(resource["Type"], ()):
            if name_property in props:
                return self.resolve(props[name_property])
        return [f"{self.stack_name}-{logical_id}-GENERATED"]

    def _ref(self, name: Any) -> list[str]:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/"
            f"{self.stack_name}/GENERATED",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return [pseudo[name]]
        if name in self.parameters:
            return [self.parameters[name]]
        if name in self.resources:
            return self.physical_id(name)
        raise UnsupportedIntrinsic(f"Ref to {name!r}: neither a parameter nor a resource")

    def _get_att(self, argument: Any) -> list[str]:
        logical_id, attribute = (
            argument.split(".", 1) if isinstance(argument, str) else tuple(argument)
        )
        return [f"{name}.{attribute}" for name in self.physical_id(logical_id)]

    def _if(self, argument: Any) -> list[str]:
        _condition, when_true, when_false = argument
        return [*self.resolve(when_true), *self.resolve(when_false)]

    def _join(self, argument: Any) -> list[str]:
        delimiter, parts = argument
        choices = [self.resolve(part) for part in parts]
        return [delimiter.join(combination) for combination in itertools.product(*choices)]

    def _sub(self, argument: Any) -> list[str]:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: self.resolve(value) for name, value in variables.items()}
        pieces: list[list[str]] = []
        position = 0
        for match in re.finditer(r"\$\{([^}]*)\}", text):
            pieces.append([text[position : match.start()]])
            name = match.group(1)
            if name.startswith("!"):
                pieces.append(["${" + name[1:] + "}"])
            elif name in local:
                pieces.append(local[name])
            elif "." in name:
                pieces.append(self._get_att(name))
            else:
                pieces.append(self._ref(name))
            position = match.end()
        pieces.append([text[position:]])
        return ["".join(combination) for combination in itertools.product(*pieces)]


# --- roles and their statements -----------------------------------------------------------------


def statements(
    policy_document: Mapping[str, Any], deployment: StackContext | None = None
) -> Iterator[dict[str, Any]]:
    """A policy document's statements: in ``deployment``, or under any condition without one."""
    listed = policy_document["Statement"]
    for statement in listed if isinstance(listed, list) else [listed]:
        yield from _branches(statement, deployment)


def _branches(item: Any, deployment: StackContext | None) -> Iterator[dict[str, Any]]:
    """``item`` itself, or what an ``Fn::If`` around it gives (both branches without a
    deployment to decide); ``AWS::NoValue`` gives nothing."""
    if isinstance(item, Mapping) and set(item) == {"Fn::If"}:
        condition, when_true, when_false = item["Fn::If"]
        if deployment is None:
            branches = [when_true, when_false]
        else:
            branches = [when_true if deployment.condition(condition) else when_false]
        for branch in branches:
            yield from _branches(branch, deployment)
    elif isinstance(item, Mapping) and item != {"Ref": "AWS::NoValue"}:
        yield dict(item)


def actions(statement: Mapping[str, Any]) -> list[str]:
    listed = statement.get("Action", [])
    return [listed] if isinstance(listed, str) else list(listed)


def resources_of(statement: Mapping[str, Any]) -> list[Any]:
    listed = statement.get("Resource", [])
    return list(listed) if isinstance(listed, list) else [listed]


def role_of(translated_template: Mapping[str, Any], logical_id: str) -> str:
    """The logical id of the IAM role a function or state machine runs as."""
    props = translated_template["Resources"][logical_id]["Properties"]
    role = props.get("Role") or props.get("RoleArn")
    if isinstance(role, Mapping) and "Fn::GetAtt" in role:
        return str(role["Fn::GetAtt"][0])
    raise ValueError(f"{logical_id} runs as {role!r}, not as a role of this template")


def role_statements(
    translated_template: Mapping[str, Any], role_id: str, deployment: StackContext | None = None
) -> list[dict[str, Any]]:
    """The inline statements of the role ``role_id``: in ``deployment``, or all of them."""
    role = translated_template["Resources"][role_id]["Properties"]
    return [
        statement
        for listed in role.get("Policies", [])
        for policy in _branches(listed, deployment)
        for statement in statements(policy["PolicyDocument"], deployment)
    ]


def allowed(
    translated_template: Mapping[str, Any],
    logical_id: str,
    deployment: StackContext | None = None,
) -> list[dict[str, Any]]:
    """The Allow statements of the role the function or state machine ``logical_id`` runs as."""
    role_id = role_of(translated_template, logical_id)
    return [
        statement
        for statement in role_statements(translated_template, role_id, deployment)
        if statement.get("Effect") == "Allow"
    ]


def granted_actions(
    translated_template: Mapping[str, Any],
    logical_id: str,
    deployment: StackContext | None = None,
) -> set[str]:
    """The inline actions granted to the function or state machine ``logical_id``."""
    return {
        action
        for statement in allowed(translated_template, logical_id, deployment)
        for action in actions(statement)
    }


def resources_of_type(
    translated_template: Mapping[str, Any], resource_type: str
) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in translated_template["Resources"].items()
        if resource["Type"] == resource_type
    }


# --- the backup bucket ----------------------------------------------------------------------------

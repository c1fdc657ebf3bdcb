"""template.yaml as CloudFormation receives it, for structural tests.

The translation is ``tests/support/sam_template.py``'s (aws-sam-translator, cached per process);
:func:`deployed` then evaluates the template's
conditions for a set of parameter values, as CloudFormation would on deploy: resources whose
condition is false are gone, ``Fn::If`` is decided, ``AWS::NoValue`` removed and parameter
references replaced by their values. References to resources and ``Fn::GetAtt``/``Fn::Sub``
stay as they are, so a test can check what points at what.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from local_runner.template import evaluate_conditions
from tests.support import sam_template

# What a deploy must be given; the rest have defaults.
REQUIRED_PARAMETERS = {
    "AivenProject": "acme",
    "AivenService": "metrics-influx",
    "AivenTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven-AbCdEf",
}
_DROPPED: Any = object()


def translated() -> dict[str, Any]:
    """The translated template, unevaluated (a fresh copy each call)."""
    return sam_template.translated()


def parameters_for(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value: its default, the required ones, then ``overrides``."""
    template = translated()
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(REQUIRED_PARAMETERS)
    values.update(overrides or {})
    return values


def deployed(overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The translated template's resources and outputs as a deploy with these parameters has
    them (see the module's docstring)."""
    template = translated()
    parameters = parameters_for(overrides)
    conditions = evaluate_conditions(template, parameters)

    def evaluate(value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref" and argument == "AWS::NoValue":
                    return _DROPPED
                if key == "Ref" and argument in parameters:
                    return parameters[argument]
                if key == "Fn::If":
                    name, when_true, when_false = argument
                    return evaluate(when_true if conditions[name] else when_false)
            evaluated = {k: evaluate(v) for k, v in value.items()}
            return {k: v for k, v in evaluated.items() if v is not _DROPPED}
        if isinstance(value, list):
            return [v for v in (evaluate(item) for item in value) if v is not _DROPPED]
        return value

    resources = {
        logical_id: evaluate(copy.deepcopy(resource))
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    for resource in resources.values():
        resource.pop("Condition", None)
    return {
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": evaluate(template.get("Outputs", {})),
    }


def of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }

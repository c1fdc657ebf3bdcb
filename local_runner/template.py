"""Read ``template.yaml`` the way the local runner needs it: functions, their environment, and the
state machine's definition with its substitutions resolved against local resources."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that turns ``!Ref X`` into ``{"Ref": "X"}`` and ``!Sub``/``!If``/... likewise."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.YAMLError(f"unsupported node for !{suffix}: {node!r}")
    if suffix in ("Ref", "Condition"):  # the two short forms without an Fn:: prefix
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506
    return loaded


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, Any]  # unresolved: values may be intrinsics


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition_path: Path
    substitutions: Mapping[str, Any]
    schedule_inputs: Mapping[str, Any]  # event name -> unresolved Input


def _number(template: Mapping[str, Any], value: Any) -> int:
    """A number property, or a ``!Ref`` to a parameter with its default."""
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        value = template["Parameters"][value["Ref"]]["Default"]
    return int(value)


def functions(template: Mapping[str, Any], root: Path = PROJECT_ROOT) -> list[FunctionSpec]:
    globals_ = template.get("Globals", {}).get("Function", {})
    global_env = globals_.get("Environment", {}).get("Variables", {})
    specs = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_dir=root / props["CodeUri"],
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                timeout_seconds=_number(template, props.get("Timeout", globals_.get("Timeout", 3))),
                memory_mb=_number(
                    template, props.get("MemorySize", globals_.get("MemorySize", 128))
                ),
                environment=env,
            )
        )
    return specs


def state_machines(
    template: Mapping[str, Any], root: Path = PROJECT_ROOT
) -> list[StateMachineSpec]:
    """Every state machine of the template, in the order it declares them."""
    specs = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            props = resource["Properties"]
            schedules = {
                name: event["Properties"].get("Input")
                for name, event in props.get("Events", {}).items()
                if event["Type"] in ("Schedule", "ScheduleV2")
            }
            specs.append(
                StateMachineSpec(
                    logical_id=logical_id,
                    definition_path=root / props["DefinitionUri"],
                    substitutions=props.get("DefinitionSubstitutions", {}),
                    schedule_inputs=schedules,
                )
            )
    return specs


def state_machine(
    template: Mapping[str, Any], root: Path = PROJECT_ROOT, logical_id: str | None = None
) -> StateMachineSpec:
    """The state machine named ``logical_id``; without one, the first the template declares
    (the single-service workflow)."""
    for spec in state_machines(template, root):
        if logical_id is None or spec.logical_id == logical_id:
            return spec
    raise ValueError(
        f"template.yaml declares no AWS::Serverless::StateMachine {logical_id or ''}".rstrip()
    )


Resolver = Callable[[Any], Any]
NO_VALUE: Any = object()
"""What ``Ref: AWS::NoValue`` resolves to; a mapping or list drops it, as CloudFormation does."""


def evaluate_conditions(
    template: Mapping[str, Any], parameters: Mapping[str, str]
) -> dict[str, bool]:
    """Every condition of the template, as CloudFormation would evaluate it for ``parameters``
    (Fn::Equals on parameters, literals and Fn::Select of a Fn::Split, Fn::Not, Fn::And,
    Fn::Or, Condition)."""
    declared: Mapping[str, Any] = template.get("Conditions", {})
    evaluated: dict[str, bool] = {}

    def operand(value: Any) -> str:
        if isinstance(value, Mapping) and set(value) == {"Ref"}:
            return str(parameters[value["Ref"]])
        if isinstance(value, Mapping) and set(value) == {"Fn::Select"}:
            index, listed = value["Fn::Select"]
            separator, text = listed["Fn::Split"]
            return operand(text).split(separator)[int(index)]
        return str(value)

    def condition(expression: Any) -> bool:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return named(argument)
        if function == "Fn::Equals":
            left, right = argument
            return operand(left) == operand(right)
        if function == "Fn::Not":
            return not condition(argument[0])
        if function == "Fn::And":
            return all(condition(part) for part in argument)
        if function == "Fn::Or":
            return any(condition(part) for part in argument)
        raise ValueError(f"the local runner cannot evaluate the condition function {function}")

    def named(name: str) -> bool:
        if name not in evaluated:
            evaluated[name] = condition(declared[name])
        return evaluated[name]

    return {name: named(name) for name in declared}


def make_resolver(
    parameters: Mapping[str, str],
    refs: Mapping[str, str],
    attributes: Mapping[tuple[str, str], str],
    conditions: Mapping[str, bool],
) -> Resolver:
    """Resolve the intrinsics this template uses (Ref, GetAtt, Sub, If) against local values."""

    def lookup(name: str) -> str:
        if name in parameters:
            return parameters[name]
        if name in refs:
            return refs[name]
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            if (logical_id, attribute) in attributes:
                return attributes[(logical_id, attribute)]
        raise KeyError(f"the local runner cannot resolve {name!r}")

    def resolve(value: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else lookup(arg)
            if key == "Fn::GetAtt":
                return lookup(".".join(arg))
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return resolve(when_true if conditions[condition] else when_false)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                local = {name: resolve(v) for name, v in extra.items()}
                return re.sub(
                    r"\$\{([^}!]+)\}", lambda m: local.get(m.group(1)) or lookup(m.group(1)), text
                )
        if isinstance(value, Mapping):
            resolved = {k: resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (resolve(item) for item in value) if v is not NO_VALUE]
        return value

    return resolve


def render_definition(spec: StateMachineSpec, resolve: Resolver) -> str:
    """The ASL text with ``${Name}`` substitutions replaced, as CloudFormation would."""
    text = spec.definition_path.read_text()
    for name, value in spec.substitutions.items():
        text = text.replace("${" + name + "}", str(resolve(value)))
    leftover = re.findall(r"\$\{[A-Za-z0-9]+\}", text)
    if leftover:
        raise ValueError(
            f"definition substitutions missing in template.yaml: {sorted(set(leftover))}"
        )
    json.loads(text)
    return text


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }

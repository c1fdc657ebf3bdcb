"""``samconfig.example.toml`` deploys this template as it is: one command per stack.

samconfig.toml itself is git-ignored (it holds an account's values); the example must name only
parameters the template has, give every one it requires, and give values the template accepts.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local_runner.template import load_template

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE: dict[str, Any] = tomllib.loads((ROOT / "samconfig.example.toml").read_text())
PARAMETERS: dict[str, Any] = load_template()["Parameters"]
ENVIRONMENTS = sorted(name for name in EXAMPLE if name != "version")


def deploy_settings(environment: str) -> dict[str, Any]:
    commands = EXAMPLE[environment]
    return {
        **commands.get("global", {}).get("parameters", {}),
        **commands.get("deploy", {}).get("parameters", {}),
    }


def overrides(environment: str) -> dict[str, str]:
    """``parameter_overrides`` as SAM CLI reads it: space-separated, quoted Key=Value pairs."""
    text = deploy_settings(environment)["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def test_the_example_is_a_sam_cli_configuration_with_two_stacks() -> None:
    assert EXAMPLE["version"] == 0.1
    stacks = [deploy_settings(environment)["stack_name"] for environment in ENVIRONMENTS]

    assert "default" in ENVIRONMENTS
    assert len(stacks) >= 2
    assert len(set(stacks)) == len(stacks)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_deploys_without_questions(environment: str) -> None:
    settings = deploy_settings(environment)

    assert "CAPABILITY_IAM" in settings["capabilities"].split()
    assert settings["resolve_s3"] is True
    assert settings["region"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_gives_every_required_parameter_and_only_template_parameters(
    environment: str,
) -> None:
    given = overrides(environment)
    required = {name for name, spec in PARAMETERS.items() if "Default" not in spec}

    assert set(given) <= set(PARAMETERS), set(given) - set(PARAMETERS)
    assert required <= set(given), required - set(given)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_value_in_the_example_is_one_the_template_accepts(environment: str) -> None:
    for name, value in overrides(environment).items():
        spec = PARAMETERS[name]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), f"{name}={value!r}"
        if "AllowedValues" in spec:
            assert value in [str(allowed) for allowed in spec["AllowedValues"]], name

"""The state machine definition as template.yaml deploys it, read once for the structural tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from local_runner.template import load_template, state_machine

SPEC = state_machine(load_template())
DEFINITION: dict[str, Any] = json.loads(SPEC.definition_path.read_text())
STATES: dict[str, Any] = DEFINITION["States"]
TASKS = sorted(name for name, state in STATES.items() if state["Type"] == "Task")


def _iterations(states: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map state name -> its ItemProcessor (StartAt, States), for every Map at the top level."""
    return {
        name: state["ItemProcessor"]
        for name, state in states.items()
        if state["Type"] == "Map" and "ItemProcessor" in state
    }


# The states inside a Map's iterations (their names are unique in the whole definition).
ITERATIONS: dict[str, dict[str, Any]] = _iterations(STATES)
ITERATION_STATES: dict[str, Any] = {
    name: state for processor in ITERATIONS.values() for name, state in processor["States"].items()
}
ALL_STATES: dict[str, Any] = {**STATES, **ITERATION_STATES}
ALL_TASKS = sorted(name for name, state in ALL_STATES.items() if state["Type"] == "Task")

# Error names Step Functions and Lambda report themselves; every other name is one of our classes.
BUILT_IN_ERROR_PREFIXES = ("States.", "Lambda.", "Sandbox.")


def retried_names(state: Mapping[str, Any]) -> Iterator[str]:
    """Every name in the state's Retry rules, in order."""
    for rule in state.get("Retry", []):
        yield from rule["ErrorEquals"]


def error_names(state: Mapping[str, Any]) -> Iterator[str]:
    """Every name in the state's Retry and Catch rules."""
    yield from retried_names(state)
    for catcher in state.get("Catch", []):
        yield from catcher["ErrorEquals"]

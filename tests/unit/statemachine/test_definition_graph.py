"""The state machine's graph: neither moto's interpreter nor cfn-lint notices a dangling `Next`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from aiven_backup import errors
from local_runner.template import load_template
from tests.support.state_machine import (
    ALL_STATES,
    BUILT_IN_ERROR_PREFIXES,
    DEFINITION,
    ITERATIONS,
    SPEC,
    STATES,
    TASKS,
    error_names,
)


def targets(state: Mapping[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


@pytest.mark.parametrize("name", sorted(STATES))
def test_every_transition_points_at_a_state(name: str) -> None:
    missing = [target for target in targets(STATES[name]) if target not in STATES]
    assert not missing, f"{name} points at states that do not exist: {missing}"


def test_every_state_is_reachable_from_the_start() -> None:
    reachable, frontier = set(), [DEFINITION["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reachable:
            reachable.add(name)
            frontier.extend(targets(STATES[name]))
    assert reachable == set(STATES), f"unreachable: {sorted(set(STATES) - reachable)}"


def test_every_non_terminal_state_has_a_way_out() -> None:
    for name, state in STATES.items():
        terminal = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
        assert terminal or list(targets(state)), f"{name} neither ends nor continues"


@pytest.mark.parametrize("name", TASKS)
def test_every_task_has_a_timeout_and_a_catch(name: str) -> None:
    state = STATES[name]
    assert state.get("TimeoutSeconds", 0) > 0
    assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", []))


@pytest.mark.parametrize("map_state", sorted(ITERATIONS))
def test_every_iteration_is_a_closed_graph_reachable_from_its_start(map_state: str) -> None:
    inner = ITERATIONS[map_state]["States"]
    reachable, frontier = set(), [ITERATIONS[map_state]["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reachable:
            assert name in inner, f"{map_state}'s iteration points at {name}, outside it"
            reachable.add(name)
            frontier.extend(targets(inner[name]))
    assert reachable == set(inner), f"unreachable: {sorted(set(inner) - reachable)}"


@pytest.mark.parametrize("map_state", sorted(ITERATIONS))
def test_a_failed_iteration_reaches_the_failure_handler_through_its_map(map_state: str) -> None:
    """An iteration's Tasks retry but catch nothing: the error leaves the iteration, fails the
    Map under its own name, and the Map's Catch hands the run state to HandleFailure."""
    catchers = STATES[map_state].get("Catch", [])
    assert any("States.ALL" in c["ErrorEquals"] and c["Next"] == "HandleFailure" for c in catchers)
    for name, state in ITERATIONS[map_state]["States"].items():
        assert "Catch" not in state, f"{name} would hide the error from {map_state}'s Catch"
        if state["Type"] == "Task":
            assert state.get("TimeoutSeconds", 0) > 0


def test_error_names_in_retry_and_catch_are_real_exception_classes() -> None:
    named = {n for s in ALL_STATES.values() for n in error_names(s)}
    ours = {n for n in named if not n.startswith(BUILT_IN_ERROR_PREFIXES)}
    unknown = {n for n in ours if not isinstance(getattr(errors, n, None), type)}
    assert not unknown, (
        f"Retry/Catch name errors that aiven_backup.errors does not define: {unknown}"
    )


def test_every_substitution_is_declared_in_the_template() -> None:
    text = SPEC.definition_path.read_text()
    used = {part.split("}")[0] for part in text.split("${")[1:]}
    assert used == set(SPEC.substitutions)


def test_the_machine_times_out_before_the_lock_expires() -> None:
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert int(env["LOCK_TTL_SECONDS"]) > DEFINITION["TimeoutSeconds"]

"""The fan-out state machine's graph and the shape AWS needs of its nested runs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from aiven_backup import errors
from aiven_backup.fanout.settings import MAX_CONCURRENT_SERVICES
from local_runner.template import load_template, state_machine

TEMPLATE = load_template()
SPEC = state_machine(TEMPLATE, logical_id="FanOutStateMachine")
SINGLE = state_machine(TEMPLATE, logical_id="BackupStateMachine")
DEFINITION: dict[str, Any] = json.loads(SPEC.definition_path.read_text())
SINGLE_DEFINITION: dict[str, Any] = json.loads(SINGLE.definition_path.read_text())
MAP = DEFINITION["States"]["BackUpEachService"]
RUN = MAP["ItemProcessor"]["States"]["BackUpService"]
BUILT_IN_ERROR_PREFIXES = ("States.", "Lambda.", "Sandbox.", "StepFunctions.")


def graphs() -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The top-level graph and every Map's inner one."""
    yield "fan-out", DEFINITION
    for name, state in DEFINITION["States"].items():
        if state["Type"] == "Map":
            yield name, state["ItemProcessor"]


GRAPHS = dict(graphs())
ALL_STATES = {
    f"{graph}/{name}": state for graph, g in GRAPHS.items() for name, state in g["States"].items()
}


def targets(state: Mapping[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_every_state_of_each_graph_is_reachable_and_every_transition_lands(graph: str) -> None:
    states = GRAPHS[graph]["States"]
    reachable, frontier = set(), [GRAPHS[graph]["StartAt"]]
    while frontier:
        name = frontier.pop()
        assert name in states, f"{graph}: a transition points at {name!r}, which does not exist"
        if name not in reachable:
            reachable.add(name)
            frontier.extend(targets(states[name]))
    assert reachable == set(states)
    for name, state in states.items():
        terminal = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
        assert terminal or list(targets(state)), f"{graph}/{name} neither ends nor continues"


@pytest.mark.parametrize("name", sorted(n for n, s in ALL_STATES.items() if s["Type"] == "Task"))
def test_every_task_has_a_timeout_and_a_catch(name: str) -> None:
    state = ALL_STATES[name]
    assert state.get("TimeoutSeconds", 0) > 0
    assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", []))


def test_retried_error_names_are_transient_exception_classes_or_built_in() -> None:
    for state in ALL_STATES.values():
        for rule in state.get("Retry", []):
            for name in rule["ErrorEquals"]:
                if not name.startswith(BUILT_IN_ERROR_PREFIXES):
                    assert getattr(errors, name).transient, f"{name} is retried but not transient"


def test_every_substitution_is_declared_in_the_template() -> None:
    text = SPEC.definition_path.read_text()
    used = {part.split("}")[0] for part in text.split("${")[1:]}
    assert used == set(SPEC.substitutions)
    assert SPEC.substitutions["BackupStateMachineArn"] == {"Ref": "BackupStateMachine"}


def test_each_service_runs_the_single_service_state_machine_and_waits_for_it() -> None:
    assert RUN["Type"] == "Task"
    # .sync:2: wait for the run and get its output as JSON.
    assert RUN["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    # AWS's field names for the integration are Pascal case (moto needs local_runner.moto_sfn).
    assert set(RUN["Parameters"]) == {"StateMachineArn", "Name.$", "Input.$"}
    assert RUN["Parameters"]["StateMachineArn"] == "${BackupStateMachineArn}"
    # The plan names each run: a retried start is the same execution, the summary finds it.
    assert RUN["Parameters"]["Name.$"] == "$.run.name"


def test_a_run_failing_is_caught_inside_the_iteration_so_the_others_go_on() -> None:
    (catcher,) = RUN["Catch"]
    assert catcher["ErrorEquals"] == ["States.ALL"]
    caught = MAP["ItemProcessor"]["States"][catcher["Next"]]
    assert caught["Type"] == "Pass"
    assert caught.get("End") is True
    # Only the error's name: a failed run's Cause is its whole DescribeExecution answer.
    assert caught["Parameters"] == {"name.$": "$.run.name", "error.$": "$.error.Error"}
    assert RUN["ResultPath"] is None


def test_the_map_is_inline_and_bounded_by_the_plan() -> None:
    assert MAP["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert MAP["ItemsPath"] == "$.plan.runs"
    assert MAP["MaxConcurrencyPath"] == "$.plan.max_concurrency"
    assert "MaxConcurrency" not in MAP
    parameter = TEMPLATE["Parameters"]["MaxConcurrentServices"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (
        4,
        1,
        MAX_CONCURRENT_SERVICES,
    )


def test_timeouts_nest_a_run_inside_the_fan_out() -> None:
    assert RUN["TimeoutSeconds"] > SINGLE_DEFINITION["TimeoutSeconds"]
    assert DEFINITION["TimeoutSeconds"] > RUN["TimeoutSeconds"]

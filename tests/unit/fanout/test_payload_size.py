"""Every state of the fan-out stays under Step Functions' 256 KB for 200 services (and for the
most one execution accepts), computed from the real plan, the real definition's templates and
the real summary, with the longest names Aiven allows."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from aiven_backup.fanout.plan import MAX_SERVICES_PER_EXECUTION, plan_backups
from aiven_backup.fanout.settings import FanOutSettings
from aiven_backup.fanout.summary import OUTPUT_BUDGET, FanOutSummary, summarise
from aiven_backup.workflow.execution_input import InputDefaults
from local_runner.template import load_template, state_machine
from tests.unit.fanout.fanout_support import NOW, PARENT, FakeAiven, run_execution, service

STEP_FUNCTIONS_LIMIT = 256 * 1024  # bytes of any state's input or output, and of an output
DEFINITION: dict[str, Any] = json.loads(
    state_machine(load_template(), logical_id="FanOutStateMachine").definition_path.read_text()
)
MAP = DEFINITION["States"]["BackUpEachService"]
ITERATION = MAP["ItemProcessor"]["States"]
# The longest names Aiven allows (projects 63, services 64 characters), and the longest fields.
PROJECT = "p" * 63
LONGEST_ERROR = "StepFunctions.ExecutionLimitExceededException"
LONG_CAUSE = "Aiven answered 503 for acme/metrics-influx after 6 attempts; " * 40  # ~2.4 KB
SHARED_AT_MOST = {
    "backup_name": "b" * 256,
    "s3_prefix": "/".join(["p" * 60] * 8),  # 487 characters
    "mode": "request",
    "access_route": "privatelink",
}


def names(count: int) -> list[str]:
    return [f"s{index:04d}" + "x" * 59 for index in range(count)]  # 64 characters each


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def evaluate(template: Any, state: Any, context: Mapping[str, Any]) -> Any:
    """A Parameters/ItemSelector template applied as Step Functions does (the paths it uses)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = resolve_path(value, state, context)
            else:
                out[key] = evaluate(value, state, context)
        return out
    return template


def resolve_path(path: str, state: Any, context: Mapping[str, Any]) -> Any:
    merge = re.fullmatch(r"States\.JsonMerge\((\S+), (\S+), false\)", path)
    if merge:
        left = resolve_path(merge.group(1), state, context)
        right = resolve_path(merge.group(2), state, context)
        return {**left, **right}
    root, rest = (context, path[3:]) if path.startswith("$$.") else (state, path[2:])
    value: Any = root
    for part in filter(None, rest.split(".")):
        value = value[part]
    return value


def plan_for(count: int, *, shared: Mapping[str, str]) -> dict[str, Any]:
    services = names(count)
    aiven = FakeAiven({PROJECT: [service(PROJECT, name) for name in services]})
    raw = {"project": PROJECT, "services": services, **shared}
    plan = plan_backups(
        raw,
        PARENT,
        aiven=aiven,
        defaults=InputDefaults(),
        settings=FanOutSettings(max_concurrent_services=40),
        now=NOW,
    )
    assert len(plan.runs) == count
    return {"input": raw, "plan": plan.to_dict()}


def iteration_states(state: Mapping[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """Each iteration's input (ItemSelector), its run's input, and its result when it failed."""
    context = {"Execution": {"Id": PARENT.arn}}
    inputs, run_inputs, results = [], [], []
    for item in state["plan"]["runs"]:
        item_context = {**context, "Map": {"Item": {"Value": item}}}
        iteration_input = evaluate(MAP["ItemSelector"], state, item_context)
        run = ITERATION["BackUpService"]["Parameters"]
        run_input = resolve_path(run["Input.$"], iteration_input, item_context)
        caught = {**iteration_input, "error": {"Error": LONGEST_ERROR, "Cause": LONG_CAUSE}}
        inputs.append(iteration_input)
        run_inputs.append(run_input)
        results.append(evaluate(ITERATION["ServiceFailed"]["Parameters"], caught, item_context))
    return inputs, run_inputs, results


def summary_for(state: Mapping[str, Any], runs: list[Any], describe: Any) -> FanOutSummary:
    return summarise(state["plan"], runs, PARENT, describe=describe, bucket="b" * 63)


@pytest.mark.parametrize("count", [200, MAX_SERVICES_PER_EXECUTION])
def test_every_state_of_a_fan_out_with_the_longest_names_fits(count: int) -> None:
    state = plan_for(count, shared=SHARED_AT_MOST)
    inputs, run_inputs, results = iteration_states(state)
    after_map = {**state, "runs": results}
    summarise_input = {
        "plan": state["plan"],
        "runs": results,
        "execution": {"arn": PARENT.arn, "name": PARENT.name, "started_at": PARENT.started_at},
    }
    outcome = run_execution("x", "FAILED", error="AivenServerError", cause=LONG_CAUSE)
    summary = summary_for(state, results, lambda name: outcome)
    notification = summary.notification()
    output = summary.to_output(notification)

    measured = {
        "execution input": size(state["input"]),
        "plan (PlanBackups' output)": size(state["plan"]),
        "the Map's input and after it": size(after_map),
        "the Map's output": size(results),
        "SummariseBackups' input": size(summarise_input),
        "the execution's output": size(output),
        "largest iteration input": max(map(size, inputs)),
        "largest run input": max(map(size, run_inputs)),
        "the summary message": len(notification.body.encode()),
    }
    over = {what: n for what, n in measured.items() if n >= STEP_FUNCTIONS_LIMIT}
    assert not over, f"{count} services: over 256 KB: {over} (all: {measured})"
    assert measured["the execution's output"] <= OUTPUT_BUDGET
    assert measured["plan (PlanBackups' output)"] < 80 * 1024  # a few hundred bytes per service
    assert measured["the Map's output"] < 40 * 1024


def test_200_services_with_default_names_keep_every_result_whole() -> None:
    """The output shortens nothing for 200 ordinary services: keys, sizes, whole causes."""
    state = plan_for(200, shared={})
    _, _, results = iteration_states(state)
    key = "influxdb-backups/" + PROJECT + "/" + "s" * 64 + "/2026/11/23/" + "s" * 64 + ".tar"

    def describe(name: str) -> Any:
        if name.startswith("s0000"):
            return run_execution(name, "FAILED", error="AivenServerError", cause=LONG_CAUSE[:300])
        return run_execution(
            name, "SUCCEEDED", output={"status": "SUCCEEDED", "key": key, "size": 1}
        )

    summary = summary_for(state, results, describe)
    output = summary.to_output(summary.notification())

    assert "truncated" not in output
    assert size(output) < OUTPUT_BUDGET
    assert all(entry["key"] == key for entry in output["results"][1:])
    assert output["results"][0]["cause"] == LONG_CAUSE[:300]


def test_an_output_over_budget_is_shortened_and_says_so() -> None:
    state = plan_for(MAX_SERVICES_PER_EXECUTION, shared=SHARED_AT_MOST)
    _, _, results = iteration_states(state)
    key = SHARED_AT_MOST["s3_prefix"] + "/" + PROJECT + "/" + "s" * 64 + "/2026/11/23/" + "b" * 256
    outcome = run_execution("x", "SUCCEEDED", output={"status": "SUCCEEDED", "key": key, "size": 1})

    summary = summary_for(state, results, lambda name: outcome)
    output = summary.to_output(summary.notification())

    assert size(output) <= OUTPUT_BUDGET
    assert "results[].execution" in output["truncated"]
    assert len(output["results"]) == MAX_SERVICES_PER_EXECUTION
    assert all(entry["status"] == "SUCCEEDED" for entry in output["results"])

"""The ways in: the schedule's input, and never two backups of one service at a time."""

from __future__ import annotations

import pytest

from local_runner.stack import FANOUT_STATE_MACHINE, SINGLE_STATE_MACHINE
from local_runner.template import load_template, state_machines
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.workflow import Workflow, WorkflowFactory


def test_the_schedule_starts_the_fan_out_with_the_stack_services_and_it_runs_to_success(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    machines = {spec.logical_id: spec.schedule_inputs for spec in state_machines(load_template())}
    assert {name: set(inputs) for name, inputs in machines.items()} == {
        SINGLE_STATE_MACHINE: set(),
        FANOUT_STATE_MACHINE: {"Schedule"},
    }

    schedule_input = workflow.stack.schedule_inputs["Schedule"]
    result = workflow.stack.run_fanout(schedule_input)

    # AivenService may be one name, a comma-separated list or "*": the schedule sends it as is.
    assert schedule_input == {"project": PROJECT, "services": SERVICE, "mode": "request"}
    assert workflow.stack.schedule_targets == {"Schedule": FANOUT_STATE_MACHINE}
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert result.output["status"] == "SUCCEEDED"
    (landed,) = result.output["results"]
    assert sha256(workflow.object_bytes(landed["key"])) == sha256(sample_backup)


def test_the_schedule_requests_a_new_backup_when_the_stacks_default_mode_is_existing(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(environment={"DEFAULT_MODE": "existing"})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    result = workflow.stack.run_fanout(workflow.stack.schedule_inputs["Schedule"])

    assert result.status == "SUCCEEDED", result.cause
    assert len(workflow.aiven_calls("POST")) == 1
    assert result.output is not None
    (landed,) = result.output["results"]
    assert landed["status"] == "SUCCEEDED"
    assert sha256(workflow.object_bytes(landed["key"])) == sha256(sample_backup)


@pytest.mark.usefixtures("atomic_item_writes")
def test_two_executions_at_once_for_one_service_request_exactly_one_backup(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup, polls_until_done=3)

    first = workflow.stack.start({}, name="first")
    second = workflow.stack.start({}, name="second")
    results = [workflow.stack.wait(first), workflow.stack.wait(second)]

    assert all(r.status == "SUCCEEDED" for r in results), [r.cause for r in results]
    outcomes = sorted((r.output or {}).get("status", "") for r in results)
    assert outcomes == ["SKIPPED", "SUCCEEDED"]
    assert len(workflow.aiven_calls("POST")) == 1
    subjects = [n["subject"] for n in workflow.stack.notifications()]
    assert len(subjects) == 1
    assert subjects[0].startswith("Backup SUCCEEDED")


@pytest.mark.usefixtures("atomic_item_writes")
def test_a_backup_of_another_service_is_not_blocked(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup, polls_until_done=3)
    workflow.simulator.add_service(
        PROJECT, "other-influx", backup=sample_backup, polls_until_done=3
    )

    first = workflow.stack.start({}, name="first")
    other = workflow.stack.start({"service": "other-influx"}, name="other")
    results = [workflow.stack.wait(first), workflow.stack.wait(other)]

    assert [(r.output or {}).get("status") for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(workflow.aiven_calls("POST")) == 2

"""Faults on a bad day, through the whole workflow: what the user sees in the execution, the
notification and S3 (the byte-identical object, or nothing at all and no incomplete upload)."""

from __future__ import annotations

import os

import pytest

from local_runner.sample_backup import pack_tar, sample_backup_files
from tests.integration.faults.fault_support import (
    assert_failure_notified,
    assert_lock_released,
    assert_nothing_left_in_s3,
    assert_success_notified,
)
from tests.support.workflow import PROJECT, SERVICE, Workflow, WorkflowFactory, sha256

MiB = 1024 * 1024
AIVEN_ATTEMPTS = 3  # the Aiven client's own attempts per call (AIVEN_RETRY_MAX_ATTEMPTS)
STATE_MACHINE_ATTEMPTS = 4  # a step's first run plus its 3 Retry runs on a transient error
REQUEST = ("*/task", ("POST",))
POLLING = ("*/task/*", ("GET",))


@pytest.fixture(scope="module")
def multipart_backup() -> bytes:
    """A valid backup of three 8 MiB parts: the sample files and ~20 MiB of random padding."""
    files = sample_backup_files()
    files["padding.bin"] = os.urandom(20 * MiB)
    return pack_tar(files)


def _aiven_workflow(make_workflow: WorkflowFactory) -> Workflow:
    return make_workflow(environment={"AIVEN_RETRY_MAX_ATTEMPTS": str(AIVEN_ATTEMPTS)})


def _assert_landed(workflow: Workflow, backup: bytes, result_output: object) -> None:
    assert isinstance(result_output, dict)
    assert sha256(workflow.object_bytes(result_output["key"])) == sha256(backup)
    assert workflow.stack.incomplete_uploads() == []
    assert_success_notified(workflow)
    assert_lock_released(workflow)


# --- Aiven API: 429 and 503 -------------------------------------------------------------------


@pytest.mark.parametrize(("paths", "methods"), [REQUEST, POLLING], ids=["request", "polling"])
def test_a_429_burst_within_the_client_retries_still_lands_the_backup(
    make_workflow: WorkflowFactory, sample_backup: bytes, paths: str, methods: tuple[str, ...]
) -> None:
    workflow = _aiven_workflow(make_workflow)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    workflow.simulator.faults.api_status(
        429, count=AIVEN_ATTEMPTS - 1, paths=paths, methods=methods, retry_after="0"
    )

    result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    _assert_landed(workflow, sample_backup, result.output)
    assert len(workflow.aiven_calls("POST")) == (AIVEN_ATTEMPTS if paths == "*/task" else 1)


@pytest.mark.parametrize(("paths", "methods"), [REQUEST, POLLING], ids=["request", "polling"])
def test_a_429_burst_longer_than_the_client_retries_is_carried_by_the_state_machine(
    make_workflow: WorkflowFactory, sample_backup: bytes, paths: str, methods: tuple[str, ...]
) -> None:
    # Aiven's real 429 body asks for 28 s; the client's 1 s budget cannot wait that long, so it
    # gives up at once and the state machine's Retry runs the step again.
    workflow = make_workflow(
        environment={
            "AIVEN_RETRY_MAX_ATTEMPTS": str(AIVEN_ATTEMPTS),
            "AIVEN_RETRY_MAX_TOTAL_WAIT": "1",
        }
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    workflow.simulator.faults.api_status(429, count=2, paths=paths, methods=methods)

    result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    _assert_landed(workflow, sample_backup, result.output)


@pytest.mark.parametrize(("paths", "methods"), [REQUEST, POLLING], ids=["request", "polling"])
def test_a_429_storm_longer_than_every_retry_fails_with_aiven_rate_limited(
    make_workflow: WorkflowFactory, sample_backup: bytes, paths: str, methods: tuple[str, ...]
) -> None:
    workflow = _aiven_workflow(make_workflow)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    workflow.simulator.faults.api_status(
        429, count=10**6, paths=paths, methods=methods, retry_after="0"
    )

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "AivenRateLimited"
    assert "try again" in (result.cause or "")
    stormed = [c for c in workflow.aiven_calls() if c[0] == methods[0] and "/task" in c[1]]
    assert len(stormed) == AIVEN_ATTEMPTS * STATE_MACHINE_ATTEMPTS
    assert_nothing_left_in_s3(workflow)
    notification = assert_failure_notified(workflow, "AivenRateLimited")
    assert "AivenRateLimited" in notification["subject"]
    assert_lock_released(workflow)


def test_503_bursts_on_every_api_call_are_retried_and_the_backup_lands(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    # More 503s in a row than the client's attempts: the first StartBackup run fails with
    # AivenServerError and the state machine runs it again; later bursts hit the polls.
    workflow = _aiven_workflow(make_workflow)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup, polls_until_done=2)
    workflow.simulator.faults.api_status(503, count=AIVEN_ATTEMPTS + 1)
    workflow.simulator.faults.api_status(503, count=2, paths="*/task/*", methods=("GET",))

    result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    _assert_landed(workflow, sample_backup, result.output)
    assert workflow.invocations("StartBackupFunction") == 2
    assert len(workflow.aiven_calls("POST")) == 1


def test_a_503_storm_fails_with_aiven_server_error(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = _aiven_workflow(make_workflow)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    workflow.simulator.faults.api_status(503, count=10**6)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "AivenServerError"
    assert len(workflow.aiven_calls()) == AIVEN_ATTEMPTS * STATE_MACHINE_ATTEMPTS
    assert workflow.aiven_calls("POST") == []
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "AivenServerError")
    assert_lock_released(workflow)

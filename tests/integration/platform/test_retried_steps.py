"""What Lambda and Step Functions do that the local world does not: a step times out and Step
Functions runs it again. The workflow must come out of it as if it had run once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiven_backup.workflow.lock import ServiceLock
from tests.support.aiven import PROJECT, SERVICE
from tests.support.s3 import sha256
from tests.support.workflow import WorkflowFactory, assert_lock_released, assert_success_notified

# What Lambda reports when a function runs out of time: Step Functions sees this error name.
SandboxTimedout = type("Sandbox.Timedout", (Exception,), {})


def _times_out_once_after(original: Callable[..., Any]) -> Callable[..., Any]:
    fired: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not fired:
            fired.append(True)
            raise SandboxTimedout("Task timed out after 180.00 seconds")
        return result

    return wrapper


def test_start_backup_timing_out_after_aiven_accepted_the_request_does_not_request_twice(
    make_workflow: WorkflowFactory, sample_backup: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second create_user_backup would replace the first backup: the retried StartBackup must
    reuse the task the first attempt recorded with the lock."""
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup, polls_until_done=1)
    monkeypatch.setattr(ServiceLock, "record_task", _times_out_once_after(ServiceLock.record_task))

    result = workflow.run({"backup_name": "nightly-1"})

    assert result.status == "SUCCEEDED", result.cause
    assert workflow.invocations("StartBackupFunction") == 2
    assert len(workflow.aiven_calls("POST")) == 1
    assert result.output is not None
    assert sha256(workflow.object_bytes(result.output["key"])) == sha256(sample_backup)
    assert_success_notified(workflow)
    assert_lock_released(workflow)


@pytest.mark.parametrize(
    "function",
    [
        "PollBackupFunction",
        "VerifyBackupFunction",
        "VerifyShardsFunction",  # inside the Map: the iteration's Retry runs it again
        "FinishVerificationFunction",
        "FinishBackupFunction",
    ],
)
def test_a_step_that_times_out_once_is_run_again_and_the_backup_lands(
    make_workflow: WorkflowFactory,
    sample_backup: bytes,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
) -> None:
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    lambdas = workflow.stack.lambdas
    invoke = lambdas.invoke
    timed_out: list[str] = []

    def invoke_timing_out_once(name: str, event: Any, invoked_arn: str) -> tuple[str, bool]:
        if name == function and not timed_out:
            timed_out.append(name)
            return '{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}', True
        return invoke(name, event, invoked_arn)

    monkeypatch.setattr(lambdas, "invoke", invoke_timing_out_once)

    result = workflow.run({})

    assert timed_out == [function]
    assert result.status == "SUCCEEDED", result.cause
    assert_lock_released(workflow)

"""Bad execution input, field by field, through the real state machine: a clear error naming the
field, before any Aiven call and without writing to S3."""

from __future__ import annotations

from typing import Any

import pytest

from aiven_backup import errors
from tests.support.aiven import PROJECT, SERVICE
from tests.support.workflow import (
    Workflow,
    assert_lock_released,
    assert_nothing_left_in_s3,
)

# (execution input, the field the error must name). A value that is not an object must fail
# the same way as a bad field: the failure path, notification included, still runs.
BAD_INPUTS: dict[str, tuple[Any, str]] = {
    "input-not-an-object": (["metrics-influx"], "input"),
    "unknown-field": ({"colour": "blue"}, "colour"),
    "project-wrong-type": ({"project": 42}, "project"),
    "project-null": ({"project": None}, "project"),
    "project-empty": ({"project": ""}, "project"),
    "project-too-long": ({"project": "p" * 64}, "project"),
    "project-slash": ({"project": "acme/other"}, "project"),
    "service-wrong-type": ({"service": ["metrics-influx"]}, "service"),
    "service-empty": ({"service": ""}, "service"),
    "service-too-long": ({"service": "s" * 65}, "service"),
    "service-dot-dot": ({"service": "../metrics"}, "service"),
    "backup_name-wrong-type": ({"backup_name": True}, "backup_name"),
    "backup_name-empty": ({"backup_name": ""}, "backup_name"),
    "backup_name-too-long": ({"backup_name": "b" * 257}, "backup_name"),
    "backup_name-slash": ({"backup_name": "nightly/1"}, "backup_name"),
    "backup_name-dot-dot": ({"backup_name": "nightly..1"}, "backup_name"),
    "mode-wrong-type": ({"mode": 1}, "mode"),
    "mode-empty": ({"mode": ""}, "mode"),
    "mode-unknown": ({"mode": "sometimes"}, "mode"),
    "access_route-wrong-type": ({"access_route": {"public": True}}, "access_route"),
    "access_route-empty": ({"access_route": ""}, "access_route"),
    "access_route-unknown": ({"access_route": "vpn"}, "access_route"),
    "s3_prefix-wrong-type": ({"s3_prefix": 3.5}, "s3_prefix"),
    "s3_prefix-too-long": ({"s3_prefix": "p" * 513}, "s3_prefix"),
    "s3_prefix-leading-slash": ({"s3_prefix": "/backups"}, "s3_prefix"),
    "s3_prefix-dot-dot": ({"s3_prefix": "backups/../other"}, "s3_prefix"),
    "s3_prefix-empty-folder": ({"s3_prefix": "backups//influx"}, "s3_prefix"),
}


@pytest.mark.parametrize(
    ("execution_input", "field"), list(BAD_INPUTS.values()), ids=list(BAD_INPUTS)
)
def test_bad_input_fails_naming_the_field_before_any_aiven_call_or_s3_write(
    workflow: Workflow, sample_backup: bytes, execution_input: Any, field: str
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    result = workflow.stack.run(execution_input)  # as given: not every input is an object

    assert result.status == "FAILED"
    # InvalidExecutionInput, or the subclass naming its rule (InvalidBackupName).
    assert result.error is not None
    assert issubclass(getattr(errors, result.error), errors.InvalidExecutionInput), result.error
    assert f"invalid input field '{field}'" in (result.cause or "")
    assert workflow.simulator.requests == []
    assert workflow.simulator.download_requests == []
    assert_nothing_left_in_s3(workflow)
    assert_lock_released(workflow)
    (notification,) = workflow.stack.notifications()
    assert notification["subject"].startswith("Backup FAILED ")
    assert f"Error:       {result.error}" in notification["message"]
    assert notification["attributes"]["status"] == "FAILED"
    assert f"invalid input field '{field}'" in notification["message"]

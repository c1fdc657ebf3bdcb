"""The backup replaced by another of the same size while it is being copied, through the whole
workflow: the run never ends with an object that is half one backup and half the other. It fails
SourceChanged, keeps nothing (the multipart upload is aborted), and says so in the notification.
"""

from __future__ import annotations

import os

import pytest

from local_runner.sample_backup import pack_tar, sample_backup_files
from tests.support.aiven import PROJECT, SERVICE
from tests.support.faults import COPY_FUNCTION
from tests.support.workflow import (
    Workflow,
    WorkflowFactory,
    assert_failure_notified,
    assert_lock_released,
    assert_nothing_left_in_s3,
)

MiB = 1024 * 1024

# What the host says about its backup: both validators, only a date, or nothing at all.
VALIDATORS = {
    "etag-and-last-modified": {"etag": True, "last_modified": True},
    "last-modified-only": {"etag": False, "last_modified": True},
    "no-validators": {"etag": False, "last_modified": False},
}


def _backup(padding: bytes) -> bytes:
    files = sample_backup_files()
    files["padding.bin"] = padding
    return pack_tar(files)


@pytest.fixture(scope="module")
def two_backups() -> tuple[bytes, bytes]:
    """Two valid backups of exactly the same size (three 8 MiB parts) and different bytes."""
    first = _backup(os.urandom(20 * MiB))
    second = _backup(os.urandom(20 * MiB))
    assert len(first) == len(second)
    assert first != second
    return first, second


def _serving(
    make_workflow: WorkflowFactory, backup: bytes, ranges: bool, validators: str, **kwargs: object
) -> Workflow:
    workflow = make_workflow(**kwargs)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    workflow.simulator.download.ranges = ranges
    workflow.simulator.download.etag = VALIDATORS[validators]["etag"]
    workflow.simulator.download.last_modified = VALIDATORS[validators]["last_modified"]
    return workflow


def _assert_failed_as_changed(workflow: Workflow, cause: str | None) -> None:
    assert "changed during the copy" in (cause or "")
    assert "a new run will copy the current one" in (cause or "")
    assert_nothing_left_in_s3(workflow)  # no object, no incomplete upload
    notification = assert_failure_notified(workflow, "SourceChanged")
    assert "changed during the copy" in notification["message"]
    assert "a new run will copy the current one" in notification["message"]
    assert_lock_released(workflow)


@pytest.mark.parametrize("validators", list(VALIDATORS))
@pytest.mark.parametrize("ranges", [True, False], ids=["with-range", "without-range"])
def test_a_backup_replaced_at_the_drop_mid_copy_fails_as_changed_and_keeps_nothing(
    make_workflow: WorkflowFactory,
    two_backups: tuple[bytes, bytes],
    ranges: bool,
    validators: str,
) -> None:
    first, second = two_backups
    workflow = _serving(make_workflow, first, ranges, validators)
    # At 50 % the connection drops and, before the copier reconnects, the host serves the
    # other backup under the same name.
    replaced = workflow.simulator.faults.replace_backup_at(len(first) // 2, second)

    result = workflow.run({}, timeout=180)

    assert replaced.fired
    assert result.status == "FAILED", result.output
    assert result.error == "SourceChanged"
    _assert_failed_as_changed(workflow, result.cause)


@pytest.mark.parametrize("validators", ["etag-and-last-modified", "no-validators"])
def test_a_backup_replaced_between_copy_invocations_fails_as_changed_and_keeps_nothing(
    make_workflow: WorkflowFactory, two_backups: tuple[bytes, bytes], validators: str
) -> None:
    # A slow source copied over several invocations (about 20 MiB at 8 MiB/s, invocations of
    # about a second): the backup is replaced mid-copy without a drop, so the invocation that
    # is running finishes its part with the old bytes and the next one resumes from the cursor.
    first, second = two_backups
    workflow = _serving(
        make_workflow,
        first,
        False,
        validators,
        environment={"COPY_TIME_MARGIN_SECONDS": "0"},
        timeouts={COPY_FUNCTION: 1.0},
    )
    workflow.simulator.faults.trickle(8 * MiB)
    replaced = workflow.simulator.faults.replace_backup_at(len(first) // 3, second, drop=False)

    result = workflow.run({}, timeout=180)

    assert replaced.fired
    assert result.status == "FAILED", result.output
    assert result.error == "SourceChanged"
    assert workflow.invocations(COPY_FUNCTION) >= 2
    _assert_failed_as_changed(workflow, result.cause)


def test_the_same_backup_served_again_after_a_drop_still_lands(
    make_workflow: WorkflowFactory, two_backups: tuple[bytes, bytes]
) -> None:
    # The control: a "replacement" by identical bytes is the same backup (validators unchanged
    # only in the ETag's name); without validators the CRC check lets it through.
    first, _ = two_backups
    workflow = _serving(make_workflow, first, False, "no-validators")
    workflow.simulator.faults.replace_backup_at(len(first) // 2, first)

    result = workflow.run({}, timeout=180)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert workflow.object_bytes(result.output["key"]) == first

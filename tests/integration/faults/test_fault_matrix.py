"""Faults on a bad day, through the whole workflow: what the user sees in the execution, the
notification and S3 (the byte-identical object, or nothing at all and no incomplete upload)."""

from __future__ import annotations

import os

import pytest

from local_runner.sample_backup import build_sample_backup, pack_tar, sample_backup_files
from tests.support.aiven import PROJECT, SERVICE
from tests.support.faults import (
    COPY_FUNCTION,
    PROBE_RANGE,
    TargetedDownloadFault,
    data_gets,
    failing_s3_calls,
    targeted_download_fault,
)
from tests.support.s3 import sha256
from tests.support.workflow import (
    Workflow,
    WorkflowFactory,
    assert_failure_notified,
    assert_lock_released,
    assert_nothing_left_in_s3,
    assert_success_notified,
)

MiB = 1024 * 1024
PART_SIZE = 8 * MiB  # the copier's smallest part, and so the size of every part here
PARTS = 3
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


# --- The download: drops, truncation, a wrong Content-Length ---------------------------------


@pytest.mark.parametrize("ranges", [True, False], ids=["with-range", "without-range"])
@pytest.mark.parametrize("fraction", [0.10, 0.50, 0.99], ids=["at-10%", "at-50%", "at-99%"])
def test_a_connection_dropped_mid_download_is_resumed_to_a_byte_identical_object(
    make_workflow: WorkflowFactory,
    monkeypatch: pytest.MonkeyPatch,
    multipart_backup: bytes,
    fraction: float,
    ranges: bool,
) -> None:
    total = len(multipart_backup)
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=multipart_backup)
    workflow.simulator.download.ranges = ranges
    drop = TargetedDownloadFault("drop", int(total * fraction), total, ranges=ranges)

    with targeted_download_fault(monkeypatch, drop):
        result = workflow.run({}, timeout=180)

    assert result.status == "SUCCEEDED", result.cause
    assert len(drop.fired) == 1
    _assert_landed(workflow, multipart_backup, result.output)
    # One GET per part (or one for the whole body) plus the one that picked up after the drop.
    expected_gets = PARTS if ranges else 1
    assert len(data_gets(workflow)) == expected_gets + 1


def test_a_truncated_body_with_range_is_resumed_to_a_byte_identical_object(
    make_workflow: WorkflowFactory, monkeypatch: pytest.MonkeyPatch, multipart_backup: bytes
) -> None:
    total = len(multipart_backup)
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=multipart_backup)
    truncate = TargetedDownloadFault("truncate", total // 2, total, ranges=True)

    with targeted_download_fault(monkeypatch, truncate):
        result = workflow.run({}, timeout=180)

    assert result.status == "SUCCEEDED", result.cause
    assert len(truncate.fired) == 1
    _assert_landed(workflow, multipart_backup, result.output)
    resumed_at = [r[2] for r in data_gets(workflow) if r[2] not in truncate.fired]
    assert f"bytes={total // 2}-{2 * PART_SIZE - 1}" in resumed_at


def test_a_body_always_truncated_without_range_fails_and_leaves_nothing(
    workflow: Workflow,
) -> None:
    backup = build_sample_backup(shard_payload_bytes=64 * 1024)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    workflow.simulator.download.ranges = False
    workflow.simulator.faults.truncate_download(len(backup) // 2, times=10**6)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "SourceTruncated"
    assert f"stopped at byte {len(backup) // 2} of {len(backup)}" in (result.cause or "")
    assert_nothing_left_in_s3(workflow)
    notification = assert_failure_notified(workflow, "SourceTruncated")
    assert "incomplete upload" in notification["message"]
    assert_lock_released(workflow)


def test_a_short_content_length_once_with_range_is_resumed_to_a_byte_identical_object(
    make_workflow: WorkflowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = build_sample_backup(shard_payload_bytes=64 * 1024)
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    misannounce = TargetedDownloadFault(
        "content_length", len(backup) // 2, len(backup), ranges=True
    )

    with targeted_download_fault(monkeypatch, misannounce):
        result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    assert len(misannounce.fired) == 1
    _assert_landed(workflow, backup, result.output)
    assert data_gets(workflow)[-1][2] == f"bytes={len(backup) // 2}-{len(backup) - 1}"


def test_a_content_length_that_disagrees_with_the_probe_without_range_fails_as_source_changed(
    make_workflow: WorkflowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without Range the body cannot be resumed, and a length other than the probe's means the
    # copier cannot tell a lying header from a different backup: it stops, keeping nothing.
    backup = build_sample_backup(shard_payload_bytes=64 * 1024)
    workflow = make_workflow()
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    workflow.simulator.download.ranges = False
    misannounce = TargetedDownloadFault(
        "content_length", len(backup) // 2, len(backup), ranges=False
    )

    with targeted_download_fault(monkeypatch, misannounce):
        result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "SourceChanged"
    assert f"was {len(backup)} bytes" in (result.cause or "")
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "SourceChanged")
    assert_lock_released(workflow)


def test_a_content_length_always_short_without_range_is_caught_by_verification(
    workflow: Workflow,
) -> None:
    # Every answer, the probe's included, announces 64 KiB less than the backup: the copier
    # copies what was announced and verification finds the tar cut short. The truncated object
    # must not stay in the bucket looking like a backup.
    backup = build_sample_backup(shard_payload_bytes=64 * 1024)
    workflow.simulator.add_service(PROJECT, SERVICE, backup=backup)
    workflow.simulator.download.ranges = False
    workflow.simulator.faults.wrong_content_length(len(backup) - 64 * 1024, times=10**6)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "NotAnInfluxBackup"
    assert "truncated tar" in (result.cause or "")
    assert_failure_notified(workflow, "NotAnInfluxBackup")
    assert_lock_released(workflow)
    assert_nothing_left_in_s3(workflow)


def test_the_backup_url_answering_404_after_the_task_succeeded_fails_after_the_grace_polls(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    grace_polls = 2
    workflow = make_workflow(environment={"NOT_FOUND_GRACE_POLLS": str(grace_polls)})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    workflow.simulator.faults.download_status(404, count=10**6)  # replaced by a newer backup

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "BackupNotAvailable"
    assert "replaced" in (result.cause or "")
    probes = [r for r in workflow.simulator.download_requests if r[2] == PROBE_RANGE]
    assert len(probes) == grace_polls + 1
    assert data_gets(workflow) == []
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "BackupNotAvailable")
    assert_lock_released(workflow)


def test_a_slow_source_is_copied_over_several_invocations(
    make_workflow: WorkflowFactory, multipart_backup: bytes
) -> None:
    # About 20 MiB sent at 8 MiB/s to a copier whose invocations may run about a second each.
    workflow = make_workflow(
        environment={"COPY_TIME_MARGIN_SECONDS": "0"}, timeouts={COPY_FUNCTION: 1.0}
    )
    workflow.simulator.add_service(PROJECT, SERVICE, backup=multipart_backup)
    workflow.simulator.download.ranges = False
    workflow.simulator.faults.trickle(8 * MiB)

    result = workflow.run({}, timeout=180)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert result.output["copy_invocations"] >= 2
    assert workflow.invocations(COPY_FUNCTION) == result.output["copy_invocations"]
    _assert_landed(workflow, multipart_backup, result.output)


# --- S3: SlowDown and 500 on UploadPart -------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500)])
def test_a_few_s3_upload_part_failures_are_retried_and_the_backup_lands(
    workflow: Workflow, sample_backup: bytes, code: str, status: int
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    with failing_s3_calls("UploadPart", code, status, times=3) as attempts:
        result = workflow.run({})

    assert result.status == "SUCCEEDED", result.cause
    assert len(attempts) == 4
    _assert_landed(workflow, sample_backup, result.output)


def test_persistent_s3_slowdown_fails_with_s3_unavailable_and_leaves_no_upload(
    make_workflow: WorkflowFactory, sample_backup: bytes
) -> None:
    workflow = make_workflow(environment={"COPY_MAX_RETRIES": "1"})
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    with failing_s3_calls("UploadPart", "SlowDown", 503, times=10**6) as attempts:
        result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "S3Unavailable"
    assert "SlowDown" in (result.cause or "")
    assert workflow.invocations(COPY_FUNCTION) == STATE_MACHINE_ATTEMPTS
    assert len(attempts) >= STATE_MACHINE_ATTEMPTS * 2
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "S3Unavailable")
    assert_lock_released(workflow)


# --- Aiven: the task fails, the token is refused ----------------------------------------------


def test_a_failed_backup_task_fails_with_aivens_reason(workflow: Workflow) -> None:
    workflow.simulator.add_service(
        PROJECT, SERVICE, task_outcome="failure", failure_result="disk full on node 2"
    )

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "BackupTaskFailed"
    assert "disk full on node 2" in (result.cause or "")
    assert workflow.simulator.download_requests == []
    assert_nothing_left_in_s3(workflow)
    notification = assert_failure_notified(workflow, "BackupTaskFailed")
    assert "disk full on node 2" in notification["message"]
    assert_lock_released(workflow)


def test_an_invalid_token_fails_with_aiven_unauthorized_naming_the_secret_to_fix(
    workflow: Workflow, sample_backup: bytes
) -> None:
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)
    workflow.simulator.token = "a-token-the-stack-does-not-have"  # revoked in Aiven
    secret_id = workflow.stack.lambdas.functions["StartBackupFunction"].environment[
        "AIVEN_TOKEN_SECRET_ID"
    ]

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "AivenUnauthorized"
    assert len(workflow.aiven_calls()) == 1  # a 401 is not retried
    assert_nothing_left_in_s3(workflow)
    notification = assert_failure_notified(workflow, "AivenUnauthorized")
    assert secret_id in (result.cause or "")
    assert secret_id in notification["message"]
    assert_lock_released(workflow)


# --- The download URL: refused before a byte is fetched ---------------------------------------


@pytest.mark.parametrize(
    ("backup_host", "environment", "reason"),
    [
        ("169.254.169.254", {}, "IP address"),
        ("127.0.0.1", {"ALLOW_INSECURE_DOWNLOAD": "false"}, "scheme 'http'"),
        ("backups.attacker.example", {}, "matches none of the allowed patterns"),
        ("127.0.0.1", {"ALLOWED_DOWNLOAD_HOSTS": "*.aivencloud.com"}, "IP address"),
    ],
    ids=["metadata-service", "plain-http", "host-outside-allow-list", "ip-outside-allow-list"],
)
def test_a_download_url_not_allowed_is_refused_before_a_byte_is_fetched(
    make_workflow: WorkflowFactory,
    sample_backup: bytes,
    backup_host: str,
    environment: dict[str, str],
    reason: str,
) -> None:
    workflow = make_workflow(environment=environment)
    workflow.simulator.backup_host = backup_host  # the user_backup_uri Aiven hands out
    workflow.simulator.add_service(PROJECT, SERVICE, backup=sample_backup)

    result = workflow.run({})

    assert result.status == "FAILED"
    assert result.error == "DownloadUrlRejected"
    cause = result.cause or ""
    assert reason in cause
    if "scheme" not in reason:
        # The operator is told which setting widens the allow-list, by its real name.
        assert "AllowedDownloadHosts" in cause or "ALLOWED_DOWNLOAD_HOSTS" in cause
    assert workflow.simulator.service(PROJECT, SERVICE).password not in cause
    assert workflow.simulator.download_requests == []
    assert workflow.aiven_calls("POST") == []
    assert_nothing_left_in_s3(workflow)
    assert_failure_notified(workflow, "DownloadUrlRejected")
    assert_lock_released(workflow)

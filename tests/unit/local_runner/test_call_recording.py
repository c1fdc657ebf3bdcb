"""What the recorder behind the least-privilege check attributes to a function, and what not."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_runner import call_recording
from local_runner.call_recording import Deployment
from tests.support.aws import BUCKET, REGION

DEPLOYMENT = Deployment(parameters={"S3Prefix": "p"}, refs={"BackupBucket": BUCKET})


def recorded(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("calls-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_calls_inside_an_invocation_and_its_pool_threads_are_the_functions_the_tests_are_not(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(call_recording.LOG_DIR_VARIABLE, str(tmp_path))
    s3.put_object(Bucket=BUCKET, Key="before", Body=b"x")  # the test's own call

    with call_recording.invocation("CopyBackupFunction", DEPLOYMENT):
        client = boto3.client("s3", region_name=REGION)
        client.head_object(Bucket=BUCKET, Key="before")
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(client.put_object, Bucket=BUCKET, Key="in-a-pool", Body=b"secret").result()

    s3.delete_object(Bucket=BUCKET, Key="before")  # the test's again

    records = recorded(tmp_path)
    calls = [r for r in records if r["kind"] == "call"]
    assert [(c["function"], c["service"], c["operation"]) for c in calls] == [
        ("CopyBackupFunction", "s3", "HeadObject"),
        ("CopyBackupFunction", "s3", "PutObject"),
    ]
    assert calls[1]["params"] == {"Bucket": BUCKET, "Key": "in-a-pool"}  # no body
    (deployment,) = [r for r in records if r["kind"] == "deployment"]
    assert deployment["id"] == DEPLOYMENT.id == calls[0]["deployment"]
    assert deployment["refs"] == {"BackupBucket": BUCKET}


def test_nothing_is_recorded_without_a_log_directory(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(call_recording.LOG_DIR_VARIABLE, raising=False)

    with call_recording.invocation("CopyBackupFunction", DEPLOYMENT):
        s3.list_objects_v2(Bucket=BUCKET)

    assert recorded(tmp_path) == []

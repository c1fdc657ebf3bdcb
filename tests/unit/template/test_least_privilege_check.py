"""The least-privilege check itself (tests/support/least_privilege.py): how it turns a recorded
call into an IAM action and resource, matches them against a role, and reports what it refuses
and what a role grants that nothing used. The check of the real run is at the end of the suite
(tests/support/least_privilege_plugin.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support import sam_template
from tests.support.least_privilege import (
    Call,
    Needed,
    Recording,
    check,
    matches,
    needed,
)

BUCKET = "influxdb-backups-local"
STATES = "arn:aws:states:us-east-1:123456789012"
DEPLOYMENT = {
    "parameters": {
        **sam_template.parameter_values(sam_template.translated()),
        "AivenTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf",
    },
    "refs": {
        "AWS::AccountId": "123456789012",
        "BackupBucket": BUCKET,
        "BackupStateMachine": f"{STATES}:stateMachine:influxdb-backup",
        "FanOutStateMachine": f"{STATES}:stateMachine:influxdb-backup-fanout",
    },
    "attributes": {
        "BackupStateMachine.Name": "influxdb-backup",
        "FanOutStateMachine.Name": "influxdb-backup-fanout",
        "LockTable.Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/locks",
        "NotificationTopic.TopicName": "notifications",
    },
}


def s3_call(function: str, operation: str, **params: Any) -> Call:
    return Call(function, "stack", "s3", operation, {"Bucket": BUCKET, **params})


def recording_of(*calls: Call) -> Recording:
    recording = Recording(deployments={"stack": DEPLOYMENT})
    recording.invoked = {call.function for call in calls}
    recording.calls = list(calls)
    return recording


def one_function_template(
    actions: list[str], metadata: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A translated template of one function whose role grants ``actions`` on the bucket's
    objects, and the SAM template it came from (where Metadata is read)."""
    statement = {
        "Effect": "Allow",
        "Action": actions,
        "Resource": {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/*", {"Bucket": BUCKET}]},
    }
    translated = {
        "Resources": {
            "OnlyFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["OnlyFunctionRole", "Arn"]}},
            },
            "OnlyFunctionRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [{"PolicyName": "P0", "PolicyDocument": {"Statement": [statement]}}]
                },
            },
        }
    }
    raw = {"Resources": {"OnlyFunction": {"Metadata": copy.deepcopy(metadata or {})}}}
    return translated, raw


@pytest.mark.parametrize(
    ("operation", "params", "action", "resource"),
    [
        ("HeadObject", {"Key": "a.tar"}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/a.tar"),
        (
            "CompleteMultipartUpload",
            {"Key": "a.tar"},
            "s3:PutObject",
            f"arn:aws:s3:::{BUCKET}/a.tar",
        ),
        ("UploadPart", {"Key": "a.tar"}, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/a.tar"),
        (
            "ListParts",
            {"Key": "a.tar"},
            "s3:ListMultipartUploadParts",
            f"arn:aws:s3:::{BUCKET}/a.tar",
        ),
        ("ListObjectsV2", {}, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
        ("ListMultipartUploads", {}, "s3:ListBucketMultipartUploads", f"arn:aws:s3:::{BUCKET}"),
        (
            "GetObjectLockConfiguration",
            {},
            "s3:GetBucketObjectLockConfiguration",
            f"arn:aws:s3:::{BUCKET}",
        ),
        (
            "DeleteObject",
            {"Key": "a", "VersionId": "v1"},
            "s3:DeleteObjectVersion",
            f"arn:aws:s3:::{BUCKET}/a",
        ),
        ("PutObjectTagging", {"Key": "a"}, "s3:PutObjectTagging", f"arn:aws:s3:::{BUCKET}/a"),
    ],
)
def test_an_s3_call_needs_the_action_and_resource_aws_authorises_it_as(
    operation: str, params: dict[str, str], action: str, resource: str
) -> None:
    assert needed(s3_call("F", operation, **params)) == [Needed(action, resource)]


def test_a_copy_needs_to_write_its_target_and_read_its_source() -> None:
    call = s3_call("F", "CopyObject", Key="b.tar", CopySource=f"{BUCKET}/a.tar?versionId=v1")

    assert needed(call) == [
        Needed("s3:PutObject", f"arn:aws:s3:::{BUCKET}/b.tar"),
        Needed("s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/a.tar"),
    ]


def test_a_lambda_invoke_needs_invoke_function_on_the_functions_arn() -> None:
    call = Call("F", "stack", "lambda", "Invoke", {"FunctionName": "VerifyShardFunction"})

    assert needed(call) == [
        Needed(
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:VerifyShardFunction",
        )
    ]


def test_iam_wildcards_span_any_characters_or_exactly_one_and_actions_ignore_case() -> None:
    assert matches("arn:aws:states:*:execution:m:*", "arn:aws:states:us-east-1:1:execution:m:x")
    assert matches(
        "arn:aws:secretsmanager:r:1:secret:tok-??????",
        "arn:aws:secretsmanager:r:1:secret:tok-AbCdEf",
    )
    assert not matches(
        "arn:aws:secretsmanager:r:1:secret:tok-??????",
        "arn:aws:secretsmanager:r:1:secret:tok-AbCdE",
    )
    assert not matches("arn:aws:s3:::b/*", "arn:aws:s3:::b")
    assert matches("S3:get*", "s3:GetObject", ignore_case=True)
    assert not matches("arn:aws:s3:::B/*", "arn:aws:s3:::b/x")


def test_a_call_outside_the_granted_resource_pattern_is_refused_naming_action_and_arn() -> None:
    # FinishVerification may write only the inventory next to a backup, never the backup itself.
    inventory = s3_call("FinishVerificationFunction", "PutObject", Key="p/a.tar.inventory.json")
    backup = s3_call("FinishVerificationFunction", "PutObject", Key="p/a.tar")

    report = check(recording_of(inventory, backup))

    (refused,) = report.refused
    assert refused.startswith(
        "FinishVerificationFunction: s3.PutObject needs s3:PutObject on "
        f"arn:aws:s3:::{BUCKET}/p/a.tar,"
    )
    assert "FinishVerificationFunctionRole refuses" in refused


def test_an_action_the_role_does_not_grant_is_refused() -> None:
    report = check(recording_of(s3_call("FinishBackupFunction", "DeleteObject", Key="p/a.tar")))

    assert any(
        line.startswith("FinishBackupFunction: s3.DeleteObject needs s3:DeleteObject on ")
        for line in report.refused
    )


def test_a_granted_action_no_call_used_is_reported_until_the_template_says_why() -> None:
    translated, raw = one_function_template(["s3:GetObject", "s3:DeleteObject"])
    calls = recording_of(s3_call("OnlyFunction", "GetObject", Key="a.tar"))

    report = check(calls, translated, raw)

    assert report.refused == []
    (unused,) = report.unused
    assert unused.startswith("OnlyFunction: s3:DeleteObject in P0 statement 0")
    assert "Metadata: UnexercisedGrants: {s3:DeleteObject: <why>}" in unused

    translated, raw = one_function_template(
        ["s3:GetObject", "s3:DeleteObject"],
        {"UnexercisedGrants": {"s3:DeleteObject": "only when the read-back differs"}},
    )
    assert check(calls, translated, raw).problems == []


def test_a_reason_for_a_grant_that_is_used_or_gone_is_reported_as_stale() -> None:
    translated, raw = one_function_template(
        ["s3:GetObject"], {"UnexercisedGrants": {"s3:GetObject": "x", "s3:PutObject": "y"}}
    )

    report = check(recording_of(s3_call("OnlyFunction", "HeadObject", Key="a")), translated, raw)

    assert sorted(report.unused) == [
        "OnlyFunction: Metadata.UnexercisedGrants explains s3:GetObject, which is used by a run: "
        "remove the note",
        "OnlyFunction: Metadata.UnexercisedGrants explains s3:PutObject, which is not granted: "
        "remove the note",
    ]


def test_no_recorded_call_and_a_function_never_invoked_fail_the_check() -> None:
    translated, raw = one_function_template(["s3:GetObject"])

    report = check(Recording(deployments={"stack": DEPLOYMENT}), translated, raw)

    assert any("no AWS call was recorded at all" in line for line in report.other)
    assert any(line.startswith("OnlyFunction was never invoked") for line in report.other)


def test_a_statement_with_a_condition_grants_no_call_of_the_handler_itself() -> None:
    """The token key's kms:Decrypt holds only when Secrets Manager asks on the function's behalf."""
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    recording = recording_of(Call("StartBackupFunction", "stack", "kms", "Decrypt", {"KeyId": key}))
    recording.deployments["stack"] = copy.deepcopy(DEPLOYMENT)
    recording.deployments["stack"]["parameters"]["TokenSecretKmsKeyArn"] = key

    report = check(recording)

    assert any(
        line.startswith("StartBackupFunction: kms.Decrypt needs kms:Decrypt")
        for line in report.refused
    )

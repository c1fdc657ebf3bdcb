"""The ARNs an operator gives are the ones the IAM policies can match.

A KMS key id makes the policy malformed and an alias ARN deploys but cannot authorise
``kms:GenerateDataKey`` (IAM matches a policy's Resource against the key ARN, never the alias),
so only key ARNs pass. A secret ARN without Secrets Manager's 6-character suffix is not the
secret's ARN, so ``GetSecretValue`` on it is refused. CloudFormation matches ``AllowedPattern``
against the whole value, as ``re.fullmatch`` does.
"""

from __future__ import annotations

import re

import pytest

from local_runner.template import load_template
from tests.support.sam_template import (
    REGION,
    StackContext,
    actions,
    allowed,
    granted_actions,
    translated,
)

PARAMETERS = load_template()["Parameters"]
KEY_PARAMETERS = ("KmsKeyArn", "TokenSecretKmsKeyArn")
TOKEN_READERS = (
    "StartBackupFunction",
    "PollBackupFunction",
    "CopyBackupFunction",
    "PlanBackupsFunction",  # the fan-out lists the services
)
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/token-AbC123"


def accepts(parameter: str, value: str) -> bool:
    spec = PARAMETERS[parameter]
    return re.fullmatch(spec["AllowedPattern"], value) is not None


@pytest.mark.parametrize("parameter", KEY_PARAMETERS)
@pytest.mark.parametrize(
    "value",
    [
        "",  # no key
        KEY_ARN,
        "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ],
)
def test_a_key_parameter_takes_a_key_arn_or_nothing(parameter: str, value: str) -> None:
    assert accepts(parameter, value)


@pytest.mark.parametrize("parameter", KEY_PARAMETERS)
@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:kms:us-east-1:123456789012:alias/backups",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/backups",
        "arn:aws:kms:us-east-1:123456789012:key/",
        f" {KEY_ARN}",
    ],
)
def test_a_key_parameter_refuses_an_alias_a_key_id_or_a_broken_arn(
    parameter: str, value: str
) -> None:
    assert not accepts(parameter, value)


@pytest.mark.parametrize(
    "value",
    [
        SECRET_ARN,
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:prod/aiven_token.v2-x9Y8z7",
        "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:aiven-token-AbC123",
    ],
)
def test_the_token_secret_is_given_by_its_full_arn(value: str) -> None:
    assert accepts("AivenTokenSecretArn", value)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/token",  # partial ARN
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/influx-token",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/token-AbC12",
        "aiven/token-AbC123",  # a name, not an ARN
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/token-*",
    ],
)
def test_a_partial_secret_arn_or_a_name_is_refused(value: str) -> None:
    assert not accepts("AivenTokenSecretArn", value)


def token_key_statements(deployment: StackContext, function: str) -> list[dict[str, object]]:
    return [
        statement
        for statement in allowed(deployment.template, function, deployment)
        if actions(statement) == ["kms:Decrypt"]
        and deployment.resolve(statement["Resource"]) == [KEY_ARN]
    ]


@pytest.mark.parametrize("function", TOKEN_READERS)
def test_the_functions_that_read_the_token_may_decrypt_it_through_secrets_manager_only(
    function: str,
) -> None:
    deployment = StackContext.of(translated(), "s", TokenSecretKmsKeyArn=KEY_ARN)

    (statement,) = token_key_statements(deployment, function)

    condition = statement["Condition"]
    assert isinstance(condition, dict)
    equals = condition["StringEquals"]
    assert deployment.resolve_one(equals["kms:ViaService"]) == (
        f"secretsmanager.{REGION}.amazonaws.com"
    )
    assert (
        deployment.resolve_one(equals["kms:EncryptionContext:SecretARN"])
        == (deployment.parameters["AivenTokenSecretArn"])
    )


@pytest.mark.parametrize("function", TOKEN_READERS)
def test_without_a_token_key_no_function_is_granted_kms_decrypt_for_the_token(
    function: str,
) -> None:
    deployment = StackContext.of(translated(), "s", TokenSecretKmsKeyArn="")

    assert token_key_statements(deployment, function) == []
    assert "kms:Decrypt" not in granted_actions(deployment.template, function, deployment)


def test_exactly_the_functions_that_read_the_secret_may_decrypt_it() -> None:
    deployment = StackContext.of(translated(), "s", TokenSecretKmsKeyArn=KEY_ARN)
    secret = deployment.parameters["AivenTokenSecretArn"]
    functions = [
        logical_id
        for logical_id, resource in deployment.resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    ]

    readers = {
        function
        for function in functions
        for statement in allowed(deployment.template, function, deployment)
        if "secretsmanager:GetSecretValue" in actions(statement)
        and deployment.resolve(statement["Resource"]) == [secret]
    }
    decrypters = {function for function in functions if token_key_statements(deployment, function)}

    assert readers == set(TOKEN_READERS)
    assert decrypters == readers

"""The Aiven token comes from Secrets Manager (moto here), is cached, and never leaks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from aiven_backup.aiven import get_aiven_token
from aiven_backup.errors import AivenTokenUnavailable
from aiven_backup.redaction import redact
from tests.support.aws import REGION

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

TOKEN = "aiven-app-token-7d3f0b1c"


@pytest.fixture
def secrets(moto_aws: None) -> Iterator[SecretsManagerClient]:
    """Secrets Manager on moto, with Powertools' per-container cache emptied around the test."""
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield boto3.client("secretsmanager", region_name=REGION)
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def test_reads_a_plain_token(secrets: SecretsManagerClient) -> None:
    secrets.create_secret(Name="aiven/token", SecretString=f"  {TOKEN}\n")

    assert get_aiven_token("aiven/token") == TOKEN


def test_reads_a_json_token_by_arn(secrets: SecretsManagerClient) -> None:
    arn = secrets.create_secret(Name="aiven/json", SecretString=json.dumps({"token": TOKEN}))["ARN"]

    assert get_aiven_token(arn) == TOKEN


def test_reads_a_binary_secret(secrets: SecretsManagerClient) -> None:
    secrets.create_secret(Name="aiven/binary", SecretBinary=TOKEN.encode())

    assert get_aiven_token("aiven/binary") == TOKEN


def test_the_token_is_cached_per_container(secrets: SecretsManagerClient) -> None:
    secrets.create_secret(Name="aiven/token", SecretString=TOKEN)
    first = get_aiven_token("aiven/token")
    secrets.put_secret_value(SecretId="aiven/token", SecretString="rotated-token-value")

    second = get_aiven_token("aiven/token")

    assert first == second == TOKEN


def test_an_expired_cache_entry_reads_the_rotated_token(secrets: SecretsManagerClient) -> None:
    secrets.create_secret(Name="aiven/token", SecretString=TOKEN)
    first = get_aiven_token("aiven/token", max_age=0)
    secrets.put_secret_value(SecretId="aiven/token", SecretString="rotated-token-value")

    second = get_aiven_token("aiven/token", max_age=0)

    assert (first, second) == (TOKEN, "rotated-token-value")


def test_the_token_is_registered_for_redaction(secrets: SecretsManagerClient) -> None:
    secrets.create_secret(Name="aiven/token", SecretString=TOKEN)

    get_aiven_token("aiven/token")

    assert redact(f"header aivenv1-less {TOKEN} end") == "header aivenv1-less *** end"


def test_a_missing_secret_names_the_secret_and_what_to_check(
    secrets: SecretsManagerClient,
) -> None:
    with pytest.raises(AivenTokenUnavailable) as caught:
        get_aiven_token("aiven/missing")

    assert "'aiven/missing'" in str(caught.value)
    assert "secretsmanager:GetSecretValue" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('{"token": ', "does not parse"),
        (json.dumps({"api_token": TOKEN}), 'without a string "token"'),
        (json.dumps({"token": 42}), 'without a string "token"'),
        ("   ", "empty"),
        (f"{TOKEN} {TOKEN}", "whitespace"),
    ],
)
def test_a_malformed_secret_is_refused_without_echoing_it(
    secrets: SecretsManagerClient, value: str, reason: str
) -> None:
    secrets.create_secret(Name="aiven/bad", SecretString=value)

    with pytest.raises(AivenTokenUnavailable) as caught:
        get_aiven_token("aiven/bad")

    assert reason in str(caught.value)
    assert "'aiven/bad'" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or TOKEN not in str(caught.value.__context__)


def test_no_secret_configured_is_refused_before_any_call(secrets: SecretsManagerClient) -> None:
    with pytest.raises(AivenTokenUnavailable, match="no Secrets Manager secret"):
        get_aiven_token("")

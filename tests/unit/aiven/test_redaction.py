"""Secrets never reach a log line, whatever logger or formatter prints it."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger

from aiven_backup.redaction import install_redaction, redact, redact_url, register_secret


@pytest.fixture
def secret() -> str:
    value = f"tok-{uuid.uuid4().hex}"
    register_secret(value)
    return value


@pytest.fixture
def std_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger = logging.getLogger(f"redaction-test-{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(url)s"))
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_redact_url_masks_the_password_and_keeps_the_rest() -> None:
    url = "https://avnadmin:p%40ss@my-influx.aivencloud.com:12345/backups/x.tar"

    assert redact_url(url) == "https://avnadmin:***@my-influx.aivencloud.com:12345/backups/x.tar"


def test_redact_url_leaves_urls_without_credentials_alone() -> None:
    assert redact_url("https://h.aivencloud.com:1/a") == "https://h.aivencloud.com:1/a"


def test_redact_url_masks_query_values() -> None:
    assert redact_url("https://h/a?X-Sig=abc&b=1") == "https://h/a?X-Sig=***&b=***"


def test_redact_url_of_a_malformed_url_still_masks_the_password() -> None:
    assert "hunter2" not in redact_url("https://u:hunter2@h:port/x")


def test_redact_removes_registered_secrets_in_any_encoding(secret: str) -> None:
    register_secret("p@ss/word")

    text = redact(f"token={secret} raw=p@ss/word encoded=p%40ss%2Fword")

    assert secret not in text
    assert "p@ss/word" not in text
    assert "p%40ss%2Fword" not in text


def test_short_values_are_not_registered_but_still_masked_inside_urls() -> None:
    register_secret("pw1")

    assert redact("pw1 in prose stays") == "pw1 in prose stays"
    assert redact("see https://u:pw1@h/x") == "see https://u:***@h/x"


def test_redact_masks_url_passwords_that_were_never_registered() -> None:
    text = redact("fetching http://backup:never-registered@127.0.0.1:4000/b/x.tar now")

    assert text == "fetching http://backup:***@127.0.0.1:4000/b/x.tar now"


def test_redact_masks_authorization_header_values() -> None:
    assert redact("Authorization: aivenv1 abc.DEF-123") == "Authorization: aivenv1 ***"
    assert redact("authorization: Bearer xyz") == "authorization: Bearer ***"


@pytest.mark.parametrize(
    "line",
    [
        """Response body: b'{"ARN":"arn:x","SecretString":"{\\\\"token\\\\":\\\\"T0K\\\\"}"}'""",
        """Response body: b'{"ARN":"arn:x","SecretString":"T0K","VersionId":"v"}'""",
        """params {'body': b'{"Name": "n", "SecretString": "{\\\\"token\\\\": \\\\"T0K\\\\"}"}'}""",
        """{'Name': 'n', 'SecretString': '{"a": "b", "token": "T0K"}'}""",
        """{"SecretBinary": "T0K"}""",
    ],
)
def test_redact_masks_secrets_manager_values_as_botocore_logs_them(line: str) -> None:
    redacted = redact(line + "\nnext line stays")

    assert "T0K" not in redacted
    assert "Secret" in redacted
    assert redacted.endswith("***\nnext line stays")


def test_stdlib_logger_messages_args_extras_and_exceptions_are_redacted(
    secret: str, std_logger: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = std_logger
    install_redaction(logger)
    leaked_url = "https://u:url-password@h.aivencloud.com/x.tar"

    logger.info("token %s at %s", secret, leaked_url, extra={"url": leaked_url})
    try:
        raise RuntimeError(f"boom with {secret}")
    except RuntimeError:
        logger.exception("failed", extra={"url": "-"})

    output = stream.getvalue()
    assert secret not in output
    assert "url-password" not in output
    assert "RuntimeError: boom with ***" in output
    assert "https://u:***@h.aivencloud.com/x.tar" in output


def test_records_propagated_from_child_loggers_are_redacted_by_the_handler_filter(
    secret: str, std_logger: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = std_logger
    install_redaction(logger)
    child = logging.getLogger(f"{logger.name}.httpx-like")
    child.setLevel(logging.DEBUG)

    child.debug("sending header Authorization: aivenv1 %s", secret, extra={"url": ""})

    assert secret not in stream.getvalue()
    assert "aivenv1 ***" in stream.getvalue()


def test_install_is_idempotent(std_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, _ = std_logger

    install_redaction(logger)
    install_redaction(logger)

    assert len(logger.filters) == 1
    assert len(logger.handlers[0].filters) == 1


def test_install_quiets_httpx_and_httpcore(std_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.NOTSET)

    install_redaction(std_logger[0])

    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING


def test_powertools_logger_output_is_redacted(secret: str) -> None:
    stream = io.StringIO()
    logger = Logger(
        service=f"redaction-{uuid.uuid4().hex}",
        level="DEBUG",
        logger_handler=logging.StreamHandler(stream),
    )
    install_redaction(logger)
    leaked_url = "https://u:pt-password@h.aivencloud.com/x.tar"

    logger.info("using %s", leaked_url)
    logger.info({"token": secret, "nested": {"uri": leaked_url}})
    logger.debug("plain", extra={"download_url": leaked_url})
    try:
        raise ValueError(f"bad {secret}")
    except ValueError:
        logger.exception("it broke")

    output = stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 4
    assert secret not in output
    assert "pt-password" not in output
    assert lines[1]["message"]["nested"]["uri"] == "https://u:***@h.aivencloud.com/x.tar"
    assert lines[2]["download_url"] == "https://u:***@h.aivencloud.com/x.tar"
    assert "ValueError: bad ***" in lines[3]["exception"]
    assert lines[3]["exception_name"] == "ValueError"

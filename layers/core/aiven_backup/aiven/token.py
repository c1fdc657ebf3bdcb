"""Read the Aiven API token from Secrets Manager, once per container (Powertools caches it)."""

from __future__ import annotations

import json
import logging

from aws_lambda_powertools.utilities import parameters

from aiven_backup.errors import AivenTokenUnavailable
from aiven_backup.redaction import redact, register_secret

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE_SECONDS = 300


def get_aiven_token(secret_id: str, *, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> str:
    """The token in secret ``secret_id`` (name or ARN): a plain string or ``{"token": "..."}``."""
    if not secret_id:
        raise AivenTokenUnavailable(
            "no Secrets Manager secret is configured for the Aiven API token; set the secret's "
            "name or ARN in the stack parameters"
        )
    try:
        value = parameters.get_secret(secret_id, max_age=max_age)
    except parameters.exceptions.GetParameterError as error:
        raise AivenTokenUnavailable(
            f"could not read the Aiven API token from Secrets Manager secret '{secret_id}': "
            f"{redact(str(error))}. Check that the secret exists in this region and that the "
            "function's role may call secretsmanager:GetSecretValue on it (and kms:Decrypt on "
            "its key)."
        ) from None
    token = _token_from(value, secret_id)
    register_secret(token)
    logger.debug("Read the Aiven API token from secret %s", secret_id)
    return token


def _token_from(value: object, secret_id: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed(secret_id, "binary secret that is not UTF-8 text") from None
    if not isinstance(value, str):
        raise _malformed(secret_id, f"value of type {type(value).__name__}")
    text = value.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise _malformed(secret_id, "JSON object that does not parse") from None
        token = document.get("token") if isinstance(document, dict) else None
        if not isinstance(token, str):
            raise _malformed(secret_id, 'JSON object without a string "token" key')
        text = token.strip()
    if not text or any(character.isspace() for character in text):
        raise _malformed(secret_id, "empty value or a value containing whitespace")
    return text


def _malformed(secret_id: str, what: str) -> AivenTokenUnavailable:
    return AivenTokenUnavailable(
        f"Secrets Manager secret '{secret_id}' holds a {what}; store the Aiven API token either "
        'as the plain secret string or as {"token": "<token>"}'
    )

"""Keep secrets out of log lines, errors and messages.

Removed: every value passed to ``register_secret`` (the Aiven token, the backup URI's password),
and, registered or not, the password of any ``scheme://user:password@`` URL, the credentials of an
``aivenv1``/``Bearer``/``Basic`` authorization value and the ``SecretString``/``SecretBinary`` of a
Secrets Manager answer (botocore prints it at DEBUG before the token can be registered).

``install_redaction`` hangs a filter on a logger and on its handlers, so records logged on it and
records propagated into its handlers (httpx, botocore, ...) are redacted too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger as PowertoolsLogger

MASK = "***"
# Shorter values are not registered: masking them everywhere would garble ordinary words. A short
# URL password is still masked wherever it appears inside a URL.
MIN_SECRET_LENGTH = 6

# The password in ``scheme://user:password@host``. Greedy up to the last ``@`` before the path,
# so an unencoded ``@`` inside the password is masked as well.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:)[^\s/]*@")
# Credentials in an Authorization header that ended up in text.
_AUTH_HEADER_VALUE = re.compile(r"(?P<head>\b(?:aivenv1|Bearer|Basic)\s+)[A-Za-z0-9+/=._~\-]+")

# A Secrets Manager value as botocore logs requests and answers at DEBUG, before the token can be
# registered. It may sit in JSON inside a bytes repr inside a dict repr (escaping of any depth), so
# everything after the key, to the end of the line, is masked.
_SECRET_FIELD = re.compile(r"(?P<head>\bSecret(?:String|Binary)\\*[\"']?\s*:\s*)[^\r\n]*")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime"}

_QUIET_LOGGERS = ("httpx", "httpcore")


def register_secret(value: str) -> None:
    """Remember ``value`` (and its percent-encoded/decoded forms) as a secret for this process."""
    forms = {value, quote(value, safe=""), unquote(value)}
    with _secrets_lock:
        _secrets.update(form for form in forms if len(form) >= MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    """``text`` with every registered secret and every URL password replaced by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)
    text = _SECRET_FIELD.sub(rf"\g<head>{MASK}", text)
    return _AUTH_HEADER_VALUE.sub(rf"\g<head>{MASK}", text)


def redact_url(url: str) -> str:
    """``url`` without its password (and query values); scheme, user, host, port and path kept."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if password is not None:
        netloc = f"{parts.username or ''}:{MASK}@{netloc.rpartition('@')[2]}"
    query = "&".join(f"{item.partition('=')[0]}={MASK}" for item in parts.query.split("&") if item)
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item) for item in value)
    return value


def _rendered_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: show both, redacted
        return f"{record.msg!s} {record.args!r}"


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so no formatter can print a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, Mapping):  # Powertools logs dicts as structured messages
            record.msg = _redact_value(record.msg)
            record.args = _redact_value(record.args) if record.args else record.args
        else:
            record.msg = redact(_rendered_message(record))
            record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_RECORD_ATTRIBUTES:
                setattr(record, key, _redact_value(value))
        self._redact_exception(record)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    @staticmethod
    def _redact_exception(record: logging.LogRecord) -> None:
        if not record.exc_info or record.exc_info[0] is None:
            return
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(text)
        if cleaned != text:
            # Formatters re-render exc_info themselves; drop it and hand them the clean text.
            # ``exception``/``exception_name`` are the keys Powertools' formatter prefers.
            record.exc_text = cleaned
            record.__dict__.setdefault("exception", cleaned)
            record.__dict__.setdefault("exception_name", record.exc_info[0].__name__)
            record.exc_info = None


def _has_redacting_filter(filterer: logging.Filterer) -> bool:
    return any(isinstance(existing, RedactingFilter) for existing in filterer.filters)


def install_redaction(logger: logging.Logger | PowertoolsLogger) -> None:
    """Redact every record ``logger`` emits or its handlers handle (idempotent).

    Works for a stdlib ``logging.Logger`` and for a Powertools ``Logger`` (whose stdlib logger and
    handler are reached through ``addFilter`` and ``handlers``). Also keeps httpx and httpcore at
    WARNING, because at INFO and below they log every request URL.
    """
    std_logger: logging.Logger = logger if isinstance(logger, logging.Logger) else logger._logger
    targets: list[logging.Filterer] = [std_logger, *std_logger.handlers]
    for target in targets:
        if not _has_redacting_filter(target):
            target.addFilter(RedactingFilter())
    for name in _QUIET_LOGGERS:
        quiet = logging.getLogger(name)
        if quiet.getEffectiveLevel() < logging.WARNING:
            quiet.setLevel(logging.WARNING)

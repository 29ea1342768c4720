"""Logging: one handler on the root logger, plain text or JSON lines, secrets redacted.

Huibao's own log calls name people and messages by id only. Two things need a guard
beyond that: libraries that log URLs with credentials in them (httpx logs every request as
"HTTP Request: POST https://api.telegram.org/bot<TOKEN>/getUpdates" at INFO; WeCom URLs
carry access_token and corpsecret), and libraries that log whole payloads at DEBUG (PTB logs
every update and reply, SQLAlchemy every statement with its parameters: what people typed,
their names). The first are redacted by `RedactingFilter` on the handler; the second are
kept at INFO or WARNING even when HUIBAO_LOG_LEVEL=DEBUG.

Every logger ends at that one handler, uvicorn's too (`OWN_HANDLER_LOGGERS`), so every line
is redacted and JSON when asked. What is printed outside the logging (the command line's
error messages) goes through `redact`, which knows the same secrets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO, get_args
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import ENV_PREFIX, Settings

LOG_FORMATS = ("text", "json")
REDACTED = "<redacted>"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "huibao"  # the handler `setup_logging` installs, found again by its name

# Loggers whose DEBUG (or INFO) output carries message texts, names or SQL parameters:
# the lowest level they may log at, whatever HUIBAO_LOG_LEVEL says.
PAYLOAD_LOGGERS = {
    "telegram": logging.INFO,  # PTB: every update and API call with its payload at DEBUG
    "httpcore": logging.INFO,  # request and response details at DEBUG
    "sqlalchemy.engine": logging.WARNING,  # statements with their parameters at INFO
    "sqlalchemy.pool": logging.WARNING,
}
# Loggers a library may give handlers of their own (uvicorn's default logging configuration
# does), which would write past the redaction and the JSON format: handed back to the root.
OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram bot tokens, in Bot API URLs (/bot<TOKEN>/method, /file/bot<TOKEN>/path) ...
    # (the colon may be URL-encoded: PTB's file downloads quote it as %3A) ...
    (re.compile(r"\bbot\d+(?::|%3[Aa])[A-Za-z0-9_-]+"), f"bot{REDACTED}"),
    # ... and alone (123456789:AAE... as @BotFather gives them).
    (re.compile(r"\b\d{5,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}"), REDACTED),
    # Credentials in query strings and key=value texts (WeCom: access_token, corpsecret).
    (
        re.compile(
            r"(?i)\b(access_token|corpsecret|secret|token|password|passwd|encoding_aes_key)"
            r"(=|%3D)([^&\s'\"]+)"
        ),
        rf"\1\2{REDACTED}",
    ),
    # A password in a URL: scheme://user:password@host.
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    # SQLAlchemy error texts carry the statement's parameters: what people typed.
    (re.compile(r"(?m)^\[parameters: .*$"), "[parameters: hidden]"),
)
_MIN_SECRET = 6  # shorter configured values are not replaced wherever they occur

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too.
_RECORD_FIELDS = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)


class RedactingFilter(logging.Filter):
    """Replace credentials in a record's message, exception text and extra fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        known = {s for s in secrets if len(s) >= _MIN_SECRET}
        known |= {encoded for s in known for encoded in _url_forms(s)}  # as in URLs
        self._secrets = sorted(known, key=len, reverse=True)  # longest first

    def redact(self, text: str) -> str:
        """Return `text` with every known secret and credential pattern replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let the handler report it as usual
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_FIELDS:
                setattr(record, key, self._redact_value(value))
        return True

    def _redact_value(self, value: object) -> object:
        """An extra field with its texts redacted (also inside lists and dicts)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bool | int | float | None):
            return value
        if isinstance(value, list | tuple):
            return [self._redact_value(item) for item in value]
        if isinstance(value, dict):
            return {str(k): self._redact_value(v) for k, v in value.items()}
        return self.redact(str(value))  # what the JSON format would write


def _url_forms(secret: str) -> set[str]:
    """`secret` as it may appear URL-encoded (in a path, a query, upper or lower hex)."""
    forms = {quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return forms - {secret}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, exception, extras.

    Written here rather than taken from python-json-logger: it is twenty lines of the
    standard library, and one dependency fewer for a deployment.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                data[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (it may be replaced, as click's tests do)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def secrets_of(settings: Settings) -> list[str]:
    """The configured secrets, to be redacted wherever they appear in a log line.

    Every `SecretStr` setting (found by type, so a new one is covered without a change
    here), the webhook secret derived from the bot token, and the database password.
    """
    found = [secret.get_secret_value() for secret in _secret_values(settings)]
    derived = settings.telegram.webhook_secret_value()
    if derived is not None:
        found.append(derived)
    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    return found


def _secret_values(model: BaseModel) -> Iterator[SecretStr]:
    """The `SecretStr` values of `model` and of the models inside it."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value
        elif isinstance(value, BaseModel):
            yield from _secret_values(value)


def secrets_in_environment(environ: Mapping[str, str]) -> list[str]:
    """The secrets given as HUIBAO_ variables, for when the settings could not be read.

    The values of the variables of `SecretStr` settings, and the database URL's password.
    """
    names = set(_secret_names(Settings, ENV_PREFIX))
    found = [value for name, value in environ.items() if name.upper() in names and value]
    url = next((v for k, v in environ.items() if k.upper() == f"{ENV_PREFIX}DATABASE_URL"), None)
    if url:
        try:
            password = make_url(url).password
        except (ArgumentError, ValueError):
            match = re.search(r"://[^:/@\s]*:([^@\s]+)@", url)
            password = match.group(1) if match else None
        if password:
            found.append(str(password))
    return found


def _secret_names(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """The environment variable names of the `SecretStr` settings of `model`."""
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _secret_names(kind, f"{env}__")
        elif kind is SecretStr or SecretStr in get_args(kind):
            yield env


def redact(text: str) -> str:
    """`text` without any secret: for error messages printed outside the logging.

    Uses the secrets `setup_logging` was given, those in HUIBAO_ variables, and the
    credential patterns (tokens, passwords in URLs, key=value pairs).
    """
    for handler in logging.getLogger().handlers:
        if handler.get_name() == HANDLER_NAME:
            for found in handler.filters:
                if isinstance(found, RedactingFilter):
                    text = found.redact(text)
    return RedactingFilter(secrets_in_environment(os.environ)).redact(text)


def logging_ready() -> bool:
    """Whether `setup_logging` has installed its handler (so log lines are redacted)."""
    return any(h.get_name() == HANDLER_NAME for h in logging.getLogger().handlers)


def setup_logging(
    level: str = "INFO",
    log_format: str = "text",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send all logging to stderr (or `stream`) as text or JSON lines, secrets redacted.

    Safe to call again: the handler of an earlier call is replaced. Returns the handler.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: use text or json")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    for name in OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.propagate = True
    number = logging.getLevelName(level.upper())
    root.setLevel(number)
    for name, floor in PAYLOAD_LOGGERS.items():
        logging.getLogger(name).setLevel(max(number, floor))
    # Alembic says one line per migration step at every start: noise unless debugging.
    logging.getLogger("alembic").setLevel(number if number <= logging.DEBUG else logging.WARNING)
    return handler

"""Logging: one handler on the root logger, plain text or JSON lines, secrets redacted.

Huibao's own log calls name people and messages by id only. Two things need a guard
beyond that: libraries that log URLs with credentials in them (httpx logs every request as
"HTTP Request: POST https://api.telegram.org/bot<TOKEN>/getUpdates" at INFO; WeCom URLs
carry access_token and corpsecret), and libraries that log whole payloads at DEBUG (PTB logs
every update and reply, SQLAlchemy every statement with its parameters: what people typed,
their names). The first are redacted by `RedactingFilter` on the handler; the second are
kept at INFO or WARNING even when HUIBAO_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from bot.settings import Settings

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
        known |= {quote(s, safe="") for s in known}  # as they appear in URLs
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
            if key not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


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
    """The configured secrets, to be redacted wherever they appear in a log line."""
    values = [
        settings.telegram.token,
        settings.telegram.webhook_secret,
        settings.wecom.secret,
        settings.wecom.token,
        settings.wecom.encoding_aes_key,
    ]
    found = [v.get_secret_value() for v in values if v is not None]
    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    return found


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
    number = logging.getLevelName(level.upper())
    root.setLevel(number)
    for name, floor in PAYLOAD_LOGGERS.items():
        logging.getLogger(name).setLevel(max(number, floor))
    # Alembic says one line per migration step at every start: noise unless debugging.
    logging.getLogger("alembic").setLevel(number if number <= logging.DEBUG else logging.WARNING)
    return handler

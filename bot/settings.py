"""Settings: built once from HUIBAO_ environment variables and .env, then passed down."""

from __future__ import annotations

import hashlib
import re
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "HUIBAO_"
DEFAULT_DATABASE_URL = "sqlite:///data/huibao.sqlite3"


class TelegramSettings(BaseModel):
    """Telegram bot settings (HUIBAO_TELEGRAM__...)."""

    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    # Webhook mode when set: the public HTTPS URL Telegram posts updates to; its path is
    # served by Huibao's own server (HUIBAO_SERVER__HOST/PORT), behind a reverse proxy.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # The bot's @username, for join links; asked from Telegram when not set.
    username: str | None = None
    poll_timeout: int = Field(default=30, ge=0, le=60)

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\d+:[\w-]+", value.get_secret_value()):
            raise ValueError("a bot token looks like 123456789:AAE..., as @BotFather gives it")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("the webhook URL must start with https://")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    def webhook_secret_value(self) -> str | None:
        """The secret Telegram sends along with webhook updates: the configured one, or one
        derived from the token (the same on every instance); None with neither."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        if self.token is None:
            return None
        digest = hashlib.sha256(b"huibao-webhook:" + self.token.get_secret_value().encode())
        return digest.hexdigest()[:48]


class ServerSettings(BaseModel):
    """The HTTP server for webhooks and /healthz (HUIBAO_SERVER__...)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)


class WecomSettings(BaseModel):
    """WeCom self-built app settings (HUIBAO_WECOM__...); see docs/wecom.md."""

    corp_id: str | None = None
    agent_id: int | None = None
    secret: SecretStr | None = None
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    # The API server: WeCom's own, or a private deployment's (tests use a local fake).
    base_url: str = "https://qyapi.weixin.qq.com"
    # The path of the callback URL set in the admin console (接收消息 → URL).
    callback_path: str = "/wecom/callback"

    @field_validator("corp_id")
    @classmethod
    def _check_corp_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]{4,64}", value):
            raise ValueError("the corp id (企业ID) looks like ww0123456789abcdef")
        return value

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        # The admin console's Token: letters and digits, at most 32.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]{1,32}", value.get_secret_value()):
            raise ValueError("use the Token from the admin console: 1-32 letters and digits")
        return value

    @field_validator("encoding_aes_key")
    @classmethod
    def _check_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9+/]{43}", value.get_secret_value()):
            raise ValueError("use the 43-character EncodingAESKey the admin console gives")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("the API base URL starts with https://")
        return value.rstrip("/")

    @field_validator("callback_path")
    @classmethod
    def _check_callback_path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9/_.-]*", value):
            raise ValueError("a path like /wecom/callback")
        return value

    @model_validator(mode="after")
    def _all_or_nothing(self) -> WecomSettings:
        given = {name: getattr(self, name) is not None for name in WECOM_REQUIRED}
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(
                f"HUIBAO_WECOM__{name.upper()}" for name, present in given.items() if not present
            )
            raise ValueError(f"a WeCom app needs all five settings; missing: {missing}")
        return self

    @property
    def configured(self) -> bool:
        """Whether the WeCom app is set up (all five settings are given)."""
        return self.corp_id is not None


WECOM_REQUIRED = ("corp_id", "agent_id", "secret", "token", "encoding_aes_key")


class WecomBotSettings(BaseModel):
    """WeCom intelligent robot on its long connection (HUIBAO_WECOM_BOT__...); docs/wecom.md."""

    bot_id: str | None = None
    secret: SecretStr | None = None
    # The WebSocket address: WeCom's own, or a private deployment's (tests use a local fake).
    url: str = "wss://openws.work.weixin.qq.com"

    @field_validator("bot_id")
    @classmethod
    def _check_bot_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", value):
            raise ValueError("the robot's Bot ID, as its API settings (长连接) show it")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[\x21-\x7e]{1,256}", value.get_secret_value()):
            raise ValueError("the robot's Secret for the long connection, without spaces")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.fullmatch(r"wss?://[^\s/]+(/\S*)?", value):
            raise ValueError("a WebSocket address like wss://openws.work.weixin.qq.com")
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> WecomBotSettings:
        if (self.bot_id is None) != (self.secret is None):
            missing = "BOT_ID" if self.bot_id is None else "SECRET"
            raise ValueError(
                f"the robot needs its Bot ID and Secret; missing: HUIBAO_WECOM_BOT__{missing}"
            )
        return self

    @property
    def configured(self) -> bool:
        """Whether the robot is set up (Bot ID and Secret given)."""
        return self.bot_id is not None


_OFFSET = re.compile(r"(\d+)\s*([dhm])")
_OFFSET_UNITS = {"d": 1440, "h": 60, "m": 1}
MAX_LADDER_MINUTES = 60 * 1440


def parse_ladder(text: str) -> tuple[int, ...]:
    """Read reminder offsets like '7d,3d,1d,2h' as minutes, largest first; ValueError if bad."""
    minutes: set[int] = set()
    for part in re.split(r"[,，\s]+", text.strip()):
        if not part:
            continue
        match = _OFFSET.fullmatch(part.lower())
        if match is None:
            raise ValueError(f"{part!r} is not an offset: write 7d, 3d, 12h or 30m")
        value = int(match.group(1)) * _OFFSET_UNITS[match.group(2)]
        if not 0 < value <= MAX_LADDER_MINUTES:
            raise ValueError(f"{part!r}: an offset is between 1 minute and 60 days")
        minutes.add(value)
    if not minutes:
        raise ValueError("no offsets given: write for example 7d,3d,1d,2h")
    return tuple(sorted(minutes, reverse=True))


class ReminderSettings(BaseModel):
    """Reminders and the outbox (HUIBAO_REMINDERS__...)."""

    enabled: bool = True
    # No message the bot sends on its own between these times (in HUIBAO_TIMEZONE).
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    # Also none on Saturdays and Sundays (a deadline may say otherwise); a weekend day worked
    # in exchange for a holiday (调休) is a working day.
    skip_weekends: bool = False
    # None on China's public holidays (and an office's own days off): a step moves to the
    # next working day, as it does past quiet hours.
    skip_holidays: bool = True
    # An office's own days off and extra working days, YAML or CSV (see bot/core/holidays.py).
    holidays_file: Path | None = None
    # A deadline due on a day off moves to the next working day, same time (a deadline may
    # say otherwise: --on-holiday move|keep).
    move_deadlines: bool = False
    # Reminder steps before each deadline, unless the deadline has its own.
    ladder: str = "7d,3d,1d,2h"
    # At most this many reminders per person and deadline: of a longer ladder, the steps
    # nearest the deadline.
    max_per_deadline: int = Field(default=4, ge=1, le=10)
    tick_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Messages per second per platform (Telegram allows 30/s overall; leave room for replies).
    rate_per_second: float = Field(default=25.0, gt=0, le=1000)
    # Per-platform overrides, e.g. HUIBAO_REMINDERS__RATES='{"wecom": 10}'.
    rates: dict[str, float] = {}
    max_attempts: int = Field(default=8, ge=1, le=100)
    # A message still marked "sending" after this long was cut off mid-call: uncertain.
    lease_seconds: float = Field(default=600.0, gt=0)

    @field_validator("ladder")
    @classmethod
    def _check_ladder(cls, value: str) -> str:
        parse_ladder(value)
        return value

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, value: dict[str, float]) -> dict[str, float]:
        if any(rate <= 0 for rate in value.values()):
            raise ValueError("a rate is a positive number of messages per second")
        return value

    @property
    def offsets(self) -> tuple[int, ...]:
        """The configured ladder in minutes, largest first."""
        return parse_ladder(self.ladder)

    def rate_for(self, platform: str) -> float:
        """Messages per second the outbox may send on a platform."""
        return self.rates.get(platform, self.rate_per_second)


class LeaderSettings(BaseModel):
    """Several instances on PostgreSQL (HUIBAO_LEADER__...): one of them leads (long-polls
    Telegram, holds the WeCom robot's connection, ticks and sends the outbox); see
    bot/instances.py and docs/deployment.md."""

    # How often an instance that does not lead tries to take the lead (the takeover time
    # after the leader's process dies).
    retry_seconds: float = Field(default=5.0, gt=0, le=600)
    # How often the leader checks the connection that holds its lock.
    check_seconds: float = Field(default=5.0, gt=0, le=600)


class ImportSettings(BaseModel):
    """Limits of `huibao entries import` (HUIBAO_LEDGER_IMPORT__...).

    A file beyond them is refused before it is read through: a workbook whose parts unpack
    to more than `max_uncompressed_mb` (an .xlsx is a zip; 100,000 ledger rows unpack to
    about 100 MB), a .csv larger than that, or a ledger of more than `max_rows` activities.
    """

    max_uncompressed_mb: int = Field(default=200, ge=1, le=4096)
    max_rows: int = Field(default=100_000, ge=1, le=1_000_000)

    @property
    def max_uncompressed_bytes(self) -> int:
        """The size limit in bytes."""
        return self.max_uncompressed_mb * 1024 * 1024


class Settings(BaseSettings):
    """Everything Huibao can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Asia/Shanghai"
    questionnaires_dir: Path | None = None
    # A folder like templates/summary (phrases.yaml, summary.md.j2, summary.txt.j2) of your own.
    summary_templates_dir: Path | None = None
    default_questionnaire: str = "community_culture"
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object per line
    data_dir: Path = Path("data")
    telegram: TelegramSettings = TelegramSettings()
    server: ServerSettings = ServerSettings()
    wecom: WecomSettings = WecomSettings()
    wecom_bot: WecomBotSettings = WecomBotSettings()
    reminders: ReminderSettings = ReminderSettings()
    ledger_import: ImportSettings = ImportSettings()
    leader: LeaderSettings = LeaderSettings()

    @field_validator("wecom_bot")
    @classmethod
    def _one_wecom_channel(cls, value: WecomBotSettings, info: ValidationInfo) -> WecomBotSettings:
        app = info.data.get("wecom")
        if value.configured and isinstance(app, WecomSettings) and app.configured:
            raise ValueError(
                "set either the WeCom app (HUIBAO_WECOM__...) or the intelligent robot "
                "(HUIBAO_WECOM_BOT__...), not both: both reach the same people by their "
                "WeCom UserID"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        # The URL is not repeated in the message: it may carry the password.
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL; write sqlite:///path/to/huibao.sqlite3 or "
                "postgresql://huibao@db.example:5432/huibao with the password after the "
                "user name (huibao:PASSWORD@db.example, special characters %-encoded)"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in ("text", "json"):
            raise ValueError("use text or json")
        return chosen

    @property
    def zone(self) -> ZoneInfo:
        """The time zone dates are read and shown in."""
        return ZoneInfo(self.timezone)

    @property
    def platform_configured(self) -> bool:
        """Whether any chat platform has credentials."""
        return (
            self.telegram.token is not None
            or self.wecom.corp_id is not None
            or self.wecom_bot.configured
        )


class SettingsError(Exception):
    """A setting is wrong or missing; the message names the environment variable."""


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into messages that name the variable.

    A message never repeats a given value (pydantic's own text does, as input_value, and
    a value may be a token or a password), and the validation error is not chained.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
    except SourceError as exc:  # a nested setting given as JSON that does not parse
        raise SettingsError(f"{exc}: give valid JSON") from None

"""Settings: built once from HUIBAO_ environment variables and .env, then passed down."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
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


class ServerSettings(BaseModel):
    """The HTTP server for webhooks and /healthz (HUIBAO_SERVER__...)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)


class WecomSettings(BaseModel):
    """WeCom self-built app settings (HUIBAO_WECOM__...)."""

    corp_id: str | None = None
    agent_id: int | None = None
    secret: SecretStr | None = None
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None


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
    data_dir: Path = Path("data")
    telegram: TelegramSettings = TelegramSettings()
    server: ServerSettings = ServerSettings()
    wecom: WecomSettings = WecomSettings()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {value!r}") from exc
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

    @property
    def zone(self) -> ZoneInfo:
        """The time zone dates are read and shown in."""
        return ZoneInfo(self.timezone)

    @property
    def platform_configured(self) -> bool:
        """Whether any chat platform has credentials."""
        return self.telegram.token is not None or self.wecom.corp_id is not None


class SettingsError(Exception):
    """A setting is wrong or missing; the message names the environment variable."""


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into messages that name the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from exc

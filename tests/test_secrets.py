"""No secret is printed by `huibao`: not in an error message, a traceback or a log line.

The secrets: the Telegram bot token and the webhook secret derived from it, the WeCom
secret, token and EncodingAESKey, the database password. Each test runs the command as an
admin would (click's runner, the settings from HUIBAO_ variables) and reads all it printed.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.admin.cli import main
from bot.settings import SettingsError, TelegramSettings, load_settings
from tests.conftest import free_port
from tests.fakes.telegram_api import FakeTelegram

# A token of the right shape that the (fake) Bot API does not know: it answers 401.
TOKEN = "987654321:AAHsecretTOKENsecretTOKEN_secret-42"
TOKEN_SECRET = TOKEN.split(":", 1)[1]
DERIVED = TelegramSettings(token=TOKEN).webhook_secret_value()  # type: ignore[arg-type]
PASSWORD = "S3cr3t-pw"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A clean environment (no HUIBAO_ variables, no .env) and a SQLite database."""
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_SERVER__PORT": str(free_port()),  # `run` serves /healthz: not on a fixed port
    }


def _huibao(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _log_lines(result: Result) -> list[str]:
    """The lines on stderr that are not click's own 'Error: ...' line."""
    return [line for line in result.stderr.splitlines() if not line.startswith("Error: ")]


def _printed(result: Result) -> str:
    return result.stdout + result.stderr


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("command", ["run", "invite create"])
def test_a_token_telegram_refuses_is_not_printed(
    env: dict[str, str], project_root: Path, command: str, log_format: str
) -> None:
    settings = {**env, "HUIBAO_LOG_FORMAT": log_format}
    org = project_root / "examples" / "org.yaml"
    assert _huibao(settings, "org", "load", str(org)).exit_code == 0
    with FakeTelegram() as fake:  # knows its own token only
        settings |= {"HUIBAO_TELEGRAM__TOKEN": TOKEN, "HUIBAO_TELEGRAM__BASE_URL": fake.base_url}
        if command == "run":
            result = _huibao(settings, "run")
            assert TOKEN_SECRET not in _printed(result)
            assert result.exit_code == 1
            assert result.stderr.splitlines()[-1] == (
                "Error: Telegram refused the bot token (HUIBAO_TELEGRAM__TOKEN): "
                "check it with @BotFather (/mybots → API Token)"
            )
        else:
            result = _huibao(settings, "invite", "create", "--unit", "hexi")
            assert TOKEN_SECRET not in _printed(result)
            assert result.exit_code == 0  # the code is made; only the join link is missing
            assert (
                "(no join link: the Telegram bot could not be asked its name: "
                "Telegram refused the bot token (HUIBAO_TELEGRAM__TOKEN))"
            ) in result.stderr
        assert fake.requests_for("getMe"), "the Bot API was asked"
    printed = _printed(result)
    assert "getMe" in printed  # the log lines were captured ...
    assert DERIVED is not None and DERIVED not in printed
    if log_format == "json":  # ... and each is one JSON object
        for line in _log_lines(result):
            if not line.startswith(("(no join link", "unit: ", "send to the bot")):
                assert {"time", "level", "logger", "message"} <= set(json.loads(line)), line


@pytest.mark.parametrize(
    "url",
    [
        f"postgres ql://huibao:{PASSWORD}@db.example/huibao",  # a space
        f"postgresql://huibao:{PASSWORD}@db.example:54x2/huibao",  # not a port
    ],
)
def test_a_database_url_that_cannot_be_read_is_named_without_its_password(
    env: dict[str, str], url: str
) -> None:
    result = _huibao({**env, "HUIBAO_DATABASE_URL": url}, "entries", "list")
    assert PASSWORD not in _printed(result)
    assert result.exit_code == 1
    assert "configuration error: HUIBAO_DATABASE_URL: Value error, not a database URL" in (
        result.stderr
    )


def test_a_settings_error_repeats_no_value_even_in_its_traceback(env: dict[str, str]) -> None:
    bad_token = TOKEN + "!"  # one character Telegram tokens do not have
    with pytest.raises(SettingsError) as raised:
        load_settings(
            database_url=f"postgres ql://huibao:{PASSWORD}@db/huibao",
            telegram={"token": bad_token, "webhook_secret": "no spaces allowed"},
            wecom={"corp_id": "ww01", "agent_id": 1, "secret": "wecom-app-secret"},
        )
    message = str(raised.value)
    for name in ("HUIBAO_DATABASE_URL", "HUIBAO_TELEGRAM__TOKEN", "HUIBAO_WECOM"):
        assert name in message
    whole = "".join(traceback.format_exception(raised.value))
    for secret in (PASSWORD, TOKEN_SECRET, "no spaces allowed", "wecom-app-secret"):
        assert secret not in whole, secret


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_unexpected_error_ends_in_one_line_and_its_traceback_is_a_redacted_log_record(
    env: dict[str, str], log_format: str
) -> None:
    # A driver name with a typo: SQLAlchemy cannot load it, an error no command expects.
    url = f"postgresql+psycopgg://huibao:{PASSWORD}@127.0.0.1:1/huibao"
    settings = {**env, "HUIBAO_DATABASE_URL": url, "HUIBAO_LOG_FORMAT": log_format}
    result = _huibao(settings, "entries", "list")
    assert PASSWORD not in _printed(result)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: unexpected NoSuchModuleError: Can't load plugin: "
        "sqlalchemy.dialects:postgresql.psycopgg (details in the log above)"
    )
    assert "Traceback (most recent call last)" in result.stderr  # in the log record
    if log_format == "json":
        records = [json.loads(line) for line in _log_lines(result)]
        assert [r["message"] for r in records] == ["huibao entries failed"]
        assert "NoSuchModuleError" in records[0]["exception"]

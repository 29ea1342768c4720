"""`huibao run` with a WeCom app: settings, the one HTTP server, the channels handed to jobs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bot.admin.cli import main
from bot.app import App
from bot.core.types import Channel, Reply
from bot.runner import run_platforms
from bot.settings import Settings, SettingsError, load_settings
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from tests.conftest import free_port, register
from tests.fakes.wecom_api import FakeWecom
from tests.wecom_client import AES_KEY, TOKEN, WecomClient


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as server:
        yield server


def wecom_env(fake: FakeWecom, **changes: str) -> dict[str, str]:
    env = {
        "HUIBAO_WECOM__CORP_ID": fake.corp_id,
        "HUIBAO_WECOM__AGENT_ID": str(fake.agent_id),
        "HUIBAO_WECOM__SECRET": fake.secret,
        "HUIBAO_WECOM__TOKEN": TOKEN,
        "HUIBAO_WECOM__ENCODING_AES_KEY": AES_KEY,
        "HUIBAO_WECOM__BASE_URL": fake.base_url,
    }
    return {**env, **changes}


def test_a_wecom_app_needs_all_five_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUIBAO_WECOM__CORP_ID", "ww1a2b3c4d5e6f7a8b")
    monkeypatch.setenv("HUIBAO_WECOM__AGENT_ID", "1000002")
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    for name in ("SECRET", "TOKEN", "ENCODING_AES_KEY"):
        assert f"HUIBAO_WECOM__{name}" in str(error.value)
    assert "HUIBAO_WECOM__CORP_ID," not in str(error.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HUIBAO_WECOM__ENCODING_AES_KEY", "too-short"),
        ("HUIBAO_WECOM__TOKEN", "has spaces and is far too long for the console's token"),
        ("HUIBAO_WECOM__CORP_ID", "ww/../x"),
        ("HUIBAO_WECOM__BASE_URL", "qyapi.weixin.qq.com"),
        ("HUIBAO_WECOM__CALLBACK_PATH", "wecom"),
    ],
)
def test_a_wrong_wecom_setting_is_named(
    fake: FakeWecom, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    for key, given in wecom_env(fake, **{name: value}).items():
        monkeypatch.setenv(key, given)
    with pytest.raises(SettingsError, match=name):
        load_settings(_env_file=None)


def test_one_server_for_healthz_and_the_callback_and_jobs_get_the_channels(
    fake: FakeWecom, engine, sessions, questionnaires, conversation, demo_org, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        wecom={
            "corp_id": fake.corp_id,
            "agent_id": fake.agent_id,
            "secret": fake.secret,
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "base_url": fake.base_url,
            "callback_path": "/hooks/wecom",
        },
        server={"host": "127.0.0.1", "port": port},
    )
    kit = SummaryKit.load(templates_dir() / "summary")
    app = App(
        settings, engine, sessions, questionnaires, conversation, lambda: datetime.now(UTC), kit
    )
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id="lihua")
    seen: dict[str, Channel] = {}

    async def reminder_job(channels: Mapping[str, Channel]) -> None:
        seen.update(channels)
        await channels["wecom"].send_to("lihua", [Reply("提醒：本月还没有上报。")])

    holder: dict[str, object] = {}
    ready = threading.Event()

    async def run() -> None:
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await run_platforms(app, holder["stop"], jobs=[reminder_job])  # type: ignore[arg-type]

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        fake.wait_for_text("lihua", "提醒：本月还没有上报")
        assert list(seen) == ["wecom"] and seen["wecom"].platform == "wecom"
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200
        client = WecomClient(
            f"http://127.0.0.1:{port}/hooks/wecom", corp_id=fake.corp_id, agent_id=fake.agent_id
        )
        check = client.verify_url("8845212")
        assert check.status_code == 200 and check.text == "8845212"
        assert client.text("lihua", "/help").status_code == 200
        fake.wait_for_text("lihua", "/report")
    finally:
        loop = holder["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(20)
    assert not thread.is_alive()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_DATA_DIR": str(tmp_path),
        "HUIBAO_SERVER__PORT": str(free_port()),
    }


def test_run_names_the_setting_when_wecom_refuses_or_cannot_be_reached(
    fake: FakeWecom, env: dict[str, str]
) -> None:
    wrong = wecom_env(fake, HUIBAO_WECOM__SECRET="not-the-secret")
    result = CliRunner().invoke(main, ["run"], env={**env, **wrong})
    assert result.exit_code != 0
    assert "HUIBAO_WECOM__SECRET" in result.output and "40001" in result.output
    assert "not-the-secret" not in result.output
    away = wecom_env(fake, HUIBAO_WECOM__BASE_URL="http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["run"], env={**env, **away})
    assert result.exit_code != 0
    assert "HUIBAO_WECOM__BASE_URL" in result.output

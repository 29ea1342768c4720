"""`huibao run` with WeCom's intelligent robot: its settings, and the runner connecting it,
handing it to jobs and the outbox, and staying up when WeCom refuses its credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import App
from bot.channels.wecom_bot.channel import WecomRobot
from bot.channels.wecom_bot.link import State
from bot.core.types import Channel, Reply
from bot.runner import make_channels, run_platforms
from bot.settings import Settings, SettingsError, load_settings
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from tests.conftest import free_port
from tests.fakes.virtual_time import VirtualTime
from tests.fakes.wecom_ws import FakeRobot

LI = "lihua"
ROBOT_ENV = {
    "HUIBAO_WECOM_BOT__BOT_ID": "aibLxbJ2yX3TestBot",
    "HUIBAO_WECOM_BOT__SECRET": "robot-secret-2f9c",
    "HUIBAO_WECOM_BOT__URL": "ws://127.0.0.1:9/robot",
}


def settings_from(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(_env_file=None)


def test_the_robot_is_set_by_its_bot_id_secret_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, ROBOT_ENV)
    robot = settings.wecom_bot
    assert robot.configured and settings.platform_configured
    assert robot.bot_id == "aibLxbJ2yX3TestBot" and robot.url == "ws://127.0.0.1:9/robot"
    assert robot.secret is not None and robot.secret.get_secret_value() == "robot-secret-2f9c"
    assert "robot-secret-2f9c" not in repr(settings)
    for name in ROBOT_ENV:
        monkeypatch.delenv(name)
    default = load_settings(_env_file=None).wecom_bot
    assert not default.configured and default.url == "wss://openws.work.weixin.qq.com"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"HUIBAO_WECOM_BOT__SECRET": ""}, "HUIBAO_WECOM_BOT__SECRET"),  # a Bot ID alone
        ({"HUIBAO_WECOM_BOT__URL": "https://openws.work.weixin.qq.com"}, "HUIBAO_WECOM_BOT__URL"),
        ({"HUIBAO_WECOM_BOT__BOT_ID": "my bot"}, "HUIBAO_WECOM_BOT__BOT_ID"),
        ({"HUIBAO_WECOM_BOT__SECRET": "has a space"}, "HUIBAO_WECOM_BOT__SECRET"),
    ],
)
def test_a_wrong_or_missing_robot_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], named: str
) -> None:
    env = {**ROBOT_ENV, **changes}
    if env["HUIBAO_WECOM_BOT__SECRET"] == "":
        del env["HUIBAO_WECOM_BOT__SECRET"]
    with pytest.raises(SettingsError, match=named) as error:
        settings_from(monkeypatch, env)
    assert "robot-secret-2f9c" not in str(error.value) and "has a space" not in str(error.value)


def test_the_app_and_the_robot_are_one_or_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    app = {
        "HUIBAO_WECOM__CORP_ID": "ww1a2b3c4d5e6f7a8b",
        "HUIBAO_WECOM__AGENT_ID": "1000002",
        "HUIBAO_WECOM__SECRET": "app-secret",
        "HUIBAO_WECOM__TOKEN": "Token123",
        "HUIBAO_WECOM__ENCODING_AES_KEY": "a" * 43,
    }
    with pytest.raises(SettingsError, match="HUIBAO_WECOM_BOT") as error:
        settings_from(monkeypatch, {**app, **ROBOT_ENV})
    assert "not both" in str(error.value)


def _app(
    engine: Any, sessions: Any, questionnaires: Any, conversation: Any, tmp: Path, **robot: Any
) -> App:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp,
        wecom_bot=robot,
        server={"host": "127.0.0.1", "port": free_port()},
    )
    kit = SummaryKit.load(templates_dir() / "summary")
    return App(
        settings, engine, sessions, questionnaires, conversation, lambda: datetime.now(UTC), kit
    )


def test_huibao_run_connects_the_robot_and_jobs_send_through_it(
    engine, sessions, questionnaires, conversation, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with FakeRobot(time=VirtualTime()) as fake:
            fake.known_chats.add(LI)
            app = _app(
                engine,
                sessions,
                questionnaires,
                conversation,
                tmp_path,
                bot_id=fake.bot_id,
                secret=fake.secret,
                url=fake.url,
            )
            assert isinstance(make_channels(app)["wecom"], WecomRobot)
            seen: dict[str, Channel] = {}

            async def reminder_job(channels: Mapping[str, Channel]) -> None:
                seen.update(channels)
                await channels["wecom"].send_to(LI, [Reply("提醒：本月还没有上报。")])

            stop = asyncio.Event()
            running = asyncio.create_task(run_platforms(app, stop, jobs=[reminder_job]))
            try:
                shown = await fake.wait_for_text(LI, "提醒：本月还没有上报")
                assert shown.via == "push" and fake.subscriptions == [True]
                assert list(seen) == ["wecom"] and seen["wecom"].platform == "wecom"
            finally:
                stop.set()
                await asyncio.wait_for(running, 20)
            assert not fake.online  # closed at the stop

    asyncio.run(scenario())


def test_huibao_run_stays_up_when_wecom_refuses_the_robot(
    engine, sessions, questionnaires, conversation, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with FakeRobot(time=VirtualTime()) as fake:
            app = _app(
                engine,
                sessions,
                questionnaires,
                conversation,
                tmp_path,
                bot_id=fake.bot_id,
                secret="not-the-secret",
                url=fake.url,
            )
            robots: list[WecomRobot] = []

            async def watch(channels: Mapping[str, Channel]) -> None:
                robot = channels["wecom"]
                assert isinstance(robot, WecomRobot)
                robots.append(robot)

            stop = asyncio.Event()
            running = asyncio.create_task(run_platforms(app, stop, jobs=[watch]))
            try:
                await fake.wait_for(lambda: fake.subscriptions == [False])
                await fake.wait_for(lambda: robots and robots[0].state is State.AUTH_FAILED)
                port = app.settings.server.port
                async with httpx.AsyncClient() as http:
                    health = await http.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                assert health.status_code == 200 and not running.done()
            finally:
                stop.set()
                await asyncio.wait_for(running, 20)

    asyncio.run(scenario())

"""/feedback (意见, 投诉): stored, acknowledged, read by admins only (`huibao feedback list`),
never shown to the sender's coordinator unless an admin forwards it, and then without the
name. Bad input: 10,000 characters, only emoji, nothing at all. SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.cli import main
from bot.core.conversation import Conversation
from bot.core.messages import ZH
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import Feedback, OutboxMessage, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register

COMPLAINT = "每月要填的问题太多了，能不能少几个？"
CLOCK_START = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with transaction(sessions) as session:
        rows = session.execute(select(Feedback.text, Feedback.platform).order_by(Feedback.id))
        return [(r[0], r[1]) for r in rows]


def test_feedback_is_stored_acknowledged_and_kept_from_the_coordinator(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    li = Chat(conversation, "李华", clock)
    play(
        li,
        [
            (f"/feedback {COMPLAINT}", ["谢谢你的意见（编号 #", "不会显示给你的负责人"]),
            ("意见：照片上传太慢", "谢谢你的意见"),
            ("投诉 夜里还收到提醒", "谢谢你的意见"),
            ("我要投诉", "请在 /feedback 后面写下你的意见"),  # the word alone: how to say it
        ],
    )
    assert stored(sessions) == [
        (COMPLAINT, "shell"),
        ("照片上传太慢", "shell"),
        ("夜里还收到提醒", "shell"),
    ]
    boss = Chat(conversation, "周主任", clock)
    for command in ("/status", "/entries", "/todo", "/help"):
        answer = boss.say(command)
        assert "太多了" not in answer and "上传太慢" not in answer and "夜里" not in answer


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("/feedback " + "很" * 10_000, ZH["too_long_message"].split("（")[0]),
        ("/feedback 😀😡👍🏻", ZH["feedback_words_please"]),
        ("意见 😡😡😡！！", ZH["feedback_words_please"]),
        ("/feedback", ZH["feedback_usage"][:20]),
        ("/feedback \u200b\u202e ", ZH["feedback_usage"][:20]),
    ],
)
def test_bad_feedback_is_explained_and_nothing_is_stored(
    staff_chat: Chat, sessions: sessionmaker[Session], message: str, answer: str
) -> None:
    assert answer in staff_chat.say(message)
    assert stored(sessions) == []


def test_long_feedback_up_to_the_message_limit_is_kept_whole(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    text = "建议" + "简化表格" * 995  # 3,982 characters
    assert "谢谢你的意见" in staff_chat.say(f"/feedback {text}")
    assert stored(sessions) == [(text, "shell")]


def test_feedback_in_a_group_is_pointed_to_the_private_chat(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    group = Chat(conversation, "李华", clock, in_group=True)
    assert ZH["group_private_only"] in group.say(f"/feedback {COMPLAINT}")
    assert stored(sessions) == []


# --- the admin's side: list and forward -----------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, questionnaires) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'huibao.sqlite3'}"
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    from bot.admin.org import demo_org, load_org

    with transaction(sessions) as session:
        load_org(session, demo_org())
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id="1001")
    register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id="2001",
    )
    clock = Clock(CLOCK_START)
    conversation = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    Chat(conversation, "1001", clock, platform="telegram").say(f"/feedback {COMPLAINT}")
    engine.dispose()
    return {"HUIBAO_DATABASE_URL": url, "HUIBAO_LOG_LEVEL": "WARNING"}


def huibao(env: dict[str, str], *args: str):
    return CliRunner().invoke(
        main, list(args), env=env, catch_exceptions=False, obj=Clock(CLOCK_START)
    )


def test_admins_list_feedback_and_forward_it_without_the_name(cli_env: dict[str, str]) -> None:
    listing = huibao(cli_env, "feedback", "list")
    assert listing.exit_code == 0, listing.output
    assert f"#1 2026-06-24 10:00 李华 (新华社区):\n    {COMPLAINT}" in listing.output
    forwarded = huibao(cli_env, "feedback", "forward", "1", "--to", "周主任")
    assert forwarded.exit_code == 0, forwarded.output
    assert "feedback #1 forwarded to 周主任" in forwarded.output
    engine = create_db_engine(cli_env["HUIBAO_DATABASE_URL"])
    with engine.connect() as connection:
        (row,) = connection.execute(select(OutboxMessage.address, OutboxMessage.payload)).all()
    engine.dispose()
    assert row[0] == "2001"
    text = row[1][0]["text"]
    assert COMPLAINT in text and "管理员转来一条意见（#1，6月24日）" in text
    assert "李华" not in text  # the sender's name stays with the admins
    again = huibao(cli_env, "feedback", "list")
    assert "forwarded to 周主任 on 2026-06-24" in again.output
    twice = huibao(cli_env, "feedback", "forward", "1", "--to", "周主任")
    assert twice.exit_code == 1 and "forwarded to them already" in twice.output
    assert huibao(cli_env, "feedback", "forward", "9", "--to", "周主任").exit_code == 1
    nobody = huibao(cli_env, "feedback", "forward", "1", "--to", "无名氏")
    assert nobody.exit_code == 1 and "no member '无名氏'" in nobody.output

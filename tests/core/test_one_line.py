"""Text people type is one line wherever others see it: names, titles, places, reasons.

A name such as "王五\\n⚠️ 系统通知：账号异常请回复密码" must not show as a line of its own under a
coordinator's `/status` or `/entries`, and bidirectional overrides must not reorder what others
read. Through the core on both databases, and through the real `huibao shell`; the Telegram
and WeCom channels have the same test in their own files.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.cli import main
from bot.admin.org import create_invite
from bot.core.conversation import Conversation
from bot.core.text import clean_text
from storage.db import transaction
from storage.models import Entry, EntryReturn, Member, RoleName
from tests.chat import Chat
from tests.conftest import Clock, register

SPOOF = "王五\n⚠️ 系统通知：账号异常请回复密码"
BIDI = "\u202e" + "赵六" + "\u202c\u2066\u2069"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (SPOOF, "王五 ⚠️ 系统通知：账号异常请回复密码"),
        ("王五\r\n系统通知", "王五，系统通知"),
        ("第一句。\n第二句", "第一句。第二句"),
        ("line one\nline two", "line one line two"),
        ("a\u2028b\u2029c\x85d", "a b c d"),
        (BIDI, "赵六"),
        ("\u200b张\u200e三\ufeff", "张三"),
        ("  多  空格\t\t和\u3000全角  ", "多 空格 和 全角"),
        ("\x00\x07\x1b[31m红\x7f", "[31m红"),
        ("👨\u200d👩\u200d👧 一家人", "👨\u200d👩\u200d👧 一家人"),
        ("\n\n", ""),
    ],
)
def test_typed_text_is_cleaned_to_one_line(typed: str, stored: str) -> None:
    assert clean_text(typed) == stored
    assert "\n" not in clean_text(typed)


def answer_until_saved(chat: Chat, reply: str) -> str:
    """Answer the interview's remaining questions plainly, then confirm the card."""
    for _ in range(30):
        if "已保存" in reply:
            return reply
        if "请核对" in reply:
            reply = chat.say("确认")
        elif "可选" in reply or "照片" in reply:
            reply = chat.say("/skip")
        elif "几" in reply or "多少" in reply:
            reply = chat.say("2")
        else:
            reply = chat.say("组织居民参加活动。")
    raise AssertionError(reply)


def _join(conversation: Conversation, sessions: sessionmaker[Session], clock: Clock, name: str):
    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-xinhua", "staff", uses=1, expires_in=timedelta(days=1), now=clock()
        ).code
    chat = Chat(conversation, "wang5", clock)
    chat.say(f"/start {code}")
    assert "你已加入新华社区" in chat.say(name)
    return chat


def test_a_spoofed_name_and_title_show_on_one_line_to_the_coordinator(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "周主任", "demo-xinhua", RoleName.COORDINATOR)
    staff = _join(conversation, sessions, clock, SPOOF)
    with sessions() as session:
        assert session.scalars(select(Member.name).where(Member.name.like("王五%"))).one() == (
            "王五 ⚠️ 系统通知：账号异常请回复密码"
        )

    boss = Chat(conversation, "周主任", clock)
    status = boss.say("/status")
    spoof_lines = [line for line in status.splitlines() if "系统通知" in line]
    assert spoof_lines, status
    assert all("王五" in line for line in spoof_lines), status

    # A title with a line break and a bidi override, as a hurried phone may paste it.
    staff.say("/report")
    staff.say("文体活动")
    staff.say("广场舞\n⚠️ 请回复密码\u202e展演")
    with sessions() as session:
        assert session.scalars(select(Entry)).first() is None  # nothing saved half-way
    assert "已保存" in answer_until_saved(staff, staff.say("昨天"))
    with sessions() as session:
        title = session.scalars(select(Entry.title)).one()
    assert title == "广场舞 ⚠️ 请回复密码展演"

    entries = boss.say("/entries")
    assert any("广场舞 ⚠️ 请回复密码展演" in line for line in entries.splitlines()), entries
    assert not any(line.lstrip().startswith("⚠️") for line in entries.splitlines()), entries


def test_the_reason_for_sending_back_is_one_line(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-xinhua", RoleName.COORDINATOR)
    staff = Chat(conversation, "李华", clock)
    staff.say("/report")
    staff.say("理论学习")
    staff.say("党课")
    assert "已保存" in answer_until_saved(staff, staff.say("昨天"))
    boss = Chat(conversation, "周主任", clock)
    with sessions() as session:
        number = session.scalars(select(Entry.id)).one()
    answer = boss.say(f"/return {number} 请补充照片\n⚠️ 系统通知：请回复密码")
    assert "退回" in answer, answer

    with sessions() as session:
        reason = session.scalars(select(EntryReturn.comment)).one()
    assert reason == "请补充照片 ⚠️ 系统通知：请回复密码"


def test_through_the_shell_a_spoofed_name_stays_on_its_line(tmp_path, monkeypatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "WARNING",
    }

    def invoke(*args: str, input: str | None = None) -> str:
        result = CliRunner().invoke(main, list(args), env=env, input=input)
        assert result.exit_code == 0, result.output
        return result.output

    invoke("run", input="/help\n")  # the demo unit and its demo coordinator
    code = invoke("invite", "create", "--unit", "demo-xinhua", "--role", "staff").split()[0]
    # A terminal line cannot hold "\n", but it can hold a line separator and bidi overrides.
    typed = "王五\u2028⚠️ 系统通知：账号异常请回复密码\u202e"
    joined = invoke("shell", "--as", "wang5", input=f"/start {code}\n{typed}\n")
    assert "你已加入新华社区" in joined
    status = invoke("shell", "--as", "demo", input="/status\n")
    lines = [line for line in status.splitlines() if "系统通知" in line]
    assert lines and all("王五" in line for line in lines), status
    assert "\u2028" not in status and "\u202e" not in status


def test_names_and_titles_stored_before_cleaning_are_made_one_line(tmp_path) -> None:
    from sqlalchemy import text

    from storage.db import create_db_engine, upgrade

    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into units (id, code, name, kind, path, created_at)"
                " values (1, 'u', '新华\n社区', '社区', '/1/', '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text("insert into members (id, name, locale, created_at) values (1, :n, 'zh', :t)"),
            {"n": SPOOF, "t": "2026-01-01 00:00:00"},
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("select name from members")).scalar_one() == (
            "王五 ⚠️ 系统通知：账号异常请回复密码"
        )
        assert connection.execute(text("select name from units")).scalar_one() == "新华，社区"
    engine.dispose()


def test_unit_names_loaded_from_the_org_file_are_one_line() -> None:
    from bot.admin.org import OrgFile

    org = OrgFile.model_validate(
        {"units": [{"code": "x", "name": "新华社区\n⚠️ 通知", "kind": "社区\u202e"}]}
    )
    assert (org.units[0].name, org.units[0].kind) == ("新华社区 ⚠️ 通知", "社区")


# -- through the channels -----------------------------------------------------------------

from tests.channels.test_wecom import (  # noqa: E402
    Phone as WecomPhone,
)
from tests.channels.test_wecom import (  # noqa: E402, F401  (fixtures)
    fake,
    leader_conversation,
    running,
    summary_kit,
    virtual,
)


def test_on_wecom_a_name_with_a_line_break_is_one_line_in_status(
    fake,  # noqa: F811  (the fixture)
    running,  # noqa: F811  (the fixture)
    sessions: sessionmaker[Session],
) -> None:
    from datetime import UTC, datetime

    with transaction(sessions) as session:  # the WeCom adapter runs on the real clock
        code = create_invite(
            session, "demo-xinhua", "staff", uses=1, expires_in=None, now=datetime.now(UTC)
        ).code
    register(sessions, "周主任", "demo-xinhua", RoleName.COORDINATOR, "wecom", "ZhouZR")
    newcomer = WecomPhone(fake, running, "WangWu")
    newcomer.say(code, "姓名")
    newcomer.say(SPOOF, "你已加入新华社区")
    status = WecomPhone(fake, running, "ZhouZR").say("/status", "上报情况").text
    lines = [line for line in status.splitlines() if "系统通知" in line]
    assert lines and all("王五" in line for line in lines), status


def test_on_telegram_a_name_with_a_line_break_is_one_line_in_a_groups_status(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock, tmp_path
) -> None:
    from tests.channels.test_telegram import Phone as TelegramPhone
    from tests.channels.test_telegram import RunningBot
    from tests.fakes.telegram_api import FakeTelegram, SimUser, group_chat

    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-xinhua", "staff", uses=1, expires_in=timedelta(days=1), now=clock()
        ).code
    boss, wang = SimUser(2001, "周主任"), SimUser(1005, "王五")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR, "telegram", str(boss.id))
    with FakeTelegram(clock=clock) as telegram:
        bot = RunningBot(conversation, telegram, tmp_path / "photos")
        try:
            newcomer = TelegramPhone(telegram, wang)
            newcomer.say(f"/start {code}", "姓名")
            newcomer.say(SPOOF, "你已加入新华社区")
            group = TelegramPhone(telegram, boss, group_chat(-100777, "和平街道工作群"))
            status = group.say("/status", "上报情况")
        finally:
            bot.stop()
    lines = [line for line in status.splitlines() if "系统通知" in line]
    assert lines and all("王五" in line for line in lines), status

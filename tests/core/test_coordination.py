"""Coordinators' queries in chat, and language choice (transcripts, both databases)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.core.types import Kind
from storage.db import transaction
from storage.models import Entry, RoleName
from tests.chat import Chat, play
from tests.conftest import Clock, register
from tests.core.test_dialog import HAPPY_PATH


def test_status_and_entries_for_a_street_coordinator(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "王强", "demo-xinhua")
    register(sessions, "赵敏", "demo-chaoyang")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    play(Chat(conversation, "李华", clock), HAPPY_PATH)
    boss = Chat(conversation, "周主任", clock)
    play(
        boss,
        [
            (
                "/status",
                [
                    "6月上报情况",
                    "新华社区：已报 1/2 人",
                    "✅ 李华（1 条）",
                    "⏳ 王强",
                    "朝阳社区：已报 0/1 人",
                    "⏳ 赵敏",
                ],
            ),
            (
                "/entries",
                [
                    "最近上报的 1 条记录",
                    "新华社区",
                    "“我们的节日·端午”主题党课",
                    "李华",
                    "参与人次 4000余人次",
                ],
            ),
            ("/help", ["/report", "负责人命令", "/status"]),
        ],
    )


def test_a_community_coordinator_sees_only_their_community(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "赵敏", "demo-chaoyang")
    register(sessions, "孙书记", "demo-chaoyang", RoleName.COORDINATOR)
    play(Chat(conversation, "李华", clock), HAPPY_PATH)
    chaoyang = Chat(conversation, "孙书记", clock)
    status = chaoyang.say("/status")
    assert "朝阳社区：已报 0/1 人" in status
    assert "新华社区" not in status and "李华" not in status
    entries = chaoyang.say("/entries")
    assert "还没有上报记录" in entries and "端午" not in entries


def test_staff_cannot_use_coordinator_commands(staff_chat: Chat) -> None:
    play(staff_chat, HAPPY_PATH)
    play(
        staff_chat,
        [("/status", "只有社区或街道负责人可以用"), ("/entries", "只有社区或街道负责人可以用")],
    )
    assert "端午" not in staff_chat.say("/entries")


def test_groups_answer_coordinators_commands_only(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    boss = Chat(conversation, "周主任", clock, in_group=True)
    play(boss, [("/status", "已报 0/1 人"), ("/help", "上报活动请私聊我"), ("/report", "私聊")])
    assert boss.say("今天开会") == ""
    staff = Chat(conversation, "李华", clock, in_group=True)
    play(staff, [("/status", "只有社区或街道负责人可以用"), ("/report", "私聊")])


def test_language_can_be_switched(staff_chat: Chat) -> None:
    play(
        staff_chat,
        [
            ("/lang", "/lang en"),
            ("/lang en", "I will speak English"),
            ("/report", "Choose a category"),
            ("/cancel", "Cancelled"),
            ("/lang 中文", "用中文"),
            ("/help", "可以用的命令"),
        ],
    )


def test_the_command_menu_follows_roles_and_language(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    boss = Chat(conversation, "周主任", clock)
    outcome = conversation.process(boss.incoming("/lang en"))
    assert outcome.menu is not None
    assert dict(outcome.menu)["status"] == "who has reported this month"
    assert conversation.process(boss.incoming("/help")).menu is None


def test_a_button_pressed_twice_acts_once(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH[:-1])
    (save,) = [c.value for r in staff_chat.replies for c in r.choices if c.label == "✅ 确认保存"]
    assert "已保存" in staff_chat.send(staff_chat.incoming(save, Kind.BUTTON))
    assert "按钮已经失效" in staff_chat.send(staff_chat.incoming(save, Kind.BUTTON))
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 1

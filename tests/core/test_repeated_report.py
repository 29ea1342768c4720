"""An activity reported twice by the same person: the card says so, and saving still works.

Found trying the shell: someone who re-typed a report they had sent the day before got a
second entry, and the summary counted its participants twice. The card of a new report now
says when the same person has a live entry of the same unit, the same days and the same
title (however retyped); they can drop it, or save it (a second performance is real).

The clock stands at Wednesday 2 December 2026, 10:00 in Shanghai.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.core.test_one_message import entries

SHOW = "11月8日在文化广场办了3场夏夜汇演，300多人参加"
AGAIN = "上报 11月8日在文化广场办了夏夜汇演，三百多人参加"


def warned(entry_id: int) -> str:
    return (
        f"⚠️ 你在11月8日已报过“夏夜汇演”（#{entry_id}）。如果是同一场活动，不用再报；发“放弃”即可。"
    )


CARD = "请核对"


@pytest.fixture
def december(clock: Clock) -> Clock:
    clock.now = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
    return clock


def reported(chat: Chat, sessions: sessionmaker[Session]) -> int:
    """The show, reported and saved; its entry's id."""
    play(chat, [(SHOW, "活动效果怎么样"), ("群众反响热烈", CARD), ("1", "已保存，记录编号 #")])
    (entry,) = entries(sessions)
    return entry.id


def test_a_report_of_the_same_activity_is_warned_on_the_card_and_dropped(
    staff_chat: Chat, sessions: sessionmaker[Session], december: Clock
) -> None:
    first = reported(staff_chat, sessions)
    december.advance(days=1)  # the next day, forgetting it was sent
    play(
        staff_chat,
        [
            (AGAIN, "活动效果怎么样"),
            ("反响很好", [CARD, warned(first)]),
            ("放弃", "确定放弃这份上报吗"),
            ("是", "已放弃"),
        ],
    )
    assert [(e.id, e.title) for e in entries(sessions)] == [(first, "夏夜汇演")]


def test_a_second_performance_confirmed_anyway_is_stored(
    staff_chat: Chat, sessions: sessionmaker[Session], december: Clock
) -> None:
    first = reported(staff_chat, sessions)
    play(
        staff_chat,
        [
            # the same title retyped with more words and punctuation is the same title
            ("上报 11月8日在文化广场办了社区·夏夜汇演，两百多人参加", "活动效果怎么样"),
            ("第二场同样热闹", [CARD, warned(first)]),
            ("1", f"已保存，记录编号 #{first + 1}"),
        ],
    )
    stored = entries(sessions)
    assert [e.title for e in stored] == ["夏夜汇演", "社区·夏夜汇演"]
    assert {str(e.start_date) for e in stored} == {"2026-11-08"}


@pytest.mark.parametrize(
    "other",
    [
        "上报 11月9日在文化广场办了夏夜汇演，三百多人参加",  # another day
        "上报 11月8日在文化广场办了广场舞汇演，三百多人参加",  # another activity
    ],
)
def test_another_day_or_another_title_is_not_warned(
    staff_chat: Chat, sessions: sessionmaker[Session], december: Clock, other: str
) -> None:
    reported(staff_chat, sessions)
    staff_chat.say(other)
    card = staff_chat.say("反响很好")
    assert CARD in card
    assert "已报过" not in card


def test_another_members_entry_is_not_warned(
    staff_chat: Chat,
    conversation: Conversation,
    sessions: sessionmaker[Session],
    december: Clock,
) -> None:
    reported(staff_chat, sessions)
    register(sessions, "王芳", "demo-xinhua")
    colleague = Chat(conversation, "王芳", december)
    colleague.say(SHOW)
    card = colleague.say("群众反响热烈")
    assert CARD in card
    assert "已报过" not in card


def test_editing_the_entry_itself_is_not_warned(
    staff_chat: Chat, sessions: sessionmaker[Session], december: Clock
) -> None:
    first = reported(staff_chat, sessions)
    cards = [staff_chat.say(f"/edit {first}")]
    # (changing a field of a one-message report walks its optional questions: 6 skipped)
    for said in ("改2", "社区夏夜汇演", *["跳过"] * 6):
        answer = staff_chat.say(said)
    cards.append(answer)
    for card in cards:
        assert CARD in card
        assert "已报过" not in card
    play(staff_chat, [("1", f"已更新记录 #{first}（第 2 版）")])
    assert [(e.id, e.title, e.revision) for e in entries(sessions)] == [(first, "社区夏夜汇演", 2)]

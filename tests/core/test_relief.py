"""What the 基层减负 rules ask of a reporting app: /todo, fewer reminders (少提醒, /remind off
[DATE], a cap per deadline), coordinators seeing who muted, and no ranking of people in
/status or the digests. SQLite and PostgreSQL; the clock is an input."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.reminders.deadlines import month_span, set_deadline
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from storage import members
from storage.db import transaction
from storage.models import Entry, Requirement, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.reminders.test_reminders import (
    BOSS,
    JUNE_REPORT,
    LI,
    WANG,
    ZHAO,
    RecordingChannel,
    at,
    run,
)


@pytest.fixture
def people(sessions: sessionmaker[Session], demo_org: None) -> dict[str, int]:
    """Two staff of 新华社区, one of 朝阳社区, the street's coordinator; all on Telegram."""
    staff = (
        (LI, "李华", "demo-xinhua"),
        (WANG, "王强", "demo-xinhua"),
        (ZHAO, "赵敏", "demo-chaoyang"),
    )
    found = {
        key: register(sessions, name, unit, platform="telegram", external_id=key)
        for key, name, unit in staff
    }
    found[BOSS] = register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id=BOSS,
    )
    return found


def chat(conversation: Conversation, who: str, clock: Clock) -> Chat:
    return Chat(conversation, who, clock, platform="telegram")


def background(
    sessions: sessionmaker[Session], clock: Clock, channel: RecordingChannel, **settings
):
    made = Background(sessions, ReminderSettings(**settings), SHANGHAI, clock, instance="r")
    made.attach({"telegram": channel})
    return made


# --- /todo ---------------------------------------------------------------------------


def test_todo_says_what_is_still_owed_for_which_deadline_and_by_when(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    people: dict[str, int],
    clock: Clock,
) -> None:
    li = chat(conversation, LI, clock)  # Wednesday 24 June 2026, 10:00
    answer = li.say("/todo")
    assert answer.startswith("李华，你还有 2 项待办：")
    assert (
        "📅 2026年上半年工作回顾（新华社区）：2026年6月25日（周四） 18:00 截止（还有 1 天），"
        "发送 /reflect 完成" in answer
    )
    assert "📅 2026年6月活动记录（新华社区）：2026年7月5日（周日） 18:00 截止" in answer
    play(li, JUNE_REPORT)
    assert "2026年6月活动记录" not in li.say("我还欠什么")
    play(li, [("/reflect", "不足"), ("宣传不够", "打算"), ("/skip", "谢谢")])
    assert li.say("待办") == "李华，你目前没有待办事项，谢谢！"
    # an entry sent back for correction is owed too
    with transaction(sessions) as session:
        entry = session.scalars(select(Entry.id)).one()
    boss = chat(conversation, BOSS, clock)
    boss.say(f"/return {entry} 请补充参加人数")
    answer = li.say("/todo")
    assert (
        f"↩️ 记录 #{entry}“端午主题党课”被退回修改：请补充参加人数。发送 /edit {entry} 修改"
        in answer
    )
    clock.now = at("2026-07-02 10:00")  # past the reflection's deadline: still shown a week
    assert "2026年上半年工作回顾" not in chat(conversation, LI, clock).say("/todo")
    assert "已过截止时间" in chat(conversation, WANG, clock).say("/todo")


# --- fewer reminders --------------------------------------------------------------------


def test_less_reminding_for_one_deadline_until_a_day_and_back_on(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    people: dict[str, int],
    clock: Clock,
) -> None:
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    li, wang = chat(conversation, LI, clock), chat(conversation, WANG, clock)
    clock.now = at("2026-06-22 17:00")
    assert "“2026年上半年工作回顾”（2026年6月25日（周四） 18:00 截止）不再提醒你了" in li.say(
        "少提醒"
    )
    clock.now = at("2026-06-22 18:00")  # the reflection's 3-day step
    run(made)
    assert channel.texts(LI) == []
    assert len(channel.texts(WANG)) == 1
    digest = channel.texts(BOSS)[-1]
    assert "新华社区（2/2 人未完成）：李华、王强" in digest  # still owes it: still listed
    assert "🔕 以下人员关闭了提醒，这次没有提醒他们：李华" in digest
    status = chat(conversation, BOSS, clock).say("/status")
    assert [ln for ln in status.splitlines() if "🔕" in ln] == ["    🔕 已关闭提醒：李华"]
    assert "2026年上半年工作回顾" in li.say("/remind")

    # 王强 pauses everything until 1 July: the June entries' 7-day step (28 June) skips him
    assert "7月1日之前不再给你发提醒，7月1日起恢复" in wang.say("/remind off 7月1日")
    with transaction(sessions) as session:
        unit = members.unit_by_key(session, "demo-district")
        assert unit is not None
        set_deadline(
            session,
            unit_id=unit.id,
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=at("2026-07-05 18:00"),
            now=clock.now,
            ladder=(7 * 1440, 3 * 1440),
        )
    clock.now = at("2026-06-28 18:00")
    run(made)
    assert len(channel.texts(WANG)) == 1  # only the reflection's, on 22 June
    assert "2026年6月" in channel.texts(LI)[-1]  # muting one deadline left the others
    assert "🔕 已关闭提醒：王强（到7月1日）" in chat(conversation, BOSS, clock).say("/status")
    clock.now = at("2026-07-02 18:00")  # from 1 July on, he is reminded again
    run(made)
    assert "2026年6月" in channel.texts(WANG)[-1]
    assert ZH_ON in li.say("/remind on")
    assert li.say("恢复提醒") == "你的提醒本来就是开着的。"


ZH_ON = "好的，提醒已恢复。"


@pytest.mark.parametrize(
    "said",
    [
        "/remind off 2026-02-30",
        "/remind off 昨天",
        "/remind off 2026-06-01",
        "/remind off 2028-01-01",
    ],
)
def test_a_mute_day_that_is_not_a_later_day_within_a_year_is_explained(
    conversation: Conversation, people: dict[str, int], clock: Clock, said: str
) -> None:
    assert "没看懂日期" in chat(conversation, LI, clock).say(said)


def test_nobody_gets_more_reminders_for_one_deadline_than_the_cap(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    with transaction(sessions) as session:
        unit = members.unit_by_key(session, "demo-district")
        assert unit is not None
        set_deadline(
            session,
            unit_id=unit.id,
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=at("2026-07-08 18:00"),
            now=clock.now,
            ladder=tuple(d * 1440 for d in (7, 6, 5, 4, 3, 2, 1)),  # seven steps asked for
        )
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    for day in range(1, 9):
        clock.now = at(f"2026-07-0{day} 18:00")
        run(made)
    staff = Counter(a for a, replies in channel.sent if a != BOSS)
    assert staff == {LI: 4, WANG: 4, ZHAO: 4}  # the four nearest the deadline
    sent_on = channel.texts(LI)
    assert "还有 4 天" in sent_on[0] and "还有 1 天" in sent_on[-1]


# --- no ranking of people -------------------------------------------------------------


def test_status_lists_people_in_a_fixed_order_never_by_count(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    names = ["甲一", "乙二", "丙三"]
    for name in names:
        register(sessions, name, "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    order = sorted(names)

    def listed() -> list[str]:
        line = next(
            ln for ln in chat_of("周主任").say("/status").splitlines() if ln.startswith("  ✅")
        )
        return [n for n in sorted(names, key=line.find) if n in line]

    def chat_of(name: str) -> Chat:
        return Chat(conversation, name, clock)

    # 甲一 reports three times, 乙二 once, 丙三 twice: counts in every order
    for name, times in ((order[0], 1), (order[1], 3), (order[2], 2)):
        for _ in range(times):
            play(chat_of(name), JUNE_REPORT)
    first = listed()
    assert first == order  # by name: neither by count (3, 2, 1) nor by when
    for _ in range(3):  # the last one now leads on count: the order stays
        play(chat_of(order[0]), JUNE_REPORT)
    assert listed() == first

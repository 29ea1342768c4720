"""Sent back for correction: /entries and /return by a coordinator, the reporter told through
the outbox, the corrected version back to the coordinator. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.core.types import Kind
from storage.db import transaction
from storage.models import Entry, EntryReturn, EntryRevision, OutboxMessage, RoleName
from tests.chat import Chat, play
from tests.conftest import Clock, register
from tests.reminders.test_reminders import JUNE_REPORT, RecordingChannel, background


@pytest.fixture
def office(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> dict[str, Chat]:
    """李华 (新华社区) has reported one entry; 周主任 coordinates the street; all in the shell."""
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "王强", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    register(sessions, "孙书记", "demo-chaoyang", RoleName.COORDINATOR)
    chats = {name: Chat(conversation, name, clock) for name in ("李华", "王强", "周主任", "孙书记")}
    play(chats["李华"], JUNE_REPORT)
    return chats


@pytest.fixture
def n(office: dict[str, Chat], sessions: sessionmaker[Session]) -> int:
    """The id of 李华's entry (PostgreSQL sequences do not restart between tests)."""
    with transaction(sessions) as session:
        return int(session.scalars(select(Entry.id)).one())


def test_a_coordinator_returns_an_entry_and_sees_the_corrected_version(
    office: dict[str, Chat], n: int, sessions: sessionmaker[Session], clock: Clock
) -> None:
    boss, li = office["周主任"], office["李华"]
    channel = RecordingChannel(platform="shell")
    outbox = background(sessions, clock, channel)
    play(
        boss,
        [
            (
                "/entries",
                [
                    "最近上报的 1 条记录",
                    f"#{n} 6月19日 理论学习｜新华社区｜端午主题党课｜李华",
                    "点下面的按钮",
                ],
            ),
            (f"[↩️ 退回 #{n}]", f"要退回记录 #{n}“端午主题党课”。请写下退回的理由"),
            ("参与人次和照片对不上，请核实。", f"已退回记录 #{n}，并通知了李华"),
            (
                "/entries",
                "端午主题党课｜李华｜学习场次 3场次，参与人次 4000余人次（↩️ 已退回，待修改）",
            ),
        ],
    )
    assert boss.buttons == []  # nothing left to send back
    assert asyncio.run(outbox.send_due()) == 1
    ((address, (notice,)),) = channel.sent
    assert address == "李华"
    assert notice.text == (
        f"李华，您好！您上报的记录 #{n}“端午主题党课”被周主任退回修改，理由：参与人次和照片对不上，请核实。\n"
        "请点下面的按钮打开这条记录，改好后保存即可。"
    )
    (button,) = notice.choices
    assert (button.label, button.value, button.shortcut) == (
        f"✏️ 修改记录 #{n}",
        f"/edit {n}",
        f"/edit {n}",
    )
    li.send(li.incoming(button.value, Kind.BUTTON))  # pressing it opens the entry
    assert f"正在修改记录 #{n}" in "\n".join(r.text for r in li.replies)
    play(
        li,
        [
            ("[✏️ 修改]", "要修改哪一项"),
            ("参与人次", "当前："),
            ("400多人次", "请核对"),
            (
                "[✅ 确认保存]",
                [f"已更新记录 #{n}（第 2 版）", "这条记录之前被退回修改，已把新版本转给周主任"],
            ),
        ],
    )
    assert asyncio.run(outbox.send_due()) == 1
    address, (update,) = channel.sent[-1]
    assert address == "周主任"
    assert update.text.startswith(
        f"李华已修改您退回的记录 #{n}（第 2 版）：\n#{n} 6月19日 理论学习｜新华社区"
    )
    assert "参与人次 400余人次" in update.text
    assert "已退回" not in boss.say("/entries")
    with transaction(sessions) as session:
        (returned,) = session.scalars(select(EntryReturn)).all()
        assert (returned.revision, returned.resolved_revision) == (1, 2)
        assert returned.comment == "参与人次和照片对不上，请核实。"
        # the version that was sent back is kept whole
        (kept,) = session.scalars(select(EntryRevision)).all()
        assert kept.revision == 1 and kept.snapshot["metrics"][1]["raw"] == "4000多人次"
    # saving it once more tells nobody again
    play(li, [(f"/edit {n}", "请核对"), ("[✅ 确认保存]", "第 3 版")])
    assert "转给" not in "\n".join(r.text for r in li.replies)
    assert asyncio.run(outbox.send_due()) == 0


def test_return_with_the_reason_at_once_and_its_refusals(
    office: dict[str, Chat],
    n: int,
    sessions: sessionmaker[Session],
    clock: Clock,
    conversation: Conversation,
) -> None:
    play(
        office["孙书记"],  # coordinates another community: learns nothing about entry #1
        [
            (f"/return {n} 写得太简单", f"找不到编号为 #{n} 的记录，或你无权退回它"),
            (f"/return {n + 999} 写得太简单", f"找不到编号为 #{n + 999} 的记录，或你无权退回它"),
        ],
    )
    play(office["王强"], [(f"/return {n} 写得太简单", "只有社区或街道负责人可以用")])
    play(
        office["周主任"],
        [
            ("/return", "用法：/return 记录编号 理由"),
            ("/return 第一条", "用法：/return 记录编号 理由"),
            ("/return ² 写错了", "找不到编号为 #² 的记录"),  # '²'.isdigit() is true
            ("/return 99999999999999999999 太大", "找不到编号为 #999999999999 的记录"),
            (f"/return {n} " + "太" * 301, "回答太长了（301 字）"),
            (f"/return {n}", "请写下退回的理由"),
            ("/cancel", "好的，不退回了"),
            (f"/return #{n} 内容写得太简单，请补充过程", f"已退回记录 #{n}"),
            (f"/return {n} 再退一次", f"记录 #{n} 已经退回过了"),
        ],
    )
    group = Chat(conversation, "周主任", clock, in_group=True)
    assert "请在和我的私聊中" in group.say(f"/return {n} 群里退回")
    assert group.say("/entries") and group.buttons == []  # no return buttons in a group
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(EntryReturn)) == 1
        (key,) = session.scalars(select(OutboxMessage.key)).all()
        assert key.startswith("return:")


def test_the_reason_asked_for_must_be_text(office: dict[str, Chat], n: int) -> None:
    boss = office["周主任"]
    play(boss, [(f"/return {n}", "请写下退回的理由")])
    assert "用法" in boss.sticker()
    play(boss, [("照片里看不出人数", f"已退回记录 #{n}")])

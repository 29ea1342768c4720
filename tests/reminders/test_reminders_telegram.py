"""Reminders and returns end to end on Telegram: the real TelegramBot and the real Background
(APScheduler tick, outbox sender) in one event loop, against the fake Bot API in process
(PTB's request seam), pacing in virtual time; simulated people read and press. SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.commands import default_menus
from bot.core.conversation import Conversation
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import Base, OutboxMessage, OutboxStatus, RoleName
from tests.channels.test_telegram import Phone, telegram_bot
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.fakes.telegram_api import FakeTelegram, SimUser
from tests.reminders.test_reminders import JUNE_REPORT, at

LI = SimUser(1001, "李华")
WANG = SimUser(1002, "王强")
BOSS = SimUser(2001, "周主任")


class Live:
    """A TelegramBot (polling unless told not to) and a started Background, in one loop."""

    def __init__(
        self,
        conversation: Conversation,
        fake: FakeTelegram,
        photos: Path,
        background: Background,
        *,
        poll: bool = True,
    ) -> None:
        self.background = background
        self.bot = telegram_bot(
            conversation,
            fake,
            photos,
            poll_timeout=1,
            menus=None,
            default_menus=default_menus(),
        )
        self._poll = poll
        self._ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(15), "the bot did not start"

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.bot.start()
        polling = asyncio.create_task(self.bot.poll()) if self._poll else None
        await self.background.start({"telegram": self.bot})
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.background.stop()
            self.bot.request_stop()
            if polling is not None:
                await polling
            await self.bot.stop()

    def tick(self) -> None:
        """Tick now (as APScheduler would) and wake the senders."""
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.background._tick_job(), self.loop).result(30)

    def wake(self) -> None:
        """Wake the outbox senders now, as their poll would within a second."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.background._wake_senders)

    def stop(self) -> None:
        assert self.loop is not None and self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive()


@pytest.fixture
def fake(clock: Clock) -> FakeTelegram:
    return FakeTelegram(clock=clock)


def make_background(
    sessions: sessionmaker[Session], clock: Clock, **settings: object
) -> Background:
    options: dict[str, object] = {"tick_seconds": 3600, **settings}
    return Background(sessions, ReminderSettings(**options), SHANGHAI, clock)  # type: ignore[arg-type]


def test_a_reminder_arrives_and_its_button_starts_the_report(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    fake: FakeTelegram,
    tmp_path: Path,
    demo_org: None,
    clock: Clock,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    register(sessions, "王强", "demo-xinhua", platform="telegram", external_id=str(WANG.id))
    clock.now = at("2026-06-28 18:00")  # June's entries are due 5 July: the 7-day step
    live = Live(conversation, fake, tmp_path, make_background(sessions, clock))
    try:
        first = fake.wait_for_text(
            LI.id, "2026年6月的活动记录请在 2026年7月5日（周日） 18:00 前上报"
        )
        assert "还有 7 天" in (first.text or "") and first.button_labels == ["📝 现在上报"]
        Phone(fake, LI).press("📝 现在上报", "这次活动属于哪一类工作")
        wang_first = fake.wait_for_text(WANG.id, "还有 7 天")
        clock.now = at("2026-07-02 18:00")  # the 3-day step
        live.tick()
        fake.wait_for_text(WANG.id, "还有 3 天")
        # the button of the older reminder still just works
        mark = len(fake.sent(WANG.id))
        fake.user_presses(WANG, wang_first.message_id, "/report")
        fake.wait_for_text(WANG.id, "这次活动属于哪一类工作", since=mark)
        reminders = Counter(
            m.chat_id
            for m in fake.sent()
            if m.method == "sendMessage" and "活动记录" in (m.text or "")
        )
        assert reminders == {LI.id: 2, WANG.id: 2}  # 李华 is still reporting: not done yet
    finally:
        live.stop()


def test_a_blocked_person_is_recorded_and_shown_in_status(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    fake: FakeTelegram,
    tmp_path: Path,
    demo_org: None,
    clock: Clock,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="shell",
        external_id="周主任",
    )
    clock.now = at("2026-06-28 18:00")
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )
    live = Live(conversation, fake, tmp_path, make_background(sessions, clock))
    try:
        fake.wait_for(lambda: len(fake.requests_for("sendMessage")) >= 1 or None)

        def failed() -> OutboxMessage | None:
            with transaction(sessions) as session:
                return session.scalars(
                    select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
                ).first()

        row = fake.wait_for(failed, describe=lambda: "no failed outbox row")
        assert row.last_error == "telegram: Forbidden: bot was blocked by the user"
        assert fake.sent(LI.id) == []
    finally:
        live.stop()
    status = Chat(conversation, "周主任", clock).say("/status")
    assert "⚠️ 以下人员收不到机器人的消息" in status
    assert (
        "李华：已屏蔽机器人（telegram: Forbidden: bot was blocked by the user），6月28日" in status
    )


def test_return_end_to_end(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    fake: FakeTelegram,
    tmp_path: Path,
    demo_org: None,
    clock: Clock,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id=str(BOSS.id),
    )
    play(Chat(conversation, str(LI.id), clock, platform="telegram"), JUNE_REPORT)
    clock.now = at("2026-06-24 10:00")
    live = Live(conversation, fake, tmp_path, make_background(sessions, clock, enabled=False))
    try:
        boss, li = Phone(fake, BOSS), Phone(fake, LI)
        entries = boss.say("/entries", "端午主题党课")
        number = entries.split("#", 1)[1].split(" ", 1)[0]
        boss.press(f"↩️ 退回 #{number}", "请写下退回的理由")
        boss.say("参与人次和照片对不上，请核实", f"已退回记录 #{number}，并通知了李华")
        live.wake()
        notice = fake.wait_for_text(LI.id, "被周主任退回修改，理由：参与人次和照片对不上，请核实")
        assert notice.button_labels == [f"✏️ 修改记录 #{number}"]
        boss.say("/entries", "已退回，待修改")
        li.press(f"✏️ 修改记录 #{number}", "请核对")
        li.press("✏️ 修改", "要修改哪一项")
        li.press("参与人次", "当前：")
        li.say("400多人次", "请核对")
        li.press("✅ 确认保存", "已把新版本转给周主任")
        live.wake()
        update = fake.wait_for_text(BOSS.id, f"李华已修改您退回的记录 #{number}（第 2 版）")
        assert "400余人次" in (update.text or "")
    finally:
        live.stop()


def test_two_instances_on_postgresql_deliver_each_reminder_once(
    postgres_url: str, questionnaires: dict, fake: FakeTelegram, tmp_path: Path
) -> None:
    engines = [create_db_engine(postgres_url) for _ in range(2)]
    upgrade(engines[0])
    with engines[0].begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    makers = [make_sessionmaker(e) for e in engines]
    from bot.admin.org import demo_org, load_org

    with transaction(makers[0]) as session:
        load_org(session, demo_org())
    people = [5000 + i for i in range(120)]
    for user_id in people:
        register(
            makers[0],
            f"员工{user_id}",
            "demo-xinhua",
            platform="telegram",
            external_id=str(user_id),
        )
    clock = Clock(at("2026-06-28 18:00"))
    lives = []
    try:
        for maker in makers:
            conversation = Conversation(maker, questionnaires, "community_culture", SHANGHAI, clock)
            background = make_background(maker, clock, rate_per_second=100)
            lives.append(Live(conversation, fake, tmp_path, background, poll=False))
        fake.wait_for(
            lambda: (
                len([m for m in fake.sent() if "活动记录" in (m.text or "")]) >= len(people) or None
            ),
            timeout=60,
        )
        for live in lives:  # both tick once more: still nothing twice
            live.tick()
    finally:
        for live in lives:
            live.stop()
    deliveries = Counter(m.chat_id for m in fake.sent() if m.method == "sendMessage")
    assert deliveries == Counter(dict.fromkeys(people, 1))
    assert all(live.background.senders["telegram"].sent for live in lives), "both should send"
    with engines[0].begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    for engine in engines:
        engine.dispose()

"""End to end on Telegram: the real python-telegram-bot application against a fake Bot API,
simulated people typing and pressing buttons; pacing, flood waits and retries in virtual
time. The fake answers in process through PTB's request seam (`FakeTelegram.in_process`),
except where the HTTP transport is the subject (uploads, the webhook server). SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.org import create_invite
from bot.channels.telegram import TelegramBot
from bot.core.commands import default_menus
from bot.core.conversation import Conversation
from bot.core.delivery import Delivery
from storage.db import transaction
from storage.models import Entry, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, free_port, register
from tests.core.test_dialog import HAPPY_PATH
from tests.fakes.telegram_api import UNREADABLE, FakeTelegram, SentMessage, SimUser, group_chat
from tests.fakes.virtual_time import VirtualTime

LI = SimUser(1001, "李华")
WANG = SimUser(1002, "王强")
BOSS = SimUser(2001, "周主任")
STRANGER = SimUser(3001, "路人")
GROUP = group_chat(-100777, "和平街道工作群")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def pacing_time() -> VirtualTime:
    """Virtual time for a bot: a pause of up to a minute (pacing, a flood wait, a retry's
    backoff) moves the clock and returns at once."""
    return VirtualTime(jump_up_to=60)


def telegram_bot(
    conversation: Conversation,
    fake: FakeTelegram,
    photos: Path,
    time: VirtualTime | None = None,
    **options: Any,
) -> TelegramBot:
    """A TelegramBot talking to `fake`, in process unless the fake serves HTTP; presses are
    stamped with the fake's clock (the one that dates its messages), pacing runs on `time`."""
    time = time or pacing_time()
    transport = (
        {}
        if fake.serving
        else {"request": fake.in_process(), "get_updates_request": fake.in_process()}
    )
    return TelegramBot(
        Delivery(conversation, "telegram"),
        token=fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        photos_dir=photos,
        clock=fake.clock,
        monotonic=time.monotonic,
        sleep=time.sleep,
        **transport,
        **options,
    )


class RunningBot:
    """A TelegramBot polling the fake in a thread of its own, as `huibao run` does."""

    def __init__(
        self,
        conversation: Conversation,
        fake: FakeTelegram,
        photos: Path,
        time: VirtualTime | None = None,
    ) -> None:
        # Telegram's real pace (1 message a second per chat) in virtual time: it costs nothing.
        self.bot = telegram_bot(
            conversation,
            fake,
            photos,
            time,
            poll_timeout=1,
            menus=lambda: conversation.leader_menus("telegram"),
            default_menus=default_menus(),
        )
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the bot did not start"

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.bot.start()
        self._task = asyncio.create_task(self.bot.poll())
        self._ready.set()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        finally:
            await self.bot.stop()

    def stop(self) -> None:
        """A clean stop: the last batch is confirmed, replies in hand go out or stay stored."""
        if not self._thread.is_alive():
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.bot.request_stop)
        self._thread.join(15)

    def crash(self) -> None:
        """Stop abruptly, confirming nothing more (as close to a kill as a thread gets)."""
        assert self._loop is not None and self._task is not None
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)


class Phone:
    """One person's Telegram chat with the bot."""

    def __init__(self, fake: FakeTelegram, user: SimUser, chat: dict | None = None) -> None:
        self.fake = fake
        self.user = user
        self.chat = chat
        self.chat_id = user.id if chat is None else int(chat["id"])

    def _mark(self) -> int:
        return len(self.fake.sent(self.chat_id))

    def _expect(self, mark: int, fragment: str) -> str:
        return self.fake.wait_for_text(self.chat_id, fragment, since=mark).text or ""

    def said(self, text: str, expect: str) -> SentMessage:
        """Say `text`; the bot's message that contains `expect`, as the fake saw it."""
        mark = self._mark()
        self.fake.user_sends_text(self.user, text, self.chat)
        return self.fake.wait_for_text(self.chat_id, expect, since=mark)

    def say(self, text: str, expect: str) -> str:
        mark = self._mark()
        self.fake.user_sends_text(self.user, text, self.chat)
        return self._expect(mark, expect)

    def press(self, label: str, expect: str) -> str:
        mark = self._mark()
        self.fake.press_button(self.user, label, self.chat)
        return self._expect(mark, expect)

    def photo(self, expect: str, size: int = 50_000) -> str:
        mark = self._mark()
        self.fake.user_sends_photo(self.user, size_bytes=size, chat=self.chat)
        return self._expect(mark, expect)

    def silence(self, action: Callable[[], object], probe: tuple[SimUser, str, str]) -> None:
        """Do something and check the bot says nothing to this chat in reply: a probe sent
        after it (who says what, and a part of the answer) gets the chat's next message, as
        a chat's replies go out in the order its messages came."""
        mark = self._mark()
        action()
        user, text, expected = probe
        self.fake.user_sends_text(user, text, self.chat)
        answer = self.fake.wait_for_text(self.chat_id, expected, since=mark)
        assert self.fake.sent(self.chat_id)[mark] == answer

    def transcript(self, lines: list[tuple[str, str]]) -> None:
        for said, expected in lines:
            if said.startswith("[") and said.endswith("]"):
                self.press(said[1:-1], expected)
            elif said == "<photo>":
                self.photo(expected)
            else:
                self.say(said, expected)


@pytest.fixture
def time() -> VirtualTime:
    return pacing_time()


@pytest.fixture
def fake(clock: Clock, time: VirtualTime) -> FakeTelegram:
    """The Bot API in process; what it records is timed on the bots' virtual time."""
    return FakeTelegram(clock=clock, monotonic=time.monotonic)


@pytest.fixture
def http_fake(clock: Clock) -> Iterator[FakeTelegram]:
    """The Bot API over real HTTP, for the tests of the HTTP transport and the webhook."""
    with FakeTelegram(clock=clock) as server:
        yield server


@pytest.fixture
def running(
    conversation: Conversation,
    fake: FakeTelegram,
    time: VirtualTime,
    tmp_path: Path,
    demo_org: None,
) -> Iterator[RunningBot]:
    bot = RunningBot(conversation, fake, tmp_path / "photos", time)
    yield bot
    bot.stop()


@pytest.fixture
def li(sessions: sessionmaker[Session], fake: FakeTelegram, running: RunningBot) -> Phone:
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    return Phone(fake, LI)


REPORT = [
    ("/report", "这次活动属于哪一类工作"),
    ("[理论学习]", "活动叫什么名字"),
    ("端午主题党课", "活动是哪天办的"),
    ("上周五", "在哪里办的"),
    ("社区党群服务中心", "几场学习"),
    ("3场", "多少人次"),
    ("4000多人次", "做了什么"),
    ("邀请老党员讲党史故事，组织居民观看专题片。", "效果怎么样"),
    ("居民参与热情高，12人报名加入志愿队伍。", "亮点"),
    ("/skip", "照片"),
    ("<photo>", "收到第 1 张照片"),
    ("[完成]", "请核对"),
    ("[✅ 确认保存]", "已保存，记录编号 #"),
]


def test_join_by_start_code(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    fake: FakeTelegram,
    running: RunningBot,
    clock: Clock,
) -> None:
    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-xinhua", "staff", uses=5, expires_in=timedelta(days=7), now=clock()
        ).code
    wang = Phone(fake, WANG)
    wang.say("你好", "还没有加入任何单位")
    # a t.me/<bot>?start=CODE deep link arrives as "/start CODE"
    wang.say(f"/start {code}", "欢迎加入新华社区（工作人员）")
    wang.say("王强", "王强，你已加入新华社区")
    fake.wait_for(lambda: fake.command_list({"type": "chat", "chat_id": WANG.id}) or None)
    assert ("report", "上报一次活动") in fake.command_list({"type": "chat", "chat_id": WANG.id})
    english = Phone(fake, SimUser(1003, "Tom", language_code="en"))
    english.say("hello", "You have not joined a unit yet")


def test_report_an_activity_with_buttons_and_a_photo(
    li: Phone, fake: FakeTelegram, sessions: sessionmaker[Session]
) -> None:
    li.transcript(REPORT)
    # every pressed message lost its buttons and shows what was chosen
    area_question = next(m for m in fake.sent(LI.id) if m.text and "哪一类工作" in m.text)
    shown = fake.current_message(LI.id, area_question.message_id)
    assert "reply_markup" not in shown or not shown["reply_markup"].get("inline_keyboard")
    assert "➡️ 理论学习" in shown["text"]
    assert len(fake.callback_answers) == 3
    with transaction(sessions) as session:
        entry = session.scalars(select(Entry)).one()
        (photo,) = entry.photos
        assert entry.title == "端午主题党课" and entry.area_name == "理论学习"
        assert photo.platform == "telegram"
        assert photo.stored_path is not None
        assert Path(photo.stored_path).read_bytes() == fake.file_bytes(photo.file_ref)


def test_edit_one_entry_and_delete_another(
    li: Phone, conversation: Conversation, clock: Clock, sessions
) -> None:
    chat = Chat(conversation, str(LI.id), clock, platform="telegram")
    play(chat, HAPPY_PATH)
    play(chat, HAPPY_PATH)
    with transaction(sessions) as session:
        first, second = session.scalars(select(Entry.id).order_by(Entry.id)).all()
    li.say(f"/edit {first}", "请核对")
    li.press("✏️ 修改", "要修改哪一项")
    li.press("活动名称", "当前：")
    li.say("端午主题党课（修改）", "请核对")
    li.press("✅ 确认保存", f"已更新记录 #{first}（第 2 版）")
    li.say(f"/delete {second}", "确定删除")
    li.press("是", f"已删除记录 #{second}")
    with transaction(sessions) as session:
        titles = session.scalars(select(Entry.title).where(Entry.deleted_at.is_(None))).all()
        assert titles == ["端午主题党课（修改）"]


def test_coordinators_status_and_entries_in_a_group(
    li: Phone, fake: FakeTelegram, sessions: sessionmaker[Session]
) -> None:
    register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id=str(BOSS.id),
    )
    li.transcript(REPORT)
    boss = Phone(fake, BOSS, GROUP)
    boss.say("/status@huibao_test_bot", "新华社区：已报 1/1 人")
    boss.say("/entries", "端午主题党课")
    probe = (BOSS, "/status@huibao_test_bot", "新华社区：已报 1/1 人")
    boss.silence(lambda: fake.user_sends_text(BOSS, "大家辛苦了", GROUP), probe)
    boss.silence(lambda: fake.user_sends_text(BOSS, "/status@some_other_bot", GROUP), probe)
    Phone(fake, STRANGER, GROUP).silence(
        lambda: fake.user_sends_text(STRANGER, "/status", GROUP), probe
    )
    Phone(fake, LI, GROUP).say("/report", "请在和我的私聊中上报")
    private = Phone(fake, BOSS)
    private.say("/status", "新华社区：已报 1/1 人")


def test_messages_and_button_presses_are_dated_by_the_clock(
    li: Phone, fake: FakeTelegram, clock: Clock
) -> None:
    # A day that is not today (nor will be): what the bot reads as "now" comes from the
    # clock, for typed messages (the Bot API's date) and button presses (stamped by the bot).
    clock.now = datetime(2019, 3, 12, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
    li.say("/reflect", "2019年上半年工作回顾（1/2）")
    li.say("/cancel", "已取消")
    mark = len(fake.sent(LI.id))
    fake.user_sends_text(LI, "/help")
    help_message = fake.wait_for_text(LI.id, "可以用的命令", since=mark)
    mark = len(fake.sent(LI.id))
    fake.user_presses(LI, help_message.message_id, "/reflect")  # as a reminder's button
    fake.wait_for_text(LI.id, "2019年上半年工作回顾（1/2）", since=mark)


def test_what_the_bot_cannot_read_gets_a_clear_reply(li: Phone, fake: FakeTelegram) -> None:
    li.say("/report", "哪一类工作")
    li.press("文体活动", "活动叫什么名字")
    for content in UNREADABLE:  # a sticker, a voice note, a place, a contact
        mark = len(fake.sent(LI.id))
        fake.user_sends_message(LI, content)
        fake.wait_for_text(LI.id, "只能识别文字和照片", since=mark)
    li.say("广场舞展演", "哪天")
    mark = len(fake.sent(LI.id))
    fake.user_forwards_text(LI, "6月1日", origin=WANG)
    fake.wait_for_text(LI.id, "转发来的消息不能当作回答", since=mark)
    mark = len(fake.sent(LI.id))
    fake.user_edits_message(LI, 1, "改过的内容")
    fake.wait_for_text(LI.id, "修改过的消息", since=mark)
    li.say("昨天", "在哪里")
    li.say("/skip", "几场")
    li.photo("需要文字回答")
    li.say("5", "参与")


def test_a_photo_over_the_download_limit(li: Phone, fake: FakeTelegram) -> None:
    li.transcript(REPORT[:10])
    li.photo("照片太大了", size=25 * 1024 * 1024)
    li.photo("收到第 1 张照片")


def test_buttons_act_once(li: Phone, fake: FakeTelegram, sessions: sessionmaker[Session]) -> None:
    li.transcript(REPORT[:-1])
    confirm = next(m for m in reversed(fake.sent(LI.id)) if "✅ 确认保存" in m.button_labels)
    data = next(d for row in confirm.buttons for label, d in row if label == "✅ 确认保存")
    assert data is not None
    li.press("✅ 确认保存", "已保存")
    mark = len(fake.sent(LI.id))
    fake.user_presses(LI, confirm.message_id, data)  # the same button, pressed again
    fake.wait_for_text(LI.id, "按钮已经失效", since=mark)
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 1
    # a button pressed by someone who has not joined
    mark = len(fake.sent(STRANGER.id))
    fake.user_sends_text(STRANGER, "/report")
    prompt = fake.wait_for_text(STRANGER.id, "还没有加入任何单位", since=mark)
    mark = len(fake.sent(STRANGER.id))
    fake.user_presses(STRANGER, prompt.message_id, "area:theory~1")
    fake.wait_for_text(STRANGER.id, "还没有加入任何单位", since=mark)


def test_rate_limits_and_network_errors_are_retried(li: Phone, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=1)
    li.say("/help", "可以用的命令")
    refused, retried = fake.requests_for("sendMessage")
    assert retried.time - refused.time >= 1  # waited as told (in virtual time)
    fake.drop_connection_next("sendMessage")
    li.say("/mine", "还没有上报记录")
    fake.fail_next("sendMessage", error_code=502)
    li.say("/report", "哪一类工作")


def test_a_restart_handles_pending_updates_once_and_continues(
    conversation: Conversation,
    fake: FakeTelegram,
    time: VirtualTime,
    tmp_path: Path,
    sessions: sessionmaker[Session],
    demo_org: None,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    first = RunningBot(conversation, fake, tmp_path, time)
    phone = Phone(fake, LI)
    phone.transcript(REPORT[:4])
    first.crash()
    # while the bot is down, the person goes on typing
    fake.user_sends_text(LI, "社区党群服务中心")
    fake.user_sends_text(LI, "3场")
    second = RunningBot(conversation, fake, tmp_path, time)
    try:
        fake.wait_for_text(LI.id, "多少人次")
        phone.transcript(REPORT[6:])
        texts = fake.messages_to(LI.id)
        assert sum("几场学习" in t for t in texts) == 1  # each pending update handled once
        with transaction(sessions) as session:
            assert session.scalar(select(func.count()).select_from(Entry)) == 1
    finally:
        second.stop()


def test_the_command_menus(
    fake: FakeTelegram, running: RunningBot, sessions, conversation: Conversation
) -> None:
    fake.wait_for(lambda: fake.command_list({"type": "all_group_chats"}) or None)
    assert [c for c, _ in fake.command_list({"type": "all_private_chats"})][:2] == [
        "report",
        "mine",
    ]
    assert ("report", "report an activity") in fake.command_list(
        {"type": "all_private_chats"}, "en"
    )
    assert [c for c, _ in fake.command_list({"type": "all_group_chats"})] == [
        "status",
        "entries",
        "summary",
        "help",
    ]


def test_long_replies_are_split_under_4096_characters(li: Phone, fake: FakeTelegram) -> None:
    from bot.channels.telegram import split_text

    parts = split_text("\n".join(f"第{i}行：" + "字" * 50 for i in range(300)))
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).count("行：") == 300


def test_replies_to_one_chat_are_paced_at_one_per_second(li: Phone, fake: FakeTelegram) -> None:
    for _ in range(7):
        fake.user_sends_text(LI, "/help")
    fake.wait_for_messages(LI.id, 7)
    times = [m.timestamp for m in fake.sent(LI.id) if m.method == "sendMessage"]
    # a burst of 4, then one a second (in virtual time)
    assert [t - times[0] for t in times] == pytest.approx([0, 0, 0, 0, 1, 2, 3])


def test_a_reply_that_cannot_be_sent_is_not_lost(
    li: Phone, fake: FakeTelegram, running: RunningBot
) -> None:
    # More failures than the rate limiter's own retries: the chat's sender tries again
    # after a pause; the reply then goes out once.
    fake.fail_next("sendMessage", error_code=502, times=6)
    li.say("/help", "可以用的命令")
    running.stop()  # whatever was still to go out has gone out (or never will)
    assert sum("可以用的命令" in t for t in fake.messages_to(LI.id)) == 1


def test_webhook_mode_checks_the_secret_and_answers_healthz(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    questionnaires,
    engine,
    http_fake: FakeTelegram,
    demo_org: None,
    tmp_path: Path,
    clock: Clock,
) -> None:
    import httpx

    from bot.app import App
    from bot.runner import run_platforms
    from bot.settings import Settings

    port = free_port()
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        telegram={
            "token": http_fake.token,
            "base_url": http_fake.base_url,
            "base_file_url": http_fake.base_file_url,
            "webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
            "webhook_secret": "s3cret-token",
        },
        server={"host": "127.0.0.1", "port": port},
    )
    from bot.shipped import templates_dir
    from bot.summary.service import SummaryKit

    kit = SummaryKit.load(templates_dir() / "summary")
    app = App(settings, engine, sessions, questionnaires, conversation, clock, kit)
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    loop_ready = threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        loop_ready.set()
        await run_platforms(app, stop)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert loop_ready.wait(10)
    try:
        http_fake.wait_for(lambda: http_fake.webhook_url or None)
        assert http_fake.webhook_url == f"http://127.0.0.1:{port}/telegram/hook"
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        forged = httpx.post(
            f"http://127.0.0.1:{port}/telegram/hook",
            json={"update_id": 1, "message": {}},
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            timeout=5,
        )
        assert forged.status_code == 403
        no_header = httpx.post(f"http://127.0.0.1:{port}/telegram/hook", json={}, timeout=5)
        assert no_header.status_code == 403
        Phone(http_fake, LI).transcript(REPORT[:3])  # delivered by the fake to the webhook
        assert all(d.status == 200 for d in http_fake.webhook_deliveries)
    finally:
        loop = holder["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(15)
    assert not thread.is_alive()


def test_updates_the_bot_cannot_read_are_skipped_and_confirmed_in_polling(
    li: Phone, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bad = [
        fake.user_sends_update({"message": {"message_id": 90, "text": "没有 chat 和 date"}}),
        fake.user_sends_update({"message": "不是消息"}),
        fake.user_sends_update({"callback_query": {"id": "1", "data": "x"}}),
        fake.user_sends_update({"edited_message": {"date": "昨天", "chat": LI.private_chat()}}),
    ]
    li.say("/help", "可以用的命令")  # the loop goes on after them
    fake.wait_for(lambda: fake.pending_updates() == 0 or None)
    assert max(o for o in fake.get_updates_offsets if o is not None) > max(bad)
    assert fake.sent(LI.id)[-1].text is not None and "可以用的命令" in fake.sent(LI.id)[-1].text
    skipped = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert [int(m.split()[1]) for m in skipped] == bad  # "update 3 (callback_query) was ..."
    # one line each: no traceback, nothing of what they held
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in caplog.records)
    assert "没有 chat" not in caplog.text and "不是消息" not in caplog.text


WEBHOOK_SECRET = "hook-secret"


def _webhook_posts(
    conversation: Conversation, fake: FakeTelegram, photos: Path, bodies: list[bytes]
) -> list[int]:
    """Post each body to the Telegram webhook route of a started TelegramBot; the statuses."""
    import httpx

    from bot.channels.server import build_server, telegram_webhook_route

    async def main() -> list[int]:
        bot = telegram_bot(conversation, fake, photos)
        await bot.start()
        server = build_server([telegram_webhook_route("/hook", WEBHOOK_SECRET, bot.handle_json)])
        transport = httpx.ASGITransport(app=server, raise_app_exceptions=False)
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
            "Content-Type": "application/json",
        }
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://huibao") as client:
                return [
                    (await client.post("/hook", content=body, headers=headers)).status_code
                    for body in bodies
                ]
        finally:
            await bot.stop()

    return asyncio.run(main())


def test_the_webhook_answers_bad_updates_200_or_400_never_500(
    conversation: Conversation,
    fake: FakeTelegram,
    tmp_path: Path,
    demo_org: None,
    sessions: sessionmaker[Session],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import json

    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    date = int(clock().timestamp())
    chat, sender = LI.private_chat(), LI.as_dict()
    unreadable = [  # JSON objects, but no update Huibao can read: 200, or Telegram retries
        {},
        {"update_id": "7", "message": {"message_id": 1, "date": date, "chat": chat}},
        {"update_id": 8, "message": {"message_id": 1, "from": sender, "text": "/help"}},
        {"update_id": 9, "message": {"message_id": 1, "chat": chat, "from": sender, "text": "x"}},
        {"update_id": 11, "callback_query": {"id": "1", "from": sender, "data": "x"}},
        {"update_id": 12, "message": [1, 2]},
    ]
    # readable, but from no one (as in a channel): ignored without a word
    ignored = {"update_id": 10, "message": {"message_id": 1, "date": date, "chat": chat}}
    not_objects = [  # 400: not a JSON object at all
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"not json",
        b"[1, 2]",
        b'"update"',
        b"\xff\xfe",
    ]
    good = {
        "update_id": 13,
        "message": {"message_id": 2, "date": date, "chat": chat, "from": sender, "text": "/help"},
    }
    bodies = [json.dumps(u).encode() for u in [*unreadable, ignored]] + not_objects
    bodies.append(json.dumps(good).encode())
    with caplog.at_level(logging.WARNING):
        statuses = _webhook_posts(conversation, fake, tmp_path, bodies)
    assert statuses == [200] * (len(unreadable) + 1) + [400] * len(not_objects) + [200]
    fake.wait_for_text(LI.id, "可以用的命令")  # the one good update was answered
    assert len(fake.sent(LI.id)) == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # one line each, without a traceback, and nothing of what the update held
    assert len(warnings) == len(unreadable) + len(not_objects), caplog.text
    assert all(r.exc_info is None for r in warnings)
    assert "/help" not in caplog.text


def test_a_button_of_someone_elses_chat_is_refused(
    li: Phone, fake: FakeTelegram, sessions: sessionmaker[Session]
) -> None:
    register(sessions, "王强", "demo-xinhua", platform="telegram", external_id=str(WANG.id))
    li.say("/report", "哪一类工作")
    area = next(m for m in reversed(fake.sent(LI.id)) if "理论学习" in m.button_labels)
    data = next(d for row in area.buttons for label, d in row if label == "理论学习")
    assert data is not None
    sent_before = len(fake.sent())
    # 王强 presses a button of 李华's private chat (a forged or replayed callback)
    fake.user_presses(WANG, area.message_id, data, chat=LI.private_chat())
    answer = fake.wait_for(lambda: next((a for a in fake.callback_answers if a.text), None))
    assert answer.text == "这个按钮不是给你的。"
    fake.wait_for(lambda: fake.pending_updates() == 0 or None)
    assert len(fake.sent()) == sent_before  # nothing sent, nothing edited
    shown = fake.current_message(LI.id, area.message_id)
    assert shown["reply_markup"]["inline_keyboard"]  # 李华's buttons are still there
    li.press("理论学习", "活动叫什么名字")  # and still work for 李华


def test_one_chats_paced_replies_make_nobody_else_wait_and_survive_a_restart(
    conversation: Conversation,
    fake: FakeTelegram,
    time: VirtualTime,
    tmp_path: Path,
    sessions: sessionmaker[Session],
    demo_org: None,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    register(sessions, "王强", "demo-xinhua", platform="telegram", external_id=str(WANG.id))
    # A burst of 4, then one a second on a clock nobody moves: Li's fifth reply waits.
    slow = RunningBot(conversation, fake, tmp_path, VirtualTime(jump_up_to=0.5))
    try:
        for _ in range(7):
            fake.user_sends_text(LI, "/help")
        fake.wait_for_messages(LI.id, 4, timeout=20)
        mark = len(fake.sent(WANG.id))
        fake.user_sends_text(WANG, "/help")  # a later batch, while Li's replies wait
        fake.wait_for_text(WANG.id, "可以用的命令", since=mark, timeout=10)
        assert len(fake.sent(LI.id)) == 4  # still waiting their turn
        # every update is confirmed (stored) although three replies are not sent yet
        fake.wait_for(lambda: fake.pending_updates() == 0 or None, 10)
        assert len(fake.sent(LI.id)) == 4
    finally:
        slow.stop()
    assert len(fake.sent(LI.id)) == 4
    fast = RunningBot(conversation, fake, tmp_path, time)
    try:  # the three replies stored but not sent go out after the restart, once
        fake.wait_for_messages(LI.id, 7, timeout=20)
        fake.wait_for(lambda: fake.pending_updates() == 0 or None)
    finally:
        fast.stop()
    assert sum("可以用的命令" in t for t in fake.messages_to(LI.id)) == 7


def test_a_document_and_a_picture_are_uploaded_with_their_names(
    conversation: Conversation, http_fake: FakeTelegram, tmp_path: Path
) -> None:
    # Uploads go as multipart through the aiohttp transport (texts go as JSON).
    from bot.core.types import Document, Reply

    fake = http_fake
    sheet = Document("新华社区台账.xlsx", b"PK\x03\x04" + bytes(range(256)) * 40, XLSX)
    chart = Document("图表.png", b"\x89PNG\r\n" + bytes(3000), "image/png")

    async def main() -> None:
        bot = telegram_bot(conversation, fake, tmp_path)
        await bot.start()
        try:
            await bot.send(LI.id, [Reply("全区情况见附件。", document=sheet, image=chart)])
        finally:
            await bot.stop()

    asyncio.run(main())
    text, photo, document = fake.sent(LI.id)
    assert text.text == "全区情况见附件。"
    assert (photo.method, photo.file_bytes) == ("sendPhoto", chart.content)
    assert document.method == "sendDocument"
    assert (document.filename, document.file_bytes) == ("新华社区台账.xlsx", sheet.content)

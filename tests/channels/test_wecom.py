"""End to end on WeCom: the adapter and its callback route, a fake WeCom API, and simulated
members whose callbacks are encrypted and signed by an independent client
(tests/wecom_client.py). SQLite and PostgreSQL.

Callbacks reach the adapter's route and the adapter reaches the fake through httpx ASGI
transports, in process; the joining-and-reporting test and the two
crash tests go over real HTTP both ways (uvicorn, the fake served on a port), as does
`huibao run` in test_wecom_run.py. Pacing and retry pauses run on a virtual clock that the
fake's member limit (WeCom's 30 a minute) also reads, so no test waits for them.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import io
import logging
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import docx
import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from bot.admin.org import create_invite
from bot.channels.server import build_server
from bot.channels.wecom.adapter import MemberPacer, WecomBot, message_key
from bot.channels.wecom.api import WecomApi
from bot.channels.wecom.callback import CallbackMessage
from bot.channels.wecom.crypto import WecomCrypto
from bot.core.conversation import Conversation
from bot.core.delivery import Delivery
from bot.core.types import Choice, Incoming, Kind, Reply, SendFailed
from bot.jobs import Worker
from bot.reminders.ladder import start_choice
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from storage import messages
from storage.db import transaction
from storage.models import Entry, ProcessedMessage, ReceivedMessage, Requirement, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, free_port, register
from tests.core.test_dialog import HAPPY_PATH
from tests.fakes.virtual_time import VirtualTime
from tests.fakes.wecom_api import FakeWecom, Sent
from tests.faults import writes_fail
from tests.reminders.test_reminders import at
from tests.wecom_client import AES_KEY, TOKEN, WecomClient, cdata, encrypt, sign

T = TypeVar("T")

LI = "lihua"
ZHOU = "zhouzhuren"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000 + b"IEND"
WECOM_LIMIT = (30, 60.0)  # messages a minute to one member, beyond which WeCom drops them
CALLBACK = "/wecom/callback"


class OnLoop(httpx.BaseTransport):
    """A synchronous transport that hands each request to an ASGI app on an event loop in
    another thread, in process (httpx has only the async ASGITransport; Starlette's
    TestClient, which does this, is deprecated with httpx)."""

    def __init__(self, app: Starlette, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app)  # an exception in the app raises here
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(send(), self._loop).result(30)


class RunningWecom:
    """The WeCom adapter on an event loop in a thread of its own.

    In process (the default), callbacks reach its route through `OnLoop`; `served` puts it
    behind uvicorn on a free port, for tests where real HTTP is the point (then give a
    started fake). Pacing and retries sleep on `virtual`, which jumps the short pauses; the
    hourly sweep waits for a test that moves the clock.
    """

    def __init__(
        self,
        conversation: Conversation,
        fake: FakeWecom,
        sessions: sessionmaker[Session],
        photos: Path,
        virtual: VirtualTime,
        *,
        served: bool = False,
        sweep_after: float = 30.0,
        sweep_every: float = 3600.0,
        answer_within: float = 3.0,
    ) -> None:
        self.virtual = virtual
        self._sweep = (sweep_every, sweep_after)
        self.bot = WecomBot(
            Delivery(conversation, "wecom"),
            api=WecomApi(
                base_url=fake.base_url,
                corp_id=fake.corp_id,
                agent_id=fake.agent_id,
                secret=fake.secret,
                client=None if served else fake.client(),
                monotonic=virtual.monotonic,
                sleep=virtual.sleep,
            ),
            crypto=WecomCrypto(TOKEN, AES_KEY, fake.corp_id),
            corp_id=fake.corp_id,
            photos_dir=photos,
            monotonic=virtual.monotonic,
            sleep=virtual.sleep,
            member_limit=WECOM_LIMIT,
            sweep_after=sweep_after,
            sweep_every=sweep_every,
            answer_within=answer_within,
        )
        self._app = build_server([self.bot.route(CALLBACK)])
        self._served = served
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(15), "the WeCom adapter did not start"
        assert self._loop is not None
        if served:
            self.url = f"http://127.0.0.1:{self._port}{CALLBACK}"
            self.http = httpx.Client(timeout=15)
        else:
            self.url = "http://huibao.test" + CALLBACK
            self.http = httpx.Client(transport=OnLoop(self._app, self._loop))

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.bot.start()
        every, after = self._sweep  # what the leading instance runs (bot.runner.lead)
        sweep = self.bot.delivery.sweep_forever(
            self.bot, every=every, after=after, sleep=self.virtual.sleep
        )
        sweeping = asyncio.create_task(sweep)
        server: uvicorn.Server | None = None
        if self._served:
            self._port = free_port()
            config = uvicorn.Config(
                self._app, host="127.0.0.1", port=self._port, log_level="warning", lifespan="off"
            )
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.01)
        self._ready.set()
        await self._stop.wait()
        if server is not None:
            server.should_exit = True
            await serving
        sweeping.cancel()
        await self.bot.stop()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the adapter's event loop (as the outbox would)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def settle(self) -> None:
        """Return when the adapter has nothing left to do: every message handled (its
        replies sent or given up) and the sweep asleep until the clock moves an hour."""

        async def idle() -> None:
            while self.bot._tasks or not self.virtual.waiting:
                await asyncio.sleep(0.005)

        self.call(idle())

    def client(self, fake: FakeWecom) -> WecomClient:
        """A member's phone: callbacks as WeCom posts them, to this adapter."""
        return WecomClient(self.url, corp_id=fake.corp_id, agent_id=fake.agent_id, http=self.http)

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self.http.close()
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


class Phone:
    """One member's chat with the app."""

    def __init__(self, fake: FakeWecom, running: RunningWecom, user: str) -> None:
        self.fake, self.running, self.user = fake, running, user
        self.client = running.client(fake)

    def mark(self) -> int:
        return len(self.fake.messages_to(self.user))

    def say(self, text: str, expect: str) -> Sent:
        mark = self.mark()
        assert self.client.text(self.user, text).status_code == 200
        return self.fake.wait_for_text(self.user, expect, since=mark)

    def press(self, label: str, expect: str) -> Sent:
        card = self.fake.card_with(self.user, label)
        key = dict(card.buttons)[label]
        mark = self.mark()
        assert card.response_code is not None
        answer = self.client.press(self.user, card.task_id, key, card.response_code)
        assert answer.status_code == 200
        return self.fake.wait_for_text(self.user, expect, since=mark)

    def photo(self, expect: str, content: bytes = PNG) -> Sent:
        media_id = self.fake.add_media(content, "image/png")
        mark = self.mark()
        assert self.client.image(self.user, media_id).status_code == 200
        return self.fake.wait_for_text(self.user, expect, since=mark)

    def transcript(self, lines: list[tuple[str, str]]) -> None:
        for said, expected in lines:
            if said.startswith("[") and said.endswith("]"):
                self.press(said[1:-1], expected)
            elif said == "<photo>":
                self.photo(expected)
            else:
                self.say(said, expected)

    def silence(self, action: Any) -> None:
        """Do something; once the adapter is done with it, the member got nothing."""
        self.running.settle()  # earlier replies landed first
        mark = self.mark()
        action()
        self.running.settle()
        assert self.fake.messages_to(self.user)[mark:] == []


REPORT = [
    ("/report", "这次活动属于哪一类工作"),
    ("[理论学习]", "活动叫什么名字"),
    ("端午主题党课", "活动是哪天办的"),
    # WeCom's CreateTime is the real time here: "今天" is in the current half-year on any
    # day, where "上周五" asks first in the opening days of January and July
    ("今天", "在哪里办的"),
    ("社区党群服务中心", "几场学习"),
    ("3场", "多少人次"),
    ("4000多人次", "做了什么"),
    ("邀请老党员讲党史故事，组织居民观看专题片。", "效果怎么样"),
    ("居民参与热情高，12人报名加入志愿队伍。", "亮点"),
    ("/skip", "照片"),
    ("<photo>", "收到第 1 张照片"),
    ("[完成]", "确认无误就保存吧"),
    ("[✅ 确认保存]", "已保存，记录编号 #"),
]


@pytest.fixture
def virtual() -> VirtualTime:
    """The adapter's and the fake's clock: pauses up to a minute pass at once."""
    return VirtualTime(jump_up_to=60.0)


@pytest.fixture
def fake(virtual: VirtualTime) -> Iterator[FakeWecom]:
    server = FakeWecom(member_limit=WECOM_LIMIT, monotonic=virtual.monotonic)
    yield server
    server.stop()
    # nothing WeCom would have cut or dropped
    assert not [m.text for m in server.sent if m.truncated]
    assert server.dropped == []


@pytest.fixture(scope="module")
def summary_kit() -> SummaryKit:
    """Loaded once, as at start (a tenth of a second or more each time)."""
    return SummaryKit.load(templates_dir() / "summary")


@pytest.fixture
def leader_conversation(
    sessions, questionnaires, clock: Clock, summary_kit: SummaryKit
) -> Conversation:
    return Conversation(
        sessions, questionnaires, "community_culture", SHANGHAI, clock, summaries=summary_kit
    )


@pytest.fixture
def running(
    leader_conversation: Conversation,
    fake: FakeWecom,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    demo_org: None,
    virtual: VirtualTime,
) -> Iterator[RunningWecom]:
    bot = RunningWecom(leader_conversation, fake, sessions, tmp_path / "photos", virtual)
    yield bot
    bot.stop()


@pytest.fixture
def served(
    leader_conversation: Conversation,
    fake: FakeWecom,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    demo_org: None,
    virtual: VirtualTime,
) -> Iterator[RunningWecom]:
    """The adapter behind uvicorn and the fake on a port: real HTTP both ways."""
    fake.start()
    bot = RunningWecom(
        leader_conversation, fake, sessions, tmp_path / "photos", virtual, served=True
    )
    yield bot
    bot.stop()


@pytest.fixture
def client(fake: FakeWecom, running: RunningWecom) -> WecomClient:
    return running.client(fake)


@pytest.fixture
def li(sessions: sessionmaker[Session], fake: FakeWecom, running: RunningWecom) -> Phone:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    return Phone(fake, running, LI)


def wecom_keys(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        return session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.platform == "wecom")
        )


# -- the dialogs --------------------------------------------------------------------------


def test_the_url_check_answers_the_decrypted_echostr(client: WecomClient) -> None:
    answer = client.verify_url("1616140317555161061")
    assert answer.status_code == 200 and answer.text == "1616140317555161061"
    assert client.verify_url("x", signature="0" * 40).status_code == 403


def test_join_report_with_buttons_and_a_photo(
    fake: FakeWecom, served: RunningWecom, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        code = create_invite(
            session,
            "demo-xinhua",
            "staff",
            uses=5,
            expires_in=timedelta(days=7),
            now=datetime.now(UTC),
        ).code
    li = Phone(fake, served, LI)
    li.say("你好", "还没有加入任何单位")
    li.say(code, "欢迎加入新华社区（工作人员）")
    li.say("李华", "李华，你已加入新华社区")
    li.transcript(REPORT[:1])
    # nine work areas: two cards (6 + 3 buttons), the numbers listed for typing
    areas = fake.wait_for_cards(LI, 2)
    assert [len(m.buttons) for m in areas] == [6, 3]
    assert "1) 理论学习" in areas[0].text and "9) " in areas[0].text
    li.transcript(REPORT[1:])
    # every pressed card shows the choice and cannot be pressed again
    pressed = fake.card_with(LI, "理论学习")
    assert pressed.updated_to == "✓ 理论学习"
    assert fake.card_with(LI, "✅ 确认保存").updated_to == "✓ ✅ 确认保存"
    with transaction(sessions) as session:
        entry = session.scalars(select(Entry)).one()
        (photo,) = entry.photos
        assert entry.title == "端午主题党课" and entry.area_name == "理论学习"
        assert photo.platform == "wecom" and photo.stored_path is not None
        assert Path(photo.stored_path).read_bytes() == PNG
        assert [m.raw for m in entry.metrics if m.question_id == "attendance"] == ["4000多人次"]


def test_typing_the_number_works_as_well_as_pressing(li: Phone) -> None:
    li.say("/report", "哪一类工作")
    li.say("4", "活动叫什么名字")  # 文体活动
    li.say("广场舞展演", "哪天")


def test_a_button_acts_once(li: Phone, fake: FakeWecom, sessions: sessionmaker[Session]) -> None:
    li.transcript(REPORT[:-1])
    confirm = fake.card_with(LI, "✅ 确认保存")
    li.press("✅ 确认保存", "已保存")
    # the same card pressed again (its response code is spent, its turn token too)
    mark = li.mark()
    key = dict(confirm.buttons)["✅ 确认保存"]
    assert li.client.press(LI, confirm.task_id, key, "RC-used").status_code == 200
    fake.wait_for_text(LI, "按钮已经失效", since=mark)
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 1


def test_the_app_menu_voice_and_entering_the_app(li: Phone, fake: FakeWecom) -> None:
    mark = li.mark()
    assert li.client.event(LI, "click", "report").status_code == 200  # menu item key "report"
    fake.wait_for_text(LI, "这次活动属于哪一类工作", since=mark)
    mark = li.mark()
    assert li.client.voice(LI).status_code == 200
    fake.wait_for_text(LI, "只能识别文字和照片", since=mark)
    li.silence(lambda: li.client.event(LI, "enter_agent"))
    li.silence(lambda: li.client.event(LI, "click", "#sendmsg#_0_0#7599826"))


def test_a_photo_over_the_download_limit(li: Phone) -> None:
    li.transcript(REPORT[:10])
    li.photo("照片太大了", content=b"\xff\xd8" + b"\x00" * (20 * 1024 * 1024 + 10))
    li.photo("收到第 1 张照片")


def test_a_photo_wecom_does_not_have_is_asked_for_again_not_retried_forever(
    li: Phone, fake: FakeWecom, client: WecomClient, sessions: sessionmaker[Session]
) -> None:
    li.transcript(REPORT[:10])
    mark = li.mark()
    answer = client.image(LI, "NO-SUCH-MEDIA")  # WeCom answers 40007 for it
    assert answer.status_code == 200  # a 503 would only make WeCom send the same again
    fake.wait_for_text(LI, "请再发一次", since=mark)
    li.photo("收到第 1 张照片")  # the interview goes on where it was


def test_a_coordinator_gets_the_summary_as_a_file(
    leader_conversation: Conversation,
    fake: FakeWecom,
    running: RunningWecom,
    sessions: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
    summary_kit: SummaryKit,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR, "wecom", ZHOU)
    play(Chat(leader_conversation, "李华", clock), HAPPY_PATH)
    # as in `huibao run`: the job worker and the outbox's sender beside the adapter
    background = Background(
        sessions,
        ReminderSettings(enabled=False),
        SHANGHAI,
        clock,
        jobs=Worker(sessions, summary_kit, tmp_path, clock),
    )
    running.call(background.start({"wecom": running.bot}))
    try:
        boss = Phone(fake, running, ZHOU)
        boss.say("/summary 和平街道 2026H1", "正在生成，请稍候")  # at once
        sent = fake.wait_for_text(ZHOU, "和平街道2026年上半年文化工作总结")
        files = fake.wait_for(lambda: [m for m in fake.messages_to(ZHOU) if m.msgtype == "file"])
    finally:
        running.call(background.stop())
    images = [m for m in fake.messages_to(ZHOU) if m.msgtype == "image"]
    assert len(files) == 1 and len(images) == 1 and sent
    upload = fake.uploads[files[0].body["media_id"]]
    assert upload.kind == "file" and upload.filename.endswith(".docx")
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(upload.content)).paragraphs)
    assert "和平街道2026年上半年文化工作总结" in body and "4000余人次" in body
    chart = fake.uploads[images[0].body["media_id"]]
    assert chart.kind == "image" and chart.content.startswith(b"\x89PNG")


def test_a_reminder_sent_by_the_outbox_arrives_with_its_button(
    li: Phone, fake: FakeWecom, running: RunningWecom
) -> None:
    reminder = Reply("本月还没有上报活动，6月30日截止。", (Choice("立即上报", "report", "1"),))
    running.call(running.bot.send_to(LI, [reminder]))
    card = fake.wait_for_text(LI, "6月30日截止")
    assert card.buttons == [("立即上报", "report")]
    mark = li.mark()
    assert card.response_code is not None
    li.client.press(LI, card.task_id, "report", card.response_code)
    fake.wait_for(lambda: fake.messages_to(LI)[mark:] or None)  # the core answered the press
    assert card.updated_to == "✓ 立即上报"


def test_pressing_a_reminders_button_starts_the_report(
    li: Phone, fake: FakeWecom, running: RunningWecom
) -> None:
    button = start_choice(Requirement.MONTHLY_ENTRY, "zh")  # as the reminders carry it
    reminder = Reply("本月还没有上报活动。", (button,))
    running.call(running.bot.send_to(LI, [reminder]))
    fake.wait_for_text(LI, "本月还没有上报活动")
    li.press(button.label, "这次活动属于哪一类工作")


def test_send_to_someone_outside_the_apps_range_fails_for_good(
    li: Phone, fake: FakeWecom, running: RunningWecom
) -> None:
    fake.known_users = {LI}
    with pytest.raises(SendFailed) as failed:
        running.call(running.bot.send_to("left-the-company", [Reply("你好")]))
    assert failed.value.permanent
    fake.fail_next("message/send", 60020)  # IP not trusted: fixable, so worth trying again
    with pytest.raises(SendFailed) as failed:
        running.call(running.bot.send_to(LI, [Reply("你好")]))
    assert not failed.value.permanent


def test_an_expired_access_token_is_fetched_again(li: Phone, fake: FakeWecom) -> None:
    li.say("/help", "/report")
    issued = fake.tokens_issued
    fake.expire_tokens()
    li.say("/mine", "还没有上报记录")
    assert fake.tokens_issued == issued + 1
    sends = [c for c in fake.calls if c.path == "message/send"]
    assert len({c.query["access_token"] for c in sends}) == 2


def test_replies_that_could_not_be_sent_go_out_later(
    li: Phone, fake: FakeWecom, running: RunningWecom, sessions: sessionmaker[Session]
) -> None:
    fake.fail_next("message/send", 60020)  # not retried at once: the sweep will
    mark = li.mark()
    assert li.client.text(LI, "/help").status_code == 200
    fake.wait_for(lambda: any(c.path == "message/send" for c in fake.calls) or None)
    running.settle()
    assert li.mark() == mark
    delivery = running.bot.delivery
    assert running.call(delivery.sweep(running.bot, after=30)) == 0  # may still be on its way
    assert running.call(delivery.sweep(running.bot, after=0)) == 1  # as if 30 s had passed
    fake.wait_for_text(LI, "/report", since=mark)
    assert running.call(delivery.sweep(running.bot, after=0)) == 0  # marked sent: once only


def test_replies_committed_before_a_crash_are_sent_at_the_next_start(
    leader_conversation: Conversation,
    fake: FakeWecom,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    demo_org: None,
    virtual: VirtualTime,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    # processed and committed, then the process died before sending
    crashed = Incoming("wecom", LI, f"{LI}/123456789", datetime.now(UTC), Kind.TEXT, "/mine")
    assert leader_conversation.process(crashed).replies
    time.sleep(0.05)  # the sweep looks at what was processed before now, by the wall clock
    fake.start()  # the restart over real HTTP
    again = RunningWecom(
        leader_conversation, fake, sessions, tmp_path, virtual, served=True, sweep_after=0
    )
    try:
        fake.wait_for_text(LI, "还没有上报记录")
        again.settle()
        assert len(fake.messages_to(LI)) == 1
    finally:
        again.stop()


def _kept(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as session:
        return list(session.scalars(select(ReceivedMessage.message_key)).all())


def test_a_callback_answered_before_it_was_processed_is_kept_until_it_is(
    leader_conversation: Conversation,
    fake: FakeWecom,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    demo_org: None,
    virtual: VirtualTime,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    running = RunningWecom(
        leader_conversation, fake, sessions, tmp_path, virtual, answer_within=0.2
    )
    hold = asyncio.Lock()
    try:

        async def busy() -> None:  # the member's earlier message is still being handled
            await hold.acquire()
            running.bot._locks[LI] = hold

        running.call(busy())
        client = running.client(fake)
        assert client.text(LI, "/mine").status_code == 200  # answered after 0.2 s
        assert fake.messages_to(LI) == []  # not processed yet
        assert len(_kept(sessions)) == 1  # WeCom will not call again: kept
        running.call(_release(hold))
        fake.wait_for_text(LI, "还没有上报记录")
        fake.wait_for(lambda: not _kept(sessions) or None, 5)  # processed: forgotten
    finally:
        running.stop()


async def _release(lock: asyncio.Lock) -> None:
    lock.release()


def test_a_callback_answered_but_not_processed_before_a_crash_is_processed_at_the_next_start(
    leader_conversation: Conversation,
    fake: FakeWecom,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    demo_org: None,
    virtual: VirtualTime,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    # answered and kept; the process died before processing it
    message = CallbackMessage(fake.corp_id, LI, int(time.time()), "text", "8765", "/mine")
    with transaction(sessions) as session:
        messages.keep_received(
            session, "wecom", message_key(message), dataclasses.asdict(message), datetime.now(UTC)
        )
    time.sleep(0.05)  # the sweep looks at what was kept before now, by the wall clock
    fake.start()  # the restart over real HTTP
    again = RunningWecom(
        leader_conversation, fake, sessions, tmp_path, virtual, served=True, sweep_after=0
    )
    try:
        fake.wait_for_text(LI, "还没有上报记录")
        fake.wait_for(lambda: not _kept(sessions) or None, 5)
        again.settle()
        assert len(fake.messages_to(LI)) == 1  # once
    finally:
        again.stop()


# -- pacing ------------------------------------------------------------------------------


def test_a_burst_to_one_member_is_spread_and_nothing_is_dropped(
    leader_conversation: Conversation, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """WeCom drops what goes past 30 a minute per member; the minutes here are virtual."""
    virtual = VirtualTime()
    strict = FakeWecom(member_limit=(30, 60.0), monotonic=virtual.monotonic)

    async def burst(paced: bool) -> float:
        api = WecomApi(
            base_url=strict.base_url,
            corp_id=strict.corp_id,
            agent_id=strict.agent_id,
            secret=strict.secret,
            client=strict.client(),
            monotonic=virtual.monotonic,
            sleep=virtual.sleep,
        )
        bot = WecomBot(
            Delivery(leader_conversation, "wecom"),
            api=api,
            crypto=WecomCrypto(TOKEN, AES_KEY, strict.corp_id),
            corp_id=strict.corp_id,
            photos_dir=tmp_path,
            monotonic=virtual.monotonic,
            sleep=virtual.sleep,
        )
        started = virtual.now
        replies = [Reply(f"第{i}条提醒") for i in range(45)]
        if paced:
            await virtual.run(bot.send_to(LI, replies))
        else:  # the same messages straight to the API, as an unpaced sender would
            for reply in replies:
                await api.send_message(LI, "text", {"content": reply.text})
        elapsed = virtual.now - started
        await bot.stop()
        return elapsed

    async def both() -> None:
        assert await burst(paced=False) == 0.0
        assert len(strict.dropped) == 15  # the fake drops like WeCom
        strict.sent.clear()
        strict.dropped.clear()
        await virtual.advance(60.0)
        assert await burst(paced=True) == pytest.approx(120.0)
        assert strict.dropped == []
        sent = strict.messages_to(LI)
        assert [m.text for m in sent] == [f"第{i}条提醒" for i in range(45)]  # all, in order
        # 15 at once, then one every 4 s (15 a minute): 30 more take 2 minutes
        offsets = [m.at - sent[0].at for m in sent]
        assert offsets == pytest.approx([0.0] * 15 + [4.0 * n for n in range(1, 31)])

    asyncio.run(both())


def test_the_pacer_keeps_each_member_under_30_a_minute_and_1000_an_hour() -> None:
    """The leaky bucket's promise (MemberPacer's docstring), over an hour and more."""
    virtual = VirtualTime()
    pacer = MemberPacer(monotonic=virtual.monotonic, sleep=virtual.sleep)

    async def send(member: str, count: int) -> list[float]:
        times = []
        for _ in range(count):
            await pacer.wait(member)
            times.append(virtual.now)
        return times

    async def both() -> tuple[list[float], list[float]]:
        mine = await virtual.run(send(LI, 1000))
        return mine, await asyncio.wait_for(send(ZHOU, 15), 1)  # another member: no wait

    times, other = asyncio.run(both())
    assert other == [times[-1]] * 15

    def most_within(window: float) -> int:
        return max(bisect.bisect_right(times, t + window) - i for i, t in enumerate(times))

    # WeCom counts windows closed at one end; the pacer stays under it even closed at both
    assert most_within(60.0) == 30 and most_within(3600.0) <= 915
    assert times[-1] == pytest.approx((1000 - 15) * 4.0)  # and sends as fast as that allows


# -- security -----------------------------------------------------------------------------


def test_forged_stale_replayed_and_malformed_callbacks_have_no_effect(
    li: Phone, fake: FakeWecom, client: WecomClient, sessions: sessionmaker[Session]
) -> None:
    def refused(answer: httpx.Response, status: int) -> None:
        assert answer.status_code == status, answer.text
        li.running.settle()
        assert wecom_keys(sessions) == 0 and fake.messages_to(LI) == []

    inner = client.inner(LI, "text", "<Content><![CDATA[/help]]></Content><MsgId>42</MsgId>")
    refused(client.post(inner, signature="0" * 40), 403)  # bad signature
    refused(client.post(inner, to_user="wwsomeotherco"), 403)  # another corp's envelope
    refused(client.post(inner, receive_id="wwsomeotherco"), 403)  # encrypted for another
    now = int(time.time())
    refused(client.post(inner, timestamp=now - 3600), 403)  # stale
    refused(client.post(inner, timestamp=now + 3600), 403)  # from the future
    refused(client.post(inner, body=b"<xml><Encrypt>abc"), 400)  # malformed XML
    refused(client.post("not xml at all"), 400)  # malformed inside, properly signed
    refused(client.post(inner, body=b"<xml>" + b" " * 70_000 + b"</xml>"), 413)  # oversized
    refused(client.http.post(client.url, content=b"<xml/>"), 400)  # no signature at all
    # the same message twice (WeCom's retry, or a replay): one effect
    assert client.text(LI, "/report", msg_id=4242).status_code == 200
    assert client.text(LI, "/report", msg_id=4242).status_code == 200
    fake.wait_for_text(LI, "这次活动属于哪一类工作")
    li.running.settle()
    asked = [m for m in fake.messages_to(LI) if "1) 理论学习" in m.text]
    assert len(asked) == 1 and wecom_keys(sessions) == 1


def test_secrets_never_reach_the_logs(
    li: Phone, fake: FakeWecom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    li.transcript(REPORT[:3])
    li.photo("哪天办的")  # not expected here: a clear reply, and a media/get call
    fake.expire_tokens()
    li.say("/help", "/report")
    fake.fail_next("message/send", -1)  # busy: retried, with a warning
    li.say("/mine", "还没有上报记录")
    logged = caplog.text
    assert "access_token=***" in logged  # httpx's request lines were there, masked
    for secret in (fake.secret, TOKEN, AES_KEY, *fake.issued_tokens):
        assert secret not in logged


def test_the_reminder_tick_reaches_a_member_on_wecom_and_its_button_starts_the_review(
    li: Phone,
    fake: FakeWecom,
    running: RunningWecom,
    sessions: sessionmaker[Session],
    clock: Clock,
) -> None:
    # The half-year review is due 25 June 18:00; on Monday 22 June (the Dragon Boat holiday,
    # 19-21 June, holds reminders) its 7-day step is the current one.
    clock.now = at("2026-06-22 10:00")
    background = Background(sessions, ReminderSettings(tick_seconds=3600), SHANGHAI, clock)
    running.call(background.start({"wecom": running.bot}))  # ticks at once, as `huibao run`
    try:
        fake.wait_for_text(LI, "请在 2026年6月25日（周四） 18:00 前完成半年回顾")
        # the long text goes first, then a card with the button
        fake.wait_for(lambda: next((m for m in fake.messages_to(LI) if m.buttons), None), 10)
        li.press("✍️ 开始回顾", "你觉得工作中还有哪些不足")
        running.call(background._tick_job())  # a second tick in the same step sends nothing
    finally:
        running.call(background.stop())
    reminders = [m for m in fake.sent if m.user == LI and "完成半年回顾" in m.text]
    assert len(reminders) == 1


# -- events in the same second ------------------------------------------------------------


def test_two_menu_clicks_in_the_same_second_both_count_and_a_retry_once(
    li: Phone, fake: FakeWecom, sessions: sessionmaker[Session]
) -> None:
    second = int(time.time())
    assert li.client.event(LI, "click", "mine", created=second).status_code == 200
    fake.wait_for_text(LI, "还没有上报记录")
    mark = li.mark()
    assert li.client.event(LI, "click", "help", created=second).status_code == 200
    fake.wait_for_text(LI, "/report", since=mark)
    li.silence(lambda: li.client.event(LI, "click", "help", created=second))  # WeCom's retry
    assert wecom_keys(sessions) == 2


def test_two_buttons_of_one_card_pressed_in_the_same_second_both_count(
    li: Phone, fake: FakeWecom, running: RunningWecom, sessions: sessionmaker[Session]
) -> None:
    menu = Reply("想做什么？", (Choice("我的记录", "/mine"), Choice("帮助", "/help")))
    running.call(running.bot.send_to(LI, [menu]))
    card = fake.wait_for_text(LI, "想做什么")
    assert card.response_code is not None
    second = int(time.time())
    mark = li.mark()
    mine = li.client.press(LI, card.task_id, "/mine", card.response_code, created=second)
    assert mine.status_code == 200
    fake.wait_for_text(LI, "还没有上报记录", since=mark)
    mark = li.mark()
    assert li.client.press(LI, card.task_id, "/help", "RC-2", created=second).status_code == 200
    fake.wait_for_text(LI, "/report", since=mark)
    # WeCom's retry of the second press: the same event, once
    li.silence(lambda: li.client.press(LI, card.task_id, "/help", "RC-2", created=second))
    assert wecom_keys(sessions) == 2


# -- the database failing -----------------------------------------------------------------


def test_a_callback_the_database_cannot_store_gets_503_and_its_redelivery_counts_once(
    li: Phone, fake: FakeWecom, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    inner = li.client.inner(LI, "text", "<Content>/mine</Content><MsgId>5150</MsgId>")
    with writes_fail(engine):  # a full disk: reads work, nothing can be written
        assert li.client.post(inner).status_code == 503  # WeCom will deliver it again
        li.running.settle()
        assert fake.messages_to(LI) == [] and _kept(sessions) == []
    assert li.client.post(inner).status_code == 200  # the disk has room: WeCom's retry
    fake.wait_for_text(LI, "还没有上报记录")
    li.silence(lambda: li.client.post(inner))  # and its third try: once
    assert wecom_keys(sessions) == 1 and _kept(sessions) == []


def test_a_slow_callback_that_cannot_be_kept_gets_503_as_does_its_retry_meanwhile(
    leader_conversation: Conversation,
    fake: FakeWecom,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    demo_org: None,
    virtual: VirtualTime,
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    running = RunningWecom(
        leader_conversation, fake, sessions, tmp_path, virtual, answer_within=0.2
    )
    hold = asyncio.Lock()
    try:

        async def busy() -> None:  # the member's earlier message is still being handled
            await hold.acquire()
            running.bot._locks[LI] = hold

        running.call(busy())
        client = running.client(fake)
        inner = client.inner(LI, "text", "<Content>/mine</Content><MsgId>5152</MsgId>")
        with writes_fail(engine):
            assert client.post(inner).status_code == 503  # not kept: was a 500
            assert client.post(inner).status_code == 503  # WeCom's retry, still in flight
            running.call(_release(hold))
            fake.wait_for(lambda: not running.bot._in_flight or None, 5)
        assert fake.messages_to(LI) == [] and _kept(sessions) == []
        assert client.post(inner).status_code == 200  # the disk has room again
        fake.wait_for_text(LI, "还没有上报记录")
        running.settle()
        assert len(fake.messages_to(LI)) == 1 and wecom_keys(sessions) == 1
    finally:
        running.stop()


def test_a_failure_that_passes_is_tried_again_at_once_and_one_that_stays_gets_the_sorry(
    li: Phone, fake: FakeWecom, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with writes_fail(engine, times=1):  # a lost race, a deadlock: the next try works
        li.say("/mine", "还没有上报记录")
    assert not [m for m in fake.messages_to(LI) if "出了问题" in m.text]
    with writes_fail(engine, table="processed_messages"):  # a fault that stays
        li.say("/help", "处理这条消息时出了问题")
    li.running.settle()
    assert _kept(sessions) == []  # let go, not tried again and again


# -- hostile callbacks --------------------------------------------------------------------


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, running: RunningWecom) -> pytest.LogCaptureFixture:
    """Every log record (an exception the route lets out fails the request in the test:
    the in-process transport raises it)."""
    caplog.set_level(logging.INFO)
    return caplog


def _refusals(logs: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in logs.records
        if r.name == "bot.channels.wecom.adapter" and r.levelname == "WARNING"
    ]


def _tracebacks(logs: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in logs.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"timestamp": "9" * 400}, 400),  # was a 500 with a traceback
        ({"timestamp": "1.7e9"}, 400),
        ({"timestamp": "１７００"}, 400),  # full-width digits
        ({"timestamp": "9" * 13}, 400),
        ({"nonce": "n" * 5000}, 400),
        ({"nonce": "a b"}, 400),
        ({"msg_signature": "0" * 39}, 400),
        ({"msg_signature": "z" * 40}, 400),
        ({"msg_signature": "签" * 40}, 400),
        ({"timestamp": ""}, 400),
        ({"timestamp": "1"}, 403),  # well formed, but 1970
    ],
    ids=[
        "timestamp-400-digits",
        "timestamp-float",
        "timestamp-fullwidth",
        "timestamp-13-digits",
        "nonce-5000",
        "nonce-space",
        "signature-short",
        "signature-not-hex",
        "signature-chinese",
        "timestamp-empty",
        "timestamp-1970",
    ],
)
def test_a_malformed_timestamp_nonce_or_signature_is_refused_cleanly(
    li: Phone,
    fake: FakeWecom,
    sessions: sessionmaker[Session],
    logs: pytest.LogCaptureFixture,
    query: dict[str, str],
    status: int,
) -> None:
    inner = li.client.inner(LI, "text", "<Content>/help</Content><MsgId>77</MsgId>")
    stamp, nonce = query.get("timestamp", str(int(time.time()))), query.get("nonce", "12345")
    encrypted = encrypt(AES_KEY, inner, fake.corp_id)
    params = {
        "msg_signature": query.get("msg_signature", sign(TOKEN, stamp, nonce, encrypted)),
        "timestamp": stamp,
        "nonce": nonce,
    }
    envelope = f"<xml><ToUserName>{fake.corp_id}</ToUserName><Encrypt>{encrypted}</Encrypt></xml>"
    posted = li.client.http.post(li.client.url, params=params, content=envelope.encode())
    checked = li.client.http.get(li.client.url, params={**params, "echostr": encrypted})
    assert (posted.status_code, checked.status_code) == (status, status)
    assert len(_refusals(logs)) == 2  # one warning line each
    assert _tracebacks(logs) == []
    li.running.settle()
    assert wecom_keys(sessions) == 0 and fake.messages_to(LI) == []


def test_an_envelope_for_another_app_is_refused(
    li: Phone, fake: FakeWecom, sessions: sessionmaker[Session], logs: pytest.LogCaptureFixture
) -> None:
    inner = li.client.inner(LI, "text", "<Content>/help</Content><MsgId>78</MsgId>")
    assert li.client.post(inner, agent_id=str(fake.agent_id + 1)).status_code == 403
    assert li.client.post(inner, agent_id="0" + str(fake.agent_id)).status_code == 403
    assert len(_refusals(logs)) == 2 and _tracebacks(logs) == []
    li.running.settle()
    assert wecom_keys(sessions) == 0 and fake.messages_to(LI) == []


def _inner(corp: str, agent: int, **fields: str) -> str:
    """A decrypted message with these elements (a value of "" leaves the element out)."""
    base = {
        "ToUserName": corp,
        "FromUserName": LI,
        "CreateTime": str(int(time.time())),
        "MsgType": "text",
        "Content": "/help",
        "MsgId": "9001",
        "AgentID": str(agent),
    }
    base.update(fields)
    return "<xml>" + "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in base.items() if v) + "</xml>"


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    "<xml><ToUserName>x</ToUserName><FromUserName>&c;</FromUserName></xml>"
)


@pytest.mark.parametrize(
    ("case", "status", "reply"),
    [
        ("wrong root inside", 400, None),
        ("wrong root outside", 400, None),
        ("no FromUserName", 400, None),
        ("no MsgType", 400, None),
        ("no CreateTime", 400, None),
        ("a CreateTime of 5000 digits", 400, None),  # was a 500
        ("a CreateTime of 400 digits", 400, None),  # was a traceback and silence
        ("a FromUserName of 5000 characters", 400, None),
        ("a FromUserName with a slash", 400, None),
        ("an AgentID of 5000 digits", 403, None),
        ("entity expansion", 400, None),
        ("not UTF-8", 400, None),
        ("an empty Encrypt", 400, None),
        ("an Encrypt that is not base64", 403, None),
        ("an unknown MsgType", 200, None),
        ("an unknown event", 200, None),
        ("a MsgId of 10000 characters", 200, "/report"),
        ("a Content of 13000 characters", 200, "这条消息太长了"),
        ("a button key of 30000 characters", 200, "这条消息太长了"),
    ],
)
def test_hostile_xml_is_answered_2xx_or_4xx_never_500(
    li: Phone,
    fake: FakeWecom,
    logs: pytest.LogCaptureFixture,
    case: str,
    status: int,
    reply: str | None,
) -> None:
    corp, agent, client = fake.corp_id, fake.agent_id, li.client
    inner = {
        "wrong root inside": _inner(corp, agent).replace("xml>", "message>"),
        "no FromUserName": _inner(corp, agent, FromUserName=""),
        "no MsgType": _inner(corp, agent, MsgType=""),
        "no CreateTime": _inner(corp, agent, CreateTime=""),
        "a CreateTime of 5000 digits": _inner(corp, agent, CreateTime="9" * 5000),
        "a CreateTime of 400 digits": _inner(corp, agent, CreateTime="9" * 400),
        "a FromUserName of 5000 characters": _inner(corp, agent, FromUserName="u" * 5000),
        "a FromUserName with a slash": _inner(corp, agent, FromUserName="lihua/../x"),
        "an AgentID of 5000 digits": _inner(corp, agent, AgentID="1" * 5000),
        "entity expansion": LAUGHS,
        "an unknown MsgType": _inner(corp, agent, MsgType="hologram"),
        "an unknown event": _inner(corp, agent, MsgType="event", Event="x" * 3000, MsgId=""),
        "a MsgId of 10000 characters": _inner(corp, agent, MsgId="7" * 10_000),
        "a Content of 13000 characters": _inner(corp, agent, Content="字" * 13_000),
        "a button key of 30000 characters": _inner(
            corp,
            agent,
            MsgType="event",
            Event="template_card_event",
            EventKey="k" * 30_000,
            TaskId="hb-unknown",
            ResponseCode="RC-x",
            MsgId="",
        ),
    }.get(case, _inner(corp, agent))
    if case in (
        "wrong root outside",
        "not UTF-8",
        "an empty Encrypt",
        "an Encrypt that is not base64",
    ):
        stamp, nonce = str(int(time.time())), "4242"
        encrypted = {"an empty Encrypt": "", "an Encrypt that is not base64": "不是base64"}.get(
            case, encrypt(AES_KEY, inner, corp)
        )
        body = {
            "wrong root outside": f"<message><Encrypt>{encrypted}</Encrypt></message>".encode(),
            "not UTF-8": b"<xml><Encrypt>\xff\xfe" + encrypted.encode() + b"</Encrypt></xml>",
        }.get(
            case,
            f"<xml><ToUserName>{corp}</ToUserName><Encrypt>{encrypted}</Encrypt></xml>".encode(),
        )
        params = {
            "msg_signature": sign(TOKEN, stamp, nonce, encrypted),
            "timestamp": stamp,
            "nonce": nonce,
        }
        answer = client.http.post(client.url, params=params, content=body)
    else:
        answer = client.post(inner)
    assert answer.status_code == status, answer.text
    if reply is not None:
        fake.wait_for_text(LI, reply)
    li.running.settle()
    assert _tracebacks(logs) == []
    assert len(_refusals(logs)) == (1 if status >= 400 else 0)

"""End to end on WeCom's intelligent robot: the channel on its long connection to a fake
WeCom WebSocket server on 127.0.0.1 (tests/fakes/wecom_ws.py), the core, SQLite and
PostgreSQL. Time is virtual: pauses, heartbeats, pacing and WeCom's deadlines move only
when a test advances the clock."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import docx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.org import create_invite
from bot.channels.wecom_bot.channel import KEPT, WecomRobot
from bot.channels.wecom_bot.link import State
from bot.core.conversation import Conversation
from bot.core.delivery import Delivery
from bot.core.types import Choice, Reply, SendFailed
from bot.jobs import Worker
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from storage import messages
from storage.db import transaction
from storage.models import Entry, ProcessedMessage, ReceivedMessage, RoleName
from tests.channels.test_wecom import PNG, REPORT
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.core.test_dialog import HAPPY_PATH
from tests.fakes.virtual_time import VirtualTime, settle
from tests.fakes.wecom_ws import FakeRobot, Shown
from tests.reminders.test_reminders import at

LI = "lihua"
ZHOU = "zhouzhuren"


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


class Robot:
    """The channel connected to a fake WeCom, on one virtual clock."""

    def __init__(
        self,
        conversation: Conversation,
        sessions: sessionmaker[Session],
        photos: Path,
        clock: Clock,
        *,
        fake: FakeRobot | None = None,
        time: VirtualTime | None = None,
        secret: str | None = None,
        wait_online: bool = True,
        **options: Any,
    ) -> None:
        self.time = time or VirtualTime()
        self.fake = fake or FakeRobot(time=self.time)
        self._own_fake = fake is None
        self._wait = wait_online
        self._args = (conversation, sessions, photos, clock, secret, options)

    async def __aenter__(self) -> Robot:
        if self._own_fake:
            await self.fake.__aenter__()
        conversation, _sessions, photos, clock, secret, options = self._args
        self.channel = WecomRobot(
            Delivery(conversation, "wecom", kept_as=KEPT),
            url=self.fake.url,
            bot_id=self.fake.bot_id,
            secret=secret or self.fake.secret,
            photos_dir=photos,
            clock=clock,
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
            jitter=lambda: 0.5,  # no jitter: the pauses are the backoff's own
            **options,
        )
        await self.channel.start()
        if self._wait:
            await self.online()
        return self

    async def online(self) -> None:
        await self.fake.wait_for(lambda: self.channel.state is State.ONLINE and self.fake.online)
        await settle()

    async def quiet(self) -> None:
        """Return when the channel has read every frame sent so far and finished with them
        (in place of waiting a while to see that nothing more happens)."""
        connection = self.fake.current
        if connection is not None and self.fake.online:
            await (await connection.ping())  # frames are read in order: all were read
        await settle()
        while self.channel._tasks:
            await asyncio.wait(set(self.channel._tasks))
            await settle()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.channel.stop()
        if self._own_fake:
            await self.fake.__aexit__(kind, error, trace)


class Person:
    """One person's chat with the robot."""

    def __init__(self, fake: FakeRobot, user: str) -> None:
        self.fake, self.user = fake, user

    def mark(self) -> int:
        return len(self.fake.shown_to(self.user))

    async def say(self, text: str, expect: str) -> Shown:
        mark = self.mark()
        await self.fake.say(self.user, text)
        return await self.fake.wait_for_text(self.user, expect, since=mark)

    async def press(self, label: str, expect: str) -> Shown:
        card = await self.fake.wait_for(lambda: self.fake.find_card(self.user, label))
        mark = self.mark()
        await self.fake.press(self.user, card, label)
        return await self.fake.wait_for_text(self.user, expect, since=mark)

    async def photo(self, expect: str, content: bytes = PNG) -> Shown:
        mark = self.mark()
        await self.fake.send_image(self.user, content)
        return await self.fake.wait_for_text(self.user, expect, since=mark)

    async def transcript(self, lines: list[tuple[str, str]]) -> None:
        for said, expected in lines:
            if said.startswith("[") and said.endswith("]"):
                await self.press(said[1:-1], expected)
            elif said == "<photo>":
                await self.photo(expected)
            else:
                await self.say(said, expected)


@pytest.fixture
def conversation(
    sessions: sessionmaker[Session], questionnaires: Any, clock: Clock, demo_org: None
) -> Conversation:
    return Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)


@pytest.fixture
def make(
    conversation: Conversation, sessions: sessionmaker[Session], tmp_path: Path, clock: Clock
) -> Callable[..., Robot]:
    def robot(**options: Any) -> Robot:
        return Robot(conversation, sessions, tmp_path / "photos", clock, **options)

    return robot


def keys(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ProcessedMessage)
                .where(ProcessedMessage.platform == "wecom")
            )
            or 0
        )


def kept(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as session:
        return list(session.scalars(select(ReceivedMessage.message_key)).all())


def entries(sessions: sessionmaker[Session]) -> list[Entry]:
    with transaction(sessions) as session:
        found = list(session.scalars(select(Entry)).all())
        for entry in found:
            _ = entry.photos, entry.metrics
        return found


# -- the dialogs --------------------------------------------------------------------------


def test_join_with_an_invite_report_with_cards_and_a_photo(
    make: Callable[..., Robot], sessions: sessionmaker[Session], clock: Clock
) -> None:
    with transaction(sessions) as session:
        code = create_invite(
            session,
            "demo-xinhua",
            "staff",
            uses=5,
            expires_in=timedelta(days=7),
            now=clock(),
        ).code

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            li = Person(fake, LI)
            await li.say("你好", "还没有加入任何单位")
            await li.say(code, "欢迎加入新华社区（工作人员）")
            await li.say("李华", "李华，你已加入新华社区")
            await li.transcript(REPORT[:1])

            # nine work areas: two cards (6 + 3 buttons), the numbers listed for typing
            def cards() -> list[Shown]:
                found = [s for s in fake.shown_to(LI) if s.buttons]
                return found if len(found) >= 2 else []

            areas = (await fake.wait_for(cards))[-2:]
            assert [len(s.buttons) for s in areas] == [6, 3]
            assert "1) 理论学习" in areas[0].text and "9) " in areas[0].text
            await li.transcript(REPORT[1:])
            # each press turned its card into the choice, with nothing left to press
            assert fake.card_with(LI, "理论学习").updated_to == ["✓ 理论学习"]
            assert fake.card_with(LI, "✅ 确认保存").updated_to == ["✓ ✅ 确认保存"]
            # answers to messages went on their req_id; answers to presses were written
            assert {s.via for s in fake.shown_to(LI)} == {"reply", "push"}
            assert fake.problems == [] and fake.dropped == []

    run(scenario)
    (entry,) = entries(sessions)
    (photo,) = entry.photos
    assert entry.title == "端午主题党课" and entry.area_name == "理论学习"
    assert photo.platform == "wecom" and photo.stored_path is not None
    assert Path(photo.stored_path).read_bytes() == PNG  # downloaded and decrypted
    assert [m.raw for m in entry.metrics if m.question_id == "attendance"] == ["4000多人次"]


def _unsent(sessions: sessionmaker[Session]) -> list[str]:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        found = messages.unsent_since(
            session,
            "wecom",
            processed_before=now + timedelta(minutes=1),
            processed_after=now - timedelta(days=1),
        )
    return [key for key, _replies in found]


def test_entering_the_chat_gets_the_welcome_in_time_or_written(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    async def scenario() -> None:
        async with make() as robot:
            await robot.fake.enter("newcomer")
            welcome = await robot.fake.wait_for_text("newcomer", "还没有加入任何单位")
            assert welcome.via == "welcome" and welcome.msgtype == "text"
            # shown, and its acknowledgement counted: nothing is left to send again later
            for _ in range(500):
                if not _unsent(sessions):
                    break
                await asyncio.sleep(0.01)
            assert not _unsent(sessions)
        # WeCom allows 5 s for a welcome: later, it is written instead
        async with make(event_reply_within=0.0) as robot:
            await robot.fake.enter("newcomer")
            late = await robot.fake.wait_for_text("newcomer", "还没有加入任何单位")
            assert late.via == "push" and robot.fake.problems == []

    run(scenario)


def test_a_reminder_from_the_tick_arrives_with_its_button(
    make: Callable[..., Robot], sessions: sessionmaker[Session], clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    # The half-year review is due 25 June 18:00; on Monday 22 June (the Dragon Boat holiday,
    # 19-21 June, holds reminders) its 7-day step is the current one.
    clock.now = at("2026-06-22 10:00")

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            li = Person(fake, LI)
            await li.say("/help", "/report")  # people write to the robot before it writes
            background = Background(sessions, ReminderSettings(tick_seconds=3600), SHANGHAI, clock)
            await background.start({"wecom": robot.channel})  # ticks at once
            try:
                reminder = await fake.wait_for_text(LI, "前完成半年回顾")
                assert reminder.via == "push"
                await li.press("✍️ 开始回顾", "你觉得工作中还有哪些不足")
                await background._tick_job()  # a second tick in the same step sends nothing
                await settle()
            finally:
                await background.stop()
            assert len([s for s in fake.shown_to(LI) if "前完成半年回顾" in s.text]) == 1
            assert fake.problems == []

    run(scenario)


def test_a_coordinator_gets_the_summary_as_a_docx(
    sessions: sessionmaker[Session],
    questionnaires: Any,
    clock: Clock,
    demo_org: None,
    tmp_path: Path,
) -> None:
    kit = SummaryKit.load(templates_dir() / "summary")
    leader = Conversation(
        sessions, questionnaires, "community_culture", SHANGHAI, clock, summaries=kit
    )
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR, "wecom", ZHOU)
    play(Chat(leader, "李华", clock), HAPPY_PATH)

    async def scenario() -> None:
        async with Robot(leader, sessions, tmp_path / "photos", clock) as robot:
            fake = robot.fake
            # as in `huibao run`: the job worker and the outbox's sender beside the channel
            worker = Worker(sessions, kit, tmp_path / "data", clock)
            background = Background(
                sessions, ReminderSettings(enabled=False), SHANGHAI, clock, jobs=worker
            )
            await background.start({"wecom": robot.channel})
            try:
                boss = Person(fake, ZHOU)
                await boss.say("/summary 和平街道 2026H1", "正在生成，请稍候")  # at once
                await fake.wait_for_text(ZHOU, "和平街道2026年上半年文化工作总结")
                files = await fake.wait_for(
                    lambda: [s for s in fake.shown_to(ZHOU) if s.msgtype == "file"]
                )
            finally:
                await background.stop()
            media = fake.media[files[0].body["file"]["media_id"]]
            assert media.kind == "file" and media.filename.endswith(".docx")
            document = docx.Document(io.BytesIO(media.content))
            body = "\n".join(p.text for p in document.paragraphs)
            assert "和平街道2026年上半年文化工作总结" in body
            assert fake.problems == []

    run(scenario)


# -- nothing lost, nothing twice ----------------------------------------------------------


def test_a_drop_in_the_middle_of_a_report_loses_nothing_and_counts_nothing_twice(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            li = Person(fake, LI)
            await li.transcript(REPORT[:4])  # ... "上周五" -> "在哪里办的"
            before = keys(sessions)
            mark = li.mark()
            # the answer reaches the robot, and the connection fails right behind it
            frame = await fake.say(LI, "社区党群服务中心")
            await fake.drop()
            # processed and committed; its answer cannot go out on a closed connection
            await fake.wait_for(lambda: keys(sessions) == before + 1)
            await asyncio.sleep(0.2)
            await settle()
            assert li.mark() == mark and robot.channel.state is not State.ONLINE
            await robot.time.advance(1.0)  # the first pause before connecting again
            await robot.online()
            question = await fake.wait_for_text(LI, "几场学习", since=mark)
            assert question.via == "push"
            # WeCom delivering the same frame again on the new connection changes nothing
            await fake.send(frame)
            await robot.quiet()
            await li.transcript(REPORT[5:])
            assert robot.channel.connector.pauses == [1.0]
            assert fake.problems == []

    run(scenario)
    (entry,) = entries(sessions)
    assert entry.title == "端午主题党课" and entry.location == "社区党群服务中心"
    assert kept(sessions) == []


def test_a_frame_kept_before_a_crash_is_processed_once_at_the_next_connection(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    body = {
        "msgid": "msgkeptbeforecrash",
        "chattype": "single",
        "from": {"userid": LI},
        "msgtype": "text",
        "text": {"content": "/mine"},
    }
    with transaction(sessions) as session:  # received, kept, then the process died
        messages.keep_received(
            session,
            KEPT,
            f"{LI}/msgkeptbeforecrash",
            {"cmd": "aibot_msg_callback", "body": body},
            datetime.now(UTC),
        )

    async def scenario() -> None:
        time = VirtualTime()
        async with FakeRobot(time=time) as fake:
            fake.known_chats.add(LI)
            async with make(fake=fake, time=time):
                shown = await fake.wait_for_text(LI, "还没有上报记录")
                assert shown.via == "push"
                await fake.wait_for(lambda: kept(sessions) == [])
            async with make(fake=fake, time=time) as again:  # the next start: nothing again
                await again.quiet()
            assert len(fake.shown_to(LI)) == 1 and fake.problems == []

    run(scenario)
    assert keys(sessions) == 1


def test_a_duplicated_frame_counts_once(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            frame = await fake.say(LI, "/report")
            await fake.send(frame)  # the same message twice, each on a req_id of its own
            await fake.wait_for_text(LI, "这次活动属于哪一类工作")
            await robot.quiet()
            answered = len(fake.shown_to(LI))
            await fake.send(frame)  # and once more after it was answered
            await robot.quiet()
            assert len(fake.shown_to(LI)) == answered and fake.problems == []
            assert len([s for s in fake.shown_to(LI) if "理论学习" in dict(s.buttons)]) == 1

    run(scenario)
    assert keys(sessions) == 1


# -- bad input ----------------------------------------------------------------------------


def test_frames_with_unknown_fields_or_types_and_malformed_frames(
    make: Callable[..., Robot], sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            li = Person(fake, LI)
            # fields WeCom may add one day are ignored
            frame = fake._body(LI, "text")
            frame["text"] = {"content": "/help", "lang": "zh"}
            frame["quote"] = {"msgtype": "text", "text": {"content": "以前的话"}}
            frame["future_field"] = {"anything": [1, 2, 3]}
            mark = li.mark()
            await fake.send(frame)
            await fake.wait_for_text(LI, "/report", since=mark)
            # a message of a type nobody knows yet, a file, a spoken message
            hologram = fake._body(LI, "hologram")
            hologram["hologram"] = {"url": "https://example.invalid/x"}
            mark = li.mark()
            await fake.send(hologram)
            await fake.wait_for_text(LI, "只能识别文字和照片", since=mark)
            mark = li.mark()
            await fake.send_file(LI, b"%PDF-1.4 minutes of the meeting")
            await fake.wait_for_text(LI, "只能识别文字和照片", since=mark)
            voice = fake._body(LI, "voice")
            voice["voice"] = {"content": "/mine"}
            mark = li.mark()
            await fake.send(voice)
            await fake.wait_for_text(LI, "还没有上报记录", since=mark)
            # frames that are not what WeCom sends, and events nobody knows: nothing happens
            mark = li.mark()
            for raw in (
                "not json at all",
                "[1, 2, 3]",
                {"cmd": "aibot_msg_callback"},
                {"cmd": "aibot_future_cmd", "headers": {"req_id": "r1"}, "body": {}},
                {"cmd": "aibot_msg_callback", "headers": {"req_id": "r2"}, "body": {"msgid": "m"}},
                {"cmd": "aibot_msg_callback", "headers": {"req_id": 7}, "body": {}},
            ):
                await fake.send_raw(raw)
            future = fake._body(LI, "event")
            future["event"] = {"eventtype": "future_event"}
            feedback = fake._body(LI, "event")
            feedback["event"] = {"eventtype": "feedback_event", "feedback_event": {"id": "x"}}
            for event in (future, feedback):
                await fake.send_raw(
                    {"cmd": "aibot_event_callback", "headers": {"req_id": "e"}, "body": event}
                )
            await li.say("/help", "/report")  # still connected, still answering
            assert li.mark() == mark + 1
            assert robot.channel.state is State.ONLINE and len(fake.subscriptions) == 1
            assert fake.problems == []

    run(scenario)
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) >= 6


def test_a_connection_closed_in_the_middle_of_a_frame_reconnects(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            await fake.drop_mid_frame()
            await fake.wait_for(lambda: robot.channel.state is State.WAITING)
            assert robot.channel.connector.pauses == [1.0]
            await robot.time.advance(1.0)
            await robot.online()
            assert fake.subscriptions == [True, True]
            await Person(fake, LI).say("/help", "/report")
            assert fake.problems == []

    run(scenario)
    assert keys(sessions) == 1  # the half frame was never taken for a message


# -- the connection -----------------------------------------------------------------------


def test_wrong_credentials_are_named_retried_with_backoff_and_the_process_stays_up(
    make: Callable[..., Robot], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "the-wrong-secret-4711"

    async def scenario() -> None:
        async with make(secret=secret, wait_online=False) as robot:
            fake, connector = robot.fake, robot.channel.connector
            await fake.wait_for(lambda: connector.pauses == [30.0])
            assert robot.channel.state is State.AUTH_FAILED
            await robot.time.advance(30.0)
            await fake.wait_for(lambda: connector.pauses == [30.0, 60.0])
            # the operator fixes the secret on WeCom's side; the next try gets through
            fake.accepted_secret = secret
            await robot.time.advance(60.0)
            await robot.online()
            assert fake.subscriptions == [False, False, True]

    run(scenario)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        "HUIBAO_WECOM_BOT__SECRET" in e and "HUIBAO_WECOM_BOT__BOT_ID" in e and "853000" in e
        for e in errors
    )
    assert not any(secret in r.getMessage() for r in caplog.records)


def test_a_newer_connection_of_the_same_bot_takes_over_and_the_old_one_stays_down(
    make: Callable[..., Robot], caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        time = VirtualTime()
        async with (
            FakeRobot(time=time) as fake,
            make(fake=fake, time=time) as first,
            make(fake=fake, time=time) as second,  # a second instance starts
        ):
            await fake.wait_for(lambda: first.channel.state is State.REPLACED)
            await time.advance(5.0)  # longer than any first pause before reconnecting
            await asyncio.sleep(0.2)
            assert fake.subscriptions == [True, True]  # no fight over the connection
            assert second.channel.state is State.ONLINE
            fake.known_chats.add(LI)
            with pytest.raises(SendFailed) as failed:
                await first.channel.send_to(LI, [Reply("提醒")])
            assert not failed.value.permanent
            await second.channel.send_to(LI, [Reply("提醒")])
            await fake.wait_for_text(LI, "提醒")

    run(scenario)
    assert any("took over" in r.getMessage() for r in caplog.records)


def test_heartbeats_keep_the_connection_and_unanswered_ones_end_it(
    make: Callable[..., Robot],
) -> None:
    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            await robot.time.advance(30.0)
            await fake.wait_for(lambda: fake.pings == 1)
            fake.answer_pings = False
            for _ in range(2):  # two pings, each unanswered for 5 s
                await robot.time.advance(30.0)
                await robot.time.advance(5.0)
            await fake.wait_for(lambda: robot.channel.state is State.WAITING)
            fake.answer_pings = True
            await robot.time.advance(1.0)
            await robot.online()
            assert fake.pings == 3 and fake.subscriptions == [True, True]

    run(scenario)


# -- pacing and deadlines -----------------------------------------------------------------


def test_messages_to_one_chat_are_paced_and_none_is_dropped(
    make: Callable[..., Robot],
) -> None:
    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            fake.known_chats.add(LI)
            replies = [Reply(f"第 {n} 条提醒") for n in range(1, 26)]
            sending = asyncio.create_task(robot.channel.send_to(LI, replies))
            await fake.wait_for(lambda: len(fake.shown_to(LI)) == 20)
            await robot.quiet()
            assert len(fake.shown_to(LI)) == 20  # the 21st waits for the minute to pass
            await robot.time.advance(60.0)
            await sending
            shown = fake.shown_to(LI)
            assert [s.text for s in shown] == [r.text for r in replies]
            assert [s.at for s in shown] == [0.0] * 20 + [60.0] * 5
            assert fake.dropped == [] and fake.problems == []

    run(scenario)


def test_an_answer_wecom_refuses_for_its_frame_is_written_instead(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            fake.refuse_replies = 846608  # too late to answer this message
            shown = await Person(fake, LI).say("/mine", "还没有上报记录")
            assert shown.via == "push"
            assert [p.split(": ", 1)[1] for p in fake.problems] == [
                "846608 refused (as the test asked)"
            ]
        async with make(reply_within=0.0) as robot:  # past the time to answer it: written
            shown = await Person(robot.fake, LI).say("/mine", "还没有上报记录")
            assert shown.via == "push" and robot.fake.problems == []

    run(scenario)


def test_send_to_when_offline_fails_for_now_and_a_chat_wecom_refuses_fails_for_good(
    make: Callable[..., Robot],
) -> None:
    async def scenario() -> None:
        async with make() as robot:
            with pytest.raises(SendFailed) as failed:  # this chat never wrote to the robot
                await robot.channel.send_to("stranger", [Reply("你好")])
            assert not failed.value.permanent and "93006" in failed.value.reason
            robot.fake.problems.clear()
            await robot.fake.drop()
            waiting = asyncio.create_task(robot.channel.send_to(LI, [Reply("你好")]))
            await settle()
            await robot.time.advance(10.0)  # waits for the connection at most 10 s
            with pytest.raises(SendFailed) as failed:
                await waiting
            assert not failed.value.permanent and failed.value.retry_after == 60

    run(scenario)


def test_reply_cards_are_valid_and_an_outbox_card_button_works(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            li = Person(fake, LI)
            await li.say("/help", "/report")
            reminder = Reply(
                "本月还没有上报活动，6月30日截止。", (Choice("立即上报", "/report", "1"),)
            )
            await robot.channel.send_to(LI, [reminder])
            card = await fake.wait_for(lambda: fake.find_card(LI, "立即上报"))
            assert card.via == "push" and card.buttons == [("立即上报", "/report")]
            await li.press("立即上报", "这次活动属于哪一类工作")
            assert card.updated_to == ["✓ 立即上报"]
            await fake.wait_for_text(LI, "(2/2)")  # the question's second card
            # pressing the pressed card again does nothing
            mark = li.mark()
            await fake.press(LI, card, "✓ 立即上报")
            await robot.quiet()
            assert [s.text for s in fake.shown_to(LI)[mark:]] == [] and fake.problems == []

    run(scenario)


def test_a_photo_that_cannot_be_fetched_is_asked_for_again_and_a_mixed_message_counts_in_order(
    make: Callable[..., Robot], sessions: sessionmaker[Session]
) -> None:
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)

    async def scenario() -> None:
        async with make() as robot:
            fake = robot.fake
            li = Person(fake, LI)
            await li.transcript(REPORT[:10])  # ... "/skip" -> "照片"
            fake.media_fails = True
            mark = li.mark()
            await fake.send_image(LI, PNG)
            for tries, pause in ((1, 1.0), (2, 2.0)):  # three tries, 1 s and 2 s apart
                await fake.wait_for(lambda tries=tries: fake.media_requests == tries)
                await asyncio.sleep(0.05)
                await robot.time.advance(pause)
            await fake.wait_for_text(LI, "这张照片没能收到", since=mark)
            assert fake.media_requests == 3
            fake.media_fails = False
            # a text and a photo in one message: both count, in their order
            mark = li.mark()
            await fake.send_mixed(LI, "现场照片如下", PNG)
            await fake.wait_for_text(LI, "收到第 1 张照片", since=mark)
            said = [s.text for s in fake.shown_to(LI)[mark:]]
            assert "请发送照片" in said[0] and "收到第 1 张照片" in said[-1]
            assert fake.problems == []

    run(scenario)
    assert len(kept(sessions)) == 0

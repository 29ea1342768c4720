"""Reminders with an injected clock: the ladder, quiet hours and weekends, who is reminded,
restarts, crashes, failures and two instances. A recording fake channel stands for the
platform (the Telegram end to end is in test_reminders_telegram.py). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.core.types import Reply, SendFailed
from bot.reminders import ladder
from bot.reminders.deadlines import month_span, set_deadline
from bot.reminders.ladder import Window, current_rung, rung_times
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from storage import deadlines
from storage import outbox as outbox_store
from storage.db import make_sessionmaker, transaction
from storage.models import OutboxMessage, OutboxStatus, ProcessedMessage, Requirement, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, db_engine, register


def at(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. '2026-06-18 18:00', as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(UTC)


class RecordingChannel:
    """A fake platform: records what it is asked to send; can be told to fail."""

    def __init__(self, platform: str = "telegram") -> None:
        self.platform = platform
        self.sent: list[tuple[str, list[Reply]]] = []
        self.failures: dict[str, SendFailed] = {}
        self._lock = threading.Lock()

    async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
        failure = self.failures.get(address)
        if failure is not None:
            raise failure
        with self._lock:
            self.sent.append((address, list(replies)))

    def texts(self, address: str) -> list[str]:
        return [r.text for a, replies in self.sent if a == address for r in replies]

    def buttons(self, address: str) -> list[str]:
        return [c.value for a, rs in self.sent if a == address for r in rs for c in r.choices]


class Crash(BaseException):
    """The process dies (as far as the sender can tell)."""


class CrashAfterSending(RecordingChannel):
    """Delivers, then the process dies before the delivery is recorded."""

    async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
        await super().send_to(address, replies)
        raise Crash


LI, WANG, ZHAO, BOSS = "1001", "1002", "1003", "2001"


@pytest.fixture
def people(sessions: sessionmaker[Session], demo_org: None) -> dict[str, int]:
    """Two staff of 新华社区, one of 朝阳社区, the street's coordinator; all on Telegram."""
    return {
        LI: register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=LI),
        WANG: register(sessions, "王强", "demo-xinhua", platform="telegram", external_id=WANG),
        ZHAO: register(sessions, "赵敏", "demo-chaoyang", platform="telegram", external_id=ZHAO),
        BOSS: register(
            sessions,
            "周主任",
            "demo-street",
            RoleName.COORDINATOR,
            platform="telegram",
            external_id=BOSS,
        ),
    }


def background(
    sessions: sessionmaker[Session],
    clock: Clock,
    channel: RecordingChannel,
    instance: str = "A",
    **settings: object,
) -> Background:
    made = Background(sessions, ReminderSettings(**settings), SHANGHAI, clock, instance=instance)  # type: ignore[arg-type]
    made.attach({channel.platform: channel})
    return made


def run(made: Background) -> int:
    """One tick, then send everything due; how many messages went."""
    made.tick()
    return asyncio.run(made.send_due())


def outbox(sessions: sessionmaker[Session]) -> Counter[str]:
    with transaction(sessions) as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({OutboxStatus(s).value: n for s, n in rows})


# --- when steps go out (pure) -----------------------------------------------------------


def test_quiet_hours_and_weekends_move_a_moment_to_the_next_allowed_time() -> None:
    window = Window(
        SHANGHAI,
        datetime.strptime("21:00", "%H:%M").time(),
        datetime.strptime("08:00", "%H:%M").time(),
    )
    assert window.next_allowed(at("2026-06-24 10:00"), skip_weekends=False) == at(
        "2026-06-24 10:00"
    )
    assert window.next_allowed(at("2026-06-24 21:00"), skip_weekends=False) == at(
        "2026-06-25 08:00"
    )
    assert window.next_allowed(at("2026-06-25 03:10"), skip_weekends=False) == at(
        "2026-06-25 08:00"
    )
    assert window.next_allowed(at("2026-06-25 07:59"), skip_weekends=False) == at(
        "2026-06-25 08:00"
    )
    # Friday night, weekends held: Monday morning
    assert window.next_allowed(at("2026-06-26 22:00"), skip_weekends=True) == at("2026-06-29 08:00")
    assert window.next_allowed(at("2026-06-27 12:00"), skip_weekends=True) == at("2026-06-29 08:00")
    assert window.next_allowed(at("2026-06-27 12:00"), skip_weekends=False) == at(
        "2026-06-27 12:00"
    )


def test_a_step_moved_past_its_deadline_is_dropped() -> None:
    window = Window.of(ReminderSettings(), SHANGHAI)
    # due Monday 09:00: the 1-day step (Sunday 09:00) would wait for Monday 08:00 -- still
    # before the deadline; the 2-hour step (07:00) too, so at 08:00 only the later one is current
    due = at("2026-06-29 09:00")
    steps = rung_times(due, (1440, 120), window, skip_weekends=True)
    assert [(s.offset, s.send_at) for s in steps] == [
        (1440, at("2026-06-29 08:00")),
        (120, at("2026-06-29 08:00")),
    ]
    now = at("2026-06-29 08:00")
    step = current_rung(due, (1440, 120), window, now, skip_weekends=True)
    assert step is not None and step.offset == 120
    # due Monday 07:30: both steps would go out after it
    assert rung_times(at("2026-06-29 07:30"), (1440, 120), window, skip_weekends=True) == []


def test_a_name_with_quotes_and_backslashes_reaches_its_reminder_as_typed(
    sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    """The reminder's stored reply is the core's JSON with the text put in by the database:
    a name with JSON's own characters in it must come out as typed, with the button."""
    name = 'A\\"李"\\n}]'
    register(sessions, name, "demo-xinhua", platform="telegram", external_id=LI)
    channel = RecordingChannel()
    clock.now = at("2026-06-18 18:00")
    assert run(background(sessions, clock, channel)) == 1
    (text,) = channel.texts(LI)
    assert name in text, text
    assert channel.buttons(LI) == ["/reflect"]


# --- the whole ladder -------------------------------------------------------------------


def test_the_whole_ladder_reaches_each_person_once_per_step(
    sessions: sessionmaker[Session],
    conversation: Conversation,
    people: dict[str, int],
    clock: Clock,
) -> None:
    # The half-year reflection is due by default on Thursday 25 June, 18:00; it asks staff
    # and coordinators. Steps: 18 June 18:00, 22 June 18:00, 24 June 18:00, 25 June 16:00.
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    clock.now = at("2026-06-18 17:59")
    assert run(made) == 0
    clock.now = at("2026-06-18 18:00")
    assert run(made) == 5  # four reminders and the coordinator's digest
    for person in (LI, WANG, ZHAO):
        (text,) = channel.texts(person)
        assert "2026年上半年工作总结" in text and "还有 7 天" in text
        assert "2026年6月25日（周四） 18:00" in text
        assert channel.buttons(person) == ["/reflect"]
    boss = channel.texts(BOSS)
    assert len(boss) == 2  # their own reminder and the digest
    digest = next(t for t in boss if "负责的单位中" in t)
    assert "还有 4 人未完成" in digest
    assert "新华社区（2/2 人未完成）：李华、王强" in digest
    assert "朝阳社区（1/1 人未完成）：赵敏" in digest
    clock.advance(minutes=30)
    assert run(made) == 0  # the same step never twice

    clock.now = at("2026-06-22 18:00")
    assert run(made) == 5
    assert "还有 3 天" in channel.texts(LI)[-1]
    # 李华 answers the reflection between two steps
    li = Chat(conversation, LI, clock, platform="telegram")
    play(li, [("/reflect", "哪些不足"), ("宣传不够", "工作打算"), ("/skip", "谢谢")])

    clock.now = at("2026-06-24 18:00")
    assert run(made) == 4  # no more for 李华
    assert len(channel.texts(LI)) == 2
    assert "还有 1 天" in channel.texts(WANG)[-1]
    digest = channel.texts(BOSS)[-1]
    assert "新华社区（1/2 人未完成）：王强" in digest and "李华" not in digest

    clock.now = at("2026-06-25 16:00")
    assert run(made) == 4
    assert "还有 2 小时" in channel.texts(WANG)[-1]
    clock.now = at("2026-06-25 18:00")
    assert run(made) == 0  # due: nothing more
    counts = Counter(address for address, _ in channel.sent)
    assert counts == {LI: 2, WANG: 4, ZHAO: 4, BOSS: 8}


def test_the_reflection_reminder_button_starts_the_reflection(
    sessions: sessionmaker[Session],
    conversation: Conversation,
    people: dict[str, int],
    clock: Clock,
) -> None:
    channel = RecordingChannel()
    clock.now = at("2026-06-22 18:00")
    run(background(sessions, clock, channel))
    (choice,) = channel.sent[0][1][0].choices
    chat = Chat(conversation, channel.sent[0][0], clock, platform="telegram")
    from bot.core.types import Kind

    assert "有哪些不足" in chat.send(chat.incoming(choice.value, Kind.BUTTON))
    # on a platform without buttons, the reply word does the same
    assert choice.shortcut == "回顾"
    other = Chat(conversation, WANG, clock, platform="telegram")
    assert "有哪些不足" in other.say("回顾")


def test_quiet_hours_hold_a_step_and_the_sending(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    with transaction(sessions) as session:
        from storage import members

        unit = members.unit_by_key(session, "demo-district")
        assert unit is not None
        # June's entries for the whole district, due Tuesday 30 June 09:00
        set_deadline(
            session,
            unit_id=unit.id,
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=at("2026-06-30 09:00"),
            now=at("2026-06-20 10:00"),
            ladder=(1440, 120),
        )
    clock.now = at("2026-06-29 09:00")
    assert run(made) == 4  # the 1-day step: three staff and a digest
    clock.now = at("2026-06-30 07:00")  # the 2-hour step falls in quiet hours
    assert run(made) == 0
    clock.now = at("2026-06-30 07:59")
    assert run(made) == 0
    clock.now = at("2026-06-30 08:00")
    assert run(made) == 4
    assert "还有 1 小时" in channel.texts(LI)[-1]
    assert channel.buttons(LI) == ["/report", "/report"]
    assert "2026年6月的活动记录" in channel.texts(LI)[-1]


def test_a_message_queued_before_quiet_hours_waits_for_the_morning(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    clock.now = at("2026-06-24 20:59")
    made.tick()  # the reflection's 1-day step is queued
    clock.now = at("2026-06-24 21:00")
    assert asyncio.run(made.send_due()) == 0
    clock.now = at("2026-06-25 06:00")
    assert asyncio.run(made.send_due()) == 0
    clock.now = at("2026-06-25 08:00")
    assert asyncio.run(made.send_due()) == 5


def test_weekends_can_be_held(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    channel = RecordingChannel()
    made = background(sessions, clock, channel, skip_weekends=True)
    with transaction(sessions) as session:
        from storage import members

        unit = members.unit_by_key(session, "demo-district")
        assert unit is not None
        set_deadline(
            session,
            unit_id=unit.id,
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=at("2026-06-30 09:00"),  # a Tuesday
            now=at("2026-06-20 10:00"),
            ladder=(3 * 1440, 1440),  # Saturday 09:00, Monday 09:00
        )
    clock.now = at("2026-06-27 09:00")
    assert run(made) == 0  # Saturday
    clock.now = at("2026-06-28 18:00")
    assert run(made) == 0  # Sunday
    clock.now = at("2026-06-29 08:00")
    assert run(made) == 4  # Monday morning: the 3-day step, at last
    assert "还有 1 天" in channel.texts(LI)[-1]
    clock.now = at("2026-06-29 09:00")
    assert run(made) == 4  # the 1-day step on time
    # the setting is the default; a deadline may say otherwise
    assert made.tick().queued == 0


def test_a_deadline_on_a_street_applies_to_its_communities_unless_one_has_its_own(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    from storage import members

    with transaction(sessions) as session:
        street = members.unit_by_key(session, "demo-street")
        xinhua = members.unit_by_key(session, "demo-xinhua")
        assert street is not None and xinhua is not None
        for unit, due in ((street, "2026-06-28 18:00"), (xinhua, "2026-07-02 18:00")):
            set_deadline(
                session,
                unit_id=unit.id,
                span=month_span(2026, 6),
                requirement=Requirement.MONTHLY_ENTRY,
                due_at=at(due),
                now=at("2026-06-20 10:00"),
                ladder=(1440,),
            )
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    clock.now = at("2026-06-27 18:00")  # the street's 1-day step: 朝阳社区 only
    assert run(made) == 2
    assert [a for a, _ in channel.sent] == [ZHAO, BOSS]
    assert "朝阳社区（1/1 人未完成）：赵敏" in channel.texts(BOSS)[0]
    clock.now = at("2026-07-01 18:00")  # 新华社区's own deadline
    assert run(made) == 3
    assert sorted(a for a, _ in channel.sent[2:]) == sorted([LI, WANG, BOSS])
    # the default rule (5 July) no longer covers the street at all
    clock.now = at("2026-06-28 18:00")
    assert made.tick().queued == 0


def test_a_member_who_reports_between_steps_is_not_reminded_again(
    sessions: sessionmaker[Session],
    conversation: Conversation,
    people: dict[str, int],
    clock: Clock,
) -> None:
    from storage import members

    with transaction(sessions) as session:
        unit = members.unit_by_key(session, "demo-district")
        assert unit is not None
        set_deadline(
            session,
            unit_id=unit.id,
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=at("2026-06-30 18:00"),
            now=at("2026-06-20 10:00"),
            ladder=(3 * 1440, 1440),
        )
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    clock.now = at("2026-06-27 18:00")
    assert run(made) == 4
    play(Chat(conversation, LI, clock, platform="telegram"), JUNE_REPORT)
    clock.now = at("2026-06-29 18:00")
    assert run(made) == 3
    assert len(channel.texts(LI)) == 1
    assert "新华社区（1/2 人未完成）：王强" in channel.texts(BOSS)[-1]


JUNE_REPORT = [
    ("/report", "这次活动属于哪一类工作"),
    ("理论学习", "活动叫什么名字"),
    ("端午主题党课", "活动是哪天办的"),
    ("6月19日", "在哪里办的"),
    ("社区党群服务中心", "几场学习"),
    ("3场", "多少人次"),
    ("4000多人次", "做了什么"),
    ("邀请老党员讲党史故事。", "效果怎么样"),
    ("居民参与热情高。", "亮点"),
    ("/skip", "照片"),
    ("完成", "请核对"),
    ("1", "已保存，记录编号 #"),
]


def test_the_preview_lists_what_the_tick_then_queues(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    from bot.core.types import replies_from_json
    from bot.reminders.ladder import plan

    clock.now = at("2026-06-22 18:00")
    settings = ReminderSettings()
    with transaction(sessions) as session:
        preview = plan(session, clock.now, settings, SHANGHAI, ["telegram"])
    assert outbox(sessions) == {}  # nothing written
    by_key = {p.message.key: p for p in preview}
    li = next(p for p in preview if p.name == "李华")
    (reply,) = replies_from_json(li.message.payload)
    assert reply.text.startswith("李华，您好！2026年上半年工作总结快要汇总了")
    assert [(c.label, c.value, c.shortcut) for c in reply.choices] == [
        ("✍️ 开始回顾", "/reflect", "回顾")
    ]
    assert "step 3d before, planned 06-22 18:00; nothing yet for 新华社区" in li.reason
    made = background(sessions, clock, RecordingChannel())
    assert made.tick().queued == len(preview) == 5
    with transaction(sessions) as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert {r.key for r in rows} == set(by_key)
        assert all(r.payload == by_key[r.key].message.payload for r in rows)
    with transaction(sessions) as session:
        assert plan(session, clock.now, settings, SHANGHAI, ["telegram"]) == []


def test_english_speakers_get_english_reminders(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    from storage import members

    with transaction(sessions) as session:
        members.set_locale(session, people[WANG], "en")
    channel = RecordingChannel()
    clock.now = at("2026-06-24 18:00")
    run(background(sessions, clock, channel))
    (text,) = channel.texts(WANG)
    assert text.startswith("Hello 王强! The 2026 H1 work summary is being put together")
    assert "by 2026-06-25 (Thu) 18:00 (1 day(s) left)" in text
    (button,) = channel.sent[[a for a, _ in channel.sent].index(WANG)][1][0].choices
    assert button.label == "✍️ Start the review"


# --- restarts, crashes, failures ----------------------------------------------------------


def test_a_restart_sends_nothing_twice(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    first_channel, second_channel = RecordingChannel(), RecordingChannel()
    first = background(sessions, clock, first_channel, instance="first")
    clock.now = at("2026-06-18 18:00")
    first.tick()
    # the first instance got one message out, then went away
    first_channel.failures = {
        a: SendFailed("network down", permanent=False) for a in (WANG, ZHAO, BOSS)
    }
    assert asyncio.run(first.send_due()) == 1
    second = background(sessions, clock, second_channel, instance="second")
    clock.advance(minutes=5)
    assert second.tick().queued == 0
    clock.advance(minutes=5)  # past the first retry's backoff
    assert asyncio.run(second.send_due()) == 4
    clock.now = at("2026-06-22 18:00")
    assert run(second) == 5
    both = Counter(a for a, _ in first_channel.sent + second_channel.sent)
    assert both == {LI: 2, WANG: 2, ZHAO: 2, BOSS: 4}


def test_a_fan_out_commits_batch_by_batch_and_a_crash_half_way_loses_and_doubles_nothing(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ladder, "FANOUT_BATCH", 1)  # one member id a batch
    monkeypatch.setattr(ladder, "FANOUT_BATCH_POSTGRESQL", 1)
    real = outbox_store.queue_fanout
    done: list[deadlines.Batch] = []

    def dying(
        session: Session, plan: outbox_store.Fanout, now: datetime, batch: deadlines.Batch
    ) -> int:
        if len(done) == 2:  # the process dies in the third batch
            raise Crash
        done.append(batch)
        return real(session, plan, now, batch)

    monkeypatch.setattr(outbox_store, "queue_fanout", dying)
    clock.now = at("2026-06-18 18:00")  # the reflection's first step: everyone owes
    with pytest.raises(Crash):
        background(sessions, clock, RecordingChannel()).tick()
    assert outbox(sessions) == {"pending": 2}  # the first two batches stayed

    monkeypatch.setattr(outbox_store, "queue_fanout", real)
    channel = RecordingChannel()
    made = background(sessions, clock, channel, instance="restarted")
    assert made.tick().queued == 3  # the other two reminders and the digest
    assert asyncio.run(made.send_due()) == 5
    assert Counter(a for a, _ in channel.sent) == {LI: 1, WANG: 1, ZHAO: 1, BOSS: 2}
    # the digest's standing, read batch by batch, adds up
    digest = next(t for t in channel.texts(BOSS) if "负责的单位中" in t)
    assert "新华社区（2/2 人未完成）：李华、王强" in digest
    assert "朝阳社区（1/1 人未完成）：赵敏" in digest
    clock.advance(minutes=1)
    assert made.tick().queued == 0


def test_a_crash_between_sending_and_marking_is_never_sent_again(
    sessions: sessionmaker[Session],
    conversation: Conversation,
    people: dict[str, int],
    clock: Clock,
) -> None:
    crashing = CrashAfterSending()
    first = background(sessions, clock, crashing, instance="first")
    clock.now = at("2026-06-18 18:00")
    first.tick()
    with pytest.raises(Crash):
        asyncio.run(first.send_due())
    assert len(crashing.sent) == 1
    delivered_to = crashing.sent[0][0]
    assert outbox(sessions)["sending"] == 1
    channel = RecordingChannel()
    second = background(sessions, clock, channel, instance="second", lease_seconds=600)
    assert run(second) == 4  # the others; not the one cut off
    assert delivered_to not in [a for a, _ in channel.sent]
    clock.advance(minutes=11)
    assert second.tick().uncertain == 1
    assert outbox(sessions)["uncertain"] == 1
    assert asyncio.run(second.send_due()) == 0
    status = Chat(conversation, BOSS, clock, platform="telegram").say("/status")
    assert "另有 1 条消息发送中断、结果不确定" in status


def test_a_permanent_failure_is_recorded_and_shown_to_the_coordinator(
    sessions: sessionmaker[Session],
    conversation: Conversation,
    people: dict[str, int],
    clock: Clock,
) -> None:
    channel = RecordingChannel()
    channel.failures[WANG] = SendFailed(
        "telegram: Forbidden: bot was blocked by the user", permanent=True
    )
    made = background(sessions, clock, channel)
    clock.now = at("2026-06-18 18:00")
    assert run(made) == 4
    assert outbox(sessions)["failed"] == 1
    status = Chat(conversation, BOSS, clock, platform="telegram").say("/status")
    assert "⚠️ 以下人员收不到机器人的消息" in status
    assert (
        "王强：已屏蔽机器人（telegram: Forbidden: bot was blocked by the user），6月18日" in status
    )
    clock.now = at("2026-06-22 18:00")
    run(made)
    digest = channel.texts(BOSS)[-1]
    assert "⚠️ 以下人员收不到机器人的消息，请另行联系：王强" in digest
    # a staff member's /status shows nothing of it
    assert "只有社区或街道负责人可以用" in Chat(conversation, LI, clock, platform="telegram").say(
        "/status"
    )


def test_passing_failures_are_retried_with_backoff_then_given_up(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    channel = RecordingChannel()
    channel.failures[LI] = SendFailed("telegram: Bad Gateway", permanent=False)
    made = background(sessions, clock, channel, max_attempts=3)
    clock.now = at("2026-06-18 18:00")
    assert run(made) == 4
    clock.advance(seconds=29)
    assert asyncio.run(made.send_due()) == 0  # the first retry waits 30 s
    clock.advance(seconds=1)
    assert asyncio.run(made.send_due()) == 0  # tried again, failed again
    clock.advance(seconds=59)
    assert asyncio.run(made.send_due()) == 0  # the second retry waits 60 s
    del channel.failures[LI]
    clock.advance(seconds=1)
    assert asyncio.run(made.send_due()) == 1
    assert outbox(sessions) == {"sent": 5}
    # three failures in a row: given up, with the reason
    channel.failures[WANG] = SendFailed("telegram: Bad Gateway", permanent=False)
    clock.now = at("2026-06-22 18:00")
    run(made)
    for _ in range(3):
        clock.advance(minutes=5)
        asyncio.run(made.send_due())
    with transaction(sessions) as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
        ).one()
        assert (
            row.attempts == 3
            and row.last_error == "gave up after 3 attempts: telegram: Bad Gateway"
        )


def test_a_reminder_not_sent_before_its_deadline_expires(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    channel = RecordingChannel()
    made = background(sessions, clock, channel)
    clock.now = at("2026-06-25 16:00")
    made.tick()
    clock.now = at("2026-06-25 18:00")
    assert made.tick().expired == 5
    assert asyncio.run(made.send_due()) == 0
    assert channel.sent == []


def test_reminders_can_be_switched_off(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    made = background(sessions, clock, RecordingChannel(), enabled=False)
    clock.now = at("2026-06-18 18:00")
    assert run(made) == 0


def test_old_message_keys_are_pruned(sessions: sessionmaker[Session], clock: Clock) -> None:
    from storage import messages

    with transaction(sessions) as session:
        messages.claim_message(session, "telegram", "old", [])
        messages.claim_message(session, "telegram", "new", [])
        session.execute(
            ProcessedMessage.__table__.update()
            .where(ProcessedMessage.message_key == "old")
            .values(processed_at=clock.now - timedelta(days=31))
        )
    made = background(sessions, clock, RecordingChannel())
    assert made.prune() == (1, 0)
    with transaction(sessions) as session:
        assert session.scalars(select(ProcessedMessage.message_key)).all() == ["new"]


# --- two instances on one PostgreSQL ------------------------------------------------------


def test_two_instances_on_postgresql_send_no_duplicate(postgres_url: str) -> None:
    from storage.db import upgrade
    from storage.models import Base

    engines = [db_engine(postgres_url) for _ in range(2)]
    upgrade(engines[0])
    with engines[0].begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    makers = [make_sessionmaker(e) for e in engines]
    from bot.admin.org import demo_org, load_org

    with transaction(makers[0]) as session:
        load_org(session, demo_org())
    staff = [
        register(
            makers[0],
            f"员工{i}",
            "demo-xinhua" if i % 2 else "demo-chaoyang",
            platform="telegram",
            external_id=str(10_000 + i),
        )
        for i in range(300)
    ]
    register(
        makers[0],
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id=BOSS,
    )
    clock = Clock(at("2026-06-22 18:00"))

    class Slow(RecordingChannel):
        async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
            await asyncio.sleep(0.001)  # a platform call takes a while: the two interleave
            await super().send_to(address, replies)

    channels = [Slow(), Slow()]
    made = [background(makers[i], clock, channels[i], instance=f"pg{i}") for i in range(2)]
    barrier = threading.Barrier(2)

    def instance(i: int) -> None:
        barrier.wait()
        made[i].tick()  # both plan the same step at the same moment
        barrier.wait()
        asyncio.run(made[i].send_due())

    threads = [threading.Thread(target=instance, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        deliveries = Counter(a for c in channels for a, _ in c.sent)
        # each staff member one reflection reminder; the coordinator theirs and a digest
        expected = Counter({str(10_000 + i): 1 for i in range(len(staff))})
        expected[BOSS] = 2
        assert deliveries == expected
        assert all(c.sent for c in channels), "both instances should have sent some"
        with transaction(makers[0]) as session:
            statuses = Counter(session.scalars(select(OutboxMessage.status)).all())
        assert statuses == {OutboxStatus.SENT: sum(deliveries.values())}
    finally:
        with engines[0].begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        for engine in engines:
            engine.dispose()

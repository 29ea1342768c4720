"""Conversation.process_batch: several people's messages in one transaction, as if one by one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation, Outcome
from bot.core.dialogs.base import Turn
from bot.core.messages import text as msg
from bot.core.questionnaire import Questionnaire
from bot.core.types import Incoming, Reply
from storage.db import transaction
from storage.members import StateBatch
from storage.models import Entry, ProcessedMessage, QuestionnaireVersion
from tests.conftest import SHANGHAI, Clock, register
from tests.core.test_dispatch_cost import counted

SCRIPT = [
    "/report",
    "1",
    "端午主题党课",
    "昨天",
    "社区党群服务中心",
    "3场",
    "4000多人次",
    "邀请老党员讲党史故事。",
    "12人报名加入志愿队伍。",
    "/skip",
    "完成",
    "1",
]
PEOPLE = ("甲", "乙", "丙")
# The script again, one message at a time: other people, whose card does not say that they
# reported the activity already (the batch's people did).
OTHERS = ("丁", "戊", "己")


class Exploding(Conversation):
    """A core with a bug that shows only for one text."""

    def _dispatch(
        self, session: Session, incoming: Incoming, batch: StateBatch | None = None
    ) -> tuple[Turn | None, list[Reply]]:
        if incoming.text == "💥":
            raise RuntimeError("a bug")
        return super()._dispatch(session, incoming, batch)


def _people(sessions: sessionmaker[Session], people: tuple[str, ...] = PEOPLE) -> None:
    for name in people:
        register(sessions, name, "demo-xinhua")


def _texts(outcome: Outcome) -> list[str]:
    return [reply.text for reply in outcome.replies]


def _wave(step: int, line: str, at: datetime, people: tuple[str, ...] = PEOPLE) -> list[Incoming]:
    return [Incoming("shell", name, f"{name}-{step}", at, text=line) for name in people]


def _entries(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with transaction(sessions) as session:
        rows = session.execute(select(Entry.title, Entry.location).order_by(Entry.id)).all()
    return [(str(title), str(location)) for title, location in rows]


def test_a_batch_answers_like_one_message_at_a_time(
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    clock: Clock,
    demo_org: None,
) -> None:
    _people(sessions)
    core = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    batched: list[list[list[str]]] = []
    for step, line in enumerate(SCRIPT):
        batched.append([_texts(o) for o in core.process_batch(_wave(step, line, clock()))])
    after_batches = _entries(sessions)
    assert len(after_batches) == len(PEOPLE)
    assert all("已保存" in replies[0] for replies in batched[-1])

    # The same script again, each message in a transaction of its own.
    _people(sessions, OTHERS)
    single: list[list[list[str]]] = []
    for step, line in enumerate(SCRIPT):
        single.append([_texts(core.process(i)) for i in _wave(step, line, clock(), OTHERS)])
    assert len(_entries(sessions)) == 2 * len(PEOPLE)

    def without_ids(waves: list[list[list[str]]]) -> list[list[list[str]]]:
        import re

        return [[[re.sub(r"#\d+", "#N", t) for t in replies] for replies in w] for w in waves]

    assert without_ids(batched) == without_ids(single)


def test_a_duplicate_in_a_batch_counts_once(
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    clock: Clock,
    demo_org: None,
) -> None:
    _people(sessions)
    core = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    first = _wave(0, "/report", clock())
    core.process_batch(first)
    core.mark_sent("shell", [i.message_id for i in first])
    # 甲's /report is delivered again together with everyone's next answer.
    again = [first[0], *_wave(1, "1", clock())]
    outcomes = core.process_batch(again)
    assert outcomes[0].replies == []  # already answered and sent: nothing twice
    assert all("活动叫什么名字" in _texts(o)[-1] for o in outcomes[1:])  # the next question
    with transaction(sessions) as session:
        claimed = session.scalar(select(func.count()).select_from(ProcessedMessage))
    assert claimed == 2 * len(PEOPLE)


def test_one_failing_message_costs_the_others_nothing(
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    clock: Clock,
    demo_org: None,
) -> None:
    _people(sessions)
    core = Exploding(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    for step, line in enumerate(SCRIPT[:-1]):
        core.process_batch(_wave(step, line, clock()))
    # 甲 and 乙 confirm (their entries are written first in the batch, with the
    # questionnaire's snapshot row), then 丙's message hits the bug: the batch is rolled
    # back and done again message by message.
    last = _wave(len(SCRIPT) - 1, "1", clock())
    last[2] = Incoming("shell", "丙", "丙-bug", clock(), text="💥")
    outcomes = core.process_batch(last)
    assert "已保存" in _texts(outcomes[0])[0]
    assert "已保存" in _texts(outcomes[1])[0]
    assert _texts(outcomes[2]) == [msg("zh", "internal_error")]
    assert len(_entries(sessions)) == 2  # each stored once
    with transaction(sessions) as session:
        snapshots = session.scalar(select(func.count()).select_from(QuestionnaireVersion))
        referenced = session.scalars(select(Entry.questionnaire_id)).all()
        known = set(session.scalars(select(QuestionnaireVersion.id)).all())
    assert snapshots == 1
    assert set(referenced) <= known  # no id remembered from the rolled-back attempt
    # 丙 is still at the confirmation and can finish.
    final = core.process_batch([Incoming("shell", "丙", "丙-retry", clock(), text="1")])
    assert "已保存" in _texts(final[0])[0]
    assert len(_entries(sessions)) == 3


def test_a_batch_reads_its_people_writes_their_states_and_claims_its_keys_in_one_statement_each(
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    clock: Clock,
    demo_org: None,
    engine: Engine,
) -> None:
    _people(sessions)
    core = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    core.process_batch(_wave(0, "/report", clock()))
    with counted(engine) as statements:
        outcomes = core.process_batch(_wave(1, "1", clock()))
    assert all("活动叫什么名字" in _texts(o)[-1] for o in outcomes)
    # everyone read with their dialog state at once, the states written at once, one claim
    assert statements == ["SELECT", "UPDATE", "INSERT"], statements
    with transaction(sessions) as session:
        claimed = session.scalar(select(func.count()).select_from(ProcessedMessage))
    assert claimed == 2 * len(PEOPLE)


def test_the_same_message_twice_in_one_batch_is_answered_once(
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    clock: Clock,
    demo_org: None,
) -> None:
    _people(sessions)
    core = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    wave = _wave(0, "/report", clock())
    outcomes = core.process_batch([*wave, wave[0]])
    assert all(_texts(o) for o in outcomes)
    assert _texts(outcomes[3]) == _texts(outcomes[0])  # stored, not yet sent: the same replies
    with transaction(sessions) as session:
        claimed = session.scalar(select(func.count()).select_from(ProcessedMessage))
    assert claimed == len(PEOPLE)


def test_two_messages_of_one_person_in_a_batch_follow_each_other(
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    clock: Clock,
    demo_org: None,
) -> None:
    _people(sessions)
    core = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    at = clock()
    # 甲 starts a report and answers its first question in the same batch as 乙's start
    batch = [
        Incoming("shell", "甲", "甲-0", at, text="/report"),
        Incoming("shell", "乙", "乙-0", at, text="/report"),
        Incoming("shell", "甲", "甲-1", at, text="1"),
        Incoming("shell", "甲", "甲-2", at, text="端午主题党课"),
    ]
    batched = [_texts(o) for o in core.process_batch(batch)]
    single = [
        _texts(core.process(Incoming("shell", "丙", f"丙-{n}", at, text=line)))
        for n, line in enumerate(("/report", "1", "端午主题党课"))
    ]
    assert batched[0] == batched[1] == single[0]
    assert batched[2:] == single[1:]
    # 乙's state is written too: their answer goes on from the first question
    after = core.process_batch([Incoming("shell", "乙", "乙-1", at, text="1")])
    assert _texts(after[0]) == single[1]

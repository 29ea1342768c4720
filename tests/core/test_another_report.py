"""A whole report of another activity typed as the answer to a report's question.

Found in the shell: the next day, a person typed again the report they had saved already
while a second report waited at its category question. The bot took it as the answer, kept
the waiting report's title, date and place, and added the other activity's counts: a record
of an activity that did not happen that way, one 确认 away from being stored. Such a message
is now asked about as "上报 TEXT" is in the middle of a report ("先报完这一条，还是放弃它、
改报新的？"); an answer that adds facts to the same activity is still taken.

The clock stands at Wednesday 2 December 2026, 10:00 in Shanghai (上周三 is 25 November).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.core.questionnaire import Questionnaire
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock
from tests.core.test_one_message import Person, entries, figures, shown_on_card, states

SHOW = "11月8日在文化广场办了3场夏夜汇演，300多人参加"
FRAUD = "上周三在社区活动室开展了防诈骗讲座，二十几个老人参加"
ASKED = "先报完这一条，还是放弃它、改报新的？"


@pytest.fixture
def december(clock: Clock) -> Clock:
    clock.now = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
    return clock


def next_run(
    sessions: sessionmaker[Session], questionnaires: dict[str, Questionnaire], clock: Clock
) -> Chat:
    """The same person in a new `huibao run` over the same data (the state is in the database)."""
    conversation = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    return Chat(conversation, "李华", clock)


def first_run(chat: Chat) -> None:
    """The show is saved as #1; the talk waits at its category question."""
    play(
        chat,
        [
            (SHOW, "活动效果怎么样"),
            ("群众反响热烈，丰富了居民夜间文化生活", "请核对"),
            ("1", "已保存，记录编号"),
            (
                FRAUD,
                [
                    "从你的消息中读出：活动名称 防诈骗讲座；活动日期 2026年11月25日（周三）",
                    "这次活动属于哪一类工作",
                ],
            ),
        ],
    )


def test_the_saved_report_typed_again_at_the_category_question_is_asked_about(
    december: Clock,
    staff_chat: Chat,
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
) -> None:
    first_run(staff_chat)
    person = Person(next_run(sessions, questionnaires, december))
    # Was "从你的回答中读出：工作类别 文体活动；演出（活动）场次 3场次；参与群众 300余人次",
    # the card then showing 防诈骗讲座 on 11月25日 in 社区活动室 with the show's 3场 and 300人.
    person.play([(SHOW, f"你正在填写“防诈骗讲座”。{ASKED}")])
    assert "从你的回答中读出" not in person.chat.replies[0].text
    assert person.chat.buttons == ["继续填写", "报新的"]
    person.play(
        [
            ("[继续填写]", ["好的，接着填。", "这次活动属于哪一类工作"]),
            # the talk's own figure, read from its message once its area is known
            ("2", ["从你的消息中读出：受教育群众 20余人次", "活动效果怎么样"]),
            (
                "老人们学会了识别常见骗局",
                [
                    "请核对",
                    "1. 工作类别：宣传教育",
                    "2. 活动名称：防诈骗讲座 ←“防诈骗讲座”",
                    "3. 活动日期：2026年11月25日（周三） ←“上周三”",
                    "4. 地点：社区活动室 ←“社区活动室”",
                    "受教育群众：20余人次（按“二十几个”理解为不少于 20 人次）",
                ],
            ),
        ]
    )
    assert "300" not in person.card and "夏夜汇演" not in person.card
    person.play([("确认", "已保存，记录编号")])
    show, talk = entries(sessions)
    assert (show.title, show.start_date) == ("夏夜汇演", date(2026, 11, 8))
    assert (talk.area, talk.title, talk.location) == ("publicity", "防诈骗讲座", "社区活动室")
    assert talk.start_date == date(2026, 11, 25)
    assert talk.answers["content"] == {"text": FRAUD, "whole": True}
    assert {low for low, *_ in figures(talk).values()} == {Decimal(20)}
    shown_on_card(person.cards[0], talk)
    assert states(sessions) == []


def test_choosing_the_new_report_keeps_the_waiting_one_for_restore(
    december: Clock,
    staff_chat: Chat,
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
) -> None:
    first_run(staff_chat)
    person = Person(next_run(sessions, questionnaires, december))
    person.play(
        [
            (SHOW, ASKED),
            (
                "[报新的]",
                [
                    "好，“防诈骗讲座”先放下了，没有保存",
                    "从你的消息中读出：工作类别 文体活动；活动名称 夏夜汇演",
                    "地点 文化广场；演出（活动）场次 3场次；参与群众 300余人次",
                    "活动效果怎么样",
                ],
            ),
            ("居民反响热烈", ["请核对", "2. 活动名称：夏夜汇演"]),
            ("对", ["已保存", "“防诈骗讲座”还没报完，今天之内回复“恢复”可以接着填。"]),
            ("恢复", ["已恢复刚才放弃的上报", "这次活动属于哪一类工作"]),
            ("2", ["受教育群众 20余人次", "活动效果怎么样"]),
            ("老人们很受用", ["请核对", "2. 活动名称：防诈骗讲座"]),
            ("对", "已保存"),
        ]
    )
    _, again, talk = entries(sessions)
    assert (again.title, again.location, again.start_date) == (
        "夏夜汇演",
        "文化广场",
        date(2026, 11, 8),
    )
    assert figures(again)["attendance"][:2] == (Decimal(300), "more_than")
    assert (talk.title, talk.start_date, talk.location) == (
        "防诈骗讲座",
        date(2026, 11, 25),
        "社区活动室",
    )
    assert "sessions" not in figures(talk) and "attendance" not in figures(talk)
    for entry, card in zip((again, talk), person.cards, strict=True):
        shown_on_card(card, entry)
    assert states(sessions) == []


@pytest.mark.parametrize(
    ("opening", "asked"),
    [
        # the date question: the talk's title is known, the show has another
        ([("/report", "哪一类"), ("2", "活动叫什么名字"), ("防诈骗讲座", "哪天")], "哪天"),
        # a count question: the talk's date and place are known, the show has others
        ([(FRAUD.split("，")[0], "哪一类"), ("2", "多少")], "多少"),
    ],
)
def test_another_report_at_a_date_or_count_question_is_asked_about(
    december: Clock,
    staff_chat: Chat,
    sessions: sessionmaker[Session],
    opening: list[tuple[str, str]],
    asked: str,
) -> None:
    play(staff_chat, opening)
    play(staff_chat, [(SHOW, ["你正在填写“防诈骗讲座”", ASKED])])
    assert staff_chat.buttons == ["继续填写", "报新的"]
    play(staff_chat, [("继续", ["好的，接着填。", asked])])
    play(staff_chat, [(SHOW, ASKED), ("报新的", ["“防诈骗讲座”先放下了", "夏夜汇演"])])
    assert entries(sessions) == []


@pytest.mark.parametrize(
    ("asked", "said", "read"),
    [
        # its date and place again, with its figure
        ("多少", "上周三在社区活动室的防诈骗讲座，二十几个老人参加", "受教育群众 20余人次"),
        # named a little differently, on its day at its place
        ("多少", "上周三在社区活动室的防诈骗宣传讲座，二十几个老人参加", "受教育群众 20余人次"),
        # the category, with its date and a figure
        ("哪一类", "上周三的防诈骗宣传，二十几个老人参加", "工作类别 宣传教育"),
    ],
)
def test_an_answer_about_the_same_activity_still_fills_the_report(
    december: Clock,
    staff_chat: Chat,
    sessions: sessionmaker[Session],
    asked: str,
    said: str,
    read: str,
) -> None:
    play(staff_chat, [("上周三在社区活动室开展了防诈骗讲座", "哪一类")])
    if asked == "多少":
        play(staff_chat, [("2", "多少")])
    play(staff_chat, [(said, ["从你的回答中读出", read])])
    assert ASKED not in "\n".join(r.text for r in staff_chat.replies)


def test_another_activity_on_the_same_day_elsewhere_is_asked_about(
    december: Clock, staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("上周三在社区活动室开展了防诈骗讲座", "哪一类"),
            ("2", "多少"),
            ("上周三在文化广场办了3场夏夜汇演，300多人参加", ASKED),
            ("[继续填写]", "多少"),
            ("20多人", "活动效果怎么样"),
        ],
    )
    assert "300" not in "\n".join(r.text for r in staff_chat.replies)

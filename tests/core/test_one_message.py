"""Issue 12, must-have 1: one message, many fields, as transcripts on both databases.

A message that reads like a report starts a report with everything it says; the bot asks
only what is missing and shows the card, each value read marked with the words it came from.
The clock stands at Wednesday 24 June 2026, 10:00 in Shanghai (the period is 2026年上半年).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.figures import metric_text
from bot.core.periods import period_of
from bot.shipped import templates_dir
from bot.summary.service import Format, SummaryKit, render, summarise
from storage.db import transaction
from storage.models import ConversationState, Entry, Unit
from tests.chat import Chat, play

REPORT = "11月8日在文化广场办了3场夏夜汇演，300多人参加"
JUNE_REPORT = "6月12日在文化广场办了3场夏夜汇演，300多人参加"


def entries(sessions: sessionmaker[Session]) -> list[Entry]:
    with transaction(sessions) as session:
        found = list(session.scalars(select(Entry).order_by(Entry.id)).all())
        for entry in found:
            _ = entry.metrics, entry.photos
        return found


def states(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as session:
        return list(session.scalars(select(ConversationState.kind)).all())


def figures(entry: Entry) -> dict[str, tuple[Decimal, str, str, str]]:
    return {m.question_id: (m.low, m.approx, m.unit, m.raw) for m in entry.metrics}


class Person:
    """A chat that remembers the last card it was shown before each save."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.card = ""
        self.cards: list[str] = []

    def play(self, transcript: list[tuple[str, str | list[str]]]) -> None:
        for said, expected in transcript:
            play(self.chat, [(said, expected)])
            shown = "\n".join(r.text for r in self.chat.replies)
            if "已保存" in shown:
                self.cards.append(self.card)
            if "请核对" in shown:
                self.card = shown[shown.index("请核对") :]


def shown_on_card(card: str, entry: Entry) -> None:
    """Every value stored was on the card the person confirmed (nothing unseen is kept):
    each card line holds the stored value whole, then at most a mark (' ←“…”', '（…）')."""
    lines = card.splitlines()

    def shown(label: str, value: str) -> bool:
        found = [line.partition("：")[2] for line in lines if f"{label}：" in line]
        return any(text == value or text.startswith((value + " ", value + "（")) for text in found)

    assert shown("工作类别", entry.area_name)
    assert shown("活动名称", entry.title)
    (dates,) = [line for line in lines if "活动日期：" in line]
    for day in {entry.start_date, entry.end_date}:
        assert f"{day.year}年{day.month}月{day.day}日（" in dates
    if entry.location:
        assert shown("地点", entry.location)
    for metric in entry.metrics:
        assert shown(metric.label, metric_text(metric.low, metric.high, metric.approx, metric.unit))
    for key, value in entry.answers.items():
        if isinstance(value, dict) and "text" in value:
            assert str(value["text"]) in card, key


# -- a report in one message -------------------------------------------------------------


@pytest.mark.parametrize("said", [REPORT, f"/report {REPORT}", f"上报 {REPORT}", f"上报：{REPORT}"])
def test_a_report_in_one_message_is_prefilled_and_asks_only_what_is_missing(
    staff_chat: Chat, sessions: sessionmaker[Session], said: str
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (
                said,
                [
                    "从你的消息中读出：工作类别 文体活动；活动名称 夏夜汇演",
                    "地点 文化广场；演出（活动）场次 3场次；参与群众 300余人次",
                    # 11月8日 said in June is last November: asked once
                    "这是2025年的活动吗？你写的是2025年11月8日（周六）",
                ],
            ),
            ("是", ["活动效果怎么样", "（还差 1 项）"]),
            (
                "演出很精彩，居民反响热烈",
                [
                    "请核对",
                    "1. 工作类别：文体活动 ←“汇演”",
                    "2. 活动名称：夏夜汇演 ←“夏夜汇演”",
                    "3. 活动日期：2025年11月8日（周六） ←“11月8日”",
                    "4. 地点：文化广场 ←“文化广场”",
                    "5. 演出（活动）场次：3场次 ←“3场”",
                    "6. 参与群众：300余人次（按“300多人”理解为不少于 300 人次）",
                    "7. 参演人员：（未填）",  # optional and not mentioned: not asked
                    f"11. 主要内容：{REPORT}（你的消息原文）",
                    "标“←”的是从你的消息里读出的。要改或补充，回复“改”加编号",
                ],
            ),
            ("对", ["已保存", "记入2025年下半年"]),
        ]
    )
    (entry,) = entries(sessions)
    assert (entry.area, entry.title, entry.location) == ("recreation", "夏夜汇演", "文化广场")
    assert entry.start_date == entry.end_date == date(2025, 11, 8)
    assert figures(entry) == {
        "sessions": (Decimal(3), "exact", "场次", "3场"),
        "attendance": (Decimal(300), "more_than", "人次", "300多人"),
    }
    assert entry.answers["content"] == {"text": REPORT, "whole": True}
    assert "performers" not in entry.answers  # never asked, never stored
    shown_on_card(person.cards[0], entry)
    assert states(sessions) == []


def test_the_summary_tells_a_one_message_report_without_repeating_the_message(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    """The clerk reads the report's facts once, in the genre's words; the message as typed
    ("办了3场…，300多人参加") stays in the ledger, not in the prose."""
    play(
        staff_chat,
        [
            (JUNE_REPORT, "活动效果怎么样"),
            ("群众反响热烈", "请核对"),
            ("对", "已保存"),
        ],
    )
    kit = SummaryKit.load(templates_dir() / "summary")
    with transaction(sessions) as session:
        unit = session.scalars(select(Unit).where(Unit.name == "新华社区")).one()
        summary = summarise(session, kit, unit, period_of(date(2026, 6, 24)))
    prose = render(summary, kit, Format.TXT).decode()
    body = prose[: prose.index("附件")]
    assert "6月12日，在文化广场开展“夏夜汇演”" in body
    assert "3场次" in body and "300余人次" in body and "群众反响热烈" in body
    assert "办了3场" not in body and "300多人参加" not in body
    assert JUNE_REPORT in "".join(row.content for row in summary.ledger)  # the ledger keeps it


def test_a_report_typed_at_the_category_question_fills_the_report(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            ("/report", "这次活动属于哪一类工作"),
            (
                JUNE_REPORT,
                [
                    "从你的消息中读出：工作类别 文体活动",
                    "活动日期 2026年6月12日（周五）",
                    "参与群众 300余人次",
                    "活动效果怎么样",
                ],
            ),
            ("观众很多，反响好", ["请核对", "3. 活动日期：2026年6月12日（周五） ←“6月12日”"]),
            ("确认", "已保存"),
        ]
    )
    (entry,) = entries(sessions)
    assert entry.start_date == date(2026, 6, 12)
    assert set(figures(entry)) == {"sessions", "attendance"}
    shown_on_card(person.cards[0], entry)


def test_an_answer_that_says_more_fills_the_other_fields_and_says_what_it_took(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            ("/report", "哪一类"),
            ("文体活动", "活动叫什么名字"),
            ("夏夜汇演", "活动是哪天办的"),
            (
                "6月12号在文化广场",
                ["从你的回答中读出：活动日期 2026年6月12日（周五）；地点 文化广场。", "几场"],
            ),
            (
                "3场，300多人参加",
                ["从你的回答中读出：演出（活动）场次 3场次；参与群众 300余人次", "上台参演"],
            ),
            ("/skip", "几支队伍"),
            ("/skip", "几个节目"),
            ("/skip", "几项奖"),
            ("/skip", "做了什么"),
            ("露天演出三场。", "效果"),
            ("反响好。", "亮点"),
            ("/skip", "照片"),
            (
                "/skip",
                [
                    "4. 地点：文化广场 ←“文化广场”",
                    "6. 参与群众：300余人次（按“300多人”理解为不少于 300 人次）",
                ],
            ),
            ("确认", "已保存"),
        ]
    )
    (entry,) = entries(sessions)
    assert entry.location == "文化广场"
    assert entry.start_date == date(2026, 6, 12)
    assert figures(entry)["attendance"] == (Decimal(300), "more_than", "人次", "300多人")
    shown_on_card(person.cards[0], entry)


@pytest.mark.parametrize(
    ("volunteers", "hours", "households", "shown"),
    [
        (
            "二十几个",
            "大概40个小时",
            "五十多户",
            [
                "参与志愿者：20余名（按“二十几个”理解为不少于 20 名）",
                "服务时长：约40小时（按“大概40个小时”理解为约 40 小时）",
                "服务家庭：50余户（按“五十多户”理解为不少于 50 户）",
            ],
        ),
        ("12", "40个小时", "10户", ["参与志愿者：12名", "服务时长：40小时", "服务家庭：10户"]),
    ],
)
def test_counts_are_read_by_their_measure_words(
    staff_chat: Chat,
    sessions: sessionmaker[Session],
    volunteers: str,
    hours: str,
    households: str,
    shown: list[str],
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("志愿服务", "名字"),
            ("敬老院志愿服务", "哪天"),
            ("昨天", "在哪里"),
            ("敬老院", "多少名志愿者"),
            (volunteers, "多少小时"),
            (hours, "服务了多少人次"),
            ("300多人", "多少户"),  # 人 counts as 人次 for this question
            (households, "做了什么"),
            ("陪老人聊天，打扫卫生。", "效果"),
            ("老人很开心。", "亮点"),
            ("/skip", "照片"),
            ("/skip", [*shown, "服务群众：300余人次（按“300多人”理解为不少于 300 人次）"]),
            ("确认", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    units = {m.question_id: m.unit for m in entry.metrics}
    assert units == {"volunteers": "名", "hours": "小时", "served": "人次", "households": "户"}


def test_a_volunteer_report_in_one_message_reads_every_figure(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (
                "上周三晚上组织二十几个志愿者在小区清扫，服务大概40个小时，走访了五十多户",
                [
                    "工作类别 志愿服务",
                    "参与志愿者 20余名；服务时长 约40小时；服务家庭 50余户",
                    "大约服务了多少人次群众",  # required, not in the message
                ],
            ),
            ("60人次", "效果"),
            ("小区干净了。", ["请核对", "8. 服务家庭：50余户（按“五十多户”理解为不少于 50 户）"]),
            ("对的", "已保存"),
        ]
    )
    (entry,) = entries(sessions)
    assert entry.start_date == date(2026, 6, 17)
    assert entry.location == "小区"
    assert {k: v[:2] for k, v in figures(entry).items()} == {
        "volunteers": (Decimal(20), "more_than"),
        "hours": (Decimal(40), "about"),
        "served": (Decimal(60), "exact"),
        "households": (Decimal(50), "more_than"),
    }
    shown_on_card(person.cards[0], entry)


# -- two activities ------------------------------------------------------------------------


def test_two_activities_in_one_message_become_two_entries(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (
                "上周三组织志愿者清扫小区，志愿者20人；上周五举办书法比赛，参赛50人",
                [
                    "这条消息里好像不止一次活动",
                    "1. 上周三组织志愿者清扫小区，志愿者20人",
                    "2. 上周五举办书法比赛，参赛50人",
                    "先报哪一次",
                ],
            ),
            ("[先报第 1 次]", ["工作类别 志愿服务", "参与志愿者 20名", "服务了多少人次"]),
            ("30人次", "效果"),
            ("小区干净了。", "请核对"),
            (
                "确认",
                [
                    "已保存",
                    "接着报消息里的下一次活动：“上周五举办书法比赛，参赛50人”",
                    "工作类别 文体活动；活动名称 书法比赛",
                    "参演人员 50名",
                    "多少人次",
                ],
            ),
            ("80", "效果"),
            ("作品很多。", "请核对"),
            ("确认", "已保存"),
        ]
    )
    first, second = entries(sessions)
    assert (first.area, first.start_date) == ("volunteer", date(2026, 6, 17))
    assert (second.area, second.title, second.start_date) == (
        "recreation",
        "书法比赛",
        date(2026, 6, 19),
    )
    assert first.answers["content"] == {
        "text": "上周三组织志愿者清扫小区，志愿者20人",
        "whole": True,
    }
    assert figures(second)["performers"][:2] == (Decimal(50), "exact")
    for card, entry in zip(person.cards, (first, second), strict=True):
        shown_on_card(card, entry)
    assert states(sessions) == []


def test_a_second_activity_without_a_date_shares_the_first_ones(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            (
                "昨天在文化广场办了3场汇演，另外还放了2场电影",
                ["1. 昨天在文化广场办了3场汇演", "2. 昨天，放了2场电影"],
            ),
            ("2", ["活动日期 2026年6月23日（周二）", "演出（活动）场次 2场次"]),
        ],
    )
    assert entries(sessions) == []  # nothing is saved before the card is confirmed


def test_two_activities_that_cannot_be_told_apart_are_asked_about(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    said = "昨天在文化广场办了3场汇演又放了2场电影"
    play(
        staff_chat,
        [
            (said, ["好像不止一次活动", "是同一次活动", "分开发"]),
            ("[分开发]", ["这次没有保存", "一条消息写一次活动"]),
        ],
    )
    assert entries(sessions) == [] and states(sessions) == []
    play(
        staff_chat,
        [
            (said, "好像不止一次活动"),
            ("[是同一次活动]", ["从你的消息中读出", "活动日期 2026年6月23日"]),
        ],
    )
    assert states(sessions) == ["interview"]


# -- the area ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pick", "read"),
    [
        (
            "1",
            [
                "从你的消息中读出：活动场次 1场次（没写场次，按一场计，可改）；参与人次 12人次；参与家庭 45户",
                "效果",
            ],
        ),
        ("[志愿服务]", ["从你的消息中读出：参与志愿者 12名；服务家庭 45户", "服务了多少人次"]),
    ],
)
def test_an_unsure_area_is_asked_with_the_best_guesses_first(
    staff_chat: Chat, sessions: sessionmaker[Session], pick: str, read: list[str]
) -> None:
    play(
        staff_chat,
        [
            (
                "6月2日开展文明家庭创建入户走访，走访家庭45户，参与志愿者12人",
                ["这次活动属于哪一类工作", "可能是“文明创建”、“志愿服务”，已排在最前面"],
            ),
        ],
    )
    assert staff_chat.buttons[:3] == ["文明创建", "志愿服务", "理论学习"]
    play(staff_chat, [(pick, read)])


def test_a_wrong_area_changed_on_the_card_takes_the_figures_along(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (
                "本周一组织中小学生开展“红色经典”诵读比赛，参赛选手32名",
                ["工作类别 文体活动", "参演人员 32名", "多少人次"],
            ),
            ("100", "效果"),
            ("孩子们很投入。", ["请核对", "参演人员：32名 ←“32名”"]),
            ("改1", ["哪一类", "全民阅读"]),
            (
                "[全民阅读]",
                [
                    "请核对",
                    "1. 工作类别：全民阅读\n",
                    "5. 读书活动：1场次（没写场次，按一场计，可改）",
                ],
            ),
            ("确认", "已保存"),
        ]
    )
    assert "参演人员" not in person.cards[0]  # the old area's figure is gone, not kept unseen
    (entry,) = entries(sessions)
    assert entry.area == "reading"
    assert figures(entry) == {
        "sessions": (Decimal(1), "exact", "场次", "1"),
        "attendance": (Decimal(100), "exact", "人次", "100"),
    }
    shown_on_card(person.cards[0], entry)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "answer", "state"),
    [
        ("6月20日在文化广场办了夏夜汇演，300", ["“300”没写单位", "多少人次"], ["interview"]),
        ("明晚在文化广场放露天电影，预计200人", ["“明晚”", "还没到", "这次没有记录"], []),
        (
            "昨天在文化广场办了2场汇演，-5人参加",
            ["你写的是“-5人”，数量不能是负数", "多少人次"],
            ["interview"],
        ),
        (
            "昨天在文化广场办了2场汇演，很多人参加",
            ["你写的是“很多人”，没有具体的数", "多少人次"],
            ["interview"],
        ),
        ("😀👍", ["直接发一句话就行"], []),
        ("汇演" * 5000, ["这条消息太长了（10000 字）"], []),
        ("你好", ["现在没有进行中的上报"], []),
        ("谢谢", ["现在没有进行中的上报"], []),
        ("50", ["现在没有进行中的上报"], []),
    ],
)
def test_bad_input_gets_a_clear_question_or_explanation_and_nothing_is_saved(
    staff_chat: Chat,
    sessions: sessionmaker[Session],
    said: str,
    answer: list[str],
    state: list[str],
) -> None:
    play(staff_chat, [(said, answer)])
    assert entries(sessions) == []
    assert states(sessions) == state


def test_a_figure_of_zero_in_the_message_is_asked_once(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (
                "昨天在文化广场办了2场汇演，0人参加",
                ["演出（活动）场次 2场次", "你写的是“0人”。", "“参与群众”是 0 吗"],
            ),
            ("不是", ["请重新填写", "多少人次"]),
            ("120", "效果"),
            ("还行。", ["请核对", "参与群众：120人次"]),
            ("确认", "已保存"),
        ]
    )
    (entry,) = entries(sessions)
    assert figures(entry)["attendance"][:2] == (Decimal(120), "exact")
    shown_on_card(person.cards[0], entry)


def test_a_report_without_figures_or_date_asks_for_them(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("在文化广场办了夏夜汇演", ["工作类别 文体活动", "活动是哪天办的", "（还差 3 项）"]),
            ("明天", "还没到"),
            ("上周六", "多少人次"),
        ],
    )


def test_what_is_left_can_be_answered_in_one_message(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (
                "在文化广场办了夏夜汇演",
                [
                    "演出（活动）场次 1场次（没写场次，按一场计，可改）",
                    "活动是哪天办的",
                    "还差的几项（活动日期、参与群众、取得成效）可以一条消息说完，"
                    "例如：“昨天，100人次，居民反响很好”。",
                ],
            ),
            (
                "上周六，大概两百人，观众都说好看",
                [  # all three taken: on to the card, which shows them
                    "请核对",
                    "3. 活动日期：2026年6月20日（周六） ←“上周六”",
                    "6. 参与群众：约200人次（按“大概两百人”理解为约 200 人次）",
                    "12. 取得成效：观众都说好看",
                ],
            ),
            ("确认", "已保存"),
        ]
    )
    (entry,) = entries(sessions)
    assert entry.start_date == date(2026, 6, 20)
    assert entry.answers["achievements"] == {"text": "观众都说好看"}
    assert figures(entry)["attendance"][:2] == (Decimal(200), "about")
    shown_on_card(person.cards[0], entry)


# -- the card ---------------------------------------------------------------------------------


def test_a_photo_sent_at_the_card_joins_the_report(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            (JUNE_REPORT, "效果"),
            ("很好。", ["请核对", "照片可直接发来"]),
            ("<photo>", "收到第 1 张照片，已加到第 14 项"),
            ("确认", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    assert [p.file_ref for p in entry.photos] == ["photo-3"]


def test_english_messages_are_read_too(staff_chat: Chat, sessions: sessionmaker[Session]) -> None:
    play(
        staff_chat,
        [
            ("/lang en", "English"),
            (
                "Film night at the square yesterday, 2 screenings, about 300 people",
                ["Read from your message", "Culture and sports", "How did it go"],
            ),
            (
                "Everyone enjoyed it.",
                ["Please check", "Date: 2026-06-23 (Tue) ← “yesterday”", "as about 300 人次"],
            ),
            ("ok", "Saved"),
        ],
    )
    (entry,) = entries(sessions)
    assert entry.title == "Film night" and entry.start_date == date(2026, 6, 23)
    assert figures(entry)["attendance"][:2] == (Decimal(300), "about")


def test_a_place_typed_with_a_known_figure_keeps_only_the_place(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("6月12日办了3场夏夜汇演，300多人参加", "效果"),
            ("很好。", ["请核对", "4. 地点：（未填）"]),
            ("改4", "在哪里办的"),
            ("文化广场，300多人参加", ["请核对", "4. 地点：文化广场 ←“文化广场”"]),
            ("确认", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    assert entry.location == "文化广场"


# -- a new report asked for while one is being filled in ------------------------------------

CLEANUP = "6月20日在社区开展志愿清扫，20人参加"
SWITCH = "你正在填写“夏夜汇演”（还差 1 项）。先报完这一条，还是放弃它、改报新的？"


def test_a_report_word_mid_report_asks_once_and_going_on_stores_nothing_of_it(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (JUNE_REPORT, ["活动效果怎么样", "（还差 1 项）"]),
            (f"上报 {CLEANUP}", SWITCH),  # was stored as the answer: "12. 取得成效：上报 …"
        ]
    )
    assert staff_chat.buttons == ["继续填写", "报新的"]
    person.play(
        [
            ("[继续填写]", ["好的，接着填。", "活动效果怎么样", "（还差 1 项）"]),
            ("演出很精彩，居民反响热烈", ["请核对", "12. 取得成效：演出很精彩，居民反响热烈"]),
            ("对", "已保存"),
        ]
    )
    (entry,) = entries(sessions)
    assert entry.title == "夏夜汇演"
    assert entry.answers["achievements"] == {"text": "演出很精彩，居民反响热烈"}
    assert not [v for v in entry.answers.values() if "上报" in str(v) or "清扫" in str(v)]
    shown_on_card(person.cards[0], entry)
    assert states(sessions) == []


@pytest.mark.parametrize("choice", ["[报新的]", "报新的", "2"])
def test_choosing_the_new_report_drops_the_old_one_until_the_new_one_is_done(
    staff_chat: Chat, sessions: sessionmaker[Session], choice: str
) -> None:
    person = Person(staff_chat)
    person.play(
        [
            (JUNE_REPORT, "（还差 1 项）"),
            (f"上报：{CLEANUP}", SWITCH),
            (
                choice,
                [
                    "好，“夏夜汇演”先放下了，没有保存；报完新的这一条后，当天回复“恢复”可以接着填。",
                    "从你的消息中读出：工作类别 志愿服务",  # the new one, prefilled
                    "有多少名志愿者参加",
                ],
            ),
            ("8名，居民反响很好", ["请核对", "参与志愿者：8名"]),
            ("对", ["已保存", "“夏夜汇演”还没报完，今天之内回复“恢复”可以接着填。"]),
        ]
    )
    assert states(sessions) == ["discarded"]
    person.play(
        [
            ("恢复", ["已恢复刚才放弃的上报", "活动效果怎么样"]),
            ("演出很精彩", ["请核对", "2. 活动名称：夏夜汇演", "12. 取得成效：演出很精彩"]),
            ("对", "已保存"),
        ]
    )
    cleanup, show = entries(sessions)
    assert (cleanup.area, cleanup.start_date) == ("volunteer", date(2026, 6, 20))
    assert cleanup.answers["content"] == {"text": CLEANUP, "whole": True}  # without the report word
    assert (show.title, show.start_date) == ("夏夜汇演", date(2026, 6, 12))
    assert show.answers["achievements"] == {"text": "演出很精彩"}
    for entry, card in zip((cleanup, show), person.cards, strict=True):
        shown_on_card(card, entry)
    assert states(sessions) == []


@pytest.mark.parametrize("said", ["/report", "上报", "填报"])
def test_a_report_command_without_text_mid_report_asks_the_same(
    staff_chat: Chat, sessions: sessionmaker[Session], said: str
) -> None:
    play(
        staff_chat,
        [
            (JUNE_REPORT, "（还差 1 项）"),
            (said, SWITCH),
            ("[报新的]", ["“夏夜汇演”先放下了", "这次活动属于哪一类工作"]),
            ("/cancel", ["已取消", "“夏夜汇演”还没报完，今天之内回复“恢复”可以接着填。"]),
            ("/back", ["已恢复", "活动效果怎么样"]),
            (said, SWITCH),
            ("继续", ["接着填", "活动效果怎么样"]),
        ],
    )
    assert entries(sessions) == []
    assert states(sessions) == ["interview"]


def test_a_new_report_replaces_one_without_answers_and_an_edit_is_asked_about(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("4", "活动叫什么名字"),
            (f"上报 {JUNE_REPORT}", ["从你的消息中读出", "活动效果怎么样"]),  # nothing to lose
            ("很好。", "请核对"),
            ("对", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    play(
        staff_chat,
        [
            (f"/edit {entry.id}", "请核对"),
            (
                f"上报 {CLEANUP}",
                f"你正在修改记录 #{entry.id}。先改完，还是放弃修改、改报新的？",
            ),
            ("好", ["请选一个", "先改完"]),  # "好" says neither: asked again
            ("[报新的]", [f"记录 #{entry.id} 保持原样", "有多少名志愿者参加"]),
        ],
    )
    (kept,) = entries(sessions)
    assert kept.revision == entry.revision and kept.title == "夏夜汇演"


def test_going_on_with_the_report_by_answering_its_question(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            (JUNE_REPORT, "（还差 1 项）"),
            ("上报", SWITCH),
            # the person answers the question instead: the report goes on, the new one is not started
            ("演出很精彩", ["请核对", "12. 取得成效：演出很精彩"]),
            ("对", "已保存"),
        ],
    )
    assert len(entries(sessions)) == 1 and states(sessions) == []


def test_a_new_report_mid_report_in_english(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/lang en", "English"),
            ("Film night at the square yesterday, 2 screenings, about 300 people", "How did it go"),
            (
                "report Volunteers cleaned the park on June 20, 20 people",
                "You are filling in “Film night” (1 left). Finish it first, or drop it and "
                "report the new one?",
            ),
        ],
    )
    assert staff_chat.buttons == ["Go on with it", "Report the new one"]
    play(
        staff_chat,
        [
            ("[Go on with it]", ["Fine, let us go on.", "How did it go"]),
            ("/report", "You are filling in “Film night”"),
            (
                "Report the new one",  # the button's label typed out
                ["“Film night” is put aside, not saved", "reply “restore”", "Volunteer service"],
            ),
        ],
    )
    assert entries(sessions) == []


def test_the_card_says_how_to_change_an_item_once(staff_chat: Chat) -> None:
    play(staff_chat, [(JUNE_REPORT, "效果"), ("很好。", "请核对")])
    card = staff_chat.replies[-1].text.splitlines()
    assert card[-2:] == [
        "标“←”的是从你的消息里读出的。要改或补充，回复“改”加编号（如“改3”）或名称（如“改日期”）；"
        "照片可直接发来。",
        "确认无误就保存吧，回复“对”即可。",
    ]
    assert sum("改”加编号" in line or "“改3”" in line for line in card) == 1
    play(
        staff_chat,
        [("/lang en", "English"), ("/cancel", "Drop this report?"), ("No, go on", "Please check")],
    )
    card = staff_chat.replies[-1].text.splitlines()
    assert card[-2:] == [
        "Items marked “←” were read from your message. To change or add one, reply “change” and "
        "its number (“change 3”) or name (“change date”); photos can be sent right away.",
        "All right? Reply “ok” to save it.",
    ]


def test_a_new_report_that_cannot_start_still_settles_the_question(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            (JUNE_REPORT, "（还差 1 项）"),
            ("上报 6月28日在文化广场办电影放映，100人参加", SWITCH),  # the 28th is still ahead
            ("[报新的]", ["“夏夜汇演”先放下了", "还没到"]),
            ("恢复", ["已恢复", "活动效果怎么样"]),
        ],
    )
    assert states(sessions) == ["interview"]

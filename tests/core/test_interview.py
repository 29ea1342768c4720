"""The pure interview with every question type, on a small questionnaire built in code."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core import interview
from bot.core.interview import Context, Step
from bot.core.questionnaire import Questionnaire
from bot.core.types import Incoming, Kind, Photo

SMALL = Questionnaire.model_validate(
    {
        "id": "small",
        "title": "测试问卷",
        "version": 1,
        "area_prompt": "哪一类？",
        "areas": [
            {
                "key": "a",
                "name": "甲类",
                "questions": [
                    {
                        "id": "kind",
                        "type": "choice",
                        "label": "形式",
                        "prompt": "什么形式？",
                        "choices": ["线上", "线下"],
                    },
                    {"id": "paid", "type": "yesno", "label": "是否收费", "prompt": "收费吗？"},
                    {
                        "id": "funds",
                        "type": "count",
                        "label": "经费",
                        "unit": "万元",
                        "prompt": "经费多少？",
                        "optional": True,
                    },
                ],
            },
            {"key": "b", "name": "乙类", "questions": []},
        ],
        "before": [
            {
                "id": "title",
                "type": "text",
                "role": "title",
                "label": "名称",
                "prompt": "叫什么？",
                "max_length": 20,
            },
            {"id": "day", "type": "date", "role": "dates", "label": "日期", "prompt": "哪天？"},
        ],
        "after": [
            {
                "id": "pics",
                "type": "photo",
                "role": "photos",
                "label": "照片",
                "prompt": "照片？",
                "optional": True,
                "max_photos": 2,
            },
        ],
    }
)
CTX = Context(
    questionnaire=SMALL, now=datetime(2026, 6, 24, 2, tzinfo=UTC), today=date(2026, 6, 24)
)


def say(step: Step, text: str = "", kind: Kind = Kind.TEXT) -> Step:
    assert step.state is not None
    photo = Photo("img") if kind is Kind.PHOTO else None
    incoming = Incoming("shell", "u", "m", CTX.now, kind=kind, text=text, photo=photo)
    return interview.answer(CTX, step.state, incoming)


def press(step: Step, label: str) -> Step:
    """Press the button with this label on the step's last reply."""
    (value,) = [c.value for c in step.replies[-1].choices if c.label == label]
    return say(step, value, Kind.BUTTON)


def text_of(step: Step) -> str:
    return "\n".join(r.text for r in step.replies)


def test_every_question_type_is_parsed_and_stored() -> None:
    step = interview.start(CTX, [(7, "新华社区")])
    step = say(step, "甲类")
    step = say(step, "培训")
    step = say(step, "2026-06-20")
    assert "什么形式" in text_of(step)
    assert [c.label for c in step.replies[-1].choices] == ["线上", "线下"]
    step = say(step, "3")
    assert "请从下面的选项中选一个" in text_of(step)
    step = press(step, "线下")
    step = say(step, "也许")
    assert "请回答“是”或“否”" in text_of(step)
    step = say(step, "ＹＥＳ")  # full-width letters are read too
    step = say(step, "39000元")
    assert "照片" in text_of(step)
    step = say(step, kind=Kind.PHOTO)
    step = say(step, kind=Kind.PHOTO)
    step = say(step, kind=Kind.PHOTO)
    assert "最多 2 张照片" in text_of(step)
    step = say(step, "完成")
    card = text_of(step)
    assert "经费：3.9万元" in card and "是否收费：是" in card and "形式：线下" in card
    assert "2026年6月20日（周六）" in card
    step = press(step, "✅ 确认保存")
    draft = step.draft
    assert draft is not None and step.state is None
    assert draft.unit_id == 7 and draft.title == "培训"
    assert draft.start_date == draft.end_date == date(2026, 6, 20)
    assert draft.answers["kind"] == {"choice": "线下"}
    assert draft.answers["paid"] == {"yes": True}
    assert [p["ref"] for p in draft.photos] == ["img", "img"]
    (funds,) = draft.metrics
    assert (str(funds.low), funds.unit, funds.raw) == ("3.9", "万元", "39000元")


def test_an_area_without_figures_goes_straight_on() -> None:
    step = interview.start(CTX, [(7, "新华社区")])
    step = say(step, "2")
    step = say(step, "座谈会")
    step = say(step, "昨天")
    assert "照片" in text_of(step)
    step = interview.skip(CTX, step.state)
    assert "请核对" in text_of(step)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "不能为空"),
        ("   ", "不能为空"),
        ("!!!", "只发表情"),
        ("名" * 21, "控制在 20 字以内"),
    ],
)
def test_bad_text_answers(answer: str, problem: str) -> None:
    step = say(say(interview.start(CTX, [(7, "x")]), "1"), answer)
    assert problem in text_of(step)
    assert step.state is not None and step.state.cursor == "title"


def test_an_abandoned_confirmation_asks_once_then_drops_everything() -> None:
    step = interview.start(CTX, [(7, "x")])
    for answer in ("2", "座谈会", "昨天"):
        step = say(step, answer)
    step = interview.skip(CTX, step.state)
    step = say(step, "放弃")
    assert "确定放弃这份上报吗" in text_of(step) and step.state is not None
    step = press(step, "确定放弃")
    assert step.state is None and step.draft is None and step.cancelled
    assert step.discarded is not None and step.discarded.answers["title"] == {"text": "座谈会"}


def test_a_button_of_an_earlier_question_cannot_answer_the_current_one() -> None:
    step = interview.start(CTX, [(7, "新华社区")])
    area_buttons = step
    step = press(step, "甲类")
    assert "叫什么" in text_of(step)
    (old_value,) = [c.value for c in area_buttons.replies[-1].choices if c.label == "乙类"]
    again = say(step, old_value, Kind.BUTTON)  # the old message's button, pressed later
    assert "按钮已经失效" in text_of(again)
    assert again.state is not None and again.state.area == "a"
    assert again.state.cursor == "title"
    forged = say(step, "area:b", Kind.BUTTON)  # a button value without a valid token
    assert "按钮已经失效" in text_of(forged)

"""The genre's small rules: readable figures, quotes, emoji, non-answers, recurring titles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.summary.wording import (
    is_non_answer,
    ordinal,
    quoted,
    readable,
    recurring_key,
    sentence,
    strip_emoji,
)


@pytest.mark.parametrize(
    ("low", "kind", "unit", "text"),
    [
        ("15964", "more_than", "人次", "1.5万余人次"),  # the example
        ("62", "more_than", "条", "60余条"),
        ("4350", "more_than", "人次", "4300余人次"),
        ("240", "more_than", "人次", "240余人次"),
        ("1860", "more_than", "份", "1800余份"),
        ("195000", "more_than", "册", "19.5万余册"),
        ("10000", "more_than", "人次", "1万余人次"),
        ("6", "more_than", "场次", "6场次以上"),  # "6余场" is no Chinese
        ("18761", "about", "人次", "约1.9万人次"),
        ("4350", "about", "人次", "约4400人次"),
        ("150", "about", "人次", "约150人次"),
        ("13.1", "about", "万元", "约13.1万元"),
        ("12.5", "more_than", "万元", "12万余元"),
        ("15964", "exact", "人次", "15964人次"),  # exact figures stay exact
        ("3.9", "exact", "万元", "3.9万元"),
    ],
)
def test_readable_figures(low: str, kind: str, unit: str, text: str) -> None:
    assert readable(Decimal(low), kind, unit) == text


def test_a_readable_bound_is_never_above_the_sum() -> None:
    for value in (11, 99, 101, 999, 1001, 9999, 10001, 123456, 99999):
        text = readable(Decimal(value), "more_than", "人")
        number = text.removesuffix("余人")
        shown = Decimal(number.removesuffix("万")) * (10000 if number.endswith("万") else 1)
        assert shown <= value, text


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("“我们的节日·元宵”游园会", "“‘我们的节日·元宵’游园会”"),  # ‘’ inside “”
        ("“学雷锋志愿服务日”", "“学雷锋志愿服务日”"),  # quoted as a whole: once
        ('"最美家庭"评选', "“‘最美家庭’评选”"),
        ("「周末课堂」", "“周末课堂”"),
        ("党史故事会", "“党史故事会”"),
    ],
)
def test_quoted_titles(title: str, text: str) -> None:
    assert quoted(title) == text
    assert "““" not in text and "””" not in text


def test_emoji_and_wechat_codes_are_dropped() -> None:
    assert strip_emoji("大家很开心😊") == "大家很开心"
    assert strip_emoji("效果很好👍🏻[强]") == "效果很好"
    assert strip_emoji("❤️居民点赞✨") == "居民点赞"
    assert strip_emoji("气温30℃，共3№") == "气温30℃，共3№"  # symbols that are text stay


@pytest.mark.parametrize(
    "answer", ["无", "无。", "没有", "暂无", "不知道", "没有亮点", " 无 ", "/", "无😊", "N/A"]
)
def test_non_answers(answer: str) -> None:
    assert is_non_answer(answer)
    assert sentence(answer) == ""


def test_real_answers_are_kept_as_sentence_bodies() -> None:
    assert not is_non_answer("无人机表演很精彩")
    assert sentence("无人机表演很精彩！！") == "无人机表演很精彩"
    assert sentence('居民说"听得懂"。') == "居民说“听得懂”"


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("每月一课（1月）", "每月一课"),
        ("每月一课·5月", "每月一课"),
        ("5月份每月一课", "每月一课"),
        ("送电影进社区（第3场）", "送电影进社区"),
        ("周末课堂第12期", "周末课堂"),
        ("2026年“学雷锋”志愿服务", "“学雷锋”志愿服务"),
        ("关爱空巢老人结对帮扶", "关爱空巢老人结对帮扶"),
        ("“我们的节日·元宵”游园会", "“我们的节日·元宵”游园会"),
        ("读书会（亲子专场）", "读书会（亲子专场）"),  # a bracket without a date stays
    ],
)
def test_recurring_titles_share_a_stem(title: str, stem: str) -> None:
    assert recurring_key(title)[1] == stem


def test_ordinals_go_past_ten() -> None:
    assert [ordinal(n) for n in (1, 2, 9, 10, 11, 12, 20, 21)] == [
        "一是", "二是", "九是", "十是", "十一是", "十二是", "二十是", "二十一是",
    ]  # fmt: skip

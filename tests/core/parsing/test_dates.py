"""Tests for bot.core.parsing.dates."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core.parsing import SHANGHAI, DateError, DateErrorReason, parse_date, parse_date_range

# Wednesday 2026-06-24, 10:00 in Shanghai.
NOW = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI)


def test_now_is_a_wednesday() -> None:
    assert NOW.isoweekday() == 3
    assert NOW.date().isocalendar().week == 26


DATE_CASES: list[tuple[str, date]] = [
    ("6月30日", date(2026, 6, 30)),
    ("6月30号", date(2026, 6, 30)),
    ("6月30", date(2026, 6, 30)),
    ("2026年6月30日", date(2026, 6, 30)),
    ("6.30", date(2026, 6, 30)),
    ("6/30", date(2026, 6, 30)),
    ("2026-06-30", date(2026, 6, 30)),
    ("2026/6/30", date(2026, 6, 30)),
    ("2026.6.30", date(2026, 6, 30)),
    ("20260630", date(2026, 6, 30)),
    ("２０２６年６月３０日", date(2026, 6, 30)),
    ("2026 年 6 月 30 日", date(2026, 6, 30)),
    ("26年6月30日", date(2026, 6, 30)),
    ("二〇二六年六月三十日", date(2026, 6, 30)),
    ("二零二六年六月三十日", date(2026, 6, 30)),
    ("六月三十日", date(2026, 6, 30)),
    ("十月一日", date(2025, 10, 1)),  # more than 60 days ahead: last year
    ("8月23日", date(2026, 8, 23)),  # exactly 60 days ahead: this year
    ("8月24日", date(2025, 8, 24)),  # 61 days ahead: last year
    ("12月28日", date(2025, 12, 28)),
    ("1月5日", date(2026, 1, 5)),
    ("去年12月28日", date(2025, 12, 28)),
    ("今年10月1日", date(2026, 10, 1)),
    ("今天", date(2026, 6, 24)),
    ("昨天", date(2026, 6, 23)),
    ("前天", date(2026, 6, 22)),
    ("大前天", date(2026, 6, 21)),
    ("昨晚", date(2026, 6, 23)),
    ("前晚", date(2026, 6, 22)),
    ("明晚", date(2026, 6, 25)),
    ("明早", date(2026, 6, 25)),
    ("今天下午", date(2026, 6, 24)),
    ("上周五", date(2026, 6, 19)),
    ("上周一", date(2026, 6, 15)),
    ("上周日", date(2026, 6, 21)),
    ("上星期六", date(2026, 6, 20)),
    ("上个礼拜天", date(2026, 6, 21)),
    ("上上周五", date(2026, 6, 12)),
    ("本周三", date(2026, 6, 24)),
    ("这周三", date(2026, 6, 24)),
    ("这周一", date(2026, 6, 22)),
    ("本周五", date(2026, 6, 26)),  # this ISO week, even though it is ahead
    ("周三", date(2026, 6, 24)),
    ("周四", date(2026, 6, 18)),  # bare weekday: most recent, not after today
    ("星期二", date(2026, 6, 23)),
    ("周日", date(2026, 6, 21)),
    ("本月3号", date(2026, 6, 3)),
    ("这个月3日", date(2026, 6, 3)),
    ("上月15日", date(2026, 5, 15)),
    ("上个月15号", date(2026, 5, 15)),
    ("上上个月1号", date(2026, 4, 1)),
    ("3号", date(2026, 6, 3)),
    ("3日", date(2026, 6, 3)),
    ("廿一日", date(2026, 6, 21)),
    ("6月30日（周二）", date(2026, 6, 30)),
    ("6月30日 星期二", date(2026, 6, 30)),
    ("6月20日上午9:00", date(2026, 6, 20)),
    ("6月20日14:00-16:00", date(2026, 6, 20)),
    ("6月20日下午3点半", date(2026, 6, 20)),
    ("6月20日。", date(2026, 6, 20)),
]


@pytest.mark.parametrize(("text", "expected"), DATE_CASES)
def test_parse_date_table(text: str, expected: date) -> None:
    assert parse_date(text, NOW) == expected


@pytest.mark.parametrize(("text", "expected"), DATE_CASES)
def test_single_date_is_a_one_day_range(text: str, expected: date) -> None:
    assert parse_date_range(text, NOW) == (expected, expected)


def test_table_is_large_enough() -> None:
    assert len(DATE_CASES) >= 25


def test_year_rule_from_the_brief() -> None:
    now = datetime(2027, 1, 3, 9, 0, tzinfo=SHANGHAI)
    assert parse_date("12月28日", now) == date(2026, 12, 28)
    assert parse_date("1月2日", now) == date(2027, 1, 2)
    assert parse_date("3月1日", now) == date(2027, 3, 1)  # 57 days ahead
    assert parse_date("3月5日", now) == date(2026, 3, 5)  # 61 days ahead


def test_now_is_converted_to_shanghai() -> None:
    # 20:00 UTC on the 23rd is already 04:00 on the 24th in Shanghai.
    utc_evening = datetime(2026, 6, 23, 20, 0, tzinfo=UTC)
    assert parse_date("今天", utc_evening) == date(2026, 6, 24)
    new_york = datetime(2026, 6, 23, 16, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert parse_date("昨天", new_york) == date(2026, 6, 23)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_date("今天", datetime(2026, 6, 24, 10, 0))


RANGE_CASES: list[tuple[str, date, date]] = [
    ("6月1日至6月3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("6月1日-3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("6月1日至3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("6月1-3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("6.1-6.3", date(2026, 6, 1), date(2026, 6, 3)),
    ("6.1-3", date(2026, 6, 1), date(2026, 6, 3)),
    ("2026年6月1日—6月3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("2026年6月1日——6月3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("6月28日到7月2日", date(2026, 6, 28), date(2026, 7, 2)),
    ("6月20日～21日", date(2026, 6, 20), date(2026, 6, 21)),
    ("6月20日~6月21日", date(2026, 6, 20), date(2026, 6, 21)),
    ("6月20日 - 6月21日", date(2026, 6, 20), date(2026, 6, 21)),
    ("2026-06-01至2026-06-03", date(2026, 6, 1), date(2026, 6, 3)),
    ("2026/6/1-2026/6/3", date(2026, 6, 1), date(2026, 6, 3)),
    ("从6月1日到6月3日", date(2026, 6, 1), date(2026, 6, 3)),
    ("6月1日上午至6月3日下午", date(2026, 6, 1), date(2026, 6, 3)),
    ("12月30日至1月2日", date(2025, 12, 30), date(2026, 1, 2)),
    ("2025年12月30日至2026年1月2日", date(2025, 12, 30), date(2026, 1, 2)),
    ("上周五到今天", date(2026, 6, 19), date(2026, 6, 24)),
    ("上周一至周三", date(2026, 6, 15), date(2026, 6, 17)),
    ("上周五至周日", date(2026, 6, 19), date(2026, 6, 21)),
    ("6月15日至上周五", date(2026, 6, 15), date(2026, 6, 19)),
    ("6月1日至6月1日", date(2026, 6, 1), date(2026, 6, 1)),
]


@pytest.mark.parametrize(("text", "start", "end"), RANGE_CASES)
def test_parse_date_range_table(text: str, start: date, end: date) -> None:
    assert parse_date_range(text, NOW) == (start, end)


DATE_REJECTIONS: list[tuple[str, DateErrorReason]] = [
    ("", DateErrorReason.EMPTY),
    ("   ", DateErrorReason.EMPTY),
    ("abc", DateErrorReason.UNRECOGNISED),
    ("👍", DateErrorReason.UNRECOGNISED),
    ("不记得了", DateErrorReason.UNRECOGNISED),
    ("9点", DateErrorReason.UNRECOGNISED),
    ("50人", DateErrorReason.UNRECOGNISED),
    ("2月30日", DateErrorReason.INVALID),
    ("2026年2月29日", DateErrorReason.INVALID),
    ("13月1日", DateErrorReason.INVALID),
    ("6月31日", DateErrorReason.INVALID),
    ("31号", DateErrorReason.INVALID),  # June has 30 days
    ("0月5日", DateErrorReason.INVALID),
    ("6.31", DateErrorReason.INVALID),
    ("1800年1月1日", DateErrorReason.INVALID),
    ("6月30日（周一）", DateErrorReason.WEEKDAY_MISMATCH),
    ("6月", DateErrorReason.INCOMPLETE),
    ("2026年6月", DateErrorReason.INCOMPLETE),
    ("6月份", DateErrorReason.INCOMPLETE),
    ("上周", DateErrorReason.INCOMPLETE),
    ("上个月", DateErrorReason.INCOMPLETE),
    ("周末", DateErrorReason.INCOMPLETE),
]


@pytest.mark.parametrize(("text", "reason"), DATE_REJECTIONS)
def test_parse_date_rejects(text: str, reason: DateErrorReason) -> None:
    with pytest.raises(DateError) as info:
        parse_date(text, NOW)
    assert info.value.reason is reason
    with pytest.raises(DateError) as info:
        parse_date_range(text, NOW)
    assert info.value.reason is reason


RANGE_REJECTIONS: list[tuple[str, DateErrorReason]] = [
    ("6月3日至6月1日", DateErrorReason.RANGE_REVERSED),
    ("6月3日-1日", DateErrorReason.RANGE_REVERSED),
    ("6.3-6.1", DateErrorReason.RANGE_REVERSED),
    ("2026年6月3日—2026年6月1日", DateErrorReason.RANGE_REVERSED),
    ("今天到昨天", DateErrorReason.RANGE_REVERSED),
    ("6月3日-1月1日", DateErrorReason.RANGE_REVERSED),  # not a short year-end wrap
    ("6月1日至6月31日", DateErrorReason.INVALID),
    ("6月1日至abc", DateErrorReason.UNRECOGNISED),
    ("至", DateErrorReason.UNRECOGNISED),
]


@pytest.mark.parametrize(("text", "reason"), RANGE_REJECTIONS)
def test_parse_date_range_rejects(text: str, reason: DateErrorReason) -> None:
    with pytest.raises(DateError) as info:
        parse_date_range(text, NOW)
    assert info.value.reason is reason


def test_date_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="unrecognised"):
        parse_date("abc", NOW)


# --- properties -----------------------------------------------------------------

_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
_nows = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(SHANGHAI)
)


@given(st.text())
def test_arbitrary_text_only_raises_date_error(text: str) -> None:
    with contextlib.suppress(DateError):
        parse_date(text, NOW)
    try:
        start, end = parse_date_range(text, NOW)
    except DateError:
        return
    assert start <= end


_DATEISH = st.lists(
    st.sampled_from(
        [
            *"0123456789-./~ 年月日号周至到今昨上本这个一二三四五六七八九十廿〇零",
            *["星期", "—", "～", "（", "）", "上午", ":"],
        ]
    ),
    max_size=14,
).map("".join)


@given(_DATEISH)
def test_date_like_text_only_raises_date_error(text: str) -> None:
    try:
        start, end = parse_date_range(text, NOW)
    except DateError:
        return
    assert start <= end


@given(_dates)
def test_full_chinese_date_round_trip(d: date) -> None:
    assert parse_date(f"{d.year}年{d.month}月{d.day}日", NOW) == d
    assert parse_date(d.isoformat(), NOW) == d
    assert parse_date(f"{d.year}/{d.month}/{d.day}", NOW) == d


@given(_dates, st.integers(min_value=0, max_value=400))
def test_explicit_range_round_trip(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    assume(end.year <= 2100)
    text = f"{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日"
    assert parse_date_range(text, NOW) == (start, end)


@given(_nows, st.integers(min_value=-300, max_value=60))
def test_yearless_date_resolves_within_window(now: datetime, offset: int) -> None:
    today = now.date()
    target = today + timedelta(days=offset)
    assume(target.year == today.year or offset < 0)
    assert parse_date(f"{target.month}月{target.day}日", now) == target


@given(_nows, st.sampled_from("一二三四五六日"))
def test_last_week_weekday(now: datetime, char: str) -> None:
    today = now.date()
    result = parse_date(f"上周{char}", now)
    assert result.isoweekday() == "一二三四五六日".index(char) + 1
    this_monday = today - timedelta(days=today.weekday())
    assert this_monday - timedelta(days=7) <= result < this_monday


@given(_nows, st.sampled_from("一二三四五六日"))
def test_bare_weekday_is_most_recent(now: datetime, char: str) -> None:
    today = now.date()
    result = parse_date(f"周{char}", now)
    assert result.isoweekday() == "一二三四五六日".index(char) + 1
    assert today - timedelta(days=6) <= result <= today

"""What /mine takes as a period: half-years, months, years and everything."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.periods import Span, parse_span

TODAY = date(2026, 6, 24)


@pytest.mark.parametrize(
    ("typed", "key", "first", "last"),
    [
        ("", "2026H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("本期", "2026H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026H1", "2026H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2025h2", "2025H2", date(2025, 7, 1), date(2025, 12, 31)),
        ("2026年上半年", "2026H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("上半年", "2026H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("去年下半年", "2025H2", date(2025, 7, 1), date(2025, 12, 31)),
        ("H2", "2026H2", date(2026, 7, 1), date(2026, 12, 31)),
        ("first half of 2025", "2025H1", date(2025, 1, 1), date(2025, 6, 30)),
        ("上个月", "2026-05", date(2026, 5, 1), date(2026, 5, 31)),
        ("last month", "2026-05", date(2026, 5, 1), date(2026, 5, 31)),
        ("本月", "2026-06", date(2026, 6, 1), date(2026, 6, 30)),
        ("2026-02", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2025年12月", "2025-12", date(2025, 12, 1), date(2025, 12, 31)),
        ("3月", "2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        ("May 2025", "2025-05", date(2025, 5, 1), date(2025, 5, 31)),
        ("2025", "2025", date(2025, 1, 1), date(2025, 12, 31)),
        ("去年", "2025", date(2025, 1, 1), date(2025, 12, 31)),
        ("全部", "all", None, None),
        ("ALL", "all", None, None),
    ],
)
def test_periods_people_type(typed: str, key: str, first: date | None, last: date | None) -> None:
    span = parse_span(typed, TODAY)
    assert (span.key, span.first_day, span.last_day) == (key, first, last)


def test_last_month_in_january_is_last_december() -> None:
    assert parse_span("上个月", date(2026, 1, 5)).key == "2025-12"


@pytest.mark.parametrize("typed", ["下雨天", "5", "13月", "1999H1", "2026H3", "2100", "上上上月"])
def test_anything_else_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_span(typed, TODAY)


def test_a_span_says_which_period_it_is_in_both_languages() -> None:
    assert Span("half", 2026, 1).label("zh") == "2026年上半年"
    assert Span("half", 2025, 2).label("en") == "H2 2025"
    assert Span("month", 2026, 5).label("zh") == "2026年5月"
    assert Span("all").label("zh") == "全部期间"
    assert Span("month", 2026, 5).contains(date(2026, 5, 31))
    assert not Span("month", 2026, 5).contains(date(2026, 6, 1))
    assert Span("all").contains(date(2001, 1, 1))

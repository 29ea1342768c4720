"""English dates for people who chat in English (/lang en)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core.parsing import DateError, parse_date, parse_date_range

WEDNESDAY = datetime(2026, 6, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SATURDAY = datetime(2026, 6, 27, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "now", "expected"),
    [
        ("today", WEDNESDAY, date(2026, 6, 24)),
        ("Yesterday", WEDNESDAY, date(2026, 6, 23)),
        ("the day before yesterday", WEDNESDAY, date(2026, 6, 22)),
        ("last Friday", WEDNESDAY, date(2026, 6, 19)),
        ("last Friday", SATURDAY, date(2026, 6, 26)),  # the latest Friday before today
        ("last Wednesday", WEDNESDAY, date(2026, 6, 17)),
        ("Friday", WEDNESDAY, date(2026, 6, 19)),
        ("this Monday", WEDNESDAY, date(2026, 6, 22)),
        ("on Tue", WEDNESDAY, date(2026, 6, 23)),
        ("Jun 1", WEDNESDAY, date(2026, 6, 1)),
        ("Nov 8", WEDNESDAY, date(2025, 11, 8)),  # no year: within 60 days ahead, or last year
        ("8 November 2025", WEDNESDAY, date(2025, 11, 8)),
        ("November 8th, 2025", WEDNESDAY, date(2025, 11, 8)),
        ("the 3rd of May", WEDNESDAY, date(2026, 5, 3)),
        ("Sept. 30", WEDNESDAY, date(2025, 9, 30)),
    ],
)
def test_english_dates(typed: str, now: datetime, expected: date) -> None:
    assert parse_date(typed, now) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Jun 1-3", (date(2026, 6, 1), date(2026, 6, 3))),
        ("Jun 1 to Jun 3", (date(2026, 6, 1), date(2026, 6, 3))),
        ("October 3 - 5", (date(2025, 10, 3), date(2025, 10, 5))),
    ],
)
def test_english_ranges(typed: str, expected: tuple[date, date]) -> None:
    assert parse_date_range(typed, WEDNESDAY) == expected


@pytest.mark.parametrize("typed", ["Feb 30", "Nov", "someday", "last month"])
def test_what_is_not_an_english_date(typed: str) -> None:
    with pytest.raises(DateError):
        parse_date(typed, WEDNESDAY)

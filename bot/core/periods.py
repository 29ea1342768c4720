"""Reporting periods: half-years written as 2026H1 (January-June) and 2026H2."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from bot.core.messages import text
from bot.core.parsing.dates import EN_MONTHS

_PERIOD = re.compile(r"^(\d{4})\s*[Hh]([12])$")
_CHINESE = re.compile(r"^(\d{4})年?(上|下)半年$")
# Years a report can be about; outside them a "period" is a typing slip, not a request
# (and year 0 or 9999 would overflow the date arithmetic of deadlines).
FIRST_YEAR, LAST_YEAR = 2000, 2099


@dataclass(frozen=True, slots=True)
class Period:
    """A half-year."""

    year: int
    half: int

    @property
    def key(self) -> str:
        """The stored form, e.g. 2026H1."""
        return f"{self.year}H{self.half}"

    @property
    def first_day(self) -> date:
        """The period's first day."""
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def last_day(self) -> date:
        """The period's last day."""
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    @property
    def chinese(self) -> str:
        """E.g. 2026年上半年."""
        return f"{self.year}年{'上' if self.half == 1 else '下'}半年"

    def __str__(self) -> str:
        return self.key


def period_of(day: date) -> Period:
    """The half-year a day falls in."""
    return Period(day.year, 1 if day.month <= 6 else 2)


def parse_period(text: str) -> Period:
    """Read '2026H1', '2026h2' or '2026年上半年'; raise ValueError otherwise."""
    cleaned = text.strip()
    period: Period | None = None
    match = _PERIOD.match(cleaned)
    if match:
        period = Period(int(match.group(1)), int(match.group(2)))
    match = _CHINESE.match(cleaned)
    if match:
        period = Period(int(match.group(1)), 1 if match.group(2) == "上" else 2)
    if period is None:
        raise ValueError(f"not a period: {text!r} (write it as 2026H1 or 2026H2)")
    if not FIRST_YEAR <= period.year <= LAST_YEAR:
        raise ValueError(f"not a period: {text!r} (years {FIRST_YEAR}-{LAST_YEAR})")
    return period


# -- what /mine lists: a half-year, a month, a year, or everything ----------------------

_HALF_WORDS = {"上半年": 1, "h1": 1, "firsthalf": 1, "下半年": 2, "h2": 2, "secondhalf": 2}
_YEAR_WORDS = {"今年": 0, "thisyear": 0, "去年": -1, "lastyear": -1, "前年": -2}
_HALF = re.compile(
    r"^(?:(?P<year>\d{4})年?|(?P<rel>今年|去年|前年|thisyear|lastyear))?"
    r"(?P<half>上半年|下半年|h1|h2|firsthalf|secondhalf)(?:of)?(?P<year2>\d{4})?$"
)
_MONTH = re.compile(r"^(?:(?P<year>\d{4})(?:年|-|/|\.))?(?P<month>\d{1,2})(?:月份?)?$")
_YEAR = re.compile(r"^(?P<year>\d{4})年?$")
_EN_MONTH = re.compile(r"^(?P<name>[a-z]{3,9})(?P<year>\d{4})?$")
_ALL_WORDS = frozenset({"全部", "所有", "全部记录", "所有记录", "全部期间", "all", "everything"})
_CURRENT_WORDS = frozenset({"本期", "本半年", "这半年", "当前", "thisperiod", "current"})
_THIS_MONTH = frozenset({"本月", "这个月", "这月", "当月", "thismonth"})
_LAST_MONTH = frozenset({"上个月", "上月", "lastmonth"})


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time to list entries of: a half-year, a month, a year, or everything."""

    kind: str  # "half", "month", "year" or "all"
    year: int = 0
    number: int = 0  # the half (1 or 2) or the month (1-12)

    @property
    def first_day(self) -> date | None:
        """The first day, None for everything."""
        if self.kind == "half":
            return Period(self.year, self.number).first_day
        if self.kind == "month":
            return date(self.year, self.number, 1)
        if self.kind == "year":
            return date(self.year, 1, 1)
        return None

    @property
    def last_day(self) -> date | None:
        """The last day, None for everything."""
        if self.kind == "half":
            return Period(self.year, self.number).last_day
        if self.kind == "month":
            following = date(self.year + self.number // 12, self.number % 12 + 1, 1)
            return date.fromordinal(following.toordinal() - 1)
        if self.kind == "year":
            return date(self.year, 12, 31)
        return None

    @property
    def key(self) -> str:
        """What /mine takes back: 2026H1, 2026-05, 2026 or all."""
        if self.kind == "half":
            return f"{self.year}H{self.number}"
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "year":
            return str(self.year)
        return "all"

    def contains(self, day: date) -> bool:
        """Whether a day lies in the span."""
        first, last = self.first_day, self.last_day
        return first is None or last is None or first <= day <= last

    def label(self, locale: str) -> str:
        """E.g. 2026年上半年 / H1 2026, 2026年5月 / May 2026, 全部期间 / all periods."""
        key = f"span_half_{self.number}" if self.kind == "half" else f"span_{self.kind}"
        return text(locale, key, year=self.year, number=self.number)


def half_of(day: date) -> Span:
    """The half-year a day falls in, as a span."""
    period = period_of(day)
    return Span("half", period.year, period.half)


def parse_span(text: str, today: date) -> Span:
    """Read what may follow /mine; raise ValueError for anything else.

    Accepts '' (the current half-year), 2026H1, 2026年上半年, 上半年, 去年下半年, 上个月, 本月,
    2026-05, 2026年5月, 5月, 2026, 今年, 全部/all and the English 'last month', 'H1', 'May 2026'.
    """
    cleaned = "".join(unicodedata.normalize("NFKC", text).split()).lower().rstrip("。.")
    if not cleaned or cleaned in _CURRENT_WORDS:
        return half_of(today)
    if cleaned in _ALL_WORDS:
        return Span("all")
    span = _month_span(cleaned, today) or _half_or_year_span(cleaned, today)
    if span is None:
        raise ValueError(f"not a period: {text!r}")
    if not FIRST_YEAR <= span.year <= LAST_YEAR:
        raise ValueError(f"not a period: {text!r} (years {FIRST_YEAR}-{LAST_YEAR})")
    return span


def _month_span(cleaned: str, today: date) -> Span | None:
    if cleaned in _THIS_MONTH:
        return Span("month", today.year, today.month)
    if cleaned in _LAST_MONTH:
        year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
        return Span("month", year, month)
    match = _MONTH.match(cleaned)
    # A bare number ("5") says too little; "5月", "2026-05" and "2026年5月" are months.
    if match and (match.group("year") or cleaned.endswith(("月", "月份"))):
        month = int(match.group("month"))
        if 1 <= month <= 12:
            return Span("month", int(match.group("year") or today.year), month)
    match = _EN_MONTH.match(cleaned)
    if match and match.group("name") in EN_MONTHS:
        return Span("month", int(match.group("year") or today.year), EN_MONTHS[match["name"]])
    return None


def _half_or_year_span(cleaned: str, today: date) -> Span | None:
    match = _HALF.match(cleaned)
    if match:
        year = match.group("year") or match.group("year2")
        if year:
            number = int(year)
        else:
            number = today.year + _YEAR_WORDS.get(match.group("rel") or "今年", 0)
        return Span("half", number, _HALF_WORDS[match.group("half")])
    try:
        period = parse_period(cleaned)
    except ValueError:
        pass
    else:
        return Span("half", period.year, period.half)
    if cleaned in _YEAR_WORDS:
        return Span("year", today.year + _YEAR_WORDS[cleaned])
    match = _YEAR.match(cleaned)
    if match:
        return Span("year", int(match.group("year")))
    return None

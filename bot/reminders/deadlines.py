"""Deadlines as data: what each one requires, for which period and units, and when it is due.

Admins set deadlines on a unit (`huibao deadline set`, `/deadline set`); a deadline on a
street applies to its communities unless one has its own for the same requirement and
period. Where no row says otherwise, two computed rules apply everywhere:

- monthly-entry: every staff member reports at least one activity per month, due on the
  5th of the following month at 18:00;
- reflection: every staff member and coordinator answers the half-year reflection round
  (/reflect), due on 25 June / 25 December at 18:00, before the summary is composed.

Periods are written 2026H1 / 2026H2 (half-years, also 2026年上半年) or 2026-06 (a month,
also 2026年6月). `monthly-entry` takes a month, `reflection` a half-year, `entry` (at least
one activity reported in the period) either. Times are read and shown in HUIBAO_TIMEZONE.

A due time may be written as working days after the period ends ("5个工作日", "5 working
days", "5wd"): the fifth working day after the period's last day, 18:00, counted as a clerk
counts them (public holidays off, make-up Saturdays worked; bot.core.holidays). A deadline that
falls on a day off moves to the next working day, same time, when it says so
(`--on-holiday move`) or HUIBAO_REMINDERS__MOVE_DEADLINES is on.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core import holidays
from bot.core.holidays import Calendar
from bot.core.messages import text as msg
from bot.core.periods import Period
from bot.settings import parse_ladder
from storage import deadlines
from storage.models import Requirement, RoleName

DUE_TIME = time(18, 0)
YEARS = range(2000, 2101)  # a deadline outside these years is surely a typo
MONTHLY_DUE_DAY = 5
REFLECTION_DUE = {1: (6, 25), 2: (12, 25)}  # half -> (month, day)
# /status shows deadlines due from a week ago to this far ahead.
STATUS_PAST = timedelta(days=7)
STATUS_AHEAD = timedelta(days=40)

# Who must meet a requirement.
ROLES: dict[Requirement, tuple[RoleName, ...]] = {
    Requirement.MONTHLY_ENTRY: (RoleName.STAFF,),
    Requirement.ENTRY: (RoleName.STAFF,),
    Requirement.REFLECTION: (RoleName.STAFF, RoleName.COORDINATOR),
}

REQUIREMENT_WORDS = {
    "monthly-entry": Requirement.MONTHLY_ENTRY,
    "monthly": Requirement.MONTHLY_ENTRY,
    "月报": Requirement.MONTHLY_ENTRY,
    "每月上报": Requirement.MONTHLY_ENTRY,
    "月度上报": Requirement.MONTHLY_ENTRY,
    "entry": Requirement.ENTRY,
    "上报": Requirement.ENTRY,
    "reflection": Requirement.REFLECTION,
    "reflect": Requirement.REFLECTION,
    "回顾": Requirement.REFLECTION,
    "工作回顾": Requirement.REFLECTION,
    "半年回顾": Requirement.REFLECTION,
}

_MONTH = re.compile(r"^(\d{4})\s*(?:-|/|\.|年)\s*(\d{1,2})\s*月?$")
_HALF = re.compile(r"^(\d{4})\s*[Hh]([12])$")
_HALF_ZH = re.compile(r"^(\d{4})年?(上|下)半年$")
_LADDER_WORD = re.compile(r"\d+[dhmDHM](?:[,，]\d+[dhmDHM])*")
_DUE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2})[:：](\d{2}))?$")
_WORKDAYS = re.compile(
    r"^(\d{1,2})\s*个?\s*(?:工作日|working\s*days?|wd)(?:\s+(\d{1,2})[:：](\d{2}))?$", re.IGNORECASE
)
MAX_WORKDAYS = 60
# A deadline on a day off: moved to the next working day, or kept.
ON_DAY_OFF_WORDS = {"move": True, "顺延": True, "keep": False, "不顺延": False}


class DeadlineError(Exception):
    """Input for a deadline that cannot be used; `key` names the catalogue sentence."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def text(self, locale: str) -> str:
        """The problem, said in a language."""
        return msg(locale, self.key, **self.params)


@dataclass(frozen=True, slots=True)
class Span:
    """A reporting period: a month (2026-06) or a half-year (2026H1)."""

    key: str
    first_day: date
    end_day: date  # the day after the last one

    @property
    def is_month(self) -> bool:
        """Whether this is a month rather than a half-year."""
        return "-" in self.key

    def describe(self, locale: str) -> str:
        """E.g. 2026年6月 / 2026年上半年 (June 2026 / 2026 H1)."""
        year = self.first_day.year
        if self.is_month:
            return msg(locale, "period_month", year=year, month=self.first_day.month)
        half = 1 if self.first_day.month == 1 else 2
        return Period(year, half).chinese if locale != "en" else f"{year} H{half}"


def month_span(year: int, month: int) -> Span:
    """The month as a period."""
    first = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Span(f"{year}-{month:02d}", first, end)


def half_span(year: int, half: int) -> Span:
    """The half-year as a period."""
    period = Period(year, half)
    return Span(period.key, period.first_day, period.last_day + timedelta(days=1))


def parse_span(text: str) -> Span:
    """Read 2026H1, 2026年上半年, 2026-06 or 2026年6月; raise DeadlineError otherwise."""
    cleaned = text.strip()
    for pattern in (_HALF, _HALF_ZH):
        match = pattern.match(cleaned)
        if match and int(match.group(1)) in YEARS:
            half = match.group(2)
            return half_span(int(match.group(1)), 1 if half in ("1", "上") else 2)
    match = _MONTH.match(cleaned)
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) in YEARS:
        return month_span(int(match.group(1)), int(match.group(2)))
    raise DeadlineError("deadline_bad_period", period=cleaned[:20])


def parse_requirement(text: str) -> Requirement:
    """Read monthly-entry, entry or reflection (or their Chinese names)."""
    found = REQUIREMENT_WORDS.get(text.strip().lower())
    if found is None:
        raise DeadlineError("deadline_bad_requirement", requirement=text.strip()[:20])
    return found


def check_fits(requirement: Requirement, span: Span) -> None:
    """monthly-entry needs a month, reflection a half-year."""
    if requirement is Requirement.MONTHLY_ENTRY and not span.is_month:
        raise DeadlineError("deadline_needs_month", period=span.key)
    if requirement is Requirement.REFLECTION and span.is_month:
        raise DeadlineError("deadline_needs_half", period=span.key)


def parse_due(text: str, zone: ZoneInfo) -> datetime:
    """Read '2026-06-25 18:00' (or a date alone: 18:00 that day) in `zone`, as UTC."""
    match = _DUE.match(text.strip())
    if match is None:
        raise DeadlineError("deadline_bad_due", due=text.strip()[:30])
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    if year not in YEARS:
        raise DeadlineError("deadline_bad_due", due=text.strip()[:30])
    hour, minute = (
        (DUE_TIME.hour, 0)
        if match.group(4) is None
        else (
            int(match.group(4)),
            int(match.group(5)),
        )
    )
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=zone)
    except ValueError:
        raise DeadlineError("deadline_bad_due", due=text.strip()[:30]) from None
    return local.astimezone(UTC)


def parse_due_for(text: str, span: Span, zone: ZoneInfo, calendar: Calendar) -> datetime:
    """Read a due time as `parse_due` does, or as working days after the period ends:
    '5个工作日' / '5 working days' / '5wd' [HH:MM] is the fifth working day after the
    period's last day (18:00 unless a time is given)."""
    match = _WORKDAYS.match(text.strip())
    if match is None:
        return parse_due(text, zone)
    count = int(match.group(1))
    hour, minute = (
        (DUE_TIME.hour, 0) if match.group(2) is None else (int(match.group(2)), int(match.group(3)))
    )
    if not 1 <= count <= MAX_WORKDAYS or hour > 23 or minute > 59:
        raise DeadlineError("deadline_bad_due", due=text.strip()[:30])
    day = calendar.add_workdays(span.end_day - timedelta(days=1), count)
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def read_ladder(text: str) -> tuple[int, ...]:
    """Read '7d,3d,1d,2h' as minutes, largest first."""
    try:
        return parse_ladder(text)
    except ValueError:
        raise DeadlineError("deadline_bad_ladder", ladder=text.strip()[:30]) from None


def format_offset(minutes: int, locale: str) -> str:
    """7d, 3d, 2h, 30m (the same in both languages: what people type)."""
    del locale
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def format_due(at: datetime, zone: ZoneInfo, locale: str) -> str:
    """E.g. 2026年6月25日（周四）18:00."""
    local = at.astimezone(zone)
    weekday = msg(locale, f"weekday_{local.weekday()}")
    day = msg(
        locale, "date_format", year=local.year, month=local.month, day=local.day, weekday=weekday
    )
    return f"{day} {local:%H:%M}"


def describe(requirement: Requirement, span: Span, locale: str) -> str:
    """What a deadline asks, e.g. 2026年6月活动记录 / 2026年上半年工作回顾."""
    return msg(locale, f"what_{requirement.value}", period=span.describe(locale))


# --- which deadline applies where ------------------------------------------------------


@dataclass(frozen=True)
class Effective:
    """A deadline as it applies: a row on a unit's subtree, or a default rule elsewhere.

    It covers the units whose path starts with `unit_path` ("" for a default: all units)
    except the subtrees in `excluded`, which have a deadline of their own.
    """

    ref: str  # "d12" for a row; "monthly-entry:2026-06" for a default
    row_id: int | None
    requirement: Requirement
    span: Span
    due_at: datetime
    unit_path: str
    unit_name: str | None
    excluded: tuple[str, ...]
    ladder: tuple[int, ...] | None  # None: the configured one
    skip_weekends: bool | None  # None: the configured choice
    # When the deadline was set for, if it fell on a day off and moved to the next working day.
    moved_from: datetime | None = None

    @property
    def roles(self) -> tuple[RoleName, ...]:
        """Who must meet it."""
        return ROLES[self.requirement]

    def covers(self, path: str) -> bool:
        """Whether a unit (by its materialised path) is held to this deadline."""
        return path.startswith(self.unit_path) and not any(
            path.startswith(p) for p in self.excluded
        )

    def describe(self, locale: str) -> str:
        """What it asks, e.g. 2026年6月活动记录."""
        return describe(self.requirement, self.span, locale)


@dataclass(frozen=True)
class DayRules:
    """How deadlines meet the calendar: which days are working days, and whether a deadline
    that falls on a day off moves to the next working day unless it says otherwise."""

    calendar: Calendar = field(default_factory=holidays.public)
    move: bool = False

    def roll(self, due: datetime, zone: ZoneInfo, move: bool | None) -> datetime:
        """The due time itself, or the same time on the next working day."""
        if not (self.move if move is None else move):
            return due
        local = due.astimezone(zone)
        day = self.calendar.next_workday(local.date())
        if day == local.date():
            return due
        return datetime.combine(day, local.time(), zone).astimezone(UTC)


PUBLIC_RULES = DayRules()
ROLL_MARGIN = timedelta(days=14)  # longer than any run of days off a deadline can roll over


def default_due(requirement: Requirement, span: Span, zone: ZoneInfo) -> datetime | None:
    """When a period's requirement is due by the default rules (None: no default)."""
    if requirement is Requirement.MONTHLY_ENTRY and span.is_month:
        day = span.end_day.replace(day=MONTHLY_DUE_DAY)
    elif requirement is Requirement.REFLECTION and not span.is_month:
        month, day_of_month = REFLECTION_DUE[1 if span.first_day.month == 1 else 2]
        day = date(span.first_day.year, month, day_of_month)
    else:
        return None
    return datetime.combine(day, DUE_TIME, zone).astimezone(UTC)


def _default_candidates(today: date) -> list[tuple[Requirement, Span]]:
    """The default rules' periods around today: two months back to two ahead, three halves."""
    months = []
    year, month = today.year, today.month - 2
    for _ in range(5):  # two months back to two ahead
        if month < 1:
            year, month = year - 1, month + 12
        if month > 12:
            year, month = year + 1, month - 12
        months.append(month_span(year, month))
        month += 1
    half = 1 if today.month <= 6 else 2
    halves = [half_span(today.year, half)]
    halves.append(half_span(today.year - 1, 2) if half == 1 else half_span(today.year, 1))
    halves.append(half_span(today.year, 2) if half == 1 else half_span(today.year + 1, 1))
    return [(Requirement.MONTHLY_ENTRY, s) for s in months] + [
        (Requirement.REFLECTION, s) for s in halves
    ]


def _candidates_within(first: date, end: date) -> list[tuple[Requirement, Span]]:
    """The default rules' periods that fall in [first, end): each month and half-year."""
    found: list[tuple[Requirement, Span]] = []
    year, month = first.year, first.month
    while date(year, month, 1) < end:
        found.append((Requirement.MONTHLY_ENTRY, month_span(year, month)))
        if month in (1, 7):
            found.append((Requirement.REFLECTION, half_span(year, 1 if month == 1 else 2)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def effective(
    session: Session,
    now: datetime,
    zone: ZoneInfo,
    since: datetime,
    until: datetime,
    rules: DayRules = PUBLIC_RULES,
    candidates: Sequence[tuple[Requirement, Span]] | None = None,
) -> list[Effective]:
    """The deadlines due in [since, until], each with the units it covers; soonest first.

    A deadline that falls on a day off is moved first, when it or `rules` says so.
    """
    today = now.astimezone(zone).date()
    chosen = _default_candidates(today) if candidates is None else candidates
    defaults = {(r, s.key): s for r, s in chosen}
    rows = deadlines.live_deadlines(
        session,
        periods=[key for _, key in defaults],
        due_from=since - ROLL_MARGIN,
        due_to=until + ROLL_MARGIN,
    )
    groups: dict[tuple[Requirement, str], list[deadlines.DeadlineRow]] = defaultdict(list)
    for row in rows:
        groups[(row.requirement, row.period)].append(row)
    found: list[Effective] = []
    for (requirement, key), members in groups.items():
        span = parse_span(key)
        paths = [r.unit_path for r in members]
        for row in members:
            inner = tuple(p for p in paths if p != row.unit_path and p.startswith(row.unit_path))
            due = rules.roll(row.due_at, zone, row.move_off_days)
            found.append(
                Effective(
                    ref=f"d{row.id}",
                    row_id=row.id,
                    requirement=requirement,
                    span=span,
                    due_at=due,
                    unit_path=row.unit_path,
                    unit_name=row.unit_name,
                    excluded=inner,
                    ladder=tuple(row.ladder) if row.ladder else None,
                    skip_weekends=row.skip_weekends,
                    moved_from=row.due_at if due != row.due_at else None,
                )
            )
    for (requirement, key), span in defaults.items():
        planned = default_due(requirement, span, zone)
        if planned is None:
            continue
        due = rules.roll(planned, zone, None)
        paths = [r.unit_path for r in groups.get((requirement, key), [])]
        outermost = tuple(p for p in paths if not any(p != q and p.startswith(q) for q in paths))
        found.append(
            Effective(
                ref=f"{requirement.value}:{key}",
                row_id=None,
                requirement=requirement,
                span=span,
                due_at=due,
                unit_path="",
                unit_name=None,
                excluded=outermost,
                ladder=None,
                skip_weekends=None,
                moved_from=planned if due != planned else None,
            )
        )
    kept = [d for d in found if since <= d.due_at <= until]
    return sorted(kept, key=lambda d: (d.due_at, d.ref))


def upcoming(
    session: Session,
    now: datetime,
    zone: ZoneInfo,
    horizon: timedelta,
    rules: DayRules = PUBLIC_RULES,
) -> list[Effective]:
    """Deadlines not yet due, due within `horizon`."""
    found = effective(session, now, zone, now, now + horizon, rules)
    return [d for d in found if d.due_at > now]


def current(
    session: Session, now: datetime, zone: ZoneInfo, rules: DayRules = PUBLIC_RULES
) -> list[Effective]:
    """The deadlines /status shows: due a week ago to 40 days ahead, period begun."""
    today = now.astimezone(zone).date()
    found = effective(session, now, zone, now - STATUS_PAST, now + STATUS_AHEAD, rules)
    return [d for d in found if d.span.first_day <= today]


def within_span(
    session: Session, span: Span, zone: ZoneInfo, rules: DayRules = PUBLIC_RULES
) -> list[Effective]:
    """The deadlines due inside a period (for measuring what was asked in it)."""
    since = datetime.combine(span.first_day, time(0), zone).astimezone(UTC)
    until = datetime.combine(span.end_day, time(0), zone).astimezone(UTC)
    candidates = _candidates_within(span.first_day - timedelta(days=62), span.end_day)
    found = effective(session, since, zone, since, until, rules, candidates)
    return [d for d in found if d.due_at < until]


# --- setting and removing ---------------------------------------------------------------


@dataclass(frozen=True)
class SetResult:
    """A deadline stored, and the one it replaced (same unit, requirement and period)."""

    row_id: int
    replaced: int | None


def set_deadline(
    session: Session,
    *,
    unit_id: int,
    span: Span,
    requirement: Requirement,
    due_at: datetime,
    now: datetime,
    ladder: Sequence[int] | None = None,
    skip_weekends: bool | None = None,
    member_id: int | None = None,
    move_off_days: bool | None = None,
) -> SetResult:
    """Store a deadline for a unit's subtree, replacing its own earlier one for the same thing."""
    check_fits(requirement, span)
    if due_at <= now:
        raise DeadlineError("deadline_in_past")
    if due_at.date() < span.first_day:
        raise DeadlineError("deadline_before_period", period=span.key)
    replaced = deadlines.remove_deadline_for(
        session, unit_id, span.key, requirement, now=now, member_id=member_id
    )
    row_id = deadlines.add_deadline(
        session,
        unit_id=unit_id,
        period=span.key,
        requirement=requirement,
        due_at=due_at,
        ladder=list(ladder) if ladder else None,
        skip_weekends=skip_weekends,
        member_id=member_id,
        now=now,
        move_off_days=move_off_days,
    )
    return SetResult(row_id, replaced)


@dataclass(frozen=True)
class SetRequest:
    """A /deadline set request read from chat words."""

    unit_key: str
    span: Span
    requirement: Requirement
    due_text: str
    ladder: tuple[int, ...] | None
    move_off_days: bool | None = None


def parse_set_words(words: Sequence[str]) -> SetRequest:
    """Read '和平街道 2026-06 monthly-entry 2026-07-08 18:00 [7d,3d,1d,2h] [顺延|不顺延]'."""
    if len(words) < 4:
        raise DeadlineError("deadline_usage")
    unit_key, period_text, requirement_text, *rest = words
    span = parse_span(period_text)
    requirement = parse_requirement(requirement_text)
    move = None
    if rest and rest[-1].lower() in ON_DAY_OFF_WORDS:
        move = ON_DAY_OFF_WORDS[rest.pop().lower()]
    ladder = None
    if rest and _LADDER_WORD.fullmatch(rest[-1]):
        ladder = read_ladder(rest.pop())
    due_text = " ".join(rest)
    if not rest or (len(rest) > 2 and not _WORKDAYS.match(due_text)):
        raise DeadlineError("deadline_usage")
    return SetRequest(unit_key, span, requirement, due_text, ladder, move)

"""Parse the activity dates staff type.

Relative words are resolved against ``now`` converted to Asia/Shanghai.

Rules worth knowing:

* No year given ("6月30日", "6.30"): the current year, unless that date would
  be more than 60 days after today, in which case the previous year (staff
  report past activities; on 2027-01-03 "12月28日" is 2026-12-28).
* Day only ("3号", "3日"): that day of the current month, even if later
  than today. "本月3号", "上月15日", "上个月15号" pick the month explicitly.
* "上周五": Friday of the previous ISO week (Monday-Sunday); "上周日" is the
  Sunday closing that week. "上上周X" goes back two weeks, "下周X" forward.
* "本周三"/"这周三": Wednesday of the current ISO week (a later weekday in
  this week is in the future and returned as such).
* Bare "周三"/"星期三": the most recent Wednesday not after today (today if
  today is Wednesday).
* An optional weekday annotation ("6月30日（周二）") is checked; a mismatch is
  ``WEEKDAY_MISMATCH``. A trailing time of day ("下午", "9:00-11:00",
  "上午9点") is ignored.
* Years outside 1900-2100 are ``INVALID``.

dateparser understands some Chinese dates but not these conventions (ISO
week semantics for 上周X, the 60-day year rule, "6月1日-3日" ranges), so
this is written here on the standard library.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.parsing.numerals import NumeralError, parse_digit_string, parse_int

__all__ = [
    "FUTURE_TOLERANCE_DAYS",
    "SHANGHAI",
    "DateError",
    "DateErrorReason",
    "parse_date",
    "parse_date_range",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A date without a year may lie at most this many days after today.
FUTURE_TOLERANCE_DAYS = 60

# A range written without years may cross a year end if it stays this short.
_MAX_YEAR_WRAP_DAYS = 92

_MIN_YEAR = 1900
_MAX_YEAR = 2100
MAX_DATE_CHARS = 60  # "2026年6月28日（星期日）至2026年7月2日（星期四）" is 30


class DateErrorReason(enum.StrEnum):
    """Why a text is not a date."""

    EMPTY = "empty"
    UNRECOGNISED = "unrecognised"
    INVALID = "invalid"  # 2月30日, 13月1日, year out of range
    RANGE_REVERSED = "range_reversed"  # end before start
    WEEKDAY_MISMATCH = "weekday_mismatch"  # "6月30日（周一）" when it is a Tuesday
    INCOMPLETE = "incomplete"  # no day: "6月", "2026年6月", "上周", "本月"


class DateError(ValueError):
    """Raised by the date parsers; ``reason`` says why."""

    def __init__(self, reason: DateErrorReason, text: str = "") -> None:
        super().__init__(f"{reason.value}: {text!r}")
        self.reason = reason


# --- specs: what a piece of text says before it is resolved -------------------


@dataclass(frozen=True, slots=True)
class _Fixed:
    value: date


@dataclass(frozen=True, slots=True)
class _Partial:
    year: int | None
    month: int | None
    day: int
    weekday: int | None  # ISO weekday annotation to check, if any


@dataclass(frozen=True, slots=True)
class _Weekday:
    weeks_back: int | None  # None: bare weekday, most recent one
    weekday: int  # ISO weekday 1..7


_Spec = _Fixed | _Partial | _Weekday

# --- patterns -----------------------------------------------------------------

_RELATIVE_DAYS = {
    "今天": 0,
    "今日": 0,
    "今儿": 0,
    "今儿个": 0,
    "当天": 0,
    "当日": 0,
    "今早": 0,
    "今晨": 0,
    "今晚": 0,
    "昨天": -1,
    "昨日": -1,
    "昨儿": -1,
    "昨儿个": -1,
    "昨晚": -1,
    "前天": -2,
    "前日": -2,
    "前儿": -2,
    "前晚": -2,
    "大前天": -3,
    "明天": 1,
    "明日": 1,
    "明晚": 1,
    "明早": 1,
    "后天": 2,
}
_WEEKDAY_CHARS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "日": 7,
    "天": 7,
    **{str(i): i for i in range(1, 8)},
}
_WEEK_OFFSETS = {"上上": 2, "上": 1, "本": 0, "这": 0, "下": -1}
_MONTH_OFFSETS = {"上上": -2, "上": -1, "本": 0, "这": 0, "当": 0, "下": 1}
_YEAR_WORDS = {"今": 0, "本": 0, "去": -1, "前": -2, "明": 1}

_N = r"(?:[0-9]{1,2}|[零〇一二两三四五六七八九十廿卅]{1,4})"
_WD = r"(?:,?\(?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])\)?)?"
_YEAR = (
    r"(?P<y>[0-9]{4}|[0-9]{2}|[零〇一二三四五六七八九]{4}|[零〇一二三四五六七八九]{2}"
    r"|今|本|去|前|明)年"
)
_WEEK_PREFIX = r"(?P<pre>上上|上|本|这|下)个?"
_MONTH_REF = r"(?P<ref>上上|上|本|这|当|下)个?月"

_CN_DATE = re.compile(rf"(?:{_YEAR})?(?P<m>{_N})月份?(?P<d>{_N})[日号]?{_WD}")
_ISO_DATE = re.compile(
    rf"(?P<y>[0-9]{{4}})(?P<sep>[-/.])(?P<m>[0-9]{{1,2}})(?P=sep)(?P<d>[0-9]{{1,2}})[日号]?{_WD}"
)
_COMPACT_DATE = re.compile(r"(?P<y>(?:19|20|21)[0-9]{2})(?P<m>[0-9]{2})(?P<d>[0-9]{2})")
_SHORT_DATE = re.compile(rf"(?P<m>[0-9]{{1,2}})[-/.](?P<d>[0-9]{{1,2}})[日号]?{_WD}")
_MONTH_DAY = re.compile(rf"{_MONTH_REF}(?P<d>{_N})[日号]?{_WD}")
_DAY = re.compile(rf"(?P<d>{_N})[日号]{_WD}")
_BARE_DAY = re.compile(rf"(?P<d>{_N})")
_WEEKDAY = re.compile(rf"(?:{_WEEK_PREFIX})?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])")
_YEAR_ANY = r"(?:[0-9]{4}|[0-9]{2}|[零〇一二三四五六七八九]{2,4}|今|本|去|前|明)年"
_INCOMPLETE = re.compile(
    rf"(?:(?:{_YEAR_ANY})?{_N}月份?|{_YEAR_ANY}|(?:上上|上|本|这|当|下)个?月份?"
    r"|(?:上上|上|本|这|下)个?(?:周|星期|礼拜)|(?:上上|上|本|这|下)?个?周末)"
)

_PART_OF_DAY = r"(?:上午|下午|中午|晚上|早上|早晨|傍晚|凌晨|晚间|夜间|夜里|白天|全天|晚|早)"
_CLOCK = (
    r"(?:[0-9]{1,2}:[0-9]{2}"
    r"|[0-9零一二两三四五六七八九十]{1,3}[点时](?:半|[0-9零一二三四五六七八九十]{1,3}分?)?)"
)
_TIME_ONE = rf"(?:{_PART_OF_DAY}{_CLOCK}?|{_CLOCK})"
_TIME_SUFFIX = re.compile(rf"{_TIME_ONE}(?:(?:-|~|—+|–|至|到){_TIME_ONE})?$")
_RANGE_SEP = re.compile(r"至|到|to|—+|–|―|-+|~+|〜")
_TRANSLATE = str.maketrans({"−": "-", "﹣": "-", "‐": "-", "‑": "-", "～": "~"})


# --- helpers ------------------------------------------------------------------


def _today(now: datetime) -> date:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(SHANGHAI).date()


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    s = "".join(s.split())
    s = s.rstrip("。.!")
    for prefix in ("从", "自", "于", "在"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
            break
    for suffix in ("为止", "止"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
            break
    return s


def _number(text: str) -> int:
    if text.isascii():
        return int(text)
    if text[0] in "廿卅":
        text = {"廿": "二十", "卅": "三十"}[text[0]] + text[1:]
    try:
        return parse_int(text)
    except NumeralError:
        raise DateError(DateErrorReason.UNRECOGNISED, text) from None


def _year(token: str, today: date) -> int:
    if token in _YEAR_WORDS:
        return today.year + _YEAR_WORDS[token]
    try:
        value = parse_digit_string(token)
    except NumeralError:
        raise DateError(DateErrorReason.UNRECOGNISED, token) from None
    return 2000 + value if len(token) == 2 else value


def _weekday_of(match: re.Match[str]) -> int | None:
    token = match.group("wd")
    return None if token is None else _WEEKDAY_CHARS[token]


def _add_months(year: int, month: int, offset: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + offset
    return index // 12, index % 12 + 1


def _make(year: int, month: int, day: int, weekday: int | None, text: str) -> date:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise DateError(DateErrorReason.INVALID, text)
    try:
        value = date(year, month, day)
    except ValueError:
        raise DateError(DateErrorReason.INVALID, text) from None
    if weekday is not None and value.isoweekday() != weekday:
        raise DateError(DateErrorReason.WEEKDAY_MISMATCH, text)
    return value


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- parsing ------------------------------------------------------------------


def _parse_core(s: str, today: date, *, range_end: bool) -> _Spec | None:
    if s in _RELATIVE_DAYS:
        return _Fixed(today + timedelta(days=_RELATIVE_DAYS[s]))
    match = _WEEKDAY.fullmatch(s)
    if match:
        pre = match.group("pre")
        weeks_back = None if pre is None else _WEEK_OFFSETS[pre]
        return _Weekday(weeks_back, _WEEKDAY_CHARS[match.group("wd")])
    match = _CN_DATE.fullmatch(s)
    if match:
        year_token = match.group("y")
        return _Partial(
            year=None if year_token is None else _year(year_token, today),
            month=_number(match.group("m")),
            day=_number(match.group("d")),
            weekday=_weekday_of(match),
        )
    match = _ISO_DATE.fullmatch(s)
    if match:
        return _Partial(
            int(match.group("y")), int(match.group("m")), int(match.group("d")), _weekday_of(match)
        )
    match = _COMPACT_DATE.fullmatch(s)
    if match:
        return _Partial(int(match.group("y")), int(match.group("m")), int(match.group("d")), None)
    match = _SHORT_DATE.fullmatch(s)
    if match:
        return _Partial(None, int(match.group("m")), int(match.group("d")), _weekday_of(match))
    match = _MONTH_DAY.fullmatch(s)
    if match:
        year, month = _add_months(today.year, today.month, _MONTH_OFFSETS[match.group("ref")])
        return _Partial(year, month, _number(match.group("d")), _weekday_of(match))
    match = _DAY.fullmatch(s)
    if match:
        return _Partial(None, None, _number(match.group("d")), _weekday_of(match))
    english = _english_spec(s, today)
    if english is not None:
        return english
    if range_end:
        match = _BARE_DAY.fullmatch(s)
        if match:
            return _Partial(None, None, _number(match.group("d")), None)
    return None


# --- English forms, for people who chat in English ----------------------------

_EN_RELATIVE = {
    "today": 0,
    "yesterday": -1,
    "thedaybeforeyesterday": -2,
    "daybeforeyesterday": -2,
    "tomorrow": 1,
}
_EN_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ),
        1,
    )
    for name in names
}
# English month names and abbreviations -> 1-12 (also read by bot.core.periods and the extractor)
EN_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for name in names
}
_EN_WD = "|".join(sorted(_EN_WEEKDAYS, key=len, reverse=True))
_EN_MON = "|".join(sorted(EN_MONTHS, key=len, reverse=True))
_EN_ORDINAL = r"(?:st|nd|rd|th)?"
_EN_WEEKDAY = re.compile(rf"(?:on)?(?P<pre>last|this|next)?(?P<wd>{_EN_WD})")
_EN_MONTH_DAY = re.compile(
    rf"(?:on)?(?P<m>{_EN_MON})\.?(?P<d>[0-9]{{1,2}}){_EN_ORDINAL},?(?P<y>[0-9]{{4}})?"
)
_EN_DAY_MONTH = re.compile(
    rf"(?:on)?(?:the)?(?P<d>[0-9]{{1,2}}){_EN_ORDINAL}(?:of)?(?P<m>{_EN_MON})\.?,?(?P<y>[0-9]{{4}})?"
)


def _english_spec(s: str, today: date) -> _Spec | None:
    """Read an English date, spaces already removed: "yesterday", "lastFriday", "Nov8".

    "last Friday" is the latest Friday before today (yesterday, on a Saturday); "this
    Friday" the one of this ISO week, "next Friday" the one of the next; a bare "Friday"
    the latest not after today. "Nov 8", "8 November", "November 8th, 2025": a missing
    year follows the 60-day rule of the Chinese forms.
    """
    text = s.lower()
    if text in _EN_RELATIVE:
        return _Fixed(today + timedelta(days=_EN_RELATIVE[text]))
    match = _EN_WEEKDAY.fullmatch(text)
    if match:
        weekday = _EN_WEEKDAYS[match.group("wd")]
        prefix = match.group("pre")
        if prefix == "last":
            return _Fixed(today - timedelta(days=(today.isoweekday() - weekday - 1) % 7 + 1))
        return _Weekday({None: None, "this": 0, "next": -1}[prefix], weekday)
    for pattern in (_EN_MONTH_DAY, _EN_DAY_MONTH):
        match = pattern.fullmatch(text)
        if match:
            year = match.group("y")
            month, day = EN_MONTHS[match.group("m")], int(match.group("d"))
            return _Partial(None if year is None else int(year), month, day, None)
    return None


def _parse_spec(s: str, today: date, *, range_end: bool = False) -> _Spec:
    if not s:
        raise DateError(DateErrorReason.EMPTY, s)
    spec = _parse_core(s, today, range_end=range_end)
    if spec is not None:
        return spec
    stripped = _TIME_SUFFIX.sub("", s)
    if stripped and stripped != s:
        spec = _parse_core(stripped, today, range_end=range_end)
        if spec is not None:
            return spec
    if _INCOMPLETE.fullmatch(stripped or s):
        raise DateError(DateErrorReason.INCOMPLETE, s)
    raise DateError(DateErrorReason.UNRECOGNISED, s)


def _resolve(spec: _Spec, today: date, text: str) -> date:
    if isinstance(spec, _Fixed):
        return spec.value
    if isinstance(spec, _Weekday):
        if spec.weeks_back is None:
            return today - timedelta(days=(today.isoweekday() - spec.weekday) % 7)
        return _monday(today) + timedelta(days=spec.weekday - 1 - 7 * spec.weeks_back)
    if spec.month is None:
        year, month = today.year, today.month
    elif spec.year is None:
        year, month = today.year, spec.month
        limit = today + timedelta(days=FUTURE_TOLERANCE_DAYS)
        if (year, month, spec.day) > (limit.year, limit.month, limit.day):
            year -= 1
    else:
        year, month = spec.year, spec.month
    return _make(year, month, spec.day, spec.weekday, text)


def _resolve_end(spec: _Spec, start: date, today: date, text: str) -> date:
    """Resolve the second half of a range; missing fields come from ``start``."""
    if isinstance(spec, _Weekday) and spec.weeks_back is None:
        return start + timedelta(days=(spec.weekday - start.isoweekday()) % 7)
    if isinstance(spec, _Partial) and spec.year is None:
        if spec.month is None:
            return _make(start.year, start.month, spec.day, spec.weekday, text)
        end = _make(start.year, spec.month, spec.day, spec.weekday, text)
        if spec.month < start.month:
            # 12月30日至1月2日 crosses a year end; a long wrap is a typo instead.
            wrapped = _make(start.year + 1, spec.month, spec.day, spec.weekday, text)
            if (wrapped - start).days <= _MAX_YEAR_WRAP_DAYS:
                return wrapped
        return end
    return _resolve(spec, today, text)


def parse_date(text: str, now: datetime) -> date:
    """Parse one date.

    Args:
        text: e.g. "6月30日", "2026-06-30", "上周五", "昨天", "本月3号".
        now: Current time, timezone-aware (converted to Asia/Shanghai).

    Returns:
        The date.

    Raises:
        DateError: not a (valid) date; see :class:`DateErrorReason`.
        ValueError: ``now`` is naive.
    """
    today = _today(now)
    s = _normalise(text)
    return _resolve(_parse_spec(s, today), today, text)


_ERROR_PRIORITY = (
    DateErrorReason.RANGE_REVERSED,
    DateErrorReason.INVALID,
    DateErrorReason.WEEKDAY_MISMATCH,
    DateErrorReason.INCOMPLETE,
    DateErrorReason.UNRECOGNISED,
    DateErrorReason.EMPTY,
)


def parse_date_range(text: str, now: datetime) -> tuple[date, date]:
    """Parse a date or a range of dates.

    Accepts a single date (returned as ``(d, d)``) or two joined by 至, 到,
    -, —, ~ or ～. The second part inherits the year and month of the first:
    "6月1日-3日", "6.1-6.3", "2026年6月1日—6月3日", "6月28日到7月2日".

    Args:
        text: What was typed.
        now: Current time, timezone-aware (converted to Asia/Shanghai).

    Returns:
        ``(start, end)`` with ``start <= end``.

    Raises:
        DateError: not a date or range; ``RANGE_REVERSED`` if end < start.
        ValueError: ``now`` is naive.
    """
    today = _today(now)
    s = _normalise(text)
    if not s:
        raise DateError(DateErrorReason.EMPTY, text)
    if len(s) > MAX_DATE_CHARS:
        # Each separator is tried as the split point, so the cost grows with the square of
        # the length; no date or range anyone writes is this long.
        raise DateError(DateErrorReason.UNRECOGNISED, text)
    errors: list[DateError] = []
    try:
        single = _resolve(_parse_spec(s, today), today, text)
    except DateError as error:
        errors.append(error)
    else:
        return single, single
    for sep in _RANGE_SEP.finditer(s):
        left, right = s[: sep.start()], s[sep.end() :]
        if not left or not right:
            continue
        try:
            start = _resolve(_parse_spec(left, today), today, text)
            end = _resolve_end(_parse_spec(right, today, range_end=True), start, today, text)
        except DateError as error:
            errors.append(error)
            continue
        if end < start:
            errors.append(DateError(DateErrorReason.RANGE_REVERSED, text))
            continue
        return start, end
    raise min(errors, key=lambda error: _ERROR_PRIORITY.index(error.reason))

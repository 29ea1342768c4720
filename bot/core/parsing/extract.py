"""Read one report message written the way staff talk.

"11月8日在文化广场办了3场夏夜汇演，300多人参加" gives the work area (文体活动), a title
(夏夜汇演), the date (11月8日), the place (文化广场) and each figure mapped to the area's
questions (场次 3; 参与群众 300余人次), every field with the part of the message it came
from, so the card can say "从你的消息中读出：日期 11月8日 …". It also says when a message
seems to hold two activities, when a date lies in the future, and which figures need asking
again (0, a negative number, "很多", "不到100人").

Everything the extractor knows about the questionnaire comes from the questionnaire: an area's
``keywords``, a count question's unit, ``measures`` and ``cues`` (see
``templates/questionnaires/community_culture.yaml``). What is read here is only the grammar
of a report: how dates, places, counts and titles sit in a sentence. Dates are resolved by
:mod:`bot.core.parsing.dates`, counts by :mod:`bot.core.parsing.counts`, conversions by the
questions.

Why rules of our own, and no NLP package (measured on this project's 2-core machine):

* jieba 0.42 (42 MB installed) takes 2.5 s to build its dictionary and about 200 µs to cut a
  30-character message, and its words are not the units needed here ("300/多人", "五十多户",
  "二十几个" as one word). Area words come from a closed list, found by one precompiled
  regular expression in a few microseconds.
* jionlp 1.5 (19 MB, plus jiojio 148 MB and numpy; 1 s to import) finds times in a sentence,
  but took about 1 ms per message (200 ms the first time), missed "10月份" and follows its own
  conventions, not the project's (the 60-day no-year rule, ISO weeks for 上周三). Its
  quantifier statistics served to check the measure-word list of :mod:`bot.core.parsing.counts`.

The extraction runs on the Telegram path, so it has to stay far below a millisecond of CPU:
a handful of precompiled regular expressions over a short message, with no model and no
network. ``benchmarks/extract_accuracy.py`` measures accuracy and CPU on a corpus.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from bot.core.parsing.counts import (
    COUNT_OPENERS,
    UNIT_WORDS,
    Approx,
    Count,
    CountError,
    read_count_at,
)
from bot.core.parsing.dates import (
    EN_MONTHS,
    SHANGHAI,
    DateError,
    DateErrorReason,
    parse_date_range,
)
from bot.core.parsing.numerals import DIGITS, MULTIPLIERS
from bot.core.parsing.units import UnitMismatch
from bot.core.questionnaire import Question, Questionnaire, QuestionType

__all__ = [
    "MAX_CHARS",
    "AreaGuess",
    "DateFound",
    "DatePrecision",
    "Extraction",
    "Figure",
    "FigureIssue",
    "Mention",
    "Several",
    "Span",
    "assign_figures",
    "extract",
    "suggest_title",
]

#: Longer messages are read only this far (a report is a sentence or two).
MAX_CHARS = 500


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A part of the message: ``text == message[start:end]``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class AreaGuess:
    """A work area the message suggests, with the words that suggest it."""

    key: str
    name: str
    score: int
    source: Span  # the strongest word


class DatePrecision(enum.StrEnum):
    """How exactly the message names the day."""

    DAY = "day"  # 11月8日, 上周三, 昨天
    DAYS = "days"  # 11月20日到22日, 8日和9日
    PERIOD = "period"  # 10月份, 上个月, 上周, 月底: the bot should ask for the day


@dataclass(frozen=True, slots=True)
class DateFound:
    """The activity's date or date range."""

    start: date
    end: date
    precision: DatePrecision
    future: bool  # starts after today: a plan, or a typo
    source: Span


class FigureIssue(enum.StrEnum):
    """Why a figure in the message has no usable value."""

    ZERO = "zero"  # "0人"
    NEGATIVE = "negative"  # "-5人"
    VAGUE = "vague"  # "很多居民", "几十个"
    AT_MOST = "at_most"  # "不到100人"


class Several(enum.StrEnum):
    """Why a message seems to report more than one activity."""

    TWO_DATES = "two_dates"  # "11月8日…；11月12日…"
    TWO_AREAS = "two_areas"  # "…反诈宣传…，另外下午还组织了象棋比赛…"
    FIGURE_TWICE = "figure_twice"  # "办了3场汇演…又放了2场电影": one figure given twice


@dataclass(frozen=True, slots=True)
class Mention:
    """A count (or a vague quantity) found in the message, before it is given to a question.

    Attributes:
        count: The count as typed (its own measure word), None for a vague one.
        issue: Why the count cannot be used as it is, if so.
        unit: The measure word as typed (also for a vague "几十个"), or None.
        source: Where it is in the message.
        before: The words just before it in the same clause ("参与家庭").
        after: The words just after it in the same clause ("志愿者在小区清扫").
        part: It is a part or a rate of another figure ("其中党员50人", "每场100人").
    """

    count: Count | None
    issue: FigureIssue | None
    unit: str | None
    source: Span
    before: str
    after: str
    part: bool = False


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure of the message given to one count question of the area."""

    question_id: str
    label: str
    count: Count | None  # in the question's unit; None when there is an issue
    issue: FigureIssue | None
    source: Span


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one message says about an activity; every field knows where it came from."""

    text: str
    areas: tuple[AreaGuess, ...] = ()  # best first; the first buttons when the bot asks
    area_sure: bool = False
    title: Span | None = None
    dates: DateFound | None = None
    place: Span | None = None
    figures: tuple[Figure, ...] = ()  # for the best area
    mentions: tuple[Mention, ...] = ()  # every count found, to assign again to another area
    several: tuple[Several, ...] = ()  # why it seems to report two activities or more
    parts: tuple[Span, ...] = ()  # with several: each activity's part of the message, if told

    @property
    def area(self) -> str | None:
        """The best area's key, if any word suggests one."""
        return self.areas[0].key if self.areas else None

    @property
    def empty(self) -> bool:
        """Nothing about an activity could be read (a date alone, as in "明天再报", is none)."""
        return not (self.areas or self.title or self.place or self.mentions)

    @property
    def report_like(self) -> bool:
        """Reads like an activity report: two of area, title, date, place and figures.

        "你好", "谢谢", "明天再报" (a date alone) or "50" (a number alone) do not; "3场，300人"
        does (two figures).
        """
        counted = sum(1 for m in self.mentions if m.unit is not None or m.issue is not None)
        found = (self.areas, self.title, self.dates, self.place)
        return sum(1 for item in found if item) + min(counted, 2) >= 2

    @property
    def future(self) -> bool:
        """The date read lies after today."""
        return self.dates is not None and self.dates.future

    @property
    def flagged(self) -> tuple[Figure, ...]:
        """Figures the bot should ask again (0, negative, vague, only an upper bound)."""
        return tuple(f for f in self.figures if f.issue is not None)

    def sources(self) -> tuple[tuple[str, Span], ...]:
        """(field, where it came from) in message order: area, title, dates, location, ids."""
        found: list[tuple[str, Span]] = []
        if self.areas:
            found.append(("area", self.areas[0].source))
        if self.title is not None:
            found.append(("title", self.title))
        if self.dates is not None:
            found.append(("dates", self.dates.source))
        if self.place is not None:
            found.append(("location", self.place))
        found.extend((f.question_id, f.source) for f in self.figures)
        return tuple(sorted(found, key=lambda item: item[1].start))


# --- normalising, with offsets kept ----------------------------------------------------

# Slips of the phone keyboard (pinyin input picks a homophone), each the same length as the
# word meant, so offsets into the message stay valid.
_TYPOS = {
    "志原": "志愿",
    "自愿者": "志愿者",
    "志愿着": "志愿者",
    "会演": "汇演",
    "广场午": "广场舞",
    "党可": "党课",
    "宣转": "宣传",
    "宣川": "宣传",
    "读书汇": "读书会",
    "非以": "非遗",
    "非移": "非遗",
    "剪只": "剪纸",
    "敬佬": "敬老",
    "横副": "横幅",
    "演处": "演出",
}
_TYPO_RE = re.compile("|".join(sorted(_TYPOS, key=len, reverse=True)))
_DASHES = {"−": "-", "﹣": "-", "‐": "-", "‑": "-", "～": "~", "〜": "~", "–": "-", "―": "—"}


def _fold_table() -> dict[int, str]:
    table = {ord(k): v for k, v in _DASHES.items()}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII: ０-９, Ａ-Ｚ, ，：（ ...
        table[code] = chr(code - 0xFEE0)
    table[0x3000] = " "
    return table


_FOLD = _fold_table()


def _normalise(text: str) -> str:
    """Width-fold (full-width digits, letters and punctuation to ASCII) and lower-case,
    character for character so offsets into the message hold; mend known typos."""
    s = text.translate(_FOLD)
    lowered = s.lower()
    if len(lowered) == len(s):
        s = lowered
    return _TYPO_RE.sub(lambda m: _TYPOS[m.group()], s) if _TYPO_RE.search(s) else s


# --- dates -----------------------------------------------------------------------------

_N = r"(?:[0-9]{1,2}|[零〇一二两三四五六七八九十廿卅]{1,3})"
_YEAR = r"(?:(?:19|20)[0-9]{2}|[零〇一二三四五六七八九]{4}|今|去|前|明)年"
_WD = r"(?:\(?(?:周|星期|礼拜)[一二三四五六日天1-7]\)?)?"
_NOT_BUILDING = r"(?!楼|院|门|线|车|床|厅|室|馆|桌|口|窗|机|位|码|箱|店|地铁)"
_EN_MONTH = "|".join(sorted(EN_MONTHS, key=len, reverse=True))
_EN_WEEKDAYS = {
    "monday": "一",
    "tuesday": "二",
    "wednesday": "三",
    "thursday": "四",
    "friday": "五",
    "saturday": "六",
    "sunday": "日",
}

_DATE_RE = re.compile(
    # the characters a date can start with, so other positions fail at once
    r"(?=[0-9零〇一二两三四五六七八九十廿卅今去前明上本这下大昨后周星礼a-z])(?:"
    + "|".join(
        (
            rf"(?P<iso>(?<![0-9])(?:19|20)[0-9]{{2}}(?P<sep>[-/.])[0-9]{{1,2}}(?P=sep)"
            rf"[0-9]{{1,2}}(?![0-9])[日号]?{_WD})",
            rf"(?P<cn>(?:{_YEAR}|[0-9]{{2}}年(?={_N}月))?(?<![0-9])(?:1[0-2]|0?[1-9]|"
            rf"[一二三四五六七八九十]{{1,2}}) ?月份? ?{_N} ?[日号]{_WD})",
            rf"(?P<loose>(?:{_YEAR})?(?<![0-9])(?:1[0-2]|0?[1-9])月[0-9]{{1,2}}(?![0-9]))",
            rf"(?P<mday>(?:上上|上|本|这|下)个?月{_N}[日号]{_WD})",
            r"(?P<short>(?<![0-9.])(?:1[0-2]|0?[1-9])[./](?:3[01]|[12][0-9]|0?[1-9])"
            rf"(?![0-9.%月年])[日号]?{_WD})",
            r"(?P<rel>大前天|前天|前日|昨天|昨日|昨晚|昨儿个?|今天|今日|今晚|今早|今晨|今儿个?|"
            r"明天|明日|明晚|明早|后天|前晚)",
            r"(?P<week>(?P<wref>上上|上|本|这)个?(?:周|星期|礼拜)(?![一二三四五六日天1-7])"
            r"(?P<wend>末)?)",
            r"(?P<wday>(?<!每)(?:(?:上上|上|本|这|下)个?)?(?:周|星期|礼拜)[一二三四五六日天1-7])",
            r"(?P<weekend>(?<![上本这下个每])周末)",
            r"(?P<mref>(?P<mrefw>上上|上|本|这)个?月份?(?P<mrefp>上旬|中旬|下旬|初|底|末)?)",
            rf"(?P<month>(?:(?P<my>{_YEAR}))?(?<![0-9个])(?P<mn>1[0-2]|0?[1-9]|十[一二]|"
            r"[一二三四五六七八九十])月份?(?P<mpart>上旬|中旬|下旬|初|底|末)?(?![0-9一二三四五六七八九十]))",
            rf"(?P<day>(?<![0-9第月号])(?:[0-9]{{1,2}}|[一二三四五六七八九十廿卅]{{1,3}})"
            rf"[日号]{_NOT_BUILDING}{_WD})",
            rf"(?P<en>(?<![a-z])(?:(?P<enm>{_EN_MONTH})\.?\s*(?P<end>[0-9]{{1,2}})"
            rf"|(?P<end2>[0-9]{{1,2}})\s*(?P<enm2>{_EN_MONTH}))(?![a-z0-9]))",
            r"(?P<enrel>(?<![a-z])(?:yesterday|today|tonight|last night)(?![a-z]))",
            r"(?P<enwd>(?<![a-z])(?:last|this|on) (?P<enwdn>monday|tuesday|wednesday|thursday|"
            r"friday|saturday|sunday)(?![a-z]))",
        )
    )
    + ")"
)
_JOIN_RANGE = re.compile(r"\s*(?:至|到|—+|-+|~+)\s*")
_JOIN_SET = re.compile(r"\s*(?:和|、|及|与|,|&)?\s*")
_RANGE_TAIL = re.compile(rf"\s*(?:至|到|—+|-+|~+)\s*(?P<d>{_N})[日号]?(?![0-9年月个场人名])")
_MONTH_PARTS = {"上旬": (1, 10), "初": (1, 10), "中旬": (11, 20), "下旬": (21, 31)}
_MONTH_PARTS.update({"底": (21, 31), "末": (21, 31)})
_CN_SMALL = {"十一": 11, "十二": 12, **{k: v for k, v in DIGITS.items() if 1 <= v <= 9}, "十": 10}
_UNIT_START = frozenset("场人名个位户份条幅支处册本张套项期次小元块万千百天件间座平家组首")


@dataclass(frozen=True, slots=True)
class _DateHit:
    start: int
    end: int
    first: date
    last: date
    precision: DatePrecision


def _month_range(year: int, month: int, part: str | None) -> tuple[date, date]:
    first_day = date(year, month, 1)
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last_day = next_month - timedelta(days=1)
    if part is None:
        return first_day, last_day
    low, high = _MONTH_PARTS[part]
    return date(year, month, low), date(year, month, min(high, last_day.day))


def _resolve_month(year_token: str | None, month: int, today: date) -> int:
    if year_token:
        word = year_token[:-1]
        offsets = {"今": 0, "去": -1, "前": -2, "明": 1}
        if word in offsets:
            return today.year + offsets[word]
        if word.isdigit():
            return int(word)
        return int("".join(str(DIGITS[ch]) for ch in word))
    # The 60-day rule of dates.py: a month that starts far ahead is last year's.
    year = today.year
    if date(year, month, 1) > today + timedelta(days=60):
        year -= 1
    return year


def _period(match: re.Match[str], today: date) -> tuple[date, date] | None:
    kind = match.lastgroup
    if kind == "week":
        back = {"上上": 2, "上": 1, "本": 0, "这": 0}[match.group("wref")]
        monday = today - timedelta(days=today.weekday() + 7 * back)
        if match.group("wend"):
            return monday + timedelta(days=5), monday + timedelta(days=6)
        return monday, monday + timedelta(days=6)
    if kind == "weekend":
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        return saturday, saturday + timedelta(days=1)
    if kind == "mref":
        offset = {"上上": -2, "上": -1, "本": 0, "这": 0}[match.group("mrefw")]
        index = today.year * 12 + today.month - 1 + offset
        return _month_range(index // 12, index % 12 + 1, match.group("mrefp"))
    if kind == "month":
        token = match.group("mn")
        month = int(token) if token.isdigit() else _CN_SMALL[token]
        year = _resolve_month(match.group("my"), month, today)
        return _month_range(year, month, match.group("mpart"))
    return None


def _english_date(match: re.Match[str], now: datetime) -> tuple[date, date]:
    kind = match.lastgroup
    if kind == "enrel":
        word = match.group()
        return _parse({"yesterday": "昨天", "last night": "昨晚"}.get(word, "今天"), now)
    if kind == "enwd":
        # "last Wednesday" said on a Friday is two days ago: the most recent one
        first, last = _parse("周" + _EN_WEEKDAYS[match.group("enwdn")], now)
        if match.group().startswith("last") and first == now.date():
            first = last = first - timedelta(days=7)
        return first, last
    month = EN_MONTHS[(match.group("enm") or match.group("enm2")).rstrip(".")]
    day = match.group("end") or match.group("end2")
    return _parse(f"{month}月{day}日", now)


def _parse(text: str, now: datetime) -> tuple[date, date]:
    try:
        return parse_date_range(text, now)
    except DateError as error:
        if error.reason is not DateErrorReason.WEEKDAY_MISMATCH:
            raise
    # "11月8日（周五）" when the 8th is a Saturday: the date stands, the weekday is the slip.
    bare = re.sub(r"\(?(?:周|星期|礼拜)[一二三四五六日天1-7]\)?$", "", text)
    return parse_date_range(bare, now)


def _after_is_count(s: str, end: int) -> bool:
    return end < len(s) and s[end] in _UNIT_START


def _find_dates(s: str, now: datetime, today: date) -> list[_DateHit]:
    hits: list[_DateHit] = []
    for match in _DATE_RE.finditer(s):
        kind = match.lastgroup
        if kind is None:  # pragma: no cover - every alternative is a named group
            continue
        start, end = match.span(kind)
        if hits and start < hits[-1].end:
            continue  # inside a range already read ("到22日")
        text = match.group(kind)
        try:
            if kind in ("week", "weekend", "mref", "month"):
                period = _period(match, today)
                if period is None:
                    continue
                hits.append(_DateHit(start, end, period[0], period[1], DatePrecision.PERIOD))
                continue
            if kind in ("en", "enrel", "enwd"):
                first, last = _english_date(match, now)
            else:
                if kind == "loose" and _after_is_count(s, end):
                    # "6月3场演出": June, then three shows
                    head, _, _ = text.partition("月")
                    year_token, _, month_token = head.rpartition("年")
                    month = int(month_token)
                    year = _resolve_month(year_token + "年" if year_token else None, month, today)
                    first, last = _month_range(year, month, None)
                    month_end = start + len(head) + 1
                    hits.append(_DateHit(start, month_end, first, last, DatePrecision.PERIOD))
                    continue
                if kind == "short" and _after_is_count(s, end):
                    continue  # "3.5小时" is a duration
                first, last = _parse(text, now)
                tail = _RANGE_TAIL.match(s, end)
                if tail is not None and kind in ("cn", "loose", "mday", "short", "iso", "day"):
                    try:
                        first, last = _parse(s[start : tail.end()], now)
                        end = tail.end()
                    except DateError:
                        pass
        except (DateError, ValueError, KeyError):
            continue
        precision = DatePrecision.DAY if first == last else DatePrecision.DAYS
        hits.append(_DateHit(start, end, first, last, precision))
    return _join_dates(s, hits, now)


def _join_dates(s: str, hits: list[_DateHit], now: datetime) -> list[_DateHit]:
    """Join "11月20日到22日" and "8日和9日" into one hit each."""
    joined: list[_DateHit] = []
    for hit in hits:
        if joined:
            last = joined[-1]
            between = s[last.end : hit.start]
            if _JOIN_RANGE.fullmatch(between) and last.precision is not DatePrecision.PERIOD:
                try:
                    first, end_day = _parse(s[last.start : hit.end], now)
                except DateError:
                    first, end_day = last.first, max(last.last, hit.last)
                if end_day >= first:
                    joined[-1] = _DateHit(last.start, hit.end, first, end_day, DatePrecision.DAYS)
                    continue
            if _JOIN_SET.fullmatch(between) and DatePrecision.PERIOD not in (
                last.precision,
                hit.precision,
            ):
                first, end_day = min(last.first, hit.first), max(last.last, hit.last)
                if (end_day - first).days <= 31:
                    joined[-1] = _DateHit(last.start, hit.end, first, end_day, DatePrecision.DAYS)
                    continue
        joined.append(hit)
    return joined


# --- counts ----------------------------------------------------------------------------

_NUMERAL_START = frozenset("0123456789零〇一二两三四五六七八九十百千万")
_NUMERAL_RUN = frozenset(_NUMERAL_START) | frozenset(MULTIPLIERS) | frozenset(".,")
_OPENERS = tuple(w for w in COUNT_OPENERS if w != "上")
# A measure word followed by these is part of another word: 二十四节气, 十一期间, 3场所.
_NOT_A_MEASURE = {
    "节": "气日",
    "期": "间",
    "场": "所地馆景",
    "次": "日年",
    "周": "年末岁",
    "年": "级龄度代",
    "天": "气",
    "名": "单义额",
    "条": "例件",
    "个": "性别",
    "家": "长",
}
_WEAK_UNITS = frozenset(
    {"个", "次", "件", "块"}
)  # 块: pieces, or yuan  # used for anything: need a word naming the figure
_PART_WORDS = ("其中", "包括", "含", "每", "平均", "人均", "场均")
_VAGUE_RE = re.compile(
    r"(?P<word>很多|好多|许多|不少(?!于)|若干|大量|众多|一大批|大批|数十|数百|数千|好几十|好几百|"
    r"几十|几百|几千|一些)(?P<unit>人次|人|名|位|个|户|场|条|份|幅|支|处|册|本|张|套|项|期|家)?"
)
_CLAUSE_BREAK = frozenset(",，。;；!！?？\n、：:()（）【】[]")
_CONTEXT_CHARS = 12
_EN_UNITS: dict[str, tuple[str, str]] = {
    "people": ("人", ""),
    "persons": ("人", ""),
    "participants": ("人", "参加"),
    "residents": ("人", "居民"),
    "attendees": ("人", "参加"),
    "visitors": ("人", "参加"),
    "volunteers": ("名", "志愿者"),
    "members": ("人", "党员"),
    "kids": ("人", "孩子"),
    "children": ("人", "孩子"),
    "students": ("人", "学生"),
    "performers": ("名", "参演"),
    "hours": ("小时", ""),
    "households": ("户", "家庭"),
    "families": ("户", "家庭"),
    "sessions": ("场", ""),
    "shows": ("场", ""),
    "screenings": ("场", ""),
    "performances": ("场", ""),
    "lectures": ("场", ""),
    "classes": ("场", ""),
    "leaflets": ("份", "资料"),
    "flyers": ("份", "资料"),
    "copies": ("份", "资料"),
    "banners": ("条", "横幅"),
    "books": ("册", "图书"),
    "teams": ("支", "队伍"),
    "works": ("幅", "作品"),
    "acts": ("个", "节目"),
    "programmes": ("个", "节目"),
    "awards": ("项", "获奖"),
}
_EN_COUNT = re.compile(
    r"(?<![a-z0-9])(?P<q>about |around |over |more than |nearly |some )?"
    r"(?P<n>[0-9]+)(?P<plus>\+)? ?(?P<w>[a-z]+)"
)


_LATIN = re.compile(r"[a-z]{3}")
_NUMERAL_RUN_RE = re.compile(r"[0-9零〇一二两三四五六七八九十百千万亿]+")
_ARABIC_DIGITS = frozenset("0123456789")
_UNIT_FIRST = frozenset(word[0] for word in UNIT_WORDS)


def _is_start(s: str, i: int) -> bool:
    if s[i] not in _NUMERAL_START:
        return False
    if i == 0:
        return True
    if s[i - 1] in ".,":  # 1,200 and 3.5 go on; "，300多人" starts anew
        return not (i > 1 and s[i - 2].isdigit() and s[i].isdigit())
    return s[i - 1] not in _NUMERAL_RUN


def _ordinal_or_clock(s: str, i: int) -> bool:
    """第3场 is the third, 19:30 a time of day."""
    return i > 0 and (s[i - 1] == "第" or (s[i - 1] == ":" and i > 1 and s[i - 2].isdigit()))


def _opener_before(s: str, i: int) -> int:
    if not s.endswith(_OPENERS, 0, i):
        return i
    for word in _OPENERS:
        if s.startswith(word, i - len(word)) and i - len(word) >= 0:
            return i - len(word)
    return i


def _clause_start(s: str, i: int, floor: int, limit: int = _CONTEXT_CHARS) -> int:
    j = i
    while j > floor and s[j - 1] not in _CLAUSE_BREAK:
        j -= 1
    return max(j, i - limit)


def _clause_end(s: str, i: int, ceiling: int) -> int:
    j = i
    while j < ceiling and s[j] not in _CLAUSE_BREAK:
        j += 1
    return min(j, i + _CONTEXT_CHARS)


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    count: Count | None
    issue: FigureIssue | None
    unit: str | None
    cue: str = ""  # an English noun's Chinese cue ("volunteers" -> 志愿者)


def _find_counts(s: str, blocked: bytearray) -> list[_Found]:
    found: list[_Found] = []
    for run in _NUMERAL_RUN_RE.finditer(s):
        i = run.start()
        if blocked[i] or not _is_start(s, i) or _ordinal_or_clock(s, i):
            continue
        if i and s[i - 1] in "几数" and s[i] not in _ARABIC_DIGITS:
            continue  # 几十个, 数百人: vague, read by _find_vague
        if run.group()[0] not in _ARABIC_DIGITS and not _unit_follows(s, run.end()):
            continue  # 一起, 十佳, 四史: a Chinese numeral that counts nothing here
        found_one = _count_at(s, i, blocked)
        if found_one is not None:
            found.append(found_one)
    return found


def _unit_follows(s: str, end: int) -> bool:
    while end < len(s) and s[end] in "多余来几把+ ":
        end += 1
    return end < len(s) and (s[end] in _UNIT_FIRST or s[end] in "以左上出开")


_FAST_NUMBER = re.compile(r"([0-9]{1,9})([多余+]?)(?![0-9.,])")
_UNIT_SIZES = tuple(sorted({len(word) for word in UNIT_WORDS}, reverse=True))
_FAST_STOP = re.compile(
    r" *(?:以上|之上|开外|出头|左右|上下|前后|光景|的样子|以下|以内|之内|之下|不到"
    r"|至|到|—|-|~|多|余)"
)


def _fast_count(s: str, i: int) -> tuple[Count, int] | None:
    """ "300多人", "3场": what :func:`read_count_at` reads, without its grammar; None when the
    count is anything less plain (a range, 左右, 万, a space...)."""
    match = _FAST_NUMBER.match(s, i)
    if match is None:
        return None
    at = match.end()
    for size in _UNIT_SIZES:
        word = s[at : at + size]
        if len(word) == size and word in UNIT_WORDS:
            break
    else:
        return None
    end = at + size
    if _FAST_STOP.match(s, end):
        return None
    approx = Approx.MORE_THAN if match.group(2) else Approx.EXACT
    return Count(Decimal(int(match.group(1))), None, approx, s[i:end], UNIT_WORDS[word]), end


def _count_at(s: str, i: int, blocked: bytearray) -> _Found | None:
    """The count at ``i`` (a numeral run's start), with its opener."""
    begin = _opener_before(s, i)
    issue: FigureIssue | None = None
    try:
        fast = _fast_count(s, i) if begin == i else None
        count, end = fast if fast is not None else read_count_at(s, begin)
    except CountError as error:
        bound = _bound_of(s, begin) if error.reason.value == "at_most" else None
        if bound is None:
            return None
        count, end = bound
        issue = FigureIssue.AT_MOST
    unit = count.unit
    if unit is not None and end < len(s) and s[end] in _NOT_A_MEASURE.get(unit, ""):
        return None
    if unit is None and not any("0" <= ch <= "9" for ch in count.raw):
        return None
    if any(blocked[begin:end]):
        return None
    if issue is None:
        if begin > 0 and s[begin - 1] in "-负":
            issue = FigureIssue.NEGATIVE
            begin -= 1  # the source shows the sign: "-5人"
        elif count.low == 0 and count.high is None:
            issue = FigureIssue.ZERO
    blocked[begin:end] = b"\x01" * (end - begin)
    return _Found(begin, end, count, issue, unit)


def _find_vague(s: str, blocked: bytearray) -> list[_Found]:
    found: list[_Found] = []
    for match in _VAGUE_RE.finditer(s):
        start, end = match.span()
        if not any(blocked[start:end]):
            found.append(_Found(start, end, None, FigureIssue.VAGUE, match.group("unit")))
            blocked[start:end] = b"\x01" * (end - start)
    return found


def _find_english(s: str, text: str, blocked: bytearray) -> list[_Found]:
    found: list[_Found] = []
    for match in _EN_COUNT.finditer(s):
        start, end = match.span()
        word = match.group("w")
        if word not in _EN_UNITS or any(blocked[start:end]):
            continue
        unit, cue = _EN_UNITS[word]
        value = Decimal(match.group("n"))
        qualifier = (match.group("q") or "").strip()
        approx = Approx.EXACT
        if match.group("plus") or qualifier in ("over", "more than"):
            approx = Approx.MORE_THAN
        elif qualifier:
            approx = Approx.ABOUT
        count = Count(value, None, approx, text[start:end], unit)
        issue = FigureIssue.ZERO if value == 0 else None
        found.append(_Found(start, end, count, issue, unit, cue))
        blocked[start:end] = b"\x01" * (end - start)
    return found


def _bound_of(s: str, begin: int) -> tuple[Count, int] | None:
    """The figure of "不到100人" (kept, and flagged AT_MOST)."""
    j = begin
    while j < len(s) and s[j] not in _NUMERAL_START:
        j += 1
    if j >= len(s) or j - begin > 3:
        return None
    try:
        count, end = read_count_at(s, j)
    except CountError:
        return None
    return Count(count.low, count.high, count.approx, s[begin:end], count.unit), end


def _find_mentions(text: str, s: str, masked: Iterable[tuple[int, int]]) -> list[Mention]:
    blocked = bytearray(len(s))
    for start, end in masked:
        blocked[start:end] = b"\x01" * (end - start)
    found = _find_english(s, text, blocked) if _LATIN.search(s) else []
    found += _find_counts(s, blocked) + _find_vague(s, blocked)
    found.sort(key=lambda item: item.start)
    mentions: list[Mention] = []
    for index, item in enumerate(found):
        floor = found[index - 1].end if index else 0
        ceiling = found[index + 1].start if index + 1 < len(found) else len(s)
        clause = s[_clause_start(s, item.start, 0, limit=len(s)) : item.start]
        mentions.append(
            Mention(
                count=item.count,
                issue=item.issue,
                unit=item.unit,
                source=Span(item.start, item.end, text[item.start : item.end]),
                before=s[_clause_start(s, item.start, floor) : item.start],
                after=item.cue + s[item.end : _clause_end(s, item.end, ceiling)],
                part=any(word in clause for word in _PART_WORDS),
            )
        )
    return mentions


# --- place -----------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_PLACE_INTRO = re.compile(
    r"(?<![正现存实所自好坐])在(?!线|内|于|此|这|那|家里)"
    r"|(?<![关由对属等至鉴基终善乐便用免])于(?!是)"
    r"|来到|走进|前往|深入|赴|(?<![来收达得遇看想做等直])到(?!场|位|达|会|了|过|底|期|岗)"
)
_EN_PLACE = re.compile(
    r"(?<![a-z])(?:at|in) (?:the )?(?P<x>[a-z][a-z' -]{2,40}?)"
    r"(?=[,.;:!]| on | with | for | to | and |$)"
)
_PLACE_SUFFIXES = _words(
    "广场 中心 室 站 馆 院 园 楼 小区 社区 街道 村 路 街 巷 礼堂 学校 "
    "小学 中学 幼儿园 大厅 厅 屋 书屋 剧场 会场 门口 前 空地 家 处 所 "
    "基地 角 台 舞台 长廊 驿站 食堂 园区 大院 庭院 花园 苑 府 湾 庄 坊 "
    "堂 亭 阁 校区 医院 超市 市场 单元 旁 边 下 场 点 站点 里 内 上 "
    "部 馆内 现场 栏 家中 党校 大学 河边 路口 楼道 广场上 口"
)
_PLACE_END = tuple(sorted(_PLACE_SUFFIXES, key=len, reverse=True))
_VERBS = _words(
    "举办 举行 开展 组织 召开 进行 放映 演出 表演 上演 宣讲 展出 展示 "
    "展演 悬挂 张贴 发放 设置 设立 布置 清扫 打扫 清理 慰问 集中 集体 "
    "共同 联合 开设 观看 学习 参加 参与 面向 邀请 看望 走访 为 给 向 对 "
    "和 与 跟 同 把 将 办 搞 开 放 看 唱 跳 讲 上 做 包 写 剪 画 "
    "贴 挂 发 送 捡 陪 教 读 演 举 组 进 设 建 摆 搭 种 帮 练 打 "
    "玩 听 学 说 聊 拍 跑 走 搬 修 装 换 共 约 有 迎 庆 欢 评 整 "
    "收 普 义 表 授 主 请 由 以 时 公示 展 摆摊 设点 巡回 集中"
)
_STRONG_VERBS = tuple(v for v in _VERBS if len(v) > 1)
_MAX_PLACE = 20


def _find_place(s: str, blocked: bytearray) -> tuple[int, int] | None:
    for match in _PLACE_INTRO.finditer(s):
        begin = match.end()
        while begin < len(s) and s[begin] == " ":
            begin += 1
        if begin >= len(s) or blocked[begin] or blocked[match.start()]:
            continue
        stop = begin
        while (
            stop < len(s)
            and stop - begin < _MAX_PLACE
            and s[stop] not in _CLAUSE_BREAK
            and not s[stop].isspace()
            and not s[stop].isdigit()
            and not blocked[stop]
        ):
            stop += 1
        end = _place_end(s, begin, stop)
        if end is None:
            continue
        while end - begin > 2 and s[end - 1] in "里内上":
            end -= 1
        candidate = s[begin:end]
        if _not_a_place(candidate):
            continue
        return begin, end
    for match in _EN_PLACE.finditer(s):
        begin, end = match.span("x")
        while begin < end and not blocked[begin]:
            begin += 1
        cut = begin  # an English place ends where a date begins ("at the gate yesterday")
        begin = match.start("x")
        end = min(end, cut)
        while end > begin and s[end - 1] == " ":
            end -= 1
        if end - begin >= 3:
            return begin, end
    return None


def _place_end(s: str, begin: int, stop: int) -> int | None:
    """Where the place after 在/于 ends: the longest stretch ending in a place word that a
    verb follows; else the first strong verb; else the whole short stretch."""
    for end in range(begin + 2, stop + 1):
        if s[begin:end].endswith(_PLACE_END) and (end == stop or s.startswith(_VERBS, end)):
            return end
    for end in range(begin + 2, stop):
        if s.startswith(_STRONG_VERBS, end):
            return end
    return None


def _not_a_place(text: str) -> bool:
    if len(text) < 2:
        return True
    if text[0] in _NUMERAL_START and (text[1] in _NUMERAL_START or text[1] in _UNIT_START):
        return True  # 在三个小区: how many, not where
    if "的" in text and text.endswith(("下", "中", "时", "后", "上", "里")):
        return True  # 在大家的帮助下
    if text.endswith("中") and not text.endswith("家中"):
        return True  # 在活动中
    if text.endswith(("期间", "过程", "方面", "基础", "之际")):
        return True
    return any(word in text for word in ("此次", "本次", "这次"))


# --- title -----------------------------------------------------------------------------

_HOSTS = re.compile(
    r"(?:组织开展|组织举办|举办了?|举行了?|开展了?|组织了?|办了|搞了|召开了?|进行了?|开了|放映了?|"
    r"上了|参加了?|策划了?|推出了?|held|organi[sz]ed|ran|hosted)"
)
_TITLE_SKIP = re.compile(
    r"\s*(?:一次|一场|一期|[0-9一二两三四五六七八九十几多余来百]+(?:场次|场|期|次|堂|节|届|个|项)|了|"
    r"主题为|以|名为|a |an |the )\s*"
)
_TITLE_STOP = re.compile(
    r"[,，。;；!！?？\n、]|共(?=[0-9一二两三四五六七八九十几计有])|约|大约|吸引|参加|参与|观看|现场|"
    r"受到|获得|覆盖|惠及|邀请|由|在|于|"
    r"[0-9]|活动(?=[,，。;；!！?？]|$)"
)
_QUOTES = {"“": "”", '"': '"', "《": "》", "「": "」", "『": "』", "【": "】", "‘": "’"}
_PEOPLE = ("志愿者", "居民", "党员", "群众", "孩子", "青少年", "老人", "小朋友", "家长", "学生")
_GENERIC = frozenset({"活动", "工作", "一次活动", "活", "服务"})


def _find_title(s: str, blocked: bytearray, keywords: re.Pattern[str]) -> tuple[int, int] | None:
    bracket = re.match(r"\s*【([^】]{2,30})】", s)
    if bracket:
        return bracket.span(1)
    for match in _HOSTS.finditer(s):
        begin = match.end()
        while True:
            skip = _TITLE_SKIP.match(s, begin)
            if skip is None or skip.end() == begin:
                break
            begin = skip.end()
        if begin >= len(s) or s.startswith(_PEOPLE, begin):
            continue
        end = _title_end(s, begin, blocked)
        title = s[begin:end].strip()
        if len(title) >= 2 and title not in _GENERIC and not title[0].isdigit():
            return begin, begin + len(s[begin:end].rstrip())
    head = re.match(r"\s*([^,，。;；:：!！?？\n0-9]{3,20})[,，。;；:：!！?？\n]", s)
    if head and not any(blocked[head.start(1) : head.end(1)]) and keywords.search(head.group(1)):
        return head.span(1)
    return None


def _title_end(s: str, begin: int, blocked: bytearray) -> int:
    i = begin
    while i < len(s) and i - begin < 30:
        closing = _QUOTES.get(s[i])
        if closing is not None:
            close = s.find(closing, i + 1)
            if close != -1:
                i = close + 1
                continue
        if blocked[i] or _TITLE_STOP.match(s, i):
            break
        i += 1
    if s.startswith("活动", i):
        i += 2
    return i


# --- what the questionnaire says, prepared once ---------------------------------------


@dataclass(frozen=True, slots=True)
class _Lexicon:
    area_keys: tuple[str, ...]
    keywords: dict[str, tuple[int, int]]  # word -> (area index, weight)
    any_keyword: re.Pattern[str]  # the longest keyword at each position (overlaps too)
    rare_cues: dict[str, tuple[tuple[str, str], ...]]  # first char -> (cue, the one area)


_LEXICONS: dict[int, tuple[Questionnaire, _Lexicon]] = {}


def _by_first_char(items: Iterable[tuple[str, ...]]) -> dict[str, tuple[tuple[str, ...], ...]]:
    index: dict[str, list[tuple[str, ...]]] = {}
    for item in sorted(items, key=lambda item: -len(item[0])):
        index.setdefault(item[0][0], []).append(item)
    return {char: tuple(found) for char, found in index.items()}


def _lexicon(questionnaire: Questionnaire) -> _Lexicon:
    cached = _LEXICONS.get(id(questionnaire))
    if cached is not None and cached[0] is questionnaire:
        return cached[1]
    keywords: dict[str, tuple[int, int]] = {}
    for index, area in enumerate(questionnaire.areas):
        for word in dict.fromkeys(w.lower() for w in area.keywords):
            weight = max(2, len(word) // 3) if word.isascii() else len(word)
            keywords[word] = (index, weight)
    words = sorted(keywords, key=len, reverse=True)
    owners: dict[str, set[str]] = {}
    for area in questionnaire.areas:
        for question in area.questions:
            for cue in question.cues:
                owners.setdefault(cue, set()).add(area.key)
    rare: dict[str, list[tuple[str, str]]] = {}
    for cue, keys in owners.items():
        if len(keys) == 1:
            rare.setdefault(cue[0], []).append((cue, next(iter(keys))))
    lexicon = _Lexicon(
        area_keys=tuple(area.key for area in questionnaire.areas),
        keywords=keywords,
        any_keyword=re.compile(
            "(?=(" + "|".join(map(re.escape, words)) + "))" if words else r"(?!)"
        ),
        rare_cues={char: tuple(found) for char, found in rare.items()},
    )
    if len(_LEXICONS) > 8:
        _LEXICONS.clear()
    _LEXICONS[id(questionnaire)] = (questionnaire, lexicon)
    return lexicon


# --- areas -----------------------------------------------------------------------------


def _guess_areas(
    questionnaire: Questionnaire,
    lexicon: _Lexicon,
    s: str,
    text: str,
    window: tuple[int, int],
    ignore: tuple[int, int] | None,
    title: tuple[int, int] | None,
    mentions: Sequence[Mention],
) -> list[AreaGuess]:
    """Areas by their keywords in ``s[window]`` (the place's words aside), longer words and
    words of the title weighing more; a figure named by a cue that only one area has ("传单",
    "面积") adds to that area."""
    begin, end = window
    scores = [0] * len(lexicon.area_keys)
    best: list[tuple[int, int, int] | None] = [None] * len(lexicon.area_keys)
    seen: set[str] = set()
    for match in lexicon.any_keyword.finditer(s, begin, end):
        at, word = match.start(), match.group(1)
        if word in seen or at + len(word) > end or (ignore and ignore[0] <= at < ignore[1]):
            continue
        seen.add(word)
        area, weight = lexicon.keywords[word]
        if title is not None and title[0] <= at < title[1]:
            weight *= 2
        scores[area] += weight
        current = best[area]
        # among words of equal weight the later one: a Chinese compound ends in its head
        # noun, so "夏夜汇演" is shown as read from "汇演", not from "夏夜"
        if current is None or weight >= current[0]:
            best[area] = (weight, at, at + len(word))
    for mention in mentions:
        if begin <= mention.source.start < end:
            for area_key in _rare_areas(mention, lexicon):
                area = lexicon.area_keys.index(area_key)
                scores[area] += 2
                if best[area] is None:  # only a figure speaks for it: point at the figure
                    best[area] = (0, mention.source.start, mention.source.end)
    guesses: list[AreaGuess] = []
    for area, score in enumerate(scores):
        found = best[area]
        if score and found is not None:
            key = lexicon.area_keys[area]
            source = Span(found[1], found[2], text[found[1] : found[2]])
            guesses.append(AreaGuess(key, questionnaire.areas[area].name, score, source))
    guesses.sort(key=lambda g: -g.score)
    return guesses


def _rare_areas(mention: Mention, lexicon: _Lexicon) -> set[str]:
    """Areas named by a cue only they have, standing next to the count (label or noun)."""
    keys: set[str] = set()
    for words in (_label(mention), mention.after[:4]):
        for at, char in enumerate(words):
            for cue, key in lexicon.rare_cues.get(char, ()):
                if words.startswith(cue, at) and (words is not mention.after[:4] or at == 0):
                    keys.add(key)
    return keys


# --- figures for an area ---------------------------------------------------------------

_LABEL_BREAK = frozenset('了的有是在为给对和与及、:：“”"《》 ') | _CLAUSE_BREAK


def _label(mention: Mention) -> str:
    """The words stuck to the count on its left: "参与家庭" in "参与家庭五十多户"."""
    before = mention.before
    i = len(before)
    while i > 0 and before[i - 1] not in _LABEL_BREAK:
        i -= 1
    return before[i:]


def _cue_rank(question: Question, mention: Mention, label: str) -> tuple[int, int] | None:
    """How near words naming ``question`` stand to the count: lower is nearer.

    Tier 0: in its label ("参赛居民260人"); the more cue characters there, the better.
    Tier 1: right after it ("二十几个志愿者", "300多人参加"). Then by distance either side.
    """
    in_label = sum(len(cue) for cue in question.cues if cue in label)
    if in_label:
        return (0, -in_label)
    best: tuple[int, int] | None = None
    before, after = mention.before, mention.after
    for cue in question.cues:
        at = before.rfind(cue)
        if at != -1:
            gap = len(before) - (at + len(cue))
            rank = (2 + gap, -len(cue))
            best = rank if best is None or rank < best else best
        at = after.find(cue)
        if at != -1:
            rank = (1 if at <= 1 else 2 + at, -len(cue))
            best = rank if best is None or rank < best else best
    return best


_NO_CUE = 99
# A count of people that no word names is the person-times figure, as the summary counts it
# ("300多人" is 参与人次, not 参演人员 nor 志愿者).
_PEOPLE_UNIT = "人次"


@dataclass(frozen=True, slots=True)
class _Choice:
    rank: tuple[int, int, int, int, int, int]
    question: Question


def _choices(questions: Sequence[Question], mention: Mention) -> list[_Choice]:
    label = _label(mention)
    choices: list[_Choice] = []
    for index, question in enumerate(questions):
        if mention.unit is not None and mention.unit not in question.accepted_words:
            continue
        cue = _cue_rank(question, mention, label)
        if mention.unit is None:
            if cue is None or cue[0] > 3:
                continue  # a bare "300" counts only right next to its name: "参与人数300"
        elif mention.unit in _WEAK_UNITS and (
            cue is None or (cue[0] > 2 and not _after_names(question, mention))
        ):
            # 个 counts what follows it ("二十几个志愿者") or what its label says ("参赛队8个");
            # in "志愿者在一个小区" nothing says which figure it would be
            continue
        near, strength = cue if cue is not None else (_NO_CUE, 0)
        breadth = len(question.accepted_words)
        if near == 0:
            # named in its label: the most specific question (参演人员 before 参与群众)
            rank = (near, strength, breadth, 0, 0)
        else:
            # Otherwise the unit typed, a required figure before an optional one, the people
            # figure, and the broadest before a narrower one.
            exact = 0 if mention.unit == question.unit else 1
            general = 0 if question.unit == _PEOPLE_UNIT else 1
            rank = (near, strength, exact, int(question.optional), general * 100 - breadth)
        choices.append(_Choice((*rank, index), question))
    choices.sort(key=lambda c: c.rank)
    return choices


def _exclusive(mention: Mention, questions: Sequence[Question]) -> bool:
    """Only one question takes the mention's measure word (场 for sessions)."""
    unit = mention.unit
    if unit is None or unit in _WEAK_UNITS or mention.count is None:
        return False
    return sum(unit in q.accepted_words for q in questions) == 1


def _after_names(question: Question, mention: Mention) -> bool:
    return any(cue in mention.after for cue in question.cues)


def _convert(question: Question, mention: Mention) -> Count | None:
    if mention.count is None or mention.issue is not None:
        return None
    try:
        return question.convert(mention.count)
    except UnitMismatch:
        return None


def _assign(
    questions: Sequence[Question], mentions: Sequence[Mention]
) -> tuple[list[Figure], bool]:
    """Give each mention to one question; True when two whole figures want the same one."""
    counted = [q for q in questions if q.type is QuestionType.COUNT]
    options = [(m, _choices(counted, m)) for m in mentions]
    order = sorted(
        (item for item in options if item[1]),
        key=lambda item: (item[0].part, item[1][0].rank),
    )
    taken: dict[str, _Choice] = {}
    figures: list[Figure] = []
    clash = False
    for mention, choices in order:
        if mention.part:
            continue  # 其中党员50人, 每场100人: a part or a rate, not the figure
        # Another question than the first only when words name it: "张贴标语30张" after the
        # 标语 question is filled is not 30 份 of leaflets.
        free = [
            c
            for c in choices
            if c.question.id not in taken and (c is choices[0] or c.rank[0] != _NO_CUE)
        ]
        if not free:
            # Two figures that only their measure word places ("3场…2场") and want the same
            # question: two activities, most likely.
            other = taken[choices[0].question.id]
            if choices[0].rank[0] != 0 and other.rank[0] != 0 and _exclusive(mention, counted):
                clash = True
            continue
        question = free[0].question
        taken[question.id] = free[0]
        figures.append(
            Figure(
                question_id=question.id,
                label=question.label,
                count=_convert(question, mention),
                issue=mention.issue,
                source=mention.source,
            )
        )
    figures.sort(key=lambda f: f.source.start)
    return figures, clash


def assign_figures(
    extraction: Extraction, questionnaire: Questionnaire, area_key: str
) -> tuple[Figure, ...]:
    """The message's figures for another area (the person picked a different one)."""
    return tuple(_assign(questionnaire.area(area_key).questions, extraction.mentions)[0])


# --- the whole message -----------------------------------------------------------------

_SEGMENT_BREAK = re.compile(
    r"[;；。\n]+|(?:^|\s+)[1-9][.、)]|[①②③④⑤]|[,，]\s*(?=另外|此外|同时还|还[^有是要])"
)
_AGAIN = re.compile(r"另外|此外|同时还|又(?:举办|开展|组织|办|搞)|还(?:举办|开展|组织|办|搞|放)")


def _segments(s: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _SEGMENT_BREAK.finditer(s):
        if match.start() > begin:
            spans.append((begin, match.start()))
        begin = max(begin, match.end())
    if begin < len(s):
        spans.append((begin, len(s)))
    return [span for span in spans if s[span[0] : span[1]].strip()]


def extract(text: str, questionnaire: Questionnaire, now: datetime, zone: tzinfo) -> Extraction:
    """Read a report message: area, title, dates, place and figures, each with its source.

    Args:
        text: The message as typed.
        questionnaire: Gives the areas' keywords and the count questions' measure words and
            cues.
        now: The time the message was sent (timezone-aware).
        zone: The zone the person lives in; relative dates ("上周三") are read there.

    Returns:
        The :class:`Extraction`; ``empty`` when nothing about an activity was found.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    text = text[:MAX_CHARS]
    s = _normalise(text)
    lexicon = _lexicon(questionnaire)
    today = now.astimezone(zone).date()
    # dates.py reads relative words in Shanghai; noon of the local day gives the local date.
    local_now = datetime.combine(today, time(12), tzinfo=SHANGHAI)

    hits = _find_dates(s, local_now, today)
    blocked = bytearray(len(s))
    for hit in hits:
        blocked[hit.start : hit.end] = b"\x01" * (hit.end - hit.start)
    place = _find_place(s, blocked)
    title = _find_title(s, blocked, lexicon.any_keyword)
    mentions = _find_mentions(text, s, [(h.start, h.end) for h in hits])

    segments = _segments(s)
    several = _several(questionnaire, lexicon, s, text, segments, hits, mentions)
    # With two activities, the first one is the one read (the bot asks for the others).
    window = segments[0] if several and segments else (0, len(s))
    areas = _guess_areas(questionnaire, lexicon, s, text, window, place, title, mentions)
    figures: list[Figure] = []
    if areas:
        figures, clash = _assign(questionnaire.area(areas[0].key).questions, mentions)
        if clash and Several.FIGURE_TWICE not in several:
            several.append(Several.FIGURE_TWICE)

    dates: DateFound | None = None
    if hits:
        hit = hits[0]
        dates = DateFound(
            start=hit.first,
            end=hit.last,
            precision=hit.precision,
            future=hit.first > today,
            source=Span(hit.start, hit.end, text[hit.start : hit.end]),
        )
    sure = (
        bool(areas)
        and areas[0].score >= 2
        and (len(areas) == 1 or areas[0].score * 2 >= areas[1].score * 3)
    )
    parts = _parts(questionnaire, lexicon, s, text, segments, hits, mentions) if several else ()
    return Extraction(
        text=text,
        areas=tuple(areas),
        area_sure=sure,
        title=None if title is None else Span(title[0], title[1], text[title[0] : title[1]]),
        dates=dates,
        place=None if place is None else Span(place[0], place[1], text[place[0] : place[1]]),
        figures=tuple(figures),
        mentions=tuple(mentions),
        several=tuple(several),
        parts=parts,
    )


def _several(
    questionnaire: Questionnaire,
    lexicon: _Lexicon,
    s: str,
    text: str,
    segments: Sequence[tuple[int, int]],
    hits: Sequence[_DateHit],
    mentions: Sequence[Mention],
) -> list[Several]:
    """Why the message seems to report more than one activity (empty: it does not)."""
    reasons: list[Several] = []
    if len({(h.first, h.last) for h in hits}) > 1:
        reasons.append(Several.TWO_DATES)
    if len(segments) < 2 and not _AGAIN.search(s):
        return reasons
    # Two parts, each with its own figures, that different areas' words lead.
    leaders: list[str] = []
    for begin, end in segments:
        if not any(begin <= m.source.start < end for m in mentions):
            continue
        guesses = _guess_areas(questionnaire, lexicon, s, text, (begin, end), None, None, ())
        if guesses and guesses[0].score >= 2:
            leaders.append(guesses[0].key)
    if len(set(leaders)) > 1:
        reasons.append(Several.TWO_AREAS)
    return reasons


def _parts(
    questionnaire: Questionnaire,
    lexicon: _Lexicon,
    s: str,
    text: str,
    segments: Sequence[tuple[int, int]],
    hits: Sequence[_DateHit],
    mentions: Sequence[Mention],
) -> tuple[Span, ...]:
    """The message cut where another activity begins: a segment with a date of its own, with
    figures that another area's words lead, or opening with "另外/又/还…"."""
    cuts: list[tuple[int, int]] = []
    day: tuple[date, date] | None = None
    leader: str | None = None
    for begin, end in segments:
        own_day = next(((h.first, h.last) for h in hits if begin <= h.start < end), None)
        own_leader = None
        if any(begin <= m.source.start < end for m in mentions):
            guesses = _guess_areas(questionnaire, lexicon, s, text, (begin, end), None, None, ())
            if guesses and guesses[0].score >= 2:
                own_leader = guesses[0].key
        new = bool(cuts) and (
            (own_day is not None and day is not None and own_day != day)
            or (own_leader is not None and leader is not None and own_leader != leader)
            or _AGAIN.match(s, begin) is not None
        )
        if new or not cuts:
            cuts.append((begin, end))
            day, leader = own_day, own_leader
        else:
            cuts[-1] = (cuts[-1][0], end)
            day, leader = day or own_day, leader or own_leader
    if len(cuts) < 2:
        return ()
    spans = []
    for begin, end in cuts:
        part = text[begin:end].strip(" ，,、")
        start = text.index(part, begin) if part else begin
        spans.append(Span(start, start + len(part), part))
    return tuple(span for span in spans if span.text)


# --- a title when the message names none ------------------------------------------------

_TIME_OF_DAY = re.compile(
    r"(?:上午|下午|晚上|早上|中午|傍晚|夜里|晚|早)?[0-9一二三四五六七八九十]{1,2}(?:点|:|：)"
    r"(?:半|[0-9]{1,2}分?)?|上午|下午|晚上|早上|中午|傍晚|夜里|当天|前夕"
)
_TITLE_LEAD = re.compile(
    r"^(?:组织开展|组织举办|组织了?|开展了?|举办了?|举行了?|召开了?|进行了?|办了|搞了|开了|放了|"
    r"完成了?|利用|共|又|还|了|的|在|于|[,，:：\s])+"
)
_TITLE_TAIL = re.compile(
    r"(?:圆满结束|顺利结束|圆满成功|顺利举办|成功举办|顺利开展|举行|举办|开展|结束|完成|了|的|"
    r"[,，:：\s])+$"
)
_LIST_MARKER = re.compile(r"\s*[1-9][.、)]")
_INTROS = ("来到", "走进", "前往", "深入", "在", "于", "赴", "到")
_EN_STOP = frozenset(
    [
        "on",
        "at",
        "in",
        "the",
        "with",
        "for",
        "to",
        "and",
        "a",
        "an",
        "of",
        "by",
        "from",
        "yesterday",
        "today",
    ]
)
_TITLE_BREAK = re.compile(r"[,，。;；!！?？\n、:：()（）]")


def suggest_title(found: Extraction, questionnaire: Questionnaire) -> str | None:
    """A name for the activity when the message gives none: the first clause that names a kind
    of work, without the date, the place, the figures and the times ("上周三晚上组织二十几个
    志愿者在小区清扫" -> "志愿者清扫"). None when nothing is left that names an activity.

    The card shows it as made from the message, so the person sees it before it is kept.
    """
    text = found.text
    if not text.strip():
        return None
    keywords = _lexicon(questionnaire).any_keyword
    s = _normalise(text)
    clauses: list[tuple[int, int]] = []
    begin = 0
    for match in _TITLE_BREAK.finditer(text):
        clauses.append((begin, match.start()))
        begin = match.end()
    clauses.append((begin, len(text)))
    named = [(b, e) for b, e in clauses if keywords.search(s, b, e) is not None]
    for begin, end in named or clauses[:1]:
        title = _clause_title(found, s, keywords, begin, end)
        if title is not None:
            return title
    return None


def _clause_title(
    found: Extraction, s: str, keywords: re.Pattern[str], begin: int, end: int
) -> str | None:
    text = found.text
    marker = _LIST_MARKER.match(text, begin)  # "1.11月3日党课一场": no "1" in the name
    in_date = found.dates is not None and found.dates.source.start < (marker.end() if marker else 0)
    if marker is not None and not in_date:
        begin = marker.end()
    hit = keywords.search(s, begin, end)
    if hit is not None and not text[begin:end].isascii():
        # a message typed in pieces ("11.8 文化广场 广场舞展演 参演队伍10支"): the word's piece
        left, right = hit.start(), hit.start()
        while left > begin and not text[left - 1].isspace():
            left -= 1
        while right < end and not text[right].isspace():
            right += 1
        if right - left >= 2 and (left > begin or right < end):
            begin, end = left, right
    keep = [True] * len(text)
    spans = [m.source for m in found.mentions]
    for found_span in (found.dates, found.place):
        if found_span is None:
            continue
        span = found_span.source if isinstance(found_span, DateFound) else found_span
        intro = span.start
        for word in _INTROS:  # "在文化广场", "于11月7日", "走进敬老院" go as one
            if text.startswith(word, span.start - len(word)):
                intro = span.start - len(word)
                break
        spans.append(Span(intro, span.end, ""))
    for span in spans:
        for i in range(max(span.start, begin), min(span.end, end)):
            keep[i] = False
    for match in _TIME_OF_DAY.finditer(text, begin, end):
        for i in range(match.start(), match.end()):
            keep[i] = False
    chars = [
        ch
        for i, ch in enumerate(text[begin:end], begin)
        if keep[i] and (ch.isalnum() or ch.isspace() or ch in "·“”\"《》-—&'")
    ]
    title = " ".join("".join(chars).split())
    if title.isascii():
        words = title.split()
        while words and words[-1].lower() in _EN_STOP:
            words.pop()
        while words and words[0].lower() in _EN_STOP:
            words.pop(0)
        title = " ".join(words)
    else:
        title = title.replace(" ", "")
        for _ in range(3):
            title = _TITLE_TAIL.sub("", _TITLE_LEAD.sub("", title))
    if not 2 <= len(title) <= 30 or not any(ch.isalpha() for ch in title):
        return None
    return title

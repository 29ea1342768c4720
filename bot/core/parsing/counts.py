"""Parse the counts staff type in answer to "how many" questions.

Examples: "50", "五十多条", "4000多人次", "3.9万元", "近百人", "三四十人",
"30-40人", "200人左右", "1,200人", "1200+人".

Decisions worth knowing:

* Multipliers 十百千万亿 are applied to the value: "3.9万元" is 39000 with
  unit "元" (``raw`` keeps the 万 so :func:`bot.core.parsing.units.to_unit` can tell).
* Vague quantities without a figure ("数十人", "几十人", "几百", "若干",
  "很多") are rejected as ``NO_NUMBER``: there is nothing a report could cite.
  "上百人"/"上千人" are accepted as MORE_THAN 100/1000.
* Upper bounds only ("不到100人", "100人以下") are rejected as ``AT_MOST``.
* "三十来人" and "百把人" are ABOUT; "十几场" is MORE_THAN 10; "五十出头" is
  MORE_THAN 50.
* A range whose ends are equal ("30-30") collapses to EXACT.
* A noun after the unit ("50位居民") or chatter ("50人吧") is TRAILING_TEXT;
  the bot should ask for just the number.
* Units are canonicalised a little: "个人" -> "人", "块钱"/"元钱" -> "元".
  A single unknown CJK character after the number is taken as a measure word.

cn2an reads plain numerals but not these counting phrases, so the grammar is
written here on top of :mod:`bot.core.parsing.numerals`.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from bot.core.parsing.numerals import (
    DIGITS,
    LARGE_MULTIPLIERS,
    MULTIPLIERS,
    ZERO_CHARS,
    NumeralError,
    NumeralTooLarge,
    parse_number,
)

__all__ = [
    "COUNT_OPENERS",
    "MAX_COUNT",
    "UNIT_WORDS",
    "Approx",
    "Count",
    "CountError",
    "CountErrorReason",
    "parse_count",
    "read_count_at",
]

MAX_COUNT = Decimal(10) ** 9


class Approx(enum.StrEnum):
    """How exact a count is."""

    EXACT = "exact"
    MORE_THAN = "more_than"
    ABOUT = "about"
    RANGE = "range"


@dataclass(frozen=True, slots=True)
class Count:
    """A parsed count.

    Attributes:
        low: The value, or the lower bound of a range. For ABOUT it is the
            nominal figure (近百 -> 100), for MORE_THAN the stated base.
        high: Upper bound for RANGE, else None.
        approx: How exact the figure is.
        raw: The text as typed, stripped.
        unit: Unit after the number ("人次", "条", "元"), or None.
    """

    low: Decimal
    high: Decimal | None
    approx: Approx
    raw: str
    unit: str | None


class CountErrorReason(enum.StrEnum):
    """Why a text is not a count."""

    EMPTY = "empty"
    NO_NUMBER = "no_number"  # "abc", emoji, vague words such as 数十/几十/很多
    ORDINAL = "ordinal"  # "第二期"
    LIST_MARKER = "list_marker"  # "一是", "1.", "（一）", "其一", "①"
    NEGATIVE = "negative"  # "-5", "负5"
    TOO_LARGE = "too_large"  # above 10**9
    TRAILING_TEXT = "trailing_text"  # "50人吧", "50位居民"
    AMBIGUOUS = "ambiguous"  # several numbers: "50和60", "30人-40场"
    RANGE_REVERSED = "range_reversed"  # "5-3"
    AT_MOST = "at_most"  # only an upper bound: "不到100人", "100人以下"
    LEADING_TEXT = "leading_text"  # words before the number: "人数50"
    MALFORMED = "malformed"  # ill-formed numeral: "五十五十", "十百"


class CountError(ValueError):
    """Raised by :func:`parse_count`; ``reason`` says why."""

    def __init__(self, reason: CountErrorReason, text: str = "") -> None:
        super().__init__(f"{reason.value}: {text!r}")
        self.reason = reason


# --- vocabulary -------------------------------------------------------------

_UNIT_WORDS = (
    "人次 户次 场次 件次 人 名 位 个 场 次 条 期 份 册 本 元 块 户 家 篇 件 项 处 天 日 "
    "小时 课时 学时 分钟 周 月 年 所 张 幅 辆 台 套 间 支 批 组 队 栋 幢 盒 袋 箱 斤 公斤 "
    "千克 克 吨 米 公里 千米 平方米 平米 桌 节 堂 轮 单 例 封 棵 株 盆 双 对 包 瓶 把 顶 "
    # everyday forms (jionlp's quantifier statistics list them among the common ones)
    "个小时 钟头 个钟头 批次 平方 种 届 座 首 面 枚 盏 部 幕 岁 周岁"
)
_UNITS: dict[str, str] = {word: word for word in _UNIT_WORDS.split()}
_UNITS.update({"个人": "人", "块钱": "元", "元钱": "元", "元整": "元", "人民币": "元"})
_UNITS_BY_LENGTH = tuple(sorted(_UNITS, key=len, reverse=True))
_UNIT_LENGTHS = tuple(sorted({len(u) for u in _UNITS}, reverse=True))

#: Every measure word the parser knows, as typed -> as stored ("个人" -> "人").
UNIT_WORDS: Mapping[str, str] = MappingProxyType(_UNITS)

# Units that start with a multiplier character ("5千克" is 5 kg, not 5000 克).
_MULTIPLIER_UNITS = tuple(u for u in _UNITS if u[0] in MULTIPLIERS)

# Characters never taken as an unknown one-character measure word.
_NOT_UNIT = frozenset(
    "吧啊呀呢哦噢吗嘛了的哈和与或及等是在有至到以左上下前后约近多余来几把之出开不没无共计达超逾"
    "也都还就跟个这那我你他她它们"
)

# Words before the number.
_PREFIX_MORE = (
    "超过",
    "多于",
    "不少于",
    "不低于",
    "至少",
    "最少",
    "高于",
    "逾",
    "超",
)
_PREFIX_ABOUT = (
    "大约",
    "大概",
    "约为",
    "约莫",
    "约摸",
    "将近",
    "接近",
    "差不多",
    "估计",
    "大致",
    "预计",
    "约",
    "近",
)
_PREFIX_NEUTRAL = (
    "一共",
    "总共",
    "共计",
    "合计",
    "总计",
    "累计",
    "共有",
    "达到",
    "共",
    "达",
    "计",
    "有",
)
_PREFIX_AT_MOST = (
    "不超过",
    "不到",
    "不足",
    "少于",
    "低于",
    "至多",
    "最多",
    "未满",
    "未达",
)
# Vague quantities with no figure: rejected as NO_NUMBER.
_VAGUE = (
    "数",
    "几",
    "若干",
    "好几",
    "许多",
    "很多",
    "好多",
    "不少",
    "一些",
    "一点",
    "有些",
    "多少",
    "成百",
    "成千",
)

#: Words that may open a count inside a sentence ("大约40个小时", "不到100人").
COUNT_OPENERS: tuple[str, ...] = tuple(
    sorted({*_PREFIX_MORE, *_PREFIX_ABOUT, *_PREFIX_AT_MOST, "上"}, key=len, reverse=True)
)

_POST_MORE = ("以上", "之上", "开外", "出头")
_POST_ABOUT = ("左右", "上下", "前后", "光景", "的样子")
_POST_AT_MOST = ("以下", "以内", "之内", "之下", "不到")

_LIST_MARKER_RES = (
    re.compile(r"[一二三四五六七八九十]+是"),
    re.compile(r"其[一二三四五六七八九十]"),
    re.compile(r"\(?[0-9一二三四五六七八九十]+\)"),
    re.compile(r"[0-9一二三四五六七八九十]+、"),
    re.compile(r"[0-9]+\.(?![0-9])"),
    re.compile(r"[一二三四五六七八九十]+\."),
)
# Circled / parenthesised numbers NFKC would turn into plain digits.
_CIRCLED = re.compile(r"^[\u2460-\u2473\u24ea\u24f5-\u24fe\u2776-\u2793\u3280-\u3289\u3251-\u325f]")

_ARABIC = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?(?![0-9])|[0-9]+(?:\.[0-9]+)?")
_RANGE_SEP = re.compile(r"\s*(?:至|到|—+|–|―|-+|~+|〜)\s*")
_DASHES = str.maketrans({"−": "-", "﹣": "-", "‐": "-", "‑": "-", "～": "~"})
_DIGIT_CHARS = frozenset("0123456789")
_NUMERIC_START = _DIGIT_CHARS | frozenset(DIGITS) | frozenset(MULTIPLIERS)
_NONZERO_CN_DIGITS = frozenset(ch for ch in DIGITS if ch not in ZERO_CHARS)
_CONNECTORS = "和与及或、,，;；/ "


@dataclass(frozen=True, slots=True)
class _Operand:
    low: Decimal
    high: Decimal | None
    more: bool
    about: bool
    unit: str | None
    core: str  # numeral text after removing qualifiers (commas removed)
    end: int


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).translate(_DASHES).strip()
    while s:
        # A trailing "." is a full stop unless it follows a digit ("1." is a list marker).
        full_stop = s[-1] == "." and (len(s) < 2 or s[-2] not in _DIGIT_CHARS)
        if s[-1] in "。!~" or s[-1].isspace() or full_stop:
            s = s[:-1]
        else:
            break
    return s


def _skip_space(s: str, pos: int) -> int:
    while pos < len(s) and s[pos].isspace():
        pos += 1
    return pos


def _match_word(s: str, pos: int, words: tuple[str, ...]) -> str | None:
    if not s.startswith(words, pos):  # one C call answers most of them
        return None
    for word in words:
        if s.startswith(word, pos):
            return word
    return None


def _unit_at(s: str, pos: int) -> str | None:
    """The longest unit word at ``pos`` (a few dictionary look-ups, not a scan of them all)."""
    for length in _UNIT_LENGTHS:
        word = s[pos : pos + length]
        if len(word) == length and word in _UNITS:
            return word
    return None


def _scan_span(s: str, pos: int) -> int:
    """Return the end of the numeral span starting at ``pos``."""
    i = pos
    while i < len(s):
        ch = s[i]
        if ch in _DIGIT_CHARS:
            match = _ARABIC.match(s, i)
            assert match is not None
            i = match.end()
            continue
        if ch in DIGITS or ch in MULTIPLIERS:
            i += 1
            continue
        if i > pos:
            prev = s[i - 1]
            if ch in "多余来" and (prev in _NUMERIC_START):
                i += 1
                continue
            if ch in "几把" and prev in MULTIPLIERS:
                i += 1
                continue
            if ch == "+" and prev in _NUMERIC_START:
                i += 1
        break
    # "5千克" is five kilograms: give the multiplier back to the unit.
    if i - pos > 1 and s[i - 1] in MULTIPLIERS and _match_word(s, i - 1, _MULTIPLIER_UNITS):
        i -= 1
    return i


def _value(text: str, raw: str) -> Decimal:
    try:
        return parse_number(text)
    except NumeralTooLarge:
        raise CountError(CountErrorReason.TOO_LARGE, raw) from None
    except NumeralError:
        raise CountError(CountErrorReason.MALFORMED, raw) from None


def _interpret_span(span: str, raw: str) -> tuple[Decimal, Decimal | None, bool, bool, str]:
    """Turn a numeral span into (low, high, more, about, core)."""
    more = about = False
    if span.endswith("+"):
        more = True
        span = span[:-1]
    span = span.replace(",", "")
    quals = [i for i, ch in enumerate(span) if ch in "多余来几把"]
    if len(quals) > 1:
        raise CountError(CountErrorReason.MALFORMED, raw)
    if quals:
        i = quals[0]
        qual, before, after = span[i], span[:i], span[i + 1 :]
        if qual == "几":
            # 十几 -> 10, 一百几十 -> 100, 十几万 -> 100000.
            if after and after[0] in MULTIPLIERS and after[0] not in LARGE_MULTIPLIERS:
                if MULTIPLIERS[after[0]] >= MULTIPLIERS[before[-1]]:
                    raise CountError(CountErrorReason.MALFORMED, raw)
                after = after[1:]
            more = True
        elif qual in "多余":
            more = True
        else:
            about = True
        if any(ch not in LARGE_MULTIPLIERS for ch in after):
            raise CountError(CountErrorReason.MALFORMED, raw)
        span = before + after
    pairs = [
        i
        for i in range(len(span) - 1)
        if span[i] in _NONZERO_CN_DIGITS and span[i + 1] in _NONZERO_CN_DIGITS
    ]
    if not pairs:
        return _value(span, raw), None, more, about, span
    if len(pairs) > 1:
        raise CountError(CountErrorReason.MALFORMED, raw)
    i = pairs[0]
    first, second = DIGITS[span[i]], DIGITS[span[i + 1]]
    if second - first not in (1, 2):
        raise CountError(CountErrorReason.MALFORMED, raw)
    # 三四十 -> 三十 .. 四十; 十七八 -> 十七 .. 十八.
    low = _value(span[: i + 1] + span[i + 2 :], raw)
    high = _value(span[:i] + span[i + 1 :], raw)
    return low, high, more, about, span


def _operand(s: str, pos: int, raw: str, *, known_units: bool = False) -> _Operand | None:
    """Parse number, optional unit and post-qualifier at ``pos``.

    With ``known_units`` only a word of :data:`UNIT_WORDS` is a unit (inside a sentence,
    the character after "二十大" is not a measure word).
    """
    pos = _skip_space(s, pos)
    if pos >= len(s) or s[pos] not in _NUMERIC_START:
        return None
    end = _scan_span(s, pos)
    low, high, more, about, core = _interpret_span(s[pos:end], raw)
    pos = _skip_space(s, end)
    unit: str | None = None
    word = _unit_at(s, pos)
    if word is not None:
        unit = _UNITS[word]
        pos += len(word)
    elif not known_units and pos < len(s) and _is_unit_char(s[pos]):
        unit = s[pos]
        pos += 1
    pos = _skip_space(s, pos)
    if _match_word(s, pos, _POST_AT_MOST):
        raise CountError(CountErrorReason.AT_MOST, raw)
    post = _match_word(s, pos, _POST_MORE)
    if post is not None:
        more = True
        pos += len(post)
    else:
        post = _match_word(s, pos, _POST_ABOUT)
        if post is not None:
            about = True
            pos += len(post)
    return _Operand(low, high, more, about, unit, core, pos)


def _is_unit_char(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" and ch not in _NOT_UNIT and ch not in _NUMERIC_START


def _check_markers(s: str, raw: str) -> None:
    if s.startswith("第"):
        raise CountError(CountErrorReason.ORDINAL, raw)
    for pattern in _LIST_MARKER_RES:
        if pattern.match(s):
            raise CountError(CountErrorReason.LIST_MARKER, raw)


def _has_number(text: str) -> bool:
    return any(ch in _NUMERIC_START for ch in text)


def _scale_range_low(first: _Operand, second: _Operand) -> Decimal:
    """Apply a shared trailing multiplier: "3-5万" is 30000-50000."""
    low = first.low
    core = second.core
    if (
        len(core) > 1
        and core[-1] in MULTIPLIERS
        and not any(ch in MULTIPLIERS for ch in first.core)
    ):
        try:
            base = parse_number(core[:-1])
        except NumeralError:
            return low
        if low <= base:
            low = low * MULTIPLIERS[core[-1]]
    return low


def _clean(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return Decimal(int(value))
    return value.normalize()


@dataclass(frozen=True, slots=True)
class _Reading:
    low: Decimal
    high: Decimal | None
    more: bool
    about: bool
    unit: str | None
    end: int


def _read(s: str, pos: int, raw: str, *, known_units: bool) -> _Reading:
    """Read qualifiers, a number or a range, the unit and post-qualifiers from ``pos``."""
    more = about = False
    while True:
        pos = _skip_space(s, pos)
        if _match_word(s, pos, _PREFIX_AT_MOST):
            raise CountError(CountErrorReason.AT_MOST, raw)
        word = _match_word(s, pos, _PREFIX_MORE)
        if word is None and s.startswith("上", pos) and s[pos + 1 : pos + 2] in ("百", "千", "万"):
            word = "上"  # 上百人: a hundred or more
        if word is not None:
            more = True
        else:
            word = _match_word(s, pos, _PREFIX_ABOUT)
            if word is not None:
                about = True
            else:
                word = _match_word(s, pos, _PREFIX_NEUTRAL)
        if word is None:
            break
        pos += len(word)

    after_sign = s[pos + 1 :].lstrip()[:1]
    if s.startswith(("负", "-", "—", "–"), pos) and after_sign and after_sign in _NUMERIC_START:
        raise CountError(CountErrorReason.NEGATIVE, raw)
    if s.startswith("+", pos):
        pos += 1
    if _match_word(s, pos, _VAGUE):
        raise CountError(CountErrorReason.NO_NUMBER, raw)

    first = _operand(s, pos, raw, known_units=known_units)
    if first is None:
        rest = s[pos:]
        if _has_number(rest):
            raise CountError(CountErrorReason.LEADING_TEXT, raw)
        raise CountError(CountErrorReason.NO_NUMBER, raw)
    more = more or first.more
    about = about or first.about
    low, high, unit, pos = first.low, first.high, first.unit, first.end

    sep = _RANGE_SEP.match(s, pos)
    second = _operand(s, sep.end(), raw, known_units=known_units) if sep is not None else None
    if second is not None:
        if first.high is not None or second.high is not None:
            raise CountError(CountErrorReason.MALFORMED, raw)
        if first.unit is not None and second.unit is not None and first.unit != second.unit:
            raise CountError(CountErrorReason.AMBIGUOUS, raw)
        low = _scale_range_low(first, second)
        high = second.low
        unit = second.unit or first.unit
        pos = second.end
        more = more or second.more
        about = about or second.about
    return _Reading(low, high, more, about, unit, pos)


def _finish(reading: _Reading, raw: str) -> Count:
    low, high = reading.low, reading.high
    if low > MAX_COUNT or (high is not None and high > MAX_COUNT):
        raise CountError(CountErrorReason.TOO_LARGE, raw)
    if high is not None and high < low:
        raise CountError(CountErrorReason.RANGE_REVERSED, raw)

    if high is not None and high != low:
        approx = Approx.RANGE
    else:
        high = None
        approx = (
            Approx.MORE_THAN if reading.more else Approx.ABOUT if reading.about else Approx.EXACT
        )
    return Count(
        low=_clean(low),
        high=None if high is None else _clean(high),
        approx=approx,
        raw=raw,
        unit=reading.unit,
    )


def parse_count(text: str) -> Count:
    """Parse a count typed by staff.

    Args:
        text: What was typed, e.g. "五十多条", "3.9万元", "30-40人".

    Returns:
        The parsed :class:`Count`.

    Raises:
        CountError: the text is not a single non-negative count; see
            :class:`CountErrorReason`.
    """
    raw = text.strip()
    if not raw:
        raise CountError(CountErrorReason.EMPTY, raw)
    if _CIRCLED.match(raw):
        raise CountError(CountErrorReason.LIST_MARKER, raw)
    s = _normalise(raw)
    if not s:
        raise CountError(CountErrorReason.EMPTY, raw)
    _check_markers(s, raw)

    reading = _read(s, 0, raw, known_units=False)
    pos = _skip_space(s, reading.end)
    if pos < len(s):
        rest = s[pos:].lstrip(_CONNECTORS)
        if rest[:1] in _NUMERIC_START or any(ch in _DIGIT_CHARS for ch in rest):
            raise CountError(CountErrorReason.AMBIGUOUS, raw)
        raise CountError(CountErrorReason.TRAILING_TEXT, raw)
    return _finish(reading, raw)


def read_count_at(text: str, pos: int) -> tuple[Count, int]:
    """Read the count that starts at ``pos`` inside a sentence.

    Unlike :func:`parse_count`, text may follow the count ("3场夏夜汇演"), and only a word of
    :data:`UNIT_WORDS` is taken as its unit. ``text`` should already be width-normalised
    (full-width digits as ASCII) by the caller, who keeps its own offsets.

    Args:
        text: The sentence.
        pos: Where the count starts: at its number or at an opener such as 大约, 近, 不到.

    Returns:
        The count (``raw`` is the text it was read from) and the offset just after it.

    Raises:
        CountError: nothing countable starts at ``pos``, or it is not a single
            non-negative count (NEGATIVE, AT_MOST, MALFORMED, TOO_LARGE ...).
    """
    reading = _read(text, pos, text[pos:].strip(), known_units=True)
    end = reading.end
    while end > pos and text[end - 1].isspace():
        end -= 1
    return _finish(reading, text[pos:end]), end

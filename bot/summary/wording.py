"""Small rules of the genre the composer applies to what staff typed and to figures.

What staff type goes into an official document: emoji and WeChat's "[微笑]" codes are
dropped, a non-answer ("无", "没有", "暂无", "不知道") counts as no answer, a title is
quoted with ‘’ inside “”, and a recurring activity ("每月一课（3月）") is known by its
stem. Figures with 余/多/约 are written as a readable bound (15964余 -> 1.5万余).
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Final

from bot.core.figures import plain

__all__ = [
    "NON_ANSWERS",
    "is_non_answer",
    "ordinal",
    "quoted",
    "readable",
    "recurring_key",
    "sentence",
    "strip_emoji",
    "unquoted",
]

# --------------------------------------------------------------------------- typed text

# WeChat and WeCom send their built-in emoji as bracketed names.
_WECHAT_EMOJI: Final = re.compile(
    r"\[(?:微笑|呲牙|偷笑|愉快|憨笑|调皮|害羞|得意|可爱|大笑|笑脸|捂脸|奸笑|机智|嘿哈|耶|"
    r"强|赞|握手|抱拳|胜利|OK|ok|爱心|心|玫瑰|鼓掌|庆祝|烟花|爆竹|红包|加油|太阳|月亮|"
    r"哈哈|好的|拥抱|合十|666|旺柴|社会社会|让我看看|叹气|苦涩|裂开|哇|天啊|Emm)\]"
)
# Emoticons typed with ASCII and the kaomoji staff use.
_EMOTICONS: Final = re.compile(r"(?:(?<=[\u4e00-\u9fff。！，])|^)(?:\^_\^|\^\^|:\)|:-\)|:D|=\))")


# Emoji, their joiners and presentation selectors, flags' tags, and the symbol and dingbat
# blocks emoji live in (☀✔❤⭐); text symbols such as ℃ and № are outside them.
_EMOJI: Final = re.compile(
    "[\U0001f000-\U0001faff\U000e0020-\U000e007f\u200d\ufe0e\ufe0f\u20e3\u2600-\u27bf\u2b00-\u2bff]"
)


_ANY_EMOJI: Final = re.compile("|".join(p.pattern for p in (_WECHAT_EMOJI, _EMOTICONS, _EMOJI)))


def strip_emoji(text: str) -> str:
    """`text` without emoji, WeChat emoji codes and emoticons ("很开心😊" -> "很开心")."""
    return _ANY_EMOJI.sub("", text)


# Answers that say there is nothing to say; older versions stored them as text.
NON_ANSWERS: Final = frozenset(
    {
        "无", "没有", "暂无", "暂时没有", "暂没有", "没", "无亮点", "没有亮点", "暂无亮点",
        "无特色", "没有特色", "无特别", "没什么", "没什么亮点", "没啥", "一般", "不知道",
        "不清楚", "不详", "略", "否", "空", "待定", "无成效", "未填", "未填写", "同上",
        "na", "n/a", "none", "nil", "no", "null", "-", "--", "—", "/", "\\", "…", "...",
    }
)  # fmt: skip
_TRIM: Final = " \t。.，,；;！!？?、：:～~'\"“”‘’()（）"


_LONGEST_NON_ANSWER: Final = max(len(word) for word in NON_ANSWERS)


def is_non_answer(text: str | None) -> bool:
    """True for None, empty text and answers such as "无", "没有。", "暂无", "不知道"."""
    if text is None:
        return True
    if len(text) > 3 * _LONGEST_NON_ANSWER:  # far too long to be only that
        return False
    core = strip_emoji(text).strip(_TRIM).lower()
    return not core or core in NON_ANSWERS


_DOUBLE_QUOTES: Final = re.compile(r"“([^“”]*)”")
_ASCII_QUOTES: Final = re.compile(r'"([^"]*)"')
_OUTER: Final = (("“", "”"), ('"', '"'), ("「", "」"), ("『", "』"))


def unquoted(title: str) -> str:
    """A title without quotes around the whole of it: “学雷锋志愿服务日” -> 学雷锋志愿服务日."""
    title = title.strip()
    for left, right in _OUTER:
        inner = title[len(left) : -len(right)]
        if (
            len(title) > 2
            and title.startswith(left)
            and title.endswith(right)
            and left not in inner
            and right not in inner
        ):
            return inner.strip()
    return title


def quoted(title: str) -> str:
    """A title in “”, quotes inside it turned to ‘’: “‘我们的节日·元宵’游园会”."""
    inner = unquoted(title)
    inner = _ASCII_QUOTES.sub(r"‘\1’", inner)
    inner = _DOUBLE_QUOTES.sub(r"‘\1’", inner)
    inner = inner.replace("「", "‘").replace("」", "’").replace("『", "‘").replace("』", "’")
    return f"“{inner}”"


_ENDS: Final = "。；;，,、：:！!？? "


def sentence(text: str | None) -> str:
    """Typed text as the body of a sentence: emoji dropped, ASCII quotes made Chinese, no
    closing mark (the composer adds its own), "" for a non-answer."""
    if text is None or is_non_answer(text):
        return ""
    cleaned = strip_emoji(text).strip()
    if '"' in cleaned:
        cleaned = _ASCII_QUOTES.sub(r"“\1”", cleaned)
    if "!" in cleaned or "！！" in cleaned:
        cleaned = _EXCLAIMS.sub("！", cleaned)
    if "。。" in cleaned or "..." in cleaned or "…" in cleaned:
        cleaned = _ELLIPSES.sub("。", cleaned)
    return cleaned.rstrip(_ENDS).strip()


_EXCLAIMS: Final = re.compile(r"[!！]+")
_ELLIPSES: Final = re.compile(r"。{2,}|\.{3,}|…+")


# --------------------------------------------------------------------------- recurring titles

_NUM: Final = r"[0-9０-９一二三四五六七八九十百两〇零]"
_BRACKETED: Final = re.compile(
    r"[（(【\[]([^）)】\]]*?)[）)】\]]"
)  # a bracketed part, kept only when it carries no date, issue or session number
_COUNTERS: Final = re.compile(
    rf"第{_NUM}+[期场次讲课站轮批届]|{_NUM}+月份?(?:{_NUM}+[日号])?|"
    rf"\d{{4}}年度?|[上下]半年|元月|(?:春|夏|秋|冬)季|[0-9０-９]+$|No\.?\s*\d+"
)
_DATED: Final = re.compile(rf"{_NUM}|第|[上中下]旬|元月")
_SEPARATORS: Final = re.compile(r"[\s·•・—–\-_~～:：/|]+$|^[\s·•・—–\-_~～:：/|]+")
_NON_WORD: Final = re.compile(r"[\W_]+")


@lru_cache(maxsize=8192)  # titles repeat: a street's 台账 has thousands of "每月一课"
def recurring_key(title: str) -> tuple[str, str]:
    """(key, stem) of a title, so that the issues of one recurring activity group together:
    "每月一课（3月）", "每月一课·5月" and "5月份每月一课" all give ("每月一课", "每月一课").
    The stem is what the summary names the series by; the key compares stems."""
    stem = unquoted(title)
    stem = _BRACKETED.sub(lambda m: "" if _DATED.search(m.group(1)) else m.group(0), stem)
    stem = _COUNTERS.sub("", stem)
    stem = re.sub(r"([·•・—\-])\1+", r"\1", stem)
    stem = _SEPARATORS.sub("", stem).strip()
    key = _NON_WORD.sub("", stem).lower()
    return key, stem


# --------------------------------------------------------------------------- figures

_TEN_THOUSAND: Final = Decimal(10000)


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def _nearest(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_HALF_UP) * step


def _step(value: Decimal) -> Decimal:
    """The rounding step that leaves a readable number: tens below 100, two significant
    digits below 10,000, tenths of 万 above."""
    if value >= _TEN_THOUSAND:
        return Decimal(1000)
    if value >= 100:
        return Decimal(10) ** (len(str(int(value))) - 2)
    if value >= 10:
        return Decimal(10)
    return Decimal(1)


def readable(low: Decimal, kind: str, unit: str) -> str:
    """A figure as the summary writes it, measure word included.

    Exact figures stay exact (15964人次, 3.9万元). "More than" (多/余, or a sum with a range
    in it) is rounded down to a readable lower bound and written with 余: 15964 -> 1.5万余,
    62 -> 60余, 4350 -> 4300余; below 10 it is "6场以上". "About" is rounded to the nearest
    readable number and written with 约: 18761 -> 约1.9万.
    """
    if kind == "exact" or low <= 0:
        return f"{plain(low)}{unit}"
    in_wan = unit.startswith("万")  # 万元: the figure is already in 万
    if kind == "about":
        value = _nearest(low, _step(low)) if low >= 10 and not in_wan else low
        return f"约{_wan(value, in_wan)}{unit}"
    if low < 10:
        value = low if low == low.to_integral_value() else _floor(low, Decimal("0.1"))
        return f"{plain(value)}{unit}以上"
    if in_wan:  # 12.5万元 -> 12万余元
        return f"{plain(_floor(low, Decimal(1)))}万余{unit[1:]}"
    return f"{_wan(_floor(low, _step(low)), in_wan)}余{unit}"


def _wan(value: Decimal, in_wan: bool) -> str:
    if not in_wan and value >= _TEN_THOUSAND:
        return f"{plain(value / _TEN_THOUSAND)}万"
    return plain(value)


# --------------------------------------------------------------------------- numbering

_ORDINAL_DIGITS: Final = "一二三四五六七八九"


def _chinese(n: int) -> str:
    if n <= 9:
        return _ORDINAL_DIGITS[n - 1]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _ORDINAL_DIGITS[tens - 1]
    return head + "十" + (_ORDINAL_DIGITS[ones - 1] if ones else "")


def ordinal(n: int) -> str:
    """一是, 二是 … 十是, 十一是 … 九十九是 (1 to 99)."""
    if not 1 <= n <= 99:
        raise ValueError(f"cannot write {n} as 一是 … 九十九是")
    return f"{_chinese(n)}是"

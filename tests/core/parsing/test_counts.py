"""Tests for bot.core.parsing.counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.parsing import Approx, Count, CountError, CountErrorReason, parse_count
from bot.core.parsing.counts import read_count_at
from bot.core.parsing.numerals import NumeralError, parse_digit_string, parse_int, parse_number

EXACT = Approx.EXACT
MORE = Approx.MORE_THAN
ABOUT = Approx.ABOUT
RANGE = Approx.RANGE

_CN_DIGITS = "零一二三四五六七八九"


def to_chinese(n: int) -> str:
    """Write a non-negative integer below 10**12 as a standard Chinese numeral."""
    if n == 0:
        return "零"

    def group(value: int) -> str:
        out = ""
        zero = False
        for factor, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            digit = value // factor % 10
            if digit == 0:
                zero = zero or bool(out)
            else:
                if zero:
                    out += "零"
                    zero = False
                out += _CN_DIGITS[digit] + name
        return out

    text = ""
    gap = False
    for index, name in ((2, "亿"), (1, "万"), (0, "")):
        value = n // 10 ** (4 * index) % 10000
        if value == 0:
            gap = gap or bool(text)
            continue
        if text and (gap or value < 1000):
            text += "零"
        text += group(value) + name
        gap = False
    return text[1:] if text.startswith("一十") else text


def D(value: str | int) -> Decimal:
    return Decimal(value)


# (text, low, high, approx, unit)
COUNT_CASES: list[tuple[str, str, str | None, Approx, str | None]] = [
    ("50", "50", None, EXACT, None),
    ("５０", "50", None, EXACT, None),
    ("0", "0", None, EXACT, None),
    ("0场", "0", None, EXACT, "场"),
    ("3.5", "3.5", None, EXACT, None),
    ("二十", "20", None, EXACT, None),
    ("两百", "200", None, EXACT, None),
    ("一百零五人", "105", None, EXACT, "人"),
    ("五十多条", "50", None, MORE, "条"),
    ("4000多人次", "4000", None, MORE, "人次"),
    ("两千余人", "2000", None, MORE, "人"),
    ("20余场", "20", None, MORE, "场"),
    ("3.9万元", "39000", None, EXACT, "元"),
    ("近百人", "100", None, ABOUT, "人"),
    ("三四十人", "30", "40", RANGE, "人"),
    ("十几场", "10", None, MORE, "场"),
    ("1万2千人次", "12000", None, EXACT, "人次"),
    ("1,200人", "1200", None, EXACT, "人"),
    ("１，２００人", "1200", None, EXACT, "人"),
    ("1200+人", "1200", None, MORE, "人"),
    ("30人以上", "30", None, MORE, "人"),
    ("约300人", "300", None, ABOUT, "人"),
    ("200人左右", "200", None, ABOUT, "人"),
    ("三十来人", "30", None, ABOUT, "人"),
    ("30-40人", "30", "40", RANGE, "人"),
    ("30至40人", "30", "40", RANGE, "人"),
    ("30到40人", "30", "40", RANGE, "人"),
    ("30~40人", "30", "40", RANGE, "人"),
    ("30～40人", "30", "40", RANGE, "人"),
    ("30—40人", "30", "40", RANGE, "人"),
    ("30人-40人", "30", "40", RANGE, "人"),
    ("三十至四十人", "30", "40", RANGE, "人"),
    ("3-5万元", "30000", "50000", RANGE, "元"),
    ("5000-1万元", "5000", "10000", RANGE, "元"),
    ("十七八人", "17", "18", RANGE, "人"),
    ("一百二三十人", "120", "130", RANGE, "人"),
    ("三五个", "3", "5", RANGE, "个"),
    ("两三场", "2", "3", RANGE, "场"),
    ("七八千人次", "7000", "8000", RANGE, "人次"),
    ("十几万", "100000", None, MORE, None),
    ("二十多万元", "200000", None, MORE, "元"),
    ("1万多人次", "10000", None, MORE, "人次"),
    ("一万二", "12000", None, EXACT, None),
    ("两千五", "2500", None, EXACT, None),
    ("一亿二千万", "120000000", None, EXACT, None),
    ("0.5万元", "5000", None, EXACT, "元"),
    ("12,345.5元", "12345.5", None, EXACT, "元"),
    ("百余人", "100", None, MORE, "人"),
    ("上百人", "100", None, MORE, "人"),
    ("百把人", "100", None, ABOUT, "人"),
    ("五十出头", "50", None, MORE, None),
    ("将近200人", "200", None, ABOUT, "人"),
    ("超过100人", "100", None, MORE, "人"),
    ("共50人", "50", None, EXACT, "人"),
    ("一共五十个人", "50", None, EXACT, "人"),
    ("大约有50人", "50", None, ABOUT, "人"),
    ("50人次以上", "50", None, MORE, "人次"),
    ("约30-40人", "30", "40", RANGE, "人"),
    ("50个", "50", None, EXACT, "个"),
    ("  50人。 ", "50", None, EXACT, "人"),
    ("50 人", "50", None, EXACT, "人"),
    ("120份", "120", None, EXACT, "份"),
    ("6期", "6", None, EXACT, "期"),
    ("300本", "300", None, EXACT, "本"),
    ("500块钱", "500", None, EXACT, "元"),
    ("5千克", "5", None, EXACT, "千克"),
    ("50把", "50", None, EXACT, "把"),
    ("12朵", "12", None, EXACT, "朵"),
    ("壹佰贰拾元", "120", None, EXACT, "元"),
    ("30-30人", "30", None, EXACT, "人"),
    ("一千零一十", "1010", None, EXACT, None),
    ("十亿", "1000000000", None, EXACT, None),
    # everyday measure words: "40个小时" is not 40 个 followed by stray text
    ("40个小时", "40", None, EXACT, "个小时"),
    ("大概40个小时", "40", None, ABOUT, "个小时"),
    ("三个钟头", "3", None, EXACT, "个钟头"),
    ("两钟头", "2", None, EXACT, "钟头"),
    ("200平方", "200", None, EXACT, "平方"),
    ("二十几个", "20", None, MORE, "个"),
    ("五十多户", "50", None, MORE, "户"),
]


@pytest.mark.parametrize(("text", "low", "high", "approx", "unit"), COUNT_CASES)
def test_parse_count_table(
    text: str, low: str, high: str | None, approx: Approx, unit: str | None
) -> None:
    count = parse_count(text)
    assert count == Count(
        low=D(low),
        high=None if high is None else D(high),
        approx=approx,
        raw=text.strip(),
        unit=unit,
    )


def test_table_is_large_enough() -> None:
    assert len(COUNT_CASES) >= 45


REJECTIONS: list[tuple[str, CountErrorReason]] = [
    ("", CountErrorReason.EMPTY),
    ("   ", CountErrorReason.EMPTY),
    ("。", CountErrorReason.EMPTY),
    ("abc", CountErrorReason.NO_NUMBER),
    ("👍", CountErrorReason.NO_NUMBER),
    ("🎉🎉", CountErrorReason.NO_NUMBER),
    ("不知道", CountErrorReason.NO_NUMBER),
    ("数十人", CountErrorReason.NO_NUMBER),
    ("几十人", CountErrorReason.NO_NUMBER),
    ("很多", CountErrorReason.NO_NUMBER),
    ("若干", CountErrorReason.NO_NUMBER),
    ("第二期", CountErrorReason.ORDINAL),
    ("第2场", CountErrorReason.ORDINAL),
    ("一是", CountErrorReason.LIST_MARKER),
    ("二是", CountErrorReason.LIST_MARKER),
    ("1.", CountErrorReason.LIST_MARKER),
    ("1、", CountErrorReason.LIST_MARKER),
    ("（一）", CountErrorReason.LIST_MARKER),
    ("(1)", CountErrorReason.LIST_MARKER),
    ("1）", CountErrorReason.LIST_MARKER),
    ("其一", CountErrorReason.LIST_MARKER),
    ("①", CountErrorReason.LIST_MARKER),
    ("-5", CountErrorReason.NEGATIVE),
    ("－5", CountErrorReason.NEGATIVE),
    ("负五", CountErrorReason.NEGATIVE),
    ("- 5", CountErrorReason.NEGATIVE),
    ("10000000000", CountErrorReason.TOO_LARGE),
    ("1000000001", CountErrorReason.TOO_LARGE),
    ("一百亿", CountErrorReason.TOO_LARGE),
    ("50个人左右吧我忘了", CountErrorReason.TRAILING_TEXT),
    ("50人吧", CountErrorReason.TRAILING_TEXT),
    ("20场活动", CountErrorReason.TRAILING_TEXT),
    ("50%", CountErrorReason.TRAILING_TEXT),
    ("50和60", CountErrorReason.AMBIGUOUS),
    ("50 60", CountErrorReason.AMBIGUOUS),
    ("50人,60人", CountErrorReason.AMBIGUOUS),
    ("30人-40场", CountErrorReason.AMBIGUOUS),
    ("1,2000", CountErrorReason.AMBIGUOUS),
    ("5-3", CountErrorReason.RANGE_REVERSED),
    ("四十至三十人", CountErrorReason.RANGE_REVERSED),
    ("不到100人", CountErrorReason.AT_MOST),
    ("100人以下", CountErrorReason.AT_MOST),
    ("最多50人", CountErrorReason.AT_MOST),
    ("人数50", CountErrorReason.LEADING_TEXT),
    ("参加的有五十人", CountErrorReason.LEADING_TEXT),
    ("五十五十", CountErrorReason.MALFORMED),
    ("十百", CountErrorReason.MALFORMED),
    ("五三个", CountErrorReason.MALFORMED),
    ("一百零二十", CountErrorReason.MALFORMED),
    ("〇30", CountErrorReason.MALFORMED),
]


@pytest.mark.parametrize(("text", "reason"), REJECTIONS)
def test_parse_count_rejects(text: str, reason: CountErrorReason) -> None:
    with pytest.raises(CountError) as info:
        parse_count(text)
    assert info.value.reason is reason


def test_count_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="no_number"):
        parse_count("abc")


def test_to_chinese_helper() -> None:
    assert to_chinese(10) == "十"
    assert to_chinese(105) == "一百零五"
    assert to_chinese(10005) == "一万零五"
    assert to_chinese(100000) == "十万"
    assert to_chinese(1000010) == "一百万零一十"
    assert to_chinese(120000000) == "一亿二千万"


NUMERALS: list[tuple[str, str]] = [
    ("一百零五", "105"),
    ("十一万", "110000"),
    ("一亿二千万", "120000000"),
    ("两千五", "2500"),
    ("三百五", "350"),
    ("一万二", "12000"),
    ("一百一", "110"),
    ("百", "100"),
    ("万", "10000"),
    ("3.9万", "39000"),
    ("1万2千", "12000"),
    ("1万2500", "12500"),
    ("壹仟零贰拾", "1020"),
    ("0万", "0"),
]


@pytest.mark.parametrize(("text", "value"), NUMERALS)
def test_parse_number(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "十百", "一零", "五十五十", "一万零", "1万20000", "abc"])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(NumeralError):
        parse_number(text)


def test_parse_int_and_digit_string() -> None:
    assert parse_int("二十一") == 21
    with pytest.raises(NumeralError):
        parse_int("1.5")
    assert parse_digit_string("二〇二六") == 2026
    assert parse_digit_string("二零二六") == 2026
    with pytest.raises(NumeralError):
        parse_digit_string("两千")


# --- properties -----------------------------------------------------------------

_counts = st.integers(min_value=0, max_value=10**9)
_units = st.sampled_from(["", "人", "人次", "场", "条", "元", "个", "份", "期"])


@given(_counts)
def test_arabic_integer_is_exact(n: int) -> None:
    count = parse_count(str(n))
    assert (count.low, count.high, count.approx, count.unit) == (D(n), None, EXACT, None)


@given(_counts, _units)
def test_full_width_and_commas_read_the_same(n: int, unit: str) -> None:
    full_width = str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for text in (f"{n:,}{unit}", f"{full_width}{unit}"):
        count = parse_count(text)
        assert count.low == n
        assert count.unit == (unit or None)


@given(_counts, st.sampled_from(["多", "余"]), _units)
def test_more_than_suffix(n: int, suffix: str, unit: str) -> None:
    count = parse_count(f"{n}{suffix}{unit}")
    assert count.approx is MORE
    assert count.low == n
    assert count.unit == (unit or None)


@given(st.integers(min_value=0, max_value=99_999_999))
def test_chinese_numeral_round_trip(n: int) -> None:
    count = parse_count(to_chinese(n))
    assert count.approx is EXACT
    assert count.low == n


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_arabic_range(low: int, width: int) -> None:
    count = parse_count(f"{low}-{low + width}人")
    expected = (D(low), D(low + width), RANGE, "人")
    assert (count.low, count.high, count.approx, count.unit) == expected


@given(st.integers(min_value=1, max_value=10**6))
def test_negative_is_rejected(n: int) -> None:
    with pytest.raises(CountError) as info:
        parse_count(f"-{n}")
    assert info.value.reason is CountErrorReason.NEGATIVE


@given(st.text())
def test_arbitrary_text_only_raises_count_error(text: str) -> None:
    try:
        count = parse_count(text)
    except CountError:
        return
    assert count.low >= 0
    assert count.high is None or count.high > count.low
    assert count.raw == text.strip()


_COUNTISH = st.lists(
    st.sampled_from(
        [
            *"0123456789.,+-~ 零〇一二两三四五六七八九十百千万亿多余几来把约近第是人次场条元万",
            *["以上", "左右", "至", "到", "（", "）", "、", "。", "—"],
        ]
    ),
    max_size=12,
).map("".join)


@given(_COUNTISH)
def test_count_like_text_only_raises_count_error(text: str) -> None:
    try:
        count = parse_count(text)
    except CountError:
        return
    assert Decimal(0) <= count.low <= Decimal(10) ** 9
    if count.approx is RANGE:
        assert count.high is not None and count.high > count.low
    else:
        assert count.high is None


# (sentence, where the count starts, the text read, low, approx, unit)
IN_A_SENTENCE: list[tuple[str, int, str, str, Approx, str | None]] = [
    ("办了3场夏夜汇演", 2, "3场", "3", EXACT, "场"),
    ("300多人参加", 0, "300多人", "300", MORE, "人"),
    ("组织二十几个志愿者清扫", 2, "二十几个", "20", MORE, "个"),
    ("服务大概40个小时。", 2, "大概40个小时", "40", ABOUT, "个小时"),
    ("来了30到40人观看", 2, "30到40人", "30", RANGE, "人"),
    ("现场约200人左右，反响好", 2, "约200人左右", "200", ABOUT, "人"),
    ("投入3.9万元改造", 2, "3.9万元", "39000", EXACT, "元"),
    ("学习了二十大精神", 3, "二十", "20", EXACT, None),  # 大 is no measure word here
    ("3场到社区演出", 0, "3场", "3", EXACT, "场"),
]


@pytest.mark.parametrize(("text", "pos", "read", "low", "approx", "unit"), IN_A_SENTENCE)
def test_read_count_at_reads_a_count_inside_a_sentence(
    text: str, pos: int, read: str, low: str, approx: Approx, unit: str | None
) -> None:
    count, end = read_count_at(text, pos)
    assert text[pos:end] == read == count.raw
    assert (count.low, count.approx, count.unit) == (D(low), approx, unit)


@pytest.mark.parametrize(
    ("text", "pos", "reason"),
    [
        ("不到100人参加", 0, CountErrorReason.AT_MOST),
        ("来了很多人", 2, CountErrorReason.NO_NUMBER),
        ("三八妇女节", 0, CountErrorReason.MALFORMED),
    ],
)
def test_read_count_at_says_why_nothing_is_read(
    text: str, pos: int, reason: CountErrorReason
) -> None:
    with pytest.raises(CountError) as caught:
        read_count_at(text, pos)
    assert caught.value.reason is reason

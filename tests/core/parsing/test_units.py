"""Tests for bot.core.parsing.units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.parsing import Approx, Count, UnitMismatch, parse_count, to_unit
from bot.core.parsing.units import convert

ACCEPTED: list[tuple[str, str, str, str | None]] = [
    # (typed, expected unit, low, high)
    ("50", "人次", "50", None),
    ("50人", "人次", "50", None),
    ("50人次", "人次", "50", None),
    ("50名", "人次", "50", None),
    ("50位", "人次", "50", None),
    ("50个人", "人次", "50", None),
    ("4000多人次", "人次", "4000", None),
    ("12场", "场次", "12", None),
    ("12次", "场次", "12", None),
    ("12场次", "场次", "12", None),
    ("12场", "次", "12", None),
    ("300本", "册", "300", None),
    ("300册", "册", "300", None),
    ("20人", "名", "20", None),
    ("20位", "名", "20", None),
    ("20名", "人", "20", None),
    ("6期", "期", "6", None),
    ("五十多条", "条", "50", None),
    ("120份", "份", "120", None),
    ("8个", "个", "8", None),
    ("3.9万元", "万元", "3.9", None),
    ("3.9万", "万元", "3.9", None),
    ("39000元", "万元", "3.9", None),
    ("39000", "万元", "39000", None),  # no unit, no 万: taken as typed
    ("3.9", "万元", "3.9", None),
    ("3.9万元", "元", "39000", None),
    ("3.9万", "元", "39000", None),
    ("500块", "元", "500", None),
    ("500块钱", "元", "500", None),
    ("3-5万元", "万元", "3", "5"),
    ("3-5万", "万元", "3", "5"),
    ("1.2亿", "万元", "12000", None),
    ("三四十人", "人次", "30", "40"),
]


@pytest.mark.parametrize(("text", "expected", "low", "high"), ACCEPTED)
def test_to_unit_accepts(text: str, expected: str, low: str, high: str | None) -> None:
    count = parse_count(text)
    converted = to_unit(count, expected)
    assert converted.unit == expected
    assert converted.low == Decimal(low)
    assert converted.high == (None if high is None else Decimal(high))
    assert converted.approx is count.approx
    assert converted.raw == count.raw


def test_money_count_in_wan_converts_to_yuan() -> None:
    count = Count(Decimal("3.9"), None, Approx.EXACT, "3.9", "万元")
    assert to_unit(count, "元").low == Decimal(39000)


REJECTED: list[tuple[str, str, str]] = [
    # (typed, expected unit, unit reported as got)
    ("50场", "人次", "场"),
    ("50人", "场次", "人"),
    ("50人次", "人", "人次"),
    ("300本", "份", "本"),
    ("50条", "期", "条"),
    ("50元", "人次", "元"),
    ("50人", "万元", "人"),
    ("5千克", "元", "千克"),
    ("12朵", "个", "朵"),
    ("50个", "人次", "个"),
]


@pytest.mark.parametrize(("text", "expected", "got"), REJECTED)
def test_to_unit_rejects(text: str, expected: str, got: str) -> None:
    with pytest.raises(UnitMismatch) as info:
        to_unit(parse_count(text), expected)
    assert info.value.expected == expected
    assert info.value.got == got
    assert isinstance(info.value, ValueError)


@given(st.integers(min_value=0, max_value=10**9))
def test_yuan_to_wan_and_back(n: int) -> None:
    converted = to_unit(parse_count(f"{n}元"), "万元")
    assert converted.low * 10000 == n
    assert to_unit(converted, "元").low == n


@given(st.decimals(min_value=0, max_value=100000, places=2))
def test_wan_typed_without_unit(value: Decimal) -> None:
    converted = to_unit(parse_count(f"{value}万"), "万元")
    assert converted.low == value


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["人", "人次", "名", "位"]),
)
def test_person_aliases_for_person_times(n: int, unit: str) -> None:
    converted = to_unit(parse_count(f"{n}{unit}"), "人次")
    assert (converted.low, converted.unit) == (Decimal(n), "人次")


def test_convert_by_declared_measure_words() -> None:
    hours = {"个小时": Decimal(1), "钟头": Decimal(1)}
    assert convert(parse_count("大概40个小时"), "小时", hours).low == 40
    assert convert(parse_count("40个小时"), "小时", hours).unit == "小时"
    wan = {"元": Decimal("0.0001")}
    assert convert(parse_count("39000元"), "万元", wan).low == Decimal("3.9")
    assert convert(parse_count("3.9万"), "万元", wan).low == Decimal("3.9")  # no unit typed


def test_declared_measure_words_replace_the_built_in_aliases() -> None:
    households = {"家": Decimal(1)}
    assert convert(parse_count("10家"), "户", households).low == 10
    with pytest.raises(UnitMismatch):
        convert(parse_count("10人"), "户", households)
    with pytest.raises(UnitMismatch):  # 位 is a built-in alias of 人次, but not declared here
        convert(parse_count("10位"), "人次", {"人": Decimal(1)})
    # nothing declared: the built-in rules
    assert convert(parse_count("10位"), "人次").unit == "人次"

"""Convert a parsed count to the unit a question expects.

Rules:

* No unit typed: accepted as is. Exception: when the question expects "万元"
  and the text contained 万 or 亿, the parser has already multiplied the value
  out to yuan ("3.9万" -> 39000), so it is divided back (-> 3.9 万元).
* The expected unit itself or one of its aliases (see :data:`ALIASES`) is
  accepted; 人次 accepts 人/名/位, 场次 accepts 场/次, 册 accepts 本, etc.
* Money converts between 元 (also 块) and 万元.
* Anything else raises :class:`UnitMismatch`.

The returned count always carries ``unit=expected``.

A question may declare its own measure words and what one of each is worth in its unit
(see ``measures`` in the questionnaire YAML); :func:`convert` reads a count by them. The
declared words then replace :data:`ALIASES` for that question: a 人次 question that does
not list 户 does not take "50户" as 50 people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal

from bot.core.parsing.counts import Count

__all__ = ["ALIASES", "UnitMismatch", "accepted_units", "convert", "to_unit"]

ALIASES: Mapping[str, frozenset[str]] = {
    "人次": frozenset({"人次", "人", "名", "位"}),
    "场次": frozenset({"场次", "场", "次"}),
    "次": frozenset({"次", "场次", "场"}),
    "册": frozenset({"册", "本"}),
    "名": frozenset({"名", "人", "位"}),
    "人": frozenset({"人", "名", "位"}),
    "元": frozenset({"元", "块"}),
}

# Value of one unit, in yuan.
_MONEY: Mapping[str, Decimal] = {
    "元": Decimal(1),
    "块": Decimal(1),
    "万元": Decimal(10) ** 4,
    "亿元": Decimal(10) ** 8,
}


class UnitMismatch(ValueError):
    """The count's unit cannot be read as the expected unit."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expected unit {expected!r}, got {got!r}")
        self.expected = expected
        self.got = got


def accepted_units(expected: str) -> frozenset[str]:
    """Return the units accepted verbatim for ``expected``."""
    return ALIASES.get(expected, frozenset({expected}))


def _clean(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return Decimal(int(value))
    return value.normalize()


def _scale(count: Count, factor: Decimal, expected: str) -> Count:
    return dataclasses.replace(
        count,
        low=_clean(count.low * factor),
        high=None if count.high is None else _clean(count.high * factor),
        unit=expected,
    )


def to_unit(count: Count, expected: str) -> Count:
    """Express ``count`` in the unit ``expected``.

    Args:
        count: A parsed count.
        expected: The unit the question asks for, e.g. "人次", "万元".

    Returns:
        A count with ``unit == expected`` (value converted for 元 <-> 万元).

    Raises:
        UnitMismatch: the count has a unit that cannot be read as ``expected``.
    """
    if count.unit is None:
        if (
            expected in _MONEY
            and expected not in ("元", "块")
            and ("万" in count.raw or "亿" in count.raw)
        ):
            return _scale(count, 1 / _MONEY[expected], expected)
        return dataclasses.replace(count, unit=expected)
    if count.unit in accepted_units(expected):
        return dataclasses.replace(count, unit=expected)
    if count.unit in _MONEY and expected in _MONEY:
        return _scale(count, _MONEY[count.unit] / _MONEY[expected], expected)
    raise UnitMismatch(expected, count.unit)


def convert(count: Count, expected: str, measures: Mapping[str, Decimal] | None = None) -> Count:
    """Express ``count`` in ``expected`` by a question's declared measure words.

    Args:
        count: A parsed count.
        expected: The question's unit.
        measures: Measure word -> how many ``expected`` one of it is ("个小时" -> 1,
            "元" -> 0.0001 for 万元). None or empty: the built-in rules of :func:`to_unit`.

    Returns:
        A count with ``unit == expected``.

    Raises:
        UnitMismatch: the typed unit is neither ``expected`` nor a declared word.
    """
    if not measures or count.unit is None or count.unit == expected:
        return to_unit(count, expected)
    factor = measures.get(count.unit)
    if factor is None:
        raise UnitMismatch(expected, count.unit)
    if factor == 1:
        return dataclasses.replace(count, unit=expected)
    return _scale(count, factor, expected)

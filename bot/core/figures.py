"""How a counted figure is written: 4000余人次, 约100人, 30—40人, 3.9万元."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.models import Entry


def plain(number: Decimal) -> str:
    """Write a decimal without exponent or trailing zeros: 3.9000 -> 3.9, 4E+3 -> 4000."""
    return format(number.normalize(), "f")


@lru_cache(maxsize=4096)  # a street's ledger writes the same figures many times
def metric_text(low: Decimal, high: Decimal | None, approx: str, unit: str) -> str:
    """Write a figure honestly: 余 for 'more than', 约 for 'about', a dash for a range."""
    if approx == "more_than":
        return f"{plain(low)}余{unit}"
    if approx == "about":
        return f"约{plain(low)}{unit}"
    if approx == "range" and high is not None:
        return f"{plain(low)}—{plain(high)}{unit}"
    return f"{plain(low)}{unit}"


def figures_text(entry: Entry) -> str:
    """All figures of an entry: '学习场次 3场次，参与人次 4000余人次'."""
    return "，".join(
        f"{m.label} {metric_text(m.low, m.high, m.approx, m.unit)}" for m in entry.metrics
    )


def entry_line(entry: Entry, *, unit: bool = False, reporter: bool = False) -> str:
    """One line per entry: '#12 6月30日 理论学习｜title｜参与人次 4000余人次'."""
    day = f"{entry.start_date.month}月{entry.start_date.day}日"
    parts = [f"#{entry.id} {day} {entry.area_name}", entry.title]
    if unit:
        parts.insert(1, entry.unit.name)
    if reporter:
        parts.append(entry.member.name)
    figures = figures_text(entry)
    if figures:
        parts.append(figures)
    return "｜".join(parts)

"""How a counted figure is written: 4000余人次, 约100人, 30—40人, 3.9万元."""

from __future__ import annotations

from decimal import Decimal


def plain(number: Decimal) -> str:
    """Write a decimal without exponent or trailing zeros: 3.9000 -> 3.9, 4E+3 -> 4000."""
    return format(number.normalize(), "f")


def metric_text(low: Decimal, high: Decimal | None, approx: str, unit: str) -> str:
    """Write a figure honestly: 余 for 'more than', 约 for 'about', a dash for a range."""
    if approx == "more_than":
        return f"{plain(low)}余{unit}"
    if approx == "about":
        return f"约{plain(low)}{unit}"
    if approx == "range" and high is not None:
        return f"{plain(low)}—{plain(high)}{unit}"
    return f"{plain(low)}{unit}"

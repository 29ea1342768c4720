"""Reporting periods: half-years written as 2026H1 (January-June) and 2026H2."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"^(\d{4})\s*[Hh]([12])$")
_CHINESE = re.compile(r"^(\d{4})年?(上|下)半年$")
# Years a report can be about; outside them a "period" is a typing slip, not a request
# (and year 0 or 9999 would overflow the date arithmetic of deadlines).
FIRST_YEAR, LAST_YEAR = 2000, 2099


@dataclass(frozen=True, slots=True)
class Period:
    """A half-year."""

    year: int
    half: int

    @property
    def key(self) -> str:
        """The stored form, e.g. 2026H1."""
        return f"{self.year}H{self.half}"

    @property
    def first_day(self) -> date:
        """The period's first day."""
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def last_day(self) -> date:
        """The period's last day."""
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    @property
    def chinese(self) -> str:
        """E.g. 2026年上半年."""
        return f"{self.year}年{'上' if self.half == 1 else '下'}半年"

    def __str__(self) -> str:
        return self.key


def period_of(day: date) -> Period:
    """The half-year a day falls in."""
    return Period(day.year, 1 if day.month <= 6 else 2)


def parse_period(text: str) -> Period:
    """Read '2026H1', '2026h2' or '2026年上半年'; raise ValueError otherwise."""
    cleaned = text.strip()
    period: Period | None = None
    match = _PERIOD.match(cleaned)
    if match:
        period = Period(int(match.group(1)), int(match.group(2)))
    match = _CHINESE.match(cleaned)
    if match:
        period = Period(int(match.group(1)), 1 if match.group(2) == "上" else 2)
    if period is None:
        raise ValueError(f"not a period: {text!r} (write it as 2026H1 or 2026H2)")
    if not FIRST_YEAR <= period.year <= LAST_YEAR:
        raise ValueError(f"not a period: {text!r} (years {FIRST_YEAR}-{LAST_YEAR})")
    return period

"""Parsers for what staff type: counts ("五十多条", "3.9万元") and dates ("上周五").

Pure standard library. Off-the-shelf packages cover only part of this:
cn2an converts plain Chinese numerals but not counting phrases ("三四十人",
"十几场", "4000多人次") or units, and dateparser reads some Chinese dates but
not our conventions (ISO-week 上周X, the 60-day no-year rule, "6月1日-3日").
"""

from bot.core.parsing.counts import Approx, Count, CountError, CountErrorReason, parse_count
from bot.core.parsing.dates import (
    SHANGHAI,
    DateError,
    DateErrorReason,
    parse_date,
    parse_date_range,
)
from bot.core.parsing.numerals import NumeralError, parse_number
from bot.core.parsing.units import UnitMismatch, to_unit

__all__ = [
    "SHANGHAI",
    "Approx",
    "Count",
    "CountError",
    "CountErrorReason",
    "DateError",
    "DateErrorReason",
    "NumeralError",
    "UnitMismatch",
    "parse_count",
    "parse_date",
    "parse_date_range",
    "parse_number",
    "to_unit",
]

"""Reading Chinese (and mixed Arabic/Chinese) numerals.

Shared by the count and date parsers. Handles standard readings ("一百零五",
"十一万", "一亿二千万"), colloquial abbreviations ("两千五" = 2500, "一万二" =
12000), a bare leading multiplier ("百" = 100, "万" = 10000), financial digits
("壹贰叁") and Arabic numbers mixed with multipliers ("3.9万", "1万2千").

cn2an covers plain numeral conversion but not the counting phrases staff type
(ranges such as "三四十", "十几", "多"/"余" suffixes, units) nor our error
reporting, so this small reader is written in-house on the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "DIGITS",
    "LARGE_MULTIPLIERS",
    "MULTIPLIERS",
    "NUMERAL_CHARS",
    "ZERO_CHARS",
    "NumeralError",
    "NumeralTooLarge",
    "parse_digit_string",
    "parse_int",
    "parse_number",
]

ZERO_CHARS = frozenset("零〇")

DIGITS: Mapping[str, int] = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "贰": 2,
    "貳": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "陸": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}

MULTIPLIERS: Mapping[str, int] = {
    "十": 10,
    "拾": 10,
    "百": 100,
    "佰": 100,
    "千": 1000,
    "仟": 1000,
    "万": 10**4,
    "萬": 10**4,
    "亿": 10**8,
    "億": 10**8,
}

LARGE_MULTIPLIERS = frozenset(ch for ch, factor in MULTIPLIERS.items() if factor >= 10**4)

NUMERAL_CHARS = frozenset(DIGITS) | frozenset(MULTIPLIERS)

# Values beyond this are never meaningful here; stop early to keep work bounded.
_LIMIT = Decimal(10) ** 15
_MAX_INT_DIGITS = 16
MAX_NUMERAL_CHARS = 40

_ARABIC_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class NumeralError(ValueError):
    """The text is not a well-formed numeral."""


class NumeralTooLarge(NumeralError):
    """The numeral is far beyond any plausible value."""


@dataclass(frozen=True, slots=True)
class _Num:
    value: Decimal
    single: bool  # one digit (Chinese digit or a lone Arabic digit)


@dataclass(frozen=True, slots=True)
class _Zero:
    pass


@dataclass(frozen=True, slots=True)
class _Mult:
    factor: int


_Token = _Num | _Zero | _Mult
_ZERO = _Zero()


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if "0" <= ch <= "9":
            match = _ARABIC_RE.match(text, i)
            assert match is not None
            literal = match.group()
            if len(literal.split(".")[0].lstrip("0")) > _MAX_INT_DIGITS:
                raise NumeralTooLarge(text)
            tokens.append(_Num(Decimal(literal), single=len(literal) == 1))
            i = match.end()
            continue
        if ch in ZERO_CHARS:
            tokens.append(_ZERO)
        elif ch in DIGITS:
            tokens.append(_Num(Decimal(DIGITS[ch]), single=True))
        elif ch in MULTIPLIERS:
            tokens.append(_Mult(MULTIPLIERS[ch]))
        else:
            raise NumeralError(f"unexpected character {ch!r} in {text!r}")
        i += 1
    return tokens


def _check(value: Decimal) -> Decimal:
    if value > _LIMIT:
        raise NumeralTooLarge(str(value))
    return value


def _section(tokens: list[_Token]) -> Decimal:
    """Evaluate tokens that contain no 万/亿."""
    if tokens == [_ZERO]:
        return Decimal(0)
    total = Decimal(0)
    pending: _Num | None = None
    last: int | None = None
    zero = False
    for index, token in enumerate(tokens):
        if isinstance(token, _Num):
            if pending is not None:
                raise NumeralError("two numbers in a row")
            pending = token
        elif isinstance(token, _Zero):
            if pending is not None or zero or last is None:
                raise NumeralError("misplaced zero")
            zero = True
        else:
            if last is not None and token.factor >= last:
                raise NumeralError("multipliers out of order")
            if zero and last is not None and token.factor * 100 > last:
                raise NumeralError("zero skips no position")  # 一百零二十
            if pending is None:
                if index != 0:
                    raise NumeralError("multiplier without a digit")
                count = Decimal(1)
            else:
                count = pending.value
                if last is not None and count >= 10:
                    raise NumeralError("multi-digit count inside a numeral")
            if count == 0:
                raise NumeralError("zero times a multiplier")
            total += count * token.factor
            last = token.factor
            pending = None
            zero = False
    if pending is None:
        if zero:
            raise NumeralError("trailing zero")
        return total
    if last is None:
        return pending.value
    if zero:
        if pending.value * 10 >= last:
            raise NumeralError("zero skips no position")  # 一百零二十五
        return total + pending.value
    if pending.single and last >= 100:
        # Colloquial abbreviation: 两千五 = 2500, 三百五 = 350.
        return total + pending.value * last / 10
    if pending.value >= last:
        raise NumeralError("trailing number too large")
    return total + pending.value


def _tail(tokens: list[_Token], factor: int) -> Decimal:
    """Evaluate what follows a 万/亿, e.g. "二千" in "一万二千"."""
    if not tokens:
        return Decimal(0)
    if isinstance(tokens[0], _Zero):
        value = _evaluate(tokens[1:])
    elif len(tokens) == 1 and isinstance(tokens[0], _Num) and tokens[0].single:
        # 一万二 = 12000
        value = tokens[0].value * factor / 10
    else:
        value = _evaluate(tokens)
    if value >= factor:
        raise NumeralError("lower part exceeds its multiplier")
    return value


def _evaluate(tokens: list[_Token]) -> Decimal:
    if not tokens:
        raise NumeralError("empty numeral")
    large = [t.factor for t in tokens if isinstance(t, _Mult) and t.factor >= 10**4]
    if not large:
        return _check(_section(tokens))
    factor = max(large)
    index = max(i for i, t in enumerate(tokens) if isinstance(t, _Mult) and t.factor == factor)
    left, right = tokens[:index], tokens[index + 1 :]
    head = _evaluate(left) if left else Decimal(1)  # "0万" is allowed: zero yuan in 万元
    return _check(_check(head * factor) + _tail(right, factor))


def parse_number(text: str) -> Decimal:
    """Read a numeral that may mix Arabic digits and Chinese characters.

    Args:
        text: e.g. "一百零五", "两千五", "3.9万", "1万2千", "百". No commas,
            spaces, signs or units.

    Returns:
        The value (may have a fractional part when Arabic decimals are used).

    Raises:
        NumeralTooLarge: the value exceeds 10**15.
        NumeralError: the text is not a well-formed numeral.
    """
    if len(text) > MAX_NUMERAL_CHARS:
        # Long before this no count is meant, and each 万/亿 costs a level of recursion.
        raise NumeralError(f"numeral too long: {len(text)} characters")
    return _evaluate(_tokenise(text))


def parse_int(text: str) -> int:
    """Like :func:`parse_number` but the value must be a whole number.

    Raises:
        NumeralError: not a numeral or not integral.
    """
    value = parse_number(text)
    if value != value.to_integral_value():
        raise NumeralError(f"not a whole number: {text!r}")
    return int(value)


def parse_digit_string(text: str) -> int:
    """Read a digit-by-digit numeral such as "二〇二六" or "2026".

    Raises:
        NumeralError: a character is not a single digit.
    """
    if not text or len(text) > _MAX_INT_DIGITS:
        raise NumeralError(f"not a digit string: {text!r}")
    value = 0
    for ch in text:
        if "0" <= ch <= "9":
            digit = ord(ch) - ord("0")
        elif ch in DIGITS and ch not in "两兩":
            digit = DIGITS[ch]
        else:
            raise NumeralError(f"not a digit string: {text!r}")
        value = value * 10 + digit
    return value


MAX_ID = 2**31 - 1  # ids are INTEGER columns; PostgreSQL refuses more


def parse_id(text: str) -> int | None:
    """A record number as typed ("12", "#12"), or None if it cannot be one.

    Only ASCII digits: str.isdigit() also accepts "²", which int() refuses; and nothing
    beyond what an id column holds.
    """
    number = text.strip().lstrip("#＃").strip()
    if not number.isascii() or not number.isdigit() or len(number) > len(str(MAX_ID)):
        return None
    value = int(number)
    return value if 0 < value <= MAX_ID else None

"""The answer rules of each question type, shared by the chat and the ledger import.

What a typed answer to a text, count, date or date-range question may be, what is kept of it
(the JSON an entry's ``answers`` holds) and why one is refused: written once, here. The
interview (:mod:`bot.core.interview`) reads what a person types through these rules, and the
ledger import (:mod:`bot.admin.ledger`) reads a 台账 cell through the same ones, so a row is
accepted or refused as the chat would take the same words, says why in the chat's words, and
stores the same value (a skip word and a plain word are the chat's steering, read first by
:func:`bot.core.interview.typed_answer`).

The rules are pure and speak no language: a refused answer raises :class:`AnswerProblem`, a
catalogue key of :mod:`bot.core.messages` and the values it names; each side words it in its
own frame (the chat adds an example, the import the row and the column).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from bot.core.messages import ZH
from bot.core.messages import text as msg
from bot.core.parsing import (
    Count,
    CountError,
    CountErrorReason,
    DateError,
    DateErrorReason,
    UnitMismatch,
    parse_count,
    parse_date,
    parse_date_range,
)
from bot.core.questionnaire import Question, QuestionType, Role
from bot.core.text import clean_text

__all__ = [
    "MAX_SPAN_DAYS",
    "MIN_YEAR_OFFSET",
    "TYPED",
    "AnswerProblem",
    "Phrase",
    "count_problem",
    "count_to_json",
    "count_value",
    "dates_answer",
    "format_day",
    "read_answer",
    "read_dates",
    "required_problem",
    "skipped",
    "text_value",
]

MIN_YEAR_OFFSET: Final = 3  # a date more than this many years back is surely a typo
MAX_SPAN_DAYS: Final = 366

#: The question types whose answers are typed words read here (a choice, a yes or no and
#: photos are picked or sent, which only the chat can do).
TYPED: Final = frozenset(
    {QuestionType.TEXT, QuestionType.COUNT, QuestionType.DATE, QuestionType.DATE_RANGE}
)

# Words that say "some" without a number: "很多" is a question back, not a figure.
_VAGUE: Final = re.compile(
    r"很|好多|许多|不少|若干|大量|一些|好些|无数|挺多|几|数[十百千万]|many|lot|some|few"
)

# Why a required question cannot be skipped, by what its answer means.
_WHY: Final = {
    Role.TITLE: "why_title",
    Role.DATES: "why_dates",
    Role.METRIC: "why_metric",
    Role.CONTENT: "why_content",
    Role.ACHIEVEMENTS: "why_achievements",
}

_DATE_PROBLEMS: Final = {
    DateErrorReason.INVALID: "bad_date_invalid",
    DateErrorReason.RANGE_REVERSED: "bad_date_reversed",
    DateErrorReason.INCOMPLETE: "bad_date_incomplete",
    DateErrorReason.WEEKDAY_MISMATCH: "bad_date_weekday_mismatch",
}


@dataclass(frozen=True)
class Phrase:
    """A catalogue sentence named inside another one (the reason in "没看懂这个数字：{reason}")."""

    key: str


class AnswerProblem(Exception):
    """Why an answer does not fit its question: a catalogue key and the values it names.

    A value is shown as it is, but a :class:`Phrase` is looked up in the catalogue and a
    date is written as the chat writes dates (:func:`format_day`).
    """

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self, locale: str, **said: object) -> str:
        """The problem in `locale`; `said` gives what the reader words itself, over the
        problem's own values (the chat's example for the question, the label translated)."""
        shown = {name: _shown(locale, value) for name, value in self.values.items()}
        return msg(locale, self.key, **{**shown, **said})

    def value_text(self, name: str, locale: str) -> str:
        """One of the problem's values as shown (the reason of a count that cannot be read)."""
        return str(_shown(locale, self.values[name]))


def _shown(locale: str, value: object) -> object:
    if isinstance(value, Phrase):
        return msg(locale, value.key)
    if isinstance(value, date):
        return format_day(locale, value)
    return value


def format_day(locale: str, day: date) -> str:
    """E.g. 2026年6月30日（周二）."""
    weekday = msg(locale, f"weekday_{day.weekday()}")
    return msg(locale, "date_format", year=day.year, month=day.month, day=day.day, weekday=weekday)


# --- the rules ----------------------------------------------------------------------------


def read_answer(question: Question, raw: str, *, now: datetime, today: date) -> dict[str, Any]:
    """What is kept of `raw` typed as the answer to `question` (one of the :data:`TYPED`).

    Args:
        question: The question answered.
        raw: The answer as typed; it is cleaned (:func:`bot.core.text.clean_text`) first.
        now: The time the answer was given: dates without a year or relative ones
            ("上周五") are read against it.
        today: The day in Shanghai, which no activity date may be after.

    Raises:
        AnswerProblem: the answer does not fit the question.
        ValueError: `question` is not answered by typing.
    """
    text = clean_text(raw)
    kind = question.type
    if kind is QuestionType.TEXT:
        return {"text": text_value(text, question.max_length)}
    if kind is QuestionType.COUNT:
        return count_to_json(count_value(question, text))
    if kind is QuestionType.DATE or kind is QuestionType.DATE_RANGE:
        begin, end = read_dates(text, now, ranged=kind is QuestionType.DATE_RANGE)
        return dates_answer(question, begin, end, today)
    raise ValueError(f"a {kind} question is not answered by typing")


def skipped(question: Question) -> dict[str, Any]:
    """The answer of a skipped question ("跳过", or nothing said); only an optional one may be.

    Raises:
        AnswerProblem: the question is required (the problem says what it is needed for).
    """
    if not question.optional:
        raise required_problem(question)
    return {"skipped": True}


def required_problem(question: Question) -> AnswerProblem:
    """Why a required question cannot be skipped: what its answer is needed for."""
    why = Phrase(_WHY.get(question.role, "why_other"))
    return AnswerProblem("required_why", label=question.label, why=why)


def text_value(text: str, limit: int) -> str:
    """A cleaned text as the answer to a text question of at most `limit` characters.

    Raises:
        AnswerProblem: empty, without a letter or a digit (only emoji or marks), too long.
    """
    if not text:
        raise AnswerProblem("bad_text_empty")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise AnswerProblem("bad_text_no_words")
    if len(text) > limit:
        raise AnswerProblem("bad_text_too_long", length=len(text), limit=limit)
    return text


def count_value(question: Question, text: str) -> Count:
    """A cleaned text read as a count, in the unit of the count question.

    Raises:
        AnswerProblem: not a count, or one in a measure word the question does not take.
    """
    try:
        return question.convert(parse_count(text))
    except CountError as error:
        raise count_problem(error, text) from error
    except UnitMismatch as error:
        raise AnswerProblem("bad_unit", expected=error.expected, got=error.got) from error


def count_problem(error: CountError, text: str) -> AnswerProblem:
    """Why `text` is not a count. Its ``reason`` value is the parser's reason, as a phrase."""
    key = f"bad_count_{error.reason.value}"
    reason = Phrase(key if key in ZH else "bad_count_other")
    if error.reason is CountErrorReason.NO_NUMBER and _VAGUE.search(text.lower()):
        return AnswerProblem("count_vague", word=text[:20], reason=reason)
    return AnswerProblem("bad_count", reason=reason)


def count_to_json(count: Count) -> dict[str, Any]:
    """A count as stored (decimals as strings, so nothing is rounded)."""
    return {
        "low": str(count.low),
        "high": None if count.high is None else str(count.high),
        "approx": count.approx.value,
        "raw": count.raw,
        "unit": count.unit,
    }


def read_dates(text: str, now: datetime, *, ranged: bool) -> tuple[date, date]:
    """A cleaned text read as a date, or (`ranged`) as a date or a range of dates.

    Raises:
        AnswerProblem: not a date (the problem says why, with an example).
    """
    example = Phrase("range_example" if ranged else "date_example")
    if not text:
        raise AnswerProblem("bad_date", example=example)
    try:
        if ranged:
            return parse_date_range(text, now)
        day = parse_date(text, now)
    except DateError as error:
        key = _DATE_PROBLEMS.get(error.reason, "bad_date")
        raise AnswerProblem(key, example=example) from error
    return day, day


def dates_answer(question: Question, begin: date, end: date, today: date) -> dict[str, Any]:
    """The answer to a date or date-range question that spans `begin` to `end`.

    Raises:
        AnswerProblem: the activity is still ahead, is more than a few years back, lasts
            more than a year, or lasts several days where the question asks for one.
    """
    if begin > today:
        raise AnswerProblem("bad_date_future", date=begin)
    if begin.year < today.year - MIN_YEAR_OFFSET:
        raise AnswerProblem("bad_date_too_old", date=begin)
    if end - begin > timedelta(days=MAX_SPAN_DAYS):
        raise AnswerProblem("bad_date_too_long")
    if question.type is QuestionType.DATE:
        if begin != end:
            raise AnswerProblem("bad_date", example=Phrase("date_example"))
        return {"date": begin.isoformat()}
    return {"start": begin.isoformat(), "end": end.isoformat()}

"""The message catalogues."""

from __future__ import annotations

import string

from bot.core.messages import EN, ZH
from bot.core.parsing import CountErrorReason, DateErrorReason


def _fields(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def test_both_languages_have_the_same_sentences_with_the_same_blanks() -> None:
    assert set(ZH) == set(EN)
    for key in ZH:
        assert _fields(ZH[key]) == _fields(EN[key]), key


def test_every_count_error_has_its_own_explanation() -> None:
    for reason in CountErrorReason:
        assert f"bad_count_{reason.value}" in ZH, reason


def test_every_specific_date_error_has_its_own_explanation() -> None:
    from datetime import UTC, datetime

    import pytest

    from bot.core.answers import AnswerProblem, read_dates

    now = datetime(2026, 6, 24, 2, tzinfo=UTC)
    samples = {
        DateErrorReason.INVALID: ("2月30日", ZH["bad_date_invalid"]),
        DateErrorReason.RANGE_REVERSED: ("6月3日至6月1日", ZH["bad_date_reversed"]),
        DateErrorReason.INCOMPLETE: ("6月", ZH["bad_date_incomplete"]),
        DateErrorReason.WEEKDAY_MISMATCH: ("6月23日（周一）", ZH["bad_date_weekday_mismatch"]),
        DateErrorReason.UNRECOGNISED: ("下雨那天", ZH["bad_date"]),
        DateErrorReason.EMPTY: ("", ZH["bad_date"]),
    }
    assert set(samples) == set(DateErrorReason)
    for typed, sentence in samples.values():
        with pytest.raises(AnswerProblem) as raised:
            read_dates(typed, now, ranged=True)
        assert raised.value.text("zh").startswith(sentence.split("{")[0]), typed

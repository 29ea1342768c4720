"""A report with something beside it (`Reporting`): its row, as the next message reads it.

The switch itself ("先报完这一条，还是放弃它、改报新的？") is tested as transcripts in
tests/core/test_one_message.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.dialogs.state import Discarded, Reporting, dump, load
from bot.core.interview import InterviewState

REPORT = InterviewState(
    questionnaire="community_culture",
    version=1,
    cursor="achievements",
    units=[(3, "新华社区")],
    unit_id=3,
    area="recreation",
    answers={"title": {"text": "夏夜汇演"}},
    turn=4,
)
OTHER = InterviewState(
    questionnaire="community_culture", version=1, cursor="area", units=[(3, "新华社区")], turn=9
)
DROPPED = Discarded(OTHER, datetime(2026, 6, 24, 2, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "state",
    [
        Reporting(REPORT, "6月20日在社区开展志愿清扫", None),
        Reporting(REPORT, "", DROPPED),  # a plain 上报 asked about, beside a dropped one
        Reporting(REPORT, None, DROPPED),
    ],
)
def test_a_report_with_something_beside_it_reads_back_as_written(state: Reporting) -> None:
    kind, data = dump(state)
    assert kind == "interview"
    assert load(kind, data) == state
    # code that knows only the interview still reads the report itself from the row
    assert InterviewState.from_json(data) == REPORT


def test_a_plain_report_row_is_still_a_plain_report() -> None:
    assert load(*dump(REPORT)) == REPORT
    assert load(*dump(Reporting(REPORT))) == REPORT  # nothing beside it

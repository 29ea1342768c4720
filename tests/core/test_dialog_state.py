"""The typed dialog states: what a dialog_state row holds, old rows included.

A row written before the states were typed (no version in its JSON) is read as it was meant,
so a person in the middle of a dialog across an upgrade carries on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.dialogs.state import (
    Deleting,
    Dialog,
    Discarded,
    Joining,
    Reflecting,
    Returning,
    dump,
    load,
)
from bot.core.interview import InterviewState
from storage.db import transaction
from storage.models import ConversationState, Entry, Member
from tests.chat import Chat, play
from tests.conftest import Clock
from tests.core.test_dialog import HAPPY_PATH, only_entry

REPORT = InterviewState(
    questionnaire="community_culture",
    version=1,
    cursor="title",
    units=[(3, "新华社区")],
    unit_id=3,
    area="theory",
    answers={"title": "端午主题党课"},
    history=["area"],
    turn=4,
)
STATES: list[Dialog] = [
    REPORT,
    Joining("ABCD2345"),
    Deleting(12),
    Reflecting(2, 3, "2026H1"),
    Returning(7),
    Discarded(REPORT, datetime(2026, 6, 24, 2, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: type(s).__name__)
def test_every_state_reads_back_as_written(state: Dialog) -> None:
    kind, data = dump(state)
    assert load(kind, data) == state


# The JSON the rows held before the states were typed (bot/core/conversation.py of 8eb5aed).
OLD_ROWS: list[tuple[str, dict[str, Any], Dialog]] = [
    ("join", {"code": "ABCD2345"}, Joining("ABCD2345")),
    ("delete", {"entry_id": 12}, Deleting(12)),
    ("reflect", {"step": 1, "unit_id": 3, "period": "2026H1"}, Reflecting(1, 3, "2026H1")),
    ("return", {"entry_id": 7}, Returning(7)),
    (
        "discarded",
        {"interview": REPORT.to_json(), "at": "2026-06-24T02:00:00+00:00"},
        Discarded(REPORT, datetime(2026, 6, 24, 2, 0, tzinfo=UTC)),
    ),
    ("interview", REPORT.to_json(), REPORT),
]


@pytest.mark.parametrize(("kind", "data", "state"), OLD_ROWS, ids=[r[0] for r in OLD_ROWS])
def test_rows_written_before_the_states_were_typed_still_read(
    kind: str, data: dict[str, Any], state: Dialog
) -> None:
    assert load(kind, data) == state


def test_the_small_dialogs_write_their_version_and_the_interview_its_own_json() -> None:
    assert dump(Deleting(12)) == ("delete", {"v": 1, "entry_id": 12})
    assert dump(REPORT) == ("interview", REPORT.to_json())


def test_an_unknown_or_broken_row_is_no_dialog() -> None:
    assert load("survey", {"v": 9}) is None
    assert load("delete", {"entry": 12}) is None


def test_a_delete_asked_before_an_upgrade_is_answered_after_it(
    staff_chat: Chat, sessions: sessionmaker[Session], clock: Clock
) -> None:
    play(staff_chat, HAPPY_PATH)
    entry_id = only_entry(sessions).id
    with transaction(sessions) as session:  # the row as the code before the split left it
        member_id = session.scalars(select(Member.id).where(Member.name == "李华")).one()
        session.add(
            ConversationState(member_id=member_id, kind="delete", data={"entry_id": entry_id})
        )
    play(staff_chat, [("是", f"已删除记录 #{entry_id}"), ("/mine", "还没有上报记录")])
    with transaction(sessions) as session:
        assert session.get(Entry, entry_id) is not None
        assert session.scalars(select(ConversationState)).all() == []

"""Sending an entry back for correction: /return N reason, or /return N and then the reason."""

from __future__ import annotations

from bot.core import oversight
from bot.core.dialogs.base import Next, Turn
from bot.core.dialogs.state import Returning
from bot.core.text import clean_text
from bot.core.types import Kind, Reply
from storage.models import Entry


def begin(turn: Turn, argument: str) -> Next:
    """/return N reason; without a reason, ask for one."""
    number, _, comment = argument.strip().partition(" ")
    entry, problem = oversight.entry_to_return(turn.session, turn.member_id, number, turn.locale)
    if problem is not None:
        return Next([problem])
    assert entry is not None
    comment = clean_text(comment)
    if not comment:
        return Next([oversight.ask_reason(entry, turn.locale)], Returning(entry.id))
    return Next([_send_back(turn, entry, comment)])


def answer(turn: Turn, state: Returning) -> Next:
    """The reason: send the entry back with it."""
    comment = clean_text(turn.incoming.text)
    if turn.incoming.kind is not Kind.TEXT or not comment:
        return Next([Reply(turn.t("return_usage"))])
    entry, problem = oversight.entry_to_return(
        turn.session, turn.member_id, str(state.entry_id), turn.locale
    )
    if problem is not None:
        return Next([problem], None)
    assert entry is not None
    return Next([_send_back(turn, entry, comment)], None)


def _send_back(turn: Turn, entry: Entry, comment: str) -> Reply:
    assert turn.member is not None
    return oversight.send_back(
        turn.session,
        turn.member,
        entry,
        comment,
        turn.kit.clock(),
        turn.locale,
        turn.incoming.platform,
    )

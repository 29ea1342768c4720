"""The delete dialog: /delete N asks once, yes deletes (softly, with a revision), no keeps."""

from __future__ import annotations

from bot.core import interview
from bot.core.dialogs.base import Next, Turn, yes_no
from bot.core.dialogs.state import Deleting
from bot.core.parsing.numerals import parse_id
from bot.core.scope import admin_scope
from bot.core.types import Reply
from storage import entries
from storage.models import Entry


def begin(turn: Turn, argument: str) -> Next:
    """/delete N: ask whether to delete the entry."""
    number = parse_id(argument)
    if number is None:
        return Next([Reply(turn.t("entry_number_missing", command="/delete"))])
    entry = entries.live_entry(turn.session, number)
    if entry is None or not may_delete(turn, entry):
        return Next([Reply(turn.t("entry_not_found", id=number))])
    question = yes_no(turn, turn.t("delete_confirm", id=entry.id, title=entry.title))
    return Next([question], Deleting(entry.id))


def answer(turn: Turn, state: Deleting) -> Next:
    """Yes deletes, no keeps, anything else asks again."""
    entry_id = state.entry_id
    word = interview.normalise_word(turn.incoming.text)
    if turn.incoming.text == "yes" or word in interview.YES_WORDS:
        entry = entries.live_entry(turn.session, entry_id)
        if entry is None or not may_delete(turn, entry):
            return Next([Reply(turn.t("entry_not_found", id=entry_id))], None)
        entries.mark_deleted(turn.session, entry, turn.member_id, turn.kit.clock())
        return Next([Reply(turn.t("deleted", id=entry_id))], None)
    if turn.incoming.text == "no" or word in interview.NO_WORDS:
        return Next([Reply(turn.t("delete_kept", id=entry_id))], None)
    return Next([yes_no(turn, turn.t("bad_yes_no"))])


def may_delete(turn: Turn, entry: Entry) -> bool:
    """Its reporter may delete an entry, and an admin of its unit (e.g. a wrong import)."""
    if entry.member_id == turn.member_id:
        return True
    return admin_scope(turn.session, turn.member_id).contains(entry.unit.path)

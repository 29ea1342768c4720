"""The chat side of deadlines and corrections: /deadline for admins, /return for coordinators.

The conversation calls these inside the message's transaction; messages to other people
(the reporter of a returned entry, the coordinator who returned it) go to the outbox in
that same transaction, so they exist exactly when the change does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core import coordination
from bot.core.figures import entry_line
from bot.core.messages import text as msg
from bot.core.scope import Scope, admin_scope, leader_scope
from bot.core.types import Choice, Reply
from bot.reminders import deadlines
from bot.reminders.deadlines import PUBLIC_RULES, DayRules, DeadlineError
from bot.reminders.outbox import queue_for_member
from storage import deadlines as deadline_store
from storage import entries as entry_store
from storage import members, returns
from storage.models import Entry

COMMENT_LIMIT = 300
LARGEST_ID = 2**31 - 1  # the INTEGER columns' range on PostgreSQL


def read_number(word: str) -> int | None:
    """A row number as people type it ('12', '#12'); None for anything else.

    Only ASCII digits ('²'.isdigit() is true, but int() refuses it), and within the
    INTEGER range: a larger number names no row and would fail in the database.
    """
    digits = word.strip().lstrip("#＃").strip()
    if not (digits.isascii() and digits.isdigit()) or int(digits) > LARGEST_ID:
        return None
    return int(digits)


# --- /deadline ------------------------------------------------------------------------


def ladder_text(ladder: Sequence[int] | None, locale: str) -> str:
    """'截止前 7d,3d,1d,2h', or 'as configured'."""
    if not ladder:
        return msg(locale, "deadline_ladder_default")
    steps = ",".join(deadlines.format_offset(m, locale) for m in ladder)
    return msg(locale, "deadline_ladder_steps", steps=steps)


def deadline_list(
    session: Session,
    within: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> str:
    """The deadlines set on units under `within` (all if empty), and the default rules."""
    lines = [msg(locale, "deadline_list_header")]
    for row in deadline_store.list_deadlines(session, since=now - deadlines.STATUS_PAST):
        if within and not any(row.unit_path.startswith(p) for p in within):
            continue
        span = deadlines.parse_span(row.period)
        lines.append(
            msg(
                locale,
                "deadline_list_row",
                id=row.id,
                unit=row.unit_name,
                what=deadlines.describe(row.requirement, span, locale),
                # as it applies: moved off a day off when it (or the settings) says so
                due=deadlines.format_due(
                    rules.roll(row.due_at, zone, row.move_off_days), zone, locale
                ),
                ladder=ladder_text(row.ladder, locale),
            )
        )
    for default in deadlines.current(session, now, zone, rules):
        if default.row_id is None:
            lines.append(
                msg(
                    locale,
                    "deadline_list_default",
                    what=default.describe(locale),
                    due=deadlines.format_due(default.due_at, zone, locale),
                )
            )
    return "\n".join(lines)


def deadline_command(
    session: Session,
    member_id: int,
    argument: str,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> str:
    """/deadline [list | set UNIT PERIOD REQUIREMENT DUE [LADDER] | remove N], for admins."""
    scope = admin_scope(session, member_id)
    if scope.empty:
        return msg(locale, "deadline_admins_only")
    words = argument.split()
    action = words[0].lower() if words else "list"
    try:
        if action in ("list", "列表", "查看", "ls"):
            return deadline_list(session, scope.paths, now, zone, locale, rules)
        if action in ("set", "设置", "add"):
            return _set(session, member_id, scope, words[1:], now, zone, locale, rules)
        if action in ("remove", "删除", "delete", "rm") and len(words) == 2:
            return _remove(session, member_id, scope, words[1], now, locale)
    except DeadlineError as problem:
        return problem.text(locale)
    return msg(locale, "deadline_usage")


def _set(
    session: Session,
    member_id: int,
    scope: Scope,
    words: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> str:
    request = deadlines.parse_set_words(words)
    unit = members.unit_by_key(session, request.unit_key)
    if unit is None or not scope.contains(unit.path):
        return msg(locale, "deadline_unit_not_yours", unit=request.unit_key[:30])
    due = deadlines.parse_due_for(request.due_text, request.span, zone, rules.calendar)
    result = deadlines.set_deadline(
        session,
        unit_id=unit.id,
        span=request.span,
        requirement=request.requirement,
        due_at=due,
        now=now,
        ladder=request.ladder,
        member_id=member_id,
        move_off_days=request.move_off_days,
    )
    text = msg(
        locale,
        "deadline_set_done",
        id=result.row_id,
        unit=unit.name,
        what=deadlines.describe(request.requirement, request.span, locale),
        due=deadlines.format_due(due, zone, locale),
        ladder=ladder_text(request.ladder, locale),
    )
    moved = rules.roll(due, zone, request.move_off_days)
    if moved != due:
        name = rules.calendar.holiday_name(due.astimezone(zone).date()) or msg(locale, "day_off")
        text += "\n" + msg(
            locale, "deadline_moved", holiday=name, due=deadlines.format_due(moved, zone, locale)
        )
    if result.replaced is not None:
        text += "\n" + msg(locale, "deadline_replaced", id=result.replaced)
    return text


def _remove(
    session: Session,
    member_id: int,
    scope: Scope,
    word: str,
    now: datetime,
    locale: str,
) -> str:
    number = read_number(word)
    row = deadline_store.deadline_by_id(session, number) if number is not None else None
    if row is None or row.removed_at is not None or not scope.contains(row.unit_path):
        return msg(locale, "deadline_not_found", id=word[:12])
    deadline_store.remove_deadline(session, row.id, now=now, member_id=member_id)
    return msg(locale, "deadline_removed", id=row.id)


# --- /return and the corrected entry --------------------------------------------------


def entry_to_return(
    session: Session, member_id: int, word: str, locale: str
) -> tuple[Entry | None, Reply | None]:
    """The entry a coordinator names, or the reply saying why it cannot be sent back.

    An entry that does not exist and one outside the coordinator's units get the same
    answer, so nothing is revealed.
    """
    scope = leader_scope(session, member_id)
    if scope.empty:
        return None, Reply(msg(locale, "leaders_only"))
    if not word.strip().lstrip("#＃").isdigit():
        return None, Reply(msg(locale, "return_usage"))
    number = read_number(word)
    entry = entry_store.live_entry(session, number) if number is not None else None
    if entry is None or not scope.contains(entry.unit.path):
        return None, Reply(msg(locale, "return_not_found", id=word.strip().lstrip("#＃")[:12]))
    if returns.open_return(session, entry.id) is not None:
        return None, Reply(msg(locale, "return_already", id=entry.id))
    return entry, None


def ask_reason(entry: Entry, locale: str) -> Reply:
    """Ask the coordinator why the entry goes back."""
    return Reply(msg(locale, "return_ask_reason", id=entry.id, title=entry.title))


def send_back(
    session: Session,
    coordinator: members.Person,
    entry: Entry,
    comment: str,
    now: datetime,
    locale: str,
    platform: str,
) -> Reply:
    """Return an entry with a comment; the reporter is told through the outbox."""
    if len(comment) > COMMENT_LIMIT:
        return Reply(msg(locale, "bad_text_too_long", length=len(comment), limit=COMMENT_LIMIT))
    return_id = returns.add_return(session, entry.id, entry.revision, comment, coordinator.id, now)
    reporter = entry.member
    notice = Reply(
        msg(
            reporter.locale,
            "return_notice",
            name=reporter.name,
            id=entry.id,
            title=entry.title,
            by=coordinator.name,
            comment=comment,
        ),
        (
            Choice(
                msg(reporter.locale, "return_button_edit", id=entry.id),
                f"/edit {entry.id}",
                f"/edit {entry.id}",
            ),
        ),
    )
    queue_for_member(
        session,
        reporter.id,
        key=f"return:{return_id}",
        kind="returned",
        replies=[notice],
        now=now,
        prefer=platform,
    )
    return Reply(msg(locale, "return_done", id=entry.id, name=reporter.name))


def after_edit(
    session: Session, entry: Entry, editor: members.Person, now: datetime, platform: str
) -> str | None:
    """A returned entry was saved again: close the return and send the new version back."""
    pending = returns.open_return(session, entry.id)
    if pending is None:
        return None
    returns.resolve_return(session, pending.id, entry.revision, now)
    coordinator = members.member_by_id(session, pending.returned_by)
    assert coordinator is not None
    update = Reply(
        msg(
            coordinator.locale,
            "return_resubmitted",
            name=editor.name,
            id=entry.id,
            revision=entry.revision,
            line=entry_line(entry, unit=True, reporter=True),
        )
    )
    queue_for_member(
        session,
        coordinator.id,
        key=f"revised:{pending.id}:{entry.revision}",
        kind="revised",
        replies=[update],
        now=now,
        prefer=platform,
    )
    return msg(editor.locale, "return_reporter_note", by=coordinator.name)


def entries_reply(session: Session, scope: Scope, locale: str, *, buttons: bool) -> Reply:
    """/entries: the latest entries, returned ones marked, with a return button each."""
    entries = coordination.recent_entries(session, scope)
    returned = returns.returned_entry_ids(session, [e.id for e in entries])
    hint = msg(locale, "entries_return_hint")
    # as many of the newest as make one message (long titles in a district's list)
    reserve = len(hint.encode()) + 1 if buttons else 0
    entries = coordination.entries_that_fit(entries, locale, returned, reserve=reserve)
    text = coordination.entries_text(entries, locale, returned)
    open_ones = [e for e in entries if e.id not in returned]
    if not buttons or not open_ones:
        return Reply(text)
    choices = tuple(
        Choice(msg(locale, "entries_return_button", id=e.id), f"/return {e.id}") for e in open_ones
    )
    return Reply(text + "\n" + hint, choices)

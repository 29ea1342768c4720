"""What coordinators ask for in chat: who has reported, and the latest entries of their units."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import jobs
from bot.core import status_overview
from bot.core.figures import entry_line
from bot.core.messages import text as msg
from bot.core.scope import Scope
from bot.core.status_overview import ONE_MESSAGE_BYTES, fits_one_message
from bot.core.types import Reply
from bot.reminders.deadlines import PUBLIC_RULES, DayRules
from bot.reminders.ladder import status_lines
from storage import entries as entry_store
from storage import members as member_store
from storage.models import Entry

RECENT_LIMIT = 10


def month_bounds(today: date) -> tuple[date, date]:
    """The first day of this month and of the next."""
    first = today.replace(day=1)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return first, following


def status_text(session: Session, scope: Scope, today: date, locale: str) -> str:
    """Per unit in scope: who reported an activity this month, who has not.

    People are listed by name, whatever they reported: the 基层减负 rules forbid ranking
    staff, and a list sorted by count would be one."""
    first, following = month_bounds(today)
    units = member_store.units_within(session, scope.paths)
    staff = member_store.staff_within(session, scope.paths)
    counts = entry_store.counts_by_person(session, [u.id for u in units], first, following)
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)
    # by name (then id), in Python: the same order on every database, whatever the counts
    for unit_id, member_id, name in sorted(staff, key=lambda row: (row[2], row[1])):
        people[unit_id].append((member_id, name))
    lines = [msg(locale, "status_header", month=first.month)]
    shown = 0
    for unit in units:
        members = people.get(unit.id, [])
        if not members:
            continue
        shown += 1
        done = [(n, counts.get((unit.id, m), 0)) for m, n in members]
        reported = [(n, c) for n, c in done if c]
        missing = [n for n, c in done if not c]
        lines.append(
            msg(locale, "status_unit", unit=unit.name, done=len(reported), total=len(members))
        )
        if reported:
            lines.append(
                "  ✅ "
                + "、".join(msg(locale, "status_count", name=n, count=c) for n, c in reported)
            )
        if missing:
            lines.append("  ⏳ " + "、".join(missing))
    if not shown:
        return msg(locale, "status_no_staff")
    return "\n".join(lines)


def recent_entries(session: Session, scope: Scope) -> Sequence[Entry]:
    """The latest live entries of the units in scope, newest first."""
    return entry_store.recent_within(session, scope.paths, RECENT_LIMIT)


def entries_that_fit(
    entries: Sequence[Entry],
    locale: str,
    returned: Collection[int] = frozenset(),
    *,
    reserve: int = 0,
) -> Sequence[Entry]:
    """The newest of `entries` whose list, with `reserve` bytes more, is one message.

    (The newest one at least, however long.)"""
    budget = ONE_MESSAGE_BYTES - reserve
    for count in range(len(entries), 1, -1):
        if len(entries_text(entries[:count], locale, returned).encode()) <= budget:
            return entries[:count]
    return entries[:1]


def entries_text(
    entries: Sequence[Entry], locale: str, returned: Collection[int] = frozenset()
) -> str:
    """Entries one a line, with figures and reporter; those sent back for correction marked."""
    if not entries:
        return msg(locale, "entries_none")
    lines = [msg(locale, "entries_header", count=len(entries))]
    for entry in entries:
        mark = msg(locale, "entries_returned_mark") if entry.id in returned else ""
        lines.append(entry_line(entry, unit=True, reporter=True) + mark)
    return "\n".join(lines)


def status_report(
    session: Session,
    scope: Scope,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> str:
    """/status: this month's reporting, then each current deadline and undelivered messages."""
    month = status_text(session, scope, now.astimezone(zone).date(), locale)
    return "\n".join([month, *status_lines(session, scope.paths, now, zone, locale, rules)])


#: Above this many staff the detailed /status cannot be one message: it names each of them,
#: every name with a separator takes 3 bytes at least.
DETAIL_STAFF = ONE_MESSAGE_BYTES // 3


def staff_count(session: Session, scope: Scope) -> int:
    """How many staff roles the units in scope hold (one COUNT)."""
    return member_store.staff_count_within(session, scope.paths)


def status_reply(
    session: Session,
    scope: Scope,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> tuple[Reply, date | None]:
    """/status in one message: every name when that fits (a community, a small street);
    otherwise a line per unit below (bot.core.status_overview), whose full list as .xlsx follows
    from a job: then the month it lists too (`request_list` records that job)."""
    if staff_count(session, scope) <= DETAIL_STAFF:
        text = status_report(session, scope, now, zone, locale, rules)
        if fits_one_message(text):
            return Reply(text), None
    first, following = month_bounds(now.astimezone(zone).date())
    text = status_overview.overview_text(session, scope, first, following, now, zone, locale, rules)
    return Reply(text), first


def request_list(
    session: Session,
    reply: Reply,
    scope: Scope,
    month: date,
    *,
    member: tuple[int, str],
    in_group: bool,
    asked: datetime,
    now: datetime,
    zone: ZoneInfo,
    platform: str,
    locale: str,
) -> Reply:
    """Record the job that sends /status's full list to the asker (bot.jobs), in the
    message's transaction. Asked in a group, the list (it names everyone) goes to the
    asker's private chat, as /summary's document does: the last line says so.

    `member` is the asker's (id, name); `asked` the time the short answer counted at."""
    member_id, name = member
    if in_group and not member_store.accounts(session, member_id):
        note = msg(locale, "overview_file_no_private_chat", name=name)
    else:
        jobs.request_status_list(
            session,
            member_id=member_id,
            paths=scope.paths,
            month=month,
            asked=asked,
            zone=zone,
            platform=platform,
            locale=locale,
            now=now,
        )
        if not in_group:
            return reply  # its last line says the list follows
        note = msg(locale, "overview_list_privately", name=name)
    # the last line of a long answer says where the list goes
    return Reply(reply.text.rpartition("\n")[0] + "\n" + note)

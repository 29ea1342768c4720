"""/status for a coordinator of many people: one line per unit below, the full list as .xlsx.

A district's /status used to name every person: with 10,000 staff that was 39 Telegram
messages. For a scope whose detailed answer does not fit one message, the answer here is one
message: the month in one line, each current deadline in one line (①, ②), then a line per
unit one level below the coordinator's (streets for a district, communities for a street)
with its units and people, who reported and who still owes (a count and a few names), this
month's activities and each deadline's done/held. The full list follows as a document made
by a job after the message's commit (bot.jobs, `status_list`): one sheet that lists every
unit and person, who owes each deadline, and their entries of the month, titled with the
time it was made (the short answer is counted in the message's transaction, the list in the
worker's read-only snapshot a moment later).

Units keep the fixed order of the organisation (the order they were set up in: their ids
along the path), never an order by how well they report (基层减负: no rankings).
Everything is counted in SQL (GROUP BY); only the rows the document lists are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core.messages import text as msg
from bot.core.scope import Scope
from bot.core.types import Document, Reply
from bot.reminders import deadlines
from bot.reminders.deadlines import PUBLIC_RULES, DayRules
from bot.reminders.ladder import PROBLEMS_SINCE, coverage_of, friendly_reason, time_left
from bot.summary.sheet import Column, Value, write_sheet
from storage import deadlines as deadline_store
from storage import entries, members, outbox
from storage.models import OutboxStatus

#: The longest text that is one message on every platform: WeCom cuts a text at 2048 UTF-8
#: bytes (bot.channels.wecom.adapter.TEXT_LIMIT); Telegram at 4096 characters, never fewer bytes.
ONE_MESSAGE_BYTES: Final = 2048
#: Names shown of those who still owe, per line; the document has them all.
OWED_NAMES: Final = 3
XLSX_MIME: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def fits_one_message(text: str) -> bool:
    """Whether `text` goes out as one message on every platform."""
    return len(text.encode()) <= ONE_MESSAGE_BYTES


def tree_key(path: str) -> tuple[int, ...]:
    """The fixed order of the organisation: "/1/10/" after "/1/9/" (ids in creation order)."""
    return tuple(int(part) for part in path.strip("/").split("/") if part)


@dataclass(slots=True)
class Person:
    """A staff member of a unit and how many entries they reported this month."""

    member_id: int
    name: str
    count: int


@dataclass(slots=True)
class UnitTally:
    """One unit in scope: its staff and this month's activities."""

    id: int
    name: str
    path: str
    group: str  # path of the line it is counted in
    people: list[Person] = field(default_factory=list)
    activities: int = 0

    @property
    def reported(self) -> int:
        return sum(1 for p in self.people if p.count)


@dataclass(slots=True)
class Group:
    """A line of the short answer: a unit one level below the scope, with its subtree."""

    path: str
    name: str
    units: list[UnitTally] = field(default_factory=list)
    own_level: bool = False  # the scope's own unit, its staff only

    @property
    def sub_units(self) -> int:
        """Units below it (0 for a community, or for a scope's own staff)."""
        return sum(1 for u in self.units if u.path != self.path)

    @property
    def staff(self) -> int:
        return sum(len(u.people) for u in self.units)

    @property
    def reported(self) -> int:
        return sum(u.reported for u in self.units)

    @property
    def activities(self) -> int:
        return sum(u.activities for u in self.units)

    def owing(self) -> list[str]:
        """Names of those who have not reported, unit by unit in the fixed order."""
        return [p.name for u in self.units for p in u.people if not p.count]


@dataclass(slots=True)
class DeadlineTally:
    """A current deadline: what, when, and how each unit in scope stands with it."""

    what: str  # 2026年6月活动记录
    due: str  # 2026年7月5日（周日）18:00
    left: str  # 还有 11 天 / 已截止
    standings: list[deadline_store.UnitStanding]
    muted: dict[int, date | None]

    def tally(self, key: Callable[[str], str]) -> dict[str, tuple[int, int]]:
        """(met, held) summed by `key` of the unit's path: per unit, or per line."""
        found: dict[str, tuple[int, int]] = {}
        for unit in self.standings:
            done, held = found.get(key(unit.unit_path), (0, 0))
            met = unit.total - len(unit.missing)
            found[key(unit.unit_path)] = (done + met, held + unit.total)
        return found


@dataclass(slots=True)
class Overview:
    """Everything /status says about a scope, counted once for the text and the document."""

    first: date
    following: date
    units: list[UnitTally]
    groups: list[Group]
    deadlines: list[DeadlineTally]
    failed: list[outbox.Problem]
    uncertain: int
    group_of: dict[str, str]  # unit path -> group path

    @property
    def staff(self) -> int:
        return sum(g.staff for g in self.groups)

    @property
    def reported(self) -> int:
        return sum(g.reported for g in self.groups)

    @property
    def activities(self) -> int:
        return sum(g.activities for g in self.groups)


def _group_path(path: str, roots: Sequence[str]) -> str:
    """The unit one level below the scope's root that `path` lies in (the root itself)."""
    root = next(r for r in roots if path.startswith(r))
    rest = path[len(root) :].strip("/")
    return root if not rest else root + rest.split("/")[0] + "/"


def gather(
    session: Session,
    scope: Scope,
    first: date,
    following: date,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> Overview:
    """Count the scope's units, staff, entries of the month and deadlines (grouped SQL)."""
    roots = sorted(scope.paths, key=tree_key)
    units = sorted(
        (
            UnitTally(u.id, u.name, u.path, _group_path(u.path, roots))
            for u in members.units_within(session, scope.paths)
        ),
        key=lambda u: tree_key(u.path),
    )
    by_id = {u.id: u for u in units}
    names = {u.path: u.name for u in units}
    counts = entries.counts_by_person(session, [u.id for u in units], first, following)
    for (unit_id, _member_id), count in counts.items():
        by_id[unit_id].activities += count
    staff = members.staff_within(session, scope.paths)
    # by name (then id), in Python: the same order on every database, whatever the counts
    for unit_id, member_id, name in sorted(staff, key=lambda row: (row[2], row[1])):
        by_id[unit_id].people.append(Person(member_id, name, counts.get((unit_id, member_id), 0)))
    groups: dict[str, Group] = {}
    for unit in units:
        group = groups.get(unit.group)
        if group is None:
            # a root of the scope with units below gets a line of its own staff: 示范区本级
            own = unit.group in roots and any(
                u.path != unit.group and u.path.startswith(unit.group) for u in units
            )
            name = names[unit.group]
            if own:
                name = msg(locale, "overview_own_level", unit=name)
            group = groups[unit.group] = Group(unit.group, name, own_level=own)
        group.units.append(unit)
    problems = outbox.delivery_problems(session, scope.paths, now - PROBLEMS_SINCE)
    return Overview(
        first=first,
        following=following,
        units=units,
        groups=list(groups.values()),  # units were in the fixed order, so are their groups
        deadlines=_deadlines(session, scope, now, zone, locale, rules),
        failed=[p for p in problems if p.status is OutboxStatus.FAILED],
        uncertain=sum(1 for p in problems if p.status is OutboxStatus.UNCERTAIN),
        group_of={u.path: u.group for u in units},
    )


def _deadlines(
    session: Session, scope: Scope, now: datetime, zone: ZoneInfo, locale: str, rules: DayRules
) -> list[DeadlineTally]:
    today = now.astimezone(zone).date()
    found = []
    for deadline in deadlines.current(session, now, zone, rules):
        standings = deadline_store.standing(session, coverage_of(deadline), scope.paths)
        if not standings:
            continue
        left = (
            time_left(deadline.due_at, now, locale)
            if deadline.due_at > now
            else msg(locale, "status_passed")
        )
        due = deadlines.format_due(deadline.due_at, zone, locale)
        muted = members.muted_members(session, deadline.ref, today)
        found.append(DeadlineTally(deadline.describe(locale), due, left, standings, muted))
    return found


# --- the short answer ---------------------------------------------------------------------


MARKS: Final = "①②③④⑤⑥⑦⑧⑨⑩"


def _join(names: Iterable[str], locale: str) -> str:
    return (", " if locale == "en" else "、").join(names)


def _owed(names: Sequence[str], locale: str, shown: int) -> str:
    """（王一、王二、王三等）: the first `shown` names; the count is on the line already."""
    if not names or not shown:
        return ""
    more = len(names) > shown
    key = "overview_names_more" if more else "overview_names"
    return msg(locale, key, names=_join(names[:shown], locale))


def _size(group: Group, locale: str) -> str:
    if group.sub_units:
        return msg(locale, "overview_size", units=group.sub_units, staff=group.staff)
    return msg(locale, "overview_size_people", staff=group.staff)


def _mark(overview: Overview, index: int) -> str:
    """① ② … when there are several deadlines, nothing for one."""
    return MARKS[index % len(MARKS)] if len(overview.deadlines) > 1 else ""


def _group_line(overview: Overview, group: Group, locale: str, names: int) -> str | None:
    """第1街道（10 个单位，1000 人）：已报 334，未报 666（…等）；活动 446 条；截止已完成 …"""
    states = []
    for index, deadline in enumerate(overview.deadlines):
        tally = deadline.tally(overview.group_of.__getitem__).get(group.path)
        if tally is not None:
            states.append(f"{_mark(overview, index)}{tally[0]}/{tally[1]}")
    due = msg(locale, "overview_group_due", states=" ".join(states)) if states else ""
    if not group.staff:
        if group.own_level and not group.activities and not states:
            return None  # nobody works at the district's own level: nothing to say
        return msg(
            locale, "overview_group_empty", name=group.name, activities=group.activities, due=due
        )
    owing = group.owing()
    return msg(
        locale,
        "overview_group",
        name=group.name,
        size=_size(group, locale),
        done=group.reported,
        owed=len(owing),
        names=_owed(owing, locale, names),
        activities=group.activities,
        due=due,
    )


def _failed_people(overview: Overview) -> list[outbox.Problem]:
    """One problem per person, the newest (delivery_problems lists newest first)."""
    seen: set[int] = set()
    kept = []
    for problem in overview.failed:
        if problem.member_id not in seen:
            seen.add(problem.member_id)
            kept.append(problem)
    return kept


def _head(overview: Overview, locale: str) -> list[str]:
    """The month in one line, then each current deadline in one line (①, ② …)."""
    lines = [
        msg(
            locale,
            "overview_header",
            month=overview.first.month,
            staff=overview.staff,
            done=overview.reported,
            owed=overview.staff - overview.reported,
            activities=overview.activities,
        )
    ]
    for index, deadline in enumerate(overview.deadlines):
        done = sum(u.total - len(u.missing) for u in deadline.standings)
        held = sum(u.total for u in deadline.standings)
        quiet = sum(1 for u in deadline.standings for i, _ in u.missing if i in deadline.muted)
        lines.append(
            msg(
                locale,
                "overview_deadline",
                mark=_mark(overview, index),
                what=deadline.what,
                due=deadline.due,
                left=deadline.left,
                done=done,
                total=held,
                muted=msg(locale, "overview_muted", count=quiet) if quiet else "",
            )
        )
    return lines


def _tail(overview: Overview, locale: str, filename: str) -> list[str]:
    """Who the bot cannot reach (a count and a few names), then where the full list is."""
    lines = []
    failed = _failed_people(overview)
    if failed:
        names = _owed([p.name for p in failed], locale, OWED_NAMES)
        lines.append(msg(locale, "overview_failed", count=len(failed), names=names))
    if overview.uncertain:
        lines.append(msg(locale, "status_uncertain", count=overview.uncertain))
    lines.append(msg(locale, "overview_list_later", filename=filename))  # bot.jobs makes it
    return lines


def short_text(overview: Overview, locale: str, filename: str) -> str:
    """The answer in one message: a line per group, with as many names as fit."""
    head, tail = _head(overview, locale), _tail(overview, locale, filename)
    body: list[str] = []
    for names in range(OWED_NAMES, -1, -1):  # fewer names while it is too long
        body = [line for g in overview.groups if (line := _group_line(overview, g, locale, names))]
        text = "\n".join([*head, *body, *tail])
        if fits_one_message(text):
            return text
    # Still too long (a scope with very many units below it): the first lines, then a count.
    kept: list[str] = []
    for number, line in enumerate(body):
        more = msg(locale, "overview_list_more", count=len(body) - number)
        if not fits_one_message("\n".join([*head, *kept, line, more, *tail])):
            return "\n".join([*head, *kept, more, *tail])
        kept.append(line)
    return "\n".join([*head, *kept, *tail])  # pragma: no cover - it did not fit above


# --- the document -------------------------------------------------------------------------


def _columns(locale: str, key: str) -> list[str]:
    return msg(locale, key).split("|")


def workbook(
    session: Session, overview: Overview, zone: ZoneInfo, locale: str, made: datetime
) -> bytes:
    """The full list as .xlsx, one sheet a coordinator can filter on a phone: a row per
    person and unit (staff by name; then others who reported there or owe a deadline there),
    whether they reported this month and how often, a column per deadline saying who has not
    met it, who the bot cannot reach, and their entries of the month. Units in the fixed
    order; a community nobody has joined gets a row saying so.

    Streamed by bot.summary.sheet (text that looks like a formula stays text, as
    bot.summary.spreadsheet asks); the month's entries are read as plain rows. The sheet's title
    says when it was `made` (截至…): a list made after the short answer counts what arrived
    in between."""
    names = [*_columns(locale, "overview_cols_people")]
    names += [msg(locale, "overview_col_owes", what=d.what) for d in overview.deadlines]
    names += _columns(locale, "overview_cols_more")
    widths = [14.0, 18.0, 10.0, 8.0, 8.0, *(16.0 for _ in overview.deadlines), 18.0, 60.0]
    columns = [Column(name, width) for name, width in zip(names, widths, strict=True)]
    title = msg(locale, "overview_list_sheet", month=overview.first.month, **_as_of(made, zone))
    return write_sheet(title, columns, _rows(session, overview, zone, locale))


def _as_of(made: datetime, zone: ZoneInfo) -> dict[str, object]:
    local = made.astimezone(zone)
    return {
        "as_month": local.month,
        "day": local.day,
        "hour": f"{local.hour:02d}",
        "minute": f"{local.minute:02d}",
    }


def _rows(
    session: Session, overview: Overview, zone: ZoneInfo, locale: str
) -> Iterator[list[Value]]:
    owes: list[dict[tuple[int, int], str]] = []
    others: dict[int, dict[int, str]] = defaultdict(dict)  # unit -> member -> name, not staff
    for deadline in overview.deadlines:
        owing = {}
        for standing in deadline.standings:
            for member_id, name in standing.missing:
                key = "overview_owes_muted" if member_id in deadline.muted else "overview_owes"
                owing[(standing.unit_id, member_id)] = msg(locale, key)
                others[standing.unit_id][member_id] = name
        owes.append(owing)
    unreachable = {}
    for problem in _failed_people(overview):
        when = problem.created_at.astimezone(zone)
        unreachable[problem.member_id] = msg(
            locale,
            "overview_unreachable",
            reason=friendly_reason(problem.error, problem.status, locale),
            month=when.month,
            day=when.day,
        )
    written: dict[tuple[int, int], list[str]] = defaultdict(list)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for unit_id, member_id, name, entry_id, start, area, text in _entries(session, overview):
        day = msg(locale, "overview_day", month=start.month, day=start.day)
        written[(unit_id, member_id)].append(f"#{entry_id} {day} {area}｜{text}")
        counts[(unit_id, member_id)] += 1
        others[unit_id][member_id] = name
    done, owed = msg(locale, "overview_reported"), msg(locale, "overview_not_reported")
    nobody = msg(locale, "overview_nobody")
    group_names = {g.path: g.name for g in overview.groups}
    parents = {u.path.rsplit("/", 2)[0] + "/" for u in overview.units}
    placed: set[int] = set()

    def row(unit: UnitTally, member_id: int, name: str, state: str | None) -> list[Value]:
        placed.add(member_id)
        pair = (unit.id, member_id)
        count = counts.get(pair, 0) if state is not None or pair in counts else None
        return [
            group_names[unit.group],
            unit.name,
            name,
            count,
            state,
            *(o.get(pair) for o in owes),
            unreachable.get(member_id),
            "\n".join(written.get(pair, ())) or None,
        ]

    for unit in overview.units:
        staff = {p.member_id for p in unit.people}
        for person in unit.people:
            yield row(unit, person.member_id, person.name, done if person.count else owed)
        rest = [(n, m) for m, n in others.get(unit.id, {}).items() if m not in staff]
        for name, member_id in sorted(rest):  # a coordinator's own report, or review
            yield row(unit, member_id, name, None)
        if not staff and not rest and unit.path not in parents:
            empty: list[Value] = [group_names[unit.group], unit.name, None, None, nobody]
            yield empty + [None] * (len(owes) + 2)
    for problem in _failed_people(overview):  # reached through a unit not listed here
        if problem.member_id not in placed:
            blank: list[Value] = [None] * (5 + len(owes))
            blank[2] = problem.name
            yield [*blank, unreachable[problem.member_id], None]


def _entries(
    session: Session, overview: Overview
) -> list[tuple[int, int, str, int, date, str, str]]:
    """The month's live entries of the units, as plain rows, in the units' fixed order and
    by date: (unit id, member id, member name, entry id, first day, area, title)."""
    order = {u.id: n for n, u in enumerate(overview.units)}
    found = entries.month_rows(session, list(order), overview.first, overview.following)
    found.sort(key=lambda r: (order[r[0]], r[4], r[3]))
    return found


def filename(first: date, locale: str) -> str:
    """上报情况_2026-06.xlsx."""
    return msg(locale, "overview_filename", year=first.year, month=f"{first.month:02d}")


def overview_text(
    session: Session,
    scope: Scope,
    first: date,
    following: date,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> str:
    """/status of a large scope: the short answer; its last line says the full list follows
    (bot.jobs makes it after the message's commit: `full_list`)."""
    overview = gather(session, scope, first, following, now, zone, locale, rules)
    return short_text(overview, locale, filename(first, locale))


def full_list(
    session: Session,
    scope: Scope,
    first: date,
    asked: datetime,
    made: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> Reply:
    """The full list of /status as its document, counted as `overview_text` counts (the
    deadlines current when it was `asked`), from what the session sees at `made`."""
    following = (first + timedelta(days=32)).replace(day=1)
    overview = gather(session, scope, first, following, asked, zone, locale, rules)
    name = filename(first, locale)
    content = workbook(session, overview, zone, locale, made)
    text = msg(locale, "overview_list_ready", month=first.month, **_as_of(made, zone))
    return Reply(text, document=Document(name, content, XLSX_MIME))

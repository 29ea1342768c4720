"""Deadlines, and who has met them.

Who still owes something is a few set-based queries per deadline and batch of members (a
range of member ids, `member_batches`), never a query per member.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from storage._sql import SEPARATOR, aggregate
from storage.models import (
    Deadline,
    Entry,
    Member,
    Reflection,
    Requirement,
    RoleGrant,
    RoleName,
    Unit,
)


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """A stored deadline with its unit."""

    id: int
    unit_id: int
    unit_name: str
    unit_path: str
    period: str
    requirement: Requirement
    due_at: datetime
    ladder: list[int] | None
    skip_weekends: bool | None
    created_at: datetime
    removed_at: datetime | None
    move_off_days: bool | None = None


def _deadline_rows(session: Session, condition: ColumnElement[bool]) -> list[DeadlineRow]:
    rows = session.execute(
        select(
            Deadline.id,
            Deadline.unit_id,
            Unit.name,
            Unit.path,
            Deadline.period,
            Deadline.requirement,
            Deadline.due_at,
            Deadline.ladder,
            Deadline.skip_weekends,
            Deadline.created_at,
            Deadline.removed_at,
            Deadline.move_off_days,
        )
        .join(Unit, Unit.id == Deadline.unit_id)
        .where(condition)
        .order_by(Deadline.due_at, Deadline.id)
    ).all()
    return [
        DeadlineRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            None if r[7] is None else [int(x) for x in r[7]],
            r[8],
            r[9],
            r[10],
            r[11],
        )
        for r in rows
    ]


def live_deadlines(
    session: Session, *, periods: Sequence[str], due_from: datetime, due_to: datetime
) -> list[DeadlineRow]:
    """Live deadlines of these periods, or of any period that has one due in the window.

    Every row of such a period comes back, whatever its due time, since a row on a unit
    takes that subtree out of a wider deadline for the same thing.
    """
    in_window = select(Deadline.period).where(
        Deadline.removed_at.is_(None), Deadline.due_at >= due_from, Deadline.due_at <= due_to
    )
    return _deadline_rows(
        session,
        and_(
            Deadline.removed_at.is_(None),
            or_(Deadline.period.in_(list(periods)), Deadline.period.in_(in_window)),
        ),
    )


def list_deadlines(
    session: Session, *, unit_path: str | None = None, since: datetime | None = None
) -> list[DeadlineRow]:
    """Deadlines on units under `unit_path` (all units by default), due since `since`."""
    condition: ColumnElement[bool] = true()
    if unit_path is not None:
        condition = and_(condition, Unit.path.startswith(unit_path))
    if since is not None:
        condition = and_(condition, Deadline.removed_at.is_(None), Deadline.due_at >= since)
    return _deadline_rows(session, condition)


def deadline_by_id(session: Session, deadline_id: int) -> DeadlineRow | None:
    """One deadline, removed or not."""
    found = _deadline_rows(session, Deadline.id == deadline_id)
    return found[0] if found else None


def add_deadline(
    session: Session,
    *,
    unit_id: int,
    period: str,
    requirement: Requirement,
    due_at: datetime,
    ladder: list[int] | None,
    skip_weekends: bool | None,
    member_id: int | None,
    now: datetime,
    move_off_days: bool | None = None,
) -> int:
    """Store a deadline; return its id."""
    row = Deadline(
        unit_id=unit_id,
        period=period,
        requirement=requirement,
        due_at=due_at,
        ladder=ladder,
        skip_weekends=skip_weekends,
        move_off_days=move_off_days,
        created_by=member_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def remove_deadline_for(
    session: Session,
    unit_id: int,
    period: str,
    requirement: Requirement,
    *,
    now: datetime,
    member_id: int | None,
) -> int | None:
    """Remove a unit's own live deadline for a requirement and period; its id if there was one."""
    found = session.scalars(
        select(Deadline.id)
        .where(
            Deadline.unit_id == unit_id,
            Deadline.period == period,
            Deadline.requirement == requirement,
            Deadline.removed_at.is_(None),
        )
        .with_for_update()
    ).first()
    if found is not None:
        remove_deadline(session, found, now=now, member_id=member_id)
    return found


def remove_deadline(
    session: Session, deadline_id: int, *, now: datetime, member_id: int | None
) -> bool:
    """Mark a deadline removed (kept for the record); False if there is no live one."""
    done = session.execute(
        update(Deadline)
        .where(Deadline.id == deadline_id, Deadline.removed_at.is_(None))
        .values(removed_at=now, removed_by=member_id)
    )
    return bool(getattr(done, "rowcount", 0))


# --- who has met a deadline --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which units a deadline holds, what it asks and for which period, in plain values."""

    requirement: Requirement
    roles: tuple[RoleName, ...]
    period: str
    first_day: date
    end_day: date  # exclusive
    unit_path: str  # "" for all units
    excluded: tuple[str, ...]

    def units(self) -> ColumnElement[bool]:
        """SQL: the units covered."""
        inside = Unit.path.startswith(self.unit_path) if self.unit_path else true()
        if not self.excluded:
            return inside
        return and_(inside, not_(or_(*(Unit.path.startswith(p) for p in self.excluded))))

    def met(self, batch: Batch | None = None) -> ColumnElement[bool]:
        """SQL, correlated to a role grant: its holder has done what is asked. With a
        `batch`, the rows looked at are the batch's members' only (so a planner that reads
        them all at once, to join, reads those of the batch, by the member index)."""
        if self.requirement is Requirement.REFLECTION:
            return exists().where(
                Reflection.member_id == RoleGrant.member_id,
                Reflection.period == self.period,
                Reflection.added_in_review.is_(False),
                *_within(Reflection.member_id, batch),
            )
        return exists().where(
            Entry.member_id == RoleGrant.member_id,
            Entry.unit_id == RoleGrant.unit_id,
            Entry.deleted_at.is_(None),
            Entry.start_date >= self.first_day,
            Entry.start_date < self.end_day,
            *_within(Entry.member_id, batch),
        )


Batch = tuple[int, int]  # members by id: above the first, up to and including the second


def _within(column: Any, batch: Batch | None) -> list[ColumnElement[bool]]:
    """SQL: the member id in `column` is in the batch (nothing without one)."""
    if batch is None:
        return []
    return [column > batch[0], column <= batch[1]]


@dataclass(frozen=True, slots=True)
class UnitStanding:
    """How a unit stands with a deadline: how many are held to it, who has not met it."""

    unit_id: int
    unit_name: str
    unit_path: str
    total: int
    missing: list[tuple[int, str]]  # (member id, name), by name


def standing(
    session: Session,
    coverage: Coverage,
    within: Sequence[str] = (),
    batch: Batch | None = None,
) -> list[UnitStanding]:
    """Per covered unit (optionally only in subtrees `within`, only of a `batch` of
    members): everyone held to the deadline and who has not met it. One grouped query,
    whatever the number of people (`merge_standing` adds up the parts of a batched one)."""
    condition = and_(coverage.units(), RoleGrant.role.in_(coverage.roles))
    if within:
        condition = and_(condition, or_(*(Unit.path.startswith(p) for p in within)))
    if batch is not None:
        # the members' range too: PostgreSQL otherwise read every member for each batch
        condition = and_(condition, in_batch(batch), *_within(Member.id, batch))
    people = (
        select(
            RoleGrant.unit_id.label("unit_id"),
            RoleGrant.member_id.label("member_id"),
            Member.name.label("name"),
            coverage.met(batch).label("met"),
        )
        .select_from(RoleGrant)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .join(Member, Member.id == RoleGrant.member_id)
        .where(condition)
        .distinct()
        .subquery("people")
    )
    missing = case(
        (
            not_(people.c.met),
            sql_cast(people.c.member_id, String) + literal(":", String) + people.c.name,
        ),
        else_=null(),
    )
    rows = session.connection().execute(
        select(Unit.id, Unit.name, Unit.path, func.count(), aggregate(session, missing))
        .select_from(people)
        .join(Unit, Unit.id == people.c.unit_id)
        .group_by(Unit.id, Unit.name, Unit.path)
        .order_by(Unit.path)
    )
    found = []
    for unit_id, name, path, total, joined in rows:
        pairs = [item.partition(":") for item in (joined or "").split(SEPARATOR) if item]
        owed = sorted(((int(i), n) for i, _, n in pairs), key=lambda p: (p[1], p[0]))
        found.append(UnitStanding(unit_id, name, path, int(total), owed))
    return found


def merge_standing(parts: Iterable[Sequence[UnitStanding]]) -> list[UnitStanding]:
    """The standing of all members from the standings of batches of them."""
    first: dict[int, UnitStanding] = {}
    totals: Counter[int] = Counter()
    missing: dict[int, list[tuple[int, str]]] = {}
    for part in parts:
        for unit in part:
            first.setdefault(unit.unit_id, unit)
            totals[unit.unit_id] += unit.total
            missing.setdefault(unit.unit_id, []).extend(unit.missing)
    merged = [
        UnitStanding(
            u.unit_id,
            u.unit_name,
            u.unit_path,
            totals[u.unit_id],
            sorted(missing[u.unit_id], key=lambda p: (p[1], p[0])),
        )
        for u in first.values()
    ]
    return sorted(merged, key=lambda u: u.unit_path)


def in_batch(batch: Batch) -> ColumnElement[bool]:
    """SQL, on role grants: the holder's id is in the batch (a range of the member index)."""
    return and_(*_within(RoleGrant.member_id, batch))


def member_batches(session: Session, size: int) -> list[Batch]:
    """Ranges of `size` member ids covering every role grant: a fan-out goes through them
    one by one, each in a short transaction of its own (`queue_fanout`). Two index
    lookups, whatever the number of people (min and max apart: together, SQLite read the
    whole index)."""
    low, high = (
        session.connection()
        .execute(
            select(
                select(func.min(RoleGrant.member_id)).scalar_subquery(),
                select(func.max(RoleGrant.member_id)).scalar_subquery(),
            )
        )
        .one()
    )
    if low is None:
        return []
    return [(start, start + size) for start in range(int(low) - 1, int(high), size)]


def owing_units(session: Session, coverage: Coverage, member_id: int) -> list[str]:
    """The units in which a member is held to a deadline and has not met it, by path."""
    rows = session.execute(
        select(Unit.name)
        .select_from(RoleGrant)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(
            RoleGrant.member_id == member_id,
            coverage.units(),
            RoleGrant.role.in_(coverage.roles),
            not_(coverage.met()),
        )
        .distinct()
        .order_by(Unit.name)
    ).all()
    return [r[0] for r in rows]


def held_members(session: Session, coverage: Coverage) -> set[int]:
    """Everyone held to a deadline (met or not)."""
    rows = session.execute(
        select(RoleGrant.member_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(coverage.units(), RoleGrant.role.in_(coverage.roles))
        .distinct()
    ).all()
    return {int(r[0]) for r in rows}

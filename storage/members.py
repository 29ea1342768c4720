"""Members and units: joining (`join`, the one way a member is made), accounts, roles,
invites, the units and people of a scope as lists, the summary and the import read them; the
person behind a message with their dialog state and language; their mutes (wishes for fewer
reminders)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    ConversationState,
    Identity,
    Invite,
    Member,
    Platform,
    ReminderMute,
    RoleGrant,
    RoleName,
    Unit,
    utcnow,
)

# --- members and units -------------------------------------------------------------


_grants = cast(Table, RoleGrant.__table__)
_units = cast(Table, Unit.__table__)
# Every report starts here: a Core statement, not an ORM query with its loader options.
_REPORTING_UNITS = (
    select(_grants.c.unit_id, _units.c.name)
    .join(_units, _units.c.id == _grants.c.unit_id)
    .where(_grants.c.member_id == bindparam("member_id"))
    .order_by(_grants.c.id)
)


def reporting_units(session: Session, member_id: int) -> list[tuple[int, str]]:
    """Units a member reports for: every unit they hold a role in, without repeats."""
    seen: dict[int, str] = {}
    for unit_id, name in session.execute(_REPORTING_UNITS, {"member_id": member_id}):
        seen.setdefault(unit_id, name)
    return list(seen.items())


def accounts_of_leaders(session: Session, platform: str) -> list[tuple[str, int, str]]:
    """(account id, member id, language) of each coordinator or admin with an account here."""
    rows = session.execute(
        select(Identity.external_id, Member.id, Member.locale)
        .join(Member, Member.id == Identity.member_id)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .where(
            Identity.platform == Platform(platform),
            RoleGrant.role.in_((RoleName.COORDINATOR, RoleName.ADMIN)),
        )
        .distinct()
    ).all()
    return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def accounts(session: Session, member_id: int) -> list[tuple[str, str]]:
    """A member's (platform, account id), the most recently added first."""
    rows = session.execute(
        select(Identity.platform, Identity.external_id)
        .where(Identity.member_id == member_id)
        .order_by(Identity.id.desc())
    ).all()
    return [(Platform(r[0]).value, r[1]) for r in rows]


def member_by_id(session: Session, member_id: int) -> Member | None:
    """A member by id."""
    return session.get(Member, member_id)


def unit_by_id(session: Session, unit_id: int) -> Unit | None:
    """A unit by id."""
    return session.get(Unit, unit_id)


def add_unit(session: Session, *, code: str, name: str, kind: str, parent_id: int | None) -> Unit:
    """Store a new unit; the caller gives it its path, which needs its id."""
    unit = Unit(code=code, name=name, kind=kind, parent_id=parent_id, path="")
    session.add(unit)
    session.flush()
    return unit


def add_invite(
    session: Session,
    code: str,
    unit: Unit,
    role: RoleName,
    *,
    max_uses: int | None,
    expires_at: datetime | None,
    now: datetime,
) -> Invite:
    """Store a join code for a unit and role."""
    invite = Invite(
        code=code,
        unit=unit,
        role=role,
        max_uses=max_uses,
        uses=0,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(invite)
    session.flush()
    return invite


def unit_by_key(session: Session, key: str) -> Unit | None:
    """Find a unit by its code, or by its name when that is unique."""
    unit = session.scalars(select(Unit).where(Unit.code == key)).first()
    if unit is not None:
        return unit
    named = session.scalars(select(Unit).where(Unit.name == key)).all()
    return named[0] if len(named) == 1 else None


def unit_by_path(session: Session, path: str) -> Unit:
    """The unit with this materialised path."""
    return session.scalars(select(Unit).where(Unit.path == path)).one()


def subtree_ids(session: Session, unit: Unit) -> Select[int]:
    """A subquery of the ids of a unit and all units below it."""
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def join(
    session: Session,
    name: str,
    *,
    platform: str,
    external_id: str,
    unit_id: int,
    roles: Sequence[RoleName],
    locale: str = "zh",
) -> Person:
    """Register a person: a member with their platform account and roles in a unit (the
    one way a member is made: the join dialog, the demo, the tests)."""
    member = Member(name=name, locale=locale)
    session.add(member)
    add_identity(session, member, platform, external_id)
    session.flush()
    session.add_all(
        RoleGrant(member_id=member.id, unit_id=unit_id, role=role) for role in dict.fromkeys(roles)
    )
    session.flush()
    return Person(member.id, member.name, member.locale)


def add_identity(session: Session, member: Member, platform: str, external_id: str) -> None:
    """Attach a platform account to a member."""
    session.add(Identity(member=member, platform=Platform(platform), external_id=external_id))


def grant_role(session: Session, member_id: int, unit_id: int, role: RoleName) -> bool:
    """Give a member a role in a unit; False if they already had it."""
    existing = session.scalars(
        select(RoleGrant.id).where(
            RoleGrant.member_id == member_id, RoleGrant.unit_id == unit_id, RoleGrant.role == role
        )
    ).first()
    if existing is not None:
        return False
    session.add(RoleGrant(member_id=member_id, unit_id=unit_id, role=role))
    session.flush()
    return True


def invite_by_code(session: Session, code: str, *, lock: bool = False) -> Invite | None:
    """Find an invite by its code (case-insensitive), optionally locking its row."""
    statement = select(Invite).where(Invite.code == code.upper()).options(selectinload(Invite.unit))
    if lock:
        statement = statement.with_for_update()
    return session.scalars(statement).first()


# --- units and the people in them, as lists, the summary and the import read them ------


def within(paths: Sequence[str]) -> ColumnElement[bool]:
    """SQL, on units: the unit is in one of the subtrees given by these paths."""
    return or_(*(Unit.path.startswith(path) for path in paths))


def led_paths(session: Session, member_id: int, roles: Sequence[RoleName]) -> list[str]:
    """The paths of the units where the member holds one of these roles."""
    return list(
        session.scalars(
            select(Unit.path)
            .join(RoleGrant, RoleGrant.unit_id == Unit.id)
            .where(RoleGrant.member_id == member_id, RoleGrant.role.in_(list(roles)))
        ).all()
    )


def all_units(session: Session) -> Sequence[Unit]:
    """Every unit, in tree order."""
    return session.scalars(select(Unit).order_by(Unit.path)).all()


def units_under(session: Session, path: str) -> Sequence[Unit]:
    """The unit with this path and every unit below it."""
    return session.scalars(select(Unit).where(Unit.path.startswith(path))).all()


def unit_names_under(session: Session, path: str) -> dict[int, str]:
    """Id to name of the unit with this path and of every unit below it."""
    rows = session.execute(
        _units.select()
        .with_only_columns(_units.c.id, _units.c.name)
        .where(_units.c.path.startswith(path))
    ).all()
    return {int(unit_id): str(name) for unit_id, name in rows}


def child_units(session: Session, unit_id: int) -> list[tuple[str, str]]:
    """(name, path) of the units directly below a unit, in path order."""
    rows = session.execute(
        select(Unit.name, Unit.path).where(Unit.parent_id == unit_id).order_by(Unit.path)
    ).all()
    return [(str(name), str(path)) for name, path in rows]


def staff_names(session: Session, unit_id: int) -> list[str]:
    """Names of a unit's staff, in the order they joined."""
    rows = session.execute(
        select(Member.name)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .where(RoleGrant.unit_id == unit_id, RoleGrant.role == RoleName.STAFF)
        .order_by(RoleGrant.id)
    ).all()
    return list(dict.fromkeys(str(row[0]) for row in rows))


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit as lists show it."""

    id: int
    name: str
    path: str


def units_within(session: Session, paths: Sequence[str]) -> list[UnitRow]:
    """The units in the subtrees given by `paths`, in path order."""
    rows = session.execute(
        select(Unit.id, Unit.name, Unit.path).where(within(paths)).order_by(Unit.path)
    ).all()
    return [UnitRow(int(i), str(n), str(p)) for i, n, p in rows]


def staff_within(session: Session, paths: Sequence[str]) -> list[tuple[int, int, str]]:
    """(unit id, member id, name) of each staff role in the subtrees given by `paths`."""
    rows = session.execute(
        select(RoleGrant.unit_id, Member.id, Member.name)
        .join(Member, Member.id == RoleGrant.member_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(within(paths), RoleGrant.role == RoleName.STAFF)
    ).all()
    return [(int(u), int(m), str(n)) for u, m, n in rows]


def staff_count_within(session: Session, paths: Sequence[str]) -> int:
    """How many staff roles the units in the subtrees given by `paths` hold (one COUNT)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(RoleGrant)
            .join(Unit, Unit.id == RoleGrant.unit_id)
            .where(within(paths), RoleGrant.role == RoleName.STAFF)
        )
        or 0
    )


def roles_around(session: Session, path: str) -> list[tuple[int, str, str, RoleName]]:
    """(member id, name, unit path, role) of every role in the unit with this path, in
    the units above it and in those below it."""
    ancestors = [path[: i + 1] for i, ch in enumerate(path) if ch == "/" and i]
    rows = session.execute(
        select(Member.id, Member.name, Unit.path, RoleGrant.role)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(or_(Unit.path.in_(ancestors), Unit.path.startswith(path)))
    ).all()
    return [(int(m), str(n), str(p), RoleName(r)) for m, n, p, r in rows]


def units_named(session: Session, name: str) -> int:
    """How many units bear this name."""
    return int(session.scalar(select(func.count(Unit.id)).where(Unit.name == name)) or 0)


def shared_unit_names(session: Session) -> set[str]:
    """The unit names more than one unit bears."""
    return set(
        session.scalars(select(Unit.name).group_by(Unit.name).having(func.count() > 1)).all()
    )


def members_named(session: Session, name: str) -> Sequence[Member]:
    """The members of this name."""
    return session.scalars(select(Member).where(Member.name == name)).all()


def role_holders(
    session: Session, roles: Sequence[RoleName]
) -> list[tuple[int, str, str | None, str | None]]:
    """(member id, name, first unit path, first unit name) of everyone holding one of
    these roles."""
    rows = session.execute(
        select(Member.id, Member.name, func.min(Unit.path), func.min(Unit.name))
        .outerjoin(RoleGrant, RoleGrant.member_id == Member.id)
        .outerjoin(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.role.in_(list(roles)))
        .group_by(Member.id, Member.name)
    ).all()
    return [(int(r[0]), str(r[1]), r[2], r[3]) for r in rows]


# --- conversation state ------------------------------------------------------------
# This is the per-message path, so it uses Core statements and plain rows: no ORM
# identity map or unit-of-work flush (which cost more than the queries themselves).


@dataclass(frozen=True, slots=True)
class Person:
    """The member behind a platform account, as the conversation needs it."""

    id: int
    name: str
    locale: str


@dataclass(frozen=True, slots=True)
class DialogState:
    """A stored dialog state row."""

    id: int
    kind: str
    data: dict[str, Any]


_states = cast(Table, ConversationState.__table__)
_STATE_COLUMNS = (_states.c.id, _states.c.kind, _states.c.data)
_members = cast(Table, Member.__table__)
_identities = cast(Table, Identity.__table__)
# Table columns, not ORM attributes: a plain Core statement skips the ORM's compile path.
_PERSON_AND_STATE = (
    select(_members.c.id, _members.c.name, _members.c.locale, *_STATE_COLUMNS)
    .join(_identities, _identities.c.member_id == _members.c.id)
    .outerjoin(_states, _states.c.member_id == _members.c.id)
    .where(
        _identities.c.platform == bindparam("platform"),
        _identities.c.external_id == bindparam("user"),
    )
    .with_for_update(of=_members)
)
_JOINING_STATE = (
    select(*_STATE_COLUMNS)
    .where(
        _states.c.member_id.is_(None),
        _states.c.platform == bindparam("platform"),
        _states.c.external_id == bindparam("user"),
    )
    .with_for_update()
)
_UPDATE_STATE = (
    update(_states)
    .where(_states.c.id == bindparam("state_id"))
    .values(kind=bindparam("kind"), data=bindparam("data"), updated_at=bindparam("at"))
)
_INSERT_STATE = insert(_states).values(
    member_id=bindparam("member_id"),
    platform=bindparam("platform"),
    external_id=bindparam("user"),
    kind=bindparam("kind"),
    data=bindparam("data"),
    updated_at=bindparam("at"),
)
_DELETE_STATE = delete(_states).where(_states.c.id == bindparam("state_id"))


def person_and_state(
    session: Session, platform: str, external_id: str
) -> tuple[Person | None, DialogState | None]:
    """The member behind an account and their dialog state, in one query.

    On PostgreSQL the member's row is locked until the transaction ends, so two
    instances handle one person's messages one after the other. (SQLite transactions
    begin IMMEDIATE and are serialised anyway.) A person who is not registered yet
    has a state keyed by their account while joining.
    """
    params = {"platform": Platform(platform), "user": external_id}
    row = session.execute(_PERSON_AND_STATE, params).first()
    if row is not None:
        person = Person(row[0], row[1], row[2])
        state = None if row[3] is None else DialogState(row[3], row[4], row[5])
        return person, state
    joining = session.execute(_JOINING_STATE, params).first()
    return None, None if joining is None else DialogState(joining[0], joining[1], joining[2])


# A batch's people: every account of the batch with its member and state, locked in one
# order (members by id), and for the accounts of no member their joining state.
_PEOPLE_AND_STATES = (
    select(
        _identities.c.external_id,
        _members.c.id,
        _members.c.name,
        _members.c.locale,
        *_STATE_COLUMNS,
    )
    .join(_identities, _identities.c.member_id == _members.c.id)
    .outerjoin(_states, _states.c.member_id == _members.c.id)
    .where(
        _identities.c.platform == bindparam("platform"),
        _identities.c.external_id.in_(bindparam("users", expanding=True)),
    )
    .order_by(_members.c.id)
    .with_for_update(of=_members)
)
_JOINING_STATES = (
    select(_states.c.external_id, *_STATE_COLUMNS)
    .where(
        _states.c.member_id.is_(None),
        _states.c.platform == bindparam("platform"),
        _states.c.external_id.in_(bindparam("users", expanding=True)),
    )
    .with_for_update()
)


class StateBatch:
    """The people behind a batch of messages, read in one statement, and the updates of
    their dialog states, written in one: on PostgreSQL a read and a write per message cost
    as much as the step itself (issue 16 §5).

    Each account's person and state serve its first message of the batch only (`take`);
    a later message of the same person is read again, after the updates held back are
    written (`write`), so it sees what the earlier one left. Everything runs in the
    caller's transaction: a batch rolled back takes its updates with it.
    """

    def __init__(self, known: dict[tuple[str, str], tuple[Person | None, DialogState | None]]):
        self._known = known
        self._taken: set[int] = set()  # members whose first message was served
        self._updates: dict[int, dict[str, Any]] = {}  # by state id: the last one counts

    @classmethod
    def read(cls, session: Session, accounts: Sequence[tuple[str, str]]) -> StateBatch:
        """Read the person and dialog state of each (platform, account id)."""
        known: dict[tuple[str, str], tuple[Person | None, DialogState | None]] = {}
        by_platform: dict[str, list[str]] = {}
        for platform, user in dict.fromkeys(accounts):
            by_platform.setdefault(platform, []).append(user)
        for platform, users in by_platform.items():
            params = {"platform": Platform(platform), "users": users}
            for user, *row in session.execute(_PEOPLE_AND_STATES, params):
                state = None if row[3] is None else DialogState(row[3], row[4], row[5])
                known[(platform, user)] = (Person(row[0], row[1], row[2]), state)
            strangers = [u for u in users if (platform, u) not in known]
            if strangers:
                params["users"] = strangers
                for user, *row in session.execute(_JOINING_STATES, params):
                    known[(platform, user)] = (None, DialogState(row[0], row[1], row[2]))
                for user in strangers:
                    known.setdefault((platform, user), (None, None))
        return cls(known)

    def take(
        self, platform: str, external_id: str
    ) -> tuple[Person | None, DialogState | None] | None:
        """The account's person and state as read, for the first message of the batch
        that is theirs; None for a later one (read it with `person_and_state`)."""
        found = self._known.pop((platform, external_id), None)
        if found is None or found[0] is None:
            return found
        if found[0].id in self._taken:  # a second account of someone already served
            return None
        self._taken.add(found[0].id)
        return found

    def hold(self, state_id: int, kind: str, data: dict[str, Any]) -> None:
        """Keep an update of a state to write with the others (the last one of a state)."""
        self._updates[state_id] = {"state_id": state_id, "kind": kind, "data": data, "at": utcnow()}

    def drop(self, state_id: int) -> None:
        """Forget an update held back (the state is deleted)."""
        self._updates.pop(state_id, None)

    def write(self, session: Session) -> None:
        """Write the state updates held back, in one statement (executemany)."""
        if self._updates:
            session.execute(_UPDATE_STATE, list(self._updates.values()))
            self._updates.clear()


def save_state(
    session: Session,
    current: DialogState | None,
    *,
    member_id: int | None,
    platform: str,
    external_id: str,
    kind: str,
    data: dict[str, Any],
    batch: StateBatch | None = None,
) -> None:
    """Create or replace a person's dialog state (a replacement held back in `batch`, to
    be written with the batch's others)."""
    if current is not None:
        if batch is not None:
            batch.hold(current.id, kind, data)
        else:
            params = {"state_id": current.id, "kind": kind, "data": data, "at": utcnow()}
            session.execute(_UPDATE_STATE, params)
        return
    keyed_by_member = member_id is not None
    session.execute(
        _INSERT_STATE,
        {
            "member_id": member_id,
            "platform": None if keyed_by_member else Platform(platform),
            "user": None if keyed_by_member else external_id,
            "kind": kind,
            "data": data,
            "at": utcnow(),
        },
    )


def clear_state(
    session: Session, current: DialogState | None, batch: StateBatch | None = None
) -> None:
    """Forget a dialog state (and an update of it that `batch` holds back)."""
    if current is not None:
        if batch is not None:
            batch.drop(current.id)
        session.execute(_DELETE_STATE, {"state_id": current.id})


def set_locale(session: Session, member_id: int, locale: str) -> None:
    """Store the language a member is spoken to in."""
    session.execute(update(Member).where(Member.id == member_id).values(locale=locale))


# --- fewer reminders: a person's mutes ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Mute:
    """A person's wish for fewer reminders: one deadline, or all until a day."""

    id: int
    member_id: int
    deadline_ref: str | None
    until: date | None


def add_mute(
    session: Session,
    member_id: int,
    *,
    deadline_ref: str | None,
    until: date | None,
    now: datetime,
) -> None:
    """Record a mute (a second one for the same deadline or period replaces the first)."""
    session.execute(
        delete(ReminderMute).where(
            ReminderMute.member_id == member_id,
            ReminderMute.deadline_ref.is_(None)
            if deadline_ref is None
            else ReminderMute.deadline_ref == deadline_ref,
        )
    )
    session.add(
        ReminderMute(member_id=member_id, deadline_ref=deadline_ref, until=until, created_at=now)
    )
    session.flush()


def clear_mutes(session: Session, member_id: int) -> int:
    """Reminders back on: forget the member's mutes; how many there were."""
    done = session.execute(delete(ReminderMute).where(ReminderMute.member_id == member_id))
    return int(getattr(done, "rowcount", 0) or 0)


def mutes_of(session: Session, member_id: int, today: date) -> list[Mute]:
    """The member's mutes still in force (a dated one until its day)."""
    rows = session.execute(
        select(
            ReminderMute.id, ReminderMute.member_id, ReminderMute.deadline_ref, ReminderMute.until
        )
        .where(
            ReminderMute.member_id == member_id,
            or_(ReminderMute.until.is_(None), ReminderMute.until > today),
        )
        .order_by(ReminderMute.id)
    ).all()
    return [Mute(r[0], r[1], r[2], r[3]) for r in rows]


def muted_members(session: Session, deadline_ref: str, today: date) -> dict[int, date | None]:
    """Who gets no reminder of the deadline now, and until when (None: not for this deadline
    at all). The few who muted, not a list of everyone: no parameter per member."""
    rows = session.execute(
        select(ReminderMute.member_id, ReminderMute.deadline_ref, ReminderMute.until).where(
            or_(
                and_(ReminderMute.deadline_ref == deadline_ref, ReminderMute.until.is_(None)),
                and_(
                    or_(
                        ReminderMute.deadline_ref.is_(None),
                        ReminderMute.deadline_ref == deadline_ref,
                    ),
                    ReminderMute.until > today,
                ),
            ),
        )
    ).all()
    found: dict[int, date | None] = {}
    for member_id, _ref, until in rows:
        held = found.get(member_id, date.min)
        if until is None or (held is not None and until > held):
            found[member_id] = until
    return found

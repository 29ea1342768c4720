"""The outbox: messages to send, queued, claimed by one sender and marked as they went.

A reminder step of a deadline is queued as a fan-out built in SQL, in batches of members:
no statement reads the whole membership or the whole outbox, so a fan-out grows linearly
with the number of people.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from storage._sql import SEPARATOR, aggregate
from storage.deadlines import Batch, Coverage, in_batch
from storage.models import (
    Identity,
    Member,
    OutboxMessage,
    OutboxStatus,
    OutboxTally,
    Platform,
    ProcessedMessage,
    ReminderMute,
    RoleGrant,
    RoleName,
    Unit,
    UTCDateTime,
)

_outbox = cast(Table, OutboxMessage.__table__)
FINAL = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.UNCERTAIN, OutboxStatus.EXPIRED)


def _platforms(names: Iterable[str]) -> list[Platform]:
    known = {p.value for p in Platform}
    return [Platform(n) for n in names if n in known]


# --- reminder fan-out --------------------------------------------------------------


def _among(
    session: Session, column: ColumnElement[Any], values: Sequence[Any], kind: Any
) -> ColumnElement[bool]:
    """SQL: the column is one of the values, given as one parameter whatever their number
    (PostgreSQL: an array; SQLite: a JSON array read by json_each)."""
    if session.get_bind().dialect.name == "postgresql":
        # a set to join: as `= ANY (array)`, PostgreSQL read the whole outbox for a batch's
        # keys (a sequential scan per batch, 200,000 rows at the end of a 200,000 fan-out)
        return column.in_(select(func.unnest(literal(list(values), ARRAY(kind)))))
    each = func.json_each(literal(json.dumps(list(values)), String)).table_valued("value")
    return column.in_(select(each.c.value))


MEMBERS = "fanout_members"  # the parameter of `_among_parameter`: the batch's owing members
# The bounds of those members' ids (above LOW, up to HIGH), parameters of the same statement:
# the id list alone is no range to PostgreSQL, which then read every member, role grant and
# account once per batch (a sequential scan each: 200,000 members, 20 batches).
LOW, HIGH = "fanout_low", "fanout_high"


def _bounded(column: Any) -> list[ColumnElement[bool]]:
    """SQL: the member id in `column` is within the LOW and HIGH parameters."""
    return [column > bindparam(LOW, type_=Integer), column <= bindparam(HIGH, type_=Integer)]


def _among_parameter(
    session: Session, column: ColumnElement[Any], kind: Any
) -> ColumnElement[bool]:
    """As `_among`, the values given at execution as MEMBERS (`_members_value`): one
    statement built per fan-out step serves all its batches."""
    if session.get_bind().dialect.name == "postgresql":
        # a set to join, not `= ANY (array)`: as a filter, PostgreSQL priced that filter
        # above reading the whole table (a sequential scan of the role grants per batch)
        return column.in_(select(func.unnest(bindparam(MEMBERS, type_=ARRAY(kind)))))
    each = func.json_each(bindparam(MEMBERS, type_=String)).table_valued("value")
    return column.in_(select(each.c.value))


def _members_value(session: Session, values: Sequence[int]) -> object:
    if session.get_bind().dialect.name == "postgresql":
        return list(values)
    return json.dumps(list(values))


@dataclass(frozen=True, slots=True)
class Recipient:
    """A member to write to: one of their platform accounts, and a unit they hold a role in."""

    member_id: int
    name: str
    locale: str
    unit_name: str
    unit_path: str
    platform: str
    address: str


def _key(prefix: str, suffix: str) -> ColumnElement[str]:
    """SQL for prefix + member id + suffix, the outbox key of a role grant's holder."""
    return literal(prefix, String) + sql_cast(RoleGrant.member_id, String) + literal(suffix, String)


class Slot(enum.Enum):
    """A place in a wording filled per member."""

    NAME = "name"
    UNITS = "units"


Part = str | Slot


@dataclass(frozen=True)
class Wording:
    """A message to many members, the same but for their name and units.

    Per language: the text as literal parts and slots, and the reply's stored JSON (as the
    core writes it, `bot.core.types.replies_to_json`) before and after the place of its text,
    which the database fills with the text as a JSON string. Members whose language has no
    wording get the first one.
    """

    texts: dict[str, tuple[Part, ...]]
    replies: dict[str, tuple[str, str]]
    unit_separators: dict[str, str]


@dataclass(frozen=True)
class Fanout:
    """One reminder step of one deadline, to everyone who owes and has not had it yet."""

    coverage: Coverage
    platforms: tuple[str, ...]
    key_prefix: str  # the key is prefix + member id + suffix
    key_suffix: str
    wording: Wording
    deadline_ref: str
    not_before: datetime
    expires_at: datetime | None
    skip_weekends: bool
    # The local day of the tick: members who muted this deadline, or all reminders until
    # a later day, are left out.
    today: date | None = None


def muted(deadline_ref: str, today: date) -> ColumnElement[bool]:
    """SQL, correlated to a role grant: its holder asked for no reminders of this deadline
    (少提醒) or for none until a day after `today` (/remind off DATE)."""
    return exists().where(
        ReminderMute.member_id == RoleGrant.member_id,
        or_(
            and_(ReminderMute.deadline_ref == deadline_ref, ReminderMute.until.is_(None)),
            and_(
                or_(ReminderMute.deadline_ref.is_(None), ReminderMute.deadline_ref == deadline_ref),
                ReminderMute.until > today,
            ),
        ),
    )


def _by_locale(
    locale: ColumnElement[str], choices: dict[str, ColumnElement[str]]
) -> ColumnElement[str]:
    languages = list(choices)
    if len(languages) == 1:
        return choices[languages[0]]
    whens = [(locale == language, choices[language]) for language in languages[1:]]
    return case(*whens, else_=choices[languages[0]])


def _text(
    parts: Sequence[Part], name: ColumnElement[str], units: ColumnElement[str]
) -> ColumnElement[str]:
    pieces: list[ColumnElement[str]] = [
        name if p is Slot.NAME else units if p is Slot.UNITS else literal(p, String) for p in parts
    ]
    expression = pieces[0]
    for piece in pieces[1:]:
        expression = expression + piece
    return expression


def _owing(
    session: Session,
    plan: Fanout,
    batch: Batch | None = None,
    members: Sequence[int] | None = None,
) -> ColumnElement[bool]:
    """SQL, on role grants: held to the deadline, not met, not muted; in a `batch`, or
    among `members`, or else (a preview) also without the step's outbox message yet."""
    coverage = plan.coverage
    conditions = [coverage.units(), RoleGrant.role.in_(coverage.roles), not_(coverage.met(batch))]
    if plan.today is not None:
        conditions.append(not_(muted(plan.deadline_ref, plan.today)))
    if batch is not None:
        conditions.append(in_batch(batch))
    if members is not None:
        conditions.append(_among_parameter(session, RoleGrant.__table__.c.member_id, Integer))
        conditions.extend(_bounded(RoleGrant.member_id))
        conditions.extend(_bounded(Member.id))
    if batch is None and members is None:
        queued = exists().where(_outbox.c.key == _key(plan.key_prefix, plan.key_suffix))
        conditions.append(not_(queued))
    return and_(*conditions)


def _fanout_select(
    session: Session,
    plan: Fanout,
    now: datetime,
    *,
    preview: bool,
    members: bool = False,
) -> Select[*tuple[Any, ...]]:
    """The outbox rows of a fan-out, as one SELECT: owing members (of the MEMBERS parameter
    with `members`; else an anti-join also with the outbox keys already queued), grouped per
    member with their units, each with their preferred account and their message built in
    SQL."""
    owing = (
        select(
            RoleGrant.member_id.label("member_id"),
            Member.name.label("name"),
            Member.locale.label("locale"),
            aggregate(session, Unit.name).label("units"),
        )
        .select_from(RoleGrant)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .join(Member, Member.id == RoleGrant.member_id)
        .where(_owing(session, plan, members=[] if members else None))
        .group_by(RoleGrant.member_id, Member.name, Member.locale)
        .subquery("owing")
    )
    platforms = _platforms(plan.platforms)
    # Each member's account on the most preferred platform (the newest if several): the
    # account for which no better one exists, an anti-join on the base table, so both
    # databases join it by index or hash, never once per member. The platforms are tested
    # through their rank, which no index matches: without statistics (a freshly loaded
    # table) PostgreSQL otherwise combined the (platform, external_id) index, which reads
    # every account of the platform once per member.
    better = aliased(Identity, name="better")
    ranks = {p.value: i for i, p in enumerate(platforms)}

    def rank(account: Any) -> ColumnElement[int]:
        return case(ranks, value=account.platform, else_=len(ranks))

    outranked = exists().where(
        better.member_id == Identity.member_id,
        rank(better) < len(ranks),
        or_(
            rank(better) < rank(Identity),
            and_(rank(better) == rank(Identity), better.id > Identity.id),
        ),
    )
    wording = plan.wording
    units = {
        language: func.replace(owing.c.units, literal(SEPARATOR, String), literal(sep, String))
        for language, sep in wording.unit_separators.items()
    }
    text_of = {
        language: _text(parts, owing.c.name, units.get(language, owing.c.units))
        for language, parts in wording.texts.items()
    }

    postgres = session.get_bind().dialect.name == "postgresql"

    def quoted(value: ColumnElement[str]) -> ColumnElement[str]:
        """`value` as a JSON string (quotes and escapes), by the database."""
        if postgres:
            return sql_cast(func.to_json(value), String)
        return func.json_quote(value)

    # The reply's format is the core's: only the text, quoted, is put in by the database.
    payload_text = _by_locale(
        owing.c.locale,
        {
            language: literal(before, String) + quoted(text_of[language]) + literal(after, String)
            for language, (before, after) in wording.replies.items()
        },
    )
    payload = sql_cast(payload_text, JSON) if postgres else type_coerce(payload_text, JSON)
    key = (
        literal(plan.key_prefix, String)
        + sql_cast(owing.c.member_id, String)
        + literal(plan.key_suffix, String)
    )
    extra = (owing.c.name.label("name"), owing.c.units.label("units")) if preview else ()
    return (
        select(
            key.label("key"),
            literal("reminder", String).label("kind"),
            owing.c.member_id.label("member_id"),
            Identity.platform.label("platform"),
            Identity.external_id.label("address"),
            payload.label("payload"),
            literal(plan.deadline_ref, String).label("deadline_ref"),
            literal(plan.not_before, UTCDateTime()).label("not_before"),
            literal(plan.expires_at, UTCDateTime()).label("expires_at"),
            literal(plan.skip_weekends, Boolean).label("skip_weekends"),
            literal(OutboxStatus.PENDING.value, String).label("status"),
            literal(0, Integer).label("attempts"),
            literal(now, UTCDateTime()).label("created_at"),
            *extra,
        )
        .select_from(owing)
        .join(
            Identity,
            and_(
                Identity.member_id == owing.c.member_id,
                rank(Identity) < len(ranks),
                *(_bounded(Identity.member_id) if members else ()),
            ),
        )
        .where(not_(outranked))  # (a WHERE also keeps SQLite's ON CONFLICT unambiguous)
    )


_FANOUT_COLUMNS = (
    "key",
    "kind",
    "member_id",
    "platform",
    "address",
    "payload",
    "deadline_ref",
    "not_before",
    "expires_at",
    "skip_weekends",
    "status",
    "attempts",
    "created_at",
)


def fanout_key(plan: Fanout, member_id: int) -> str:
    """The outbox key of a fan-out's message to a member (as `_key` builds it in SQL)."""
    return f"{plan.key_prefix}{member_id}{plan.key_suffix}"


def owing_members(session: Session, plan: Fanout, batch: Batch) -> list[int]:
    """Of a batch of members, those who owe and have no message of the step yet.

    Two plain lookups whose plans cannot turn quadratic: who of the batch owes (a range of
    the role grants' member index), then which of their keys the outbox holds (`key` among
    the batch's keys, read through the unique index). No anti-join with the outbox is left
    to the planner: PostgreSQL, seeing an outbox that was empty when last analysed, joined
    it by a nested loop that read the whole outbox once per member (80,000 members: 172 s),
    and the INSERT's own new rows made it longer at every member."""
    connection = session.connection()
    # each list as one row, joined in SQL: a few thousand rows cost more in Python
    owing = _ids(
        connection.execute(
            select(aggregate(session, sql_cast(RoleGrant.member_id, String)))
            .join(Unit, Unit.id == RoleGrant.unit_id)
            .where(_owing(session, plan, batch=batch))
        ).scalar()
    )
    if not owing:
        return []
    keys = [fanout_key(plan, m) for m in owing]
    queued = _ids(
        connection.execute(
            select(aggregate(session, sql_cast(_outbox.c.member_id, String))).where(
                _among(session, _outbox.c.key, keys, String)
            )
        ).scalar()
    )
    return sorted(set(owing) - queued)


def outbox_statistics(session: Session, added: int) -> bool:
    """On PostgreSQL, ANALYZE the outbox when `added` rows (queued since the tick began)
    outgrow what its statistics know: whether it did.

    A fan-out adds rows faster than autovacuum analyses them, and an outbox emptied and
    vacuumed keeps looking empty to the planner however full it is again: the keys'
    lookup was then planned as a sequential scan comparing each row with the 2,000 keys
    (40,000 members: 21 s). Analysed when it has doubled, the outbox of a 200,000-member
    fan-out is analysed seven times (a sample of at most 30,000 rows each)."""
    if session.get_bind().dialect.name != "postgresql" or added <= 0:
        return False
    known = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = 'outbox'::regclass")
    ).scalar()
    if added <= max(float(known or 0), 1000.0):
        return False
    session.execute(text("ANALYZE outbox"))
    return True


def _ids(joined: str | None) -> set[int]:
    return {int(i) for i in joined.split(SEPARATOR)} if joined else set()


def lean(session: Session) -> None:
    """On PostgreSQL, no JIT for this transaction: compiling costs more than these short
    statements save (measured 30-40 ms a statement)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def queue_fanout(session: Session, plan: Fanout, now: datetime, batch: Batch) -> int:
    """Queue a batch of a fan-out: the messages to those of the `batch` who owe and have
    none yet, in one INSERT ... SELECT ... ON CONFLICT (key) DO NOTHING; how many rows.

    The caller commits each batch on its own (on SQLite the write lock is held for one
    batch, not the whole fan-out); the unique key makes a batch safe to run again after a
    crash or by another instance at the same moment: nothing is lost or sent twice."""
    owing = owing_members(session, plan, batch)
    if not owing:
        return 0
    statement = _fanout_insert(session, plan, now)
    # an INSERT's rowcount is kept only when asked for (SQLAlchemy 2 drops it otherwise)
    result = session.connection().execute(
        statement.execution_options(preserve_rowcount=True),
        {MEMBERS: _members_value(session, owing), LOW: owing[0] - 1, HIGH: owing[-1]},
    )
    return int(getattr(result, "rowcount", 0) or 0)


# The INSERT of the fan-out step last queued, built once for all its batches (its members
# are a parameter): building it took longer than running it for a batch.
_last_insert: list[tuple[Fanout, datetime, str, Any]] = []


def _fanout_insert(session: Session, plan: Fanout, now: datetime) -> Any:
    dialect = session.get_bind().dialect.name
    for known, at, name, statement in _last_insert:
        if known is plan and at == now and name == dialect:
            return statement
    source = _fanout_select(session, plan, now, preview=False, members=True)
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = factory(_outbox).from_select(list(_FANOUT_COLUMNS), source)
    statement = statement.on_conflict_do_nothing(index_elements=["key"])
    _last_insert[:] = [(plan, now, dialect, statement)]
    return statement


def preview_fanout(
    session: Session, plan: Fanout, now: datetime
) -> list[tuple[NewMessage, str, list[str]]]:
    """What `queue_fanout` would queue, with each member's name and units; nothing is written."""
    rows = session.connection().execute(_fanout_select(session, plan, now, preview=True)).all()
    return [
        (
            NewMessage(
                key=r.key,
                kind=r.kind,
                member_id=r.member_id,
                platform=Platform(r.platform).value,
                address=r.address,
                payload=list(r.payload),
                not_before=plan.not_before,
                expires_at=plan.expires_at,
                skip_weekends=plan.skip_weekends,
                deadline_ref=plan.deadline_ref,
            ),
            r.name,
            sorted(r.units.split(SEPARATOR)),
        )
        for r in rows
    ]


def coordinators(
    session: Session, platforms: Sequence[str], key: tuple[str, str]
) -> list[Recipient]:
    """Coordinators with an account on these platforms and no outbox message with the key.

    Their accounts' platform is tested through an expression no index matches: SQLite
    otherwise read every account of the platform first (200,000 members: 660 ms); it reads
    the role grants' covering index instead. (An index on the role would be worse: SQLite,
    without statistics, then read every staff grant for each batch of a fan-out.) Their
    keys are then looked up through the unique index, as a fan-out's are: as an anti-join,
    PostgreSQL read the whole outbox once per coordinator when it looked empty (the tick
    asks before its fan-out, and an emptied outbox keeps looking empty as it fills)."""
    known = [p.value for p in _platforms(platforms)]
    on_platform = case(dict.fromkeys(known, 1), value=Identity.platform, else_=0) == 1
    rows = session.execute(
        select(
            RoleGrant.member_id,
            Member.name,
            Member.locale,
            Unit.name,
            Unit.path,
            Identity.platform,
            Identity.external_id,
        )
        .select_from(RoleGrant)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .join(Member, Member.id == RoleGrant.member_id)
        .join(
            Identity,
            and_(Identity.member_id == RoleGrant.member_id, on_platform),
        )
        .where(RoleGrant.role == RoleName.COORDINATOR)
    ).all()
    prefix, suffix = key
    keys = {r[0]: f"{prefix}{r[0]}{suffix}" for r in rows}
    if not keys:
        return []
    lookup = select(_outbox.c.key).where(
        _among(session, _outbox.c.key, list(keys.values()), String)
    )
    queued = set(session.execute(lookup).scalars())
    return [
        Recipient(r[0], r[1], r[2], r[3], r[4], Platform(r[5]).value, r[6])
        for r in rows
        if keys[r[0]] not in queued
    ]


# --- queueing, claiming, marking ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue."""

    key: str
    kind: str
    member_id: int
    platform: str
    address: str
    payload: list[dict[str, Any]]
    not_before: datetime
    expires_at: datetime | None = None
    skip_weekends: bool = False
    deadline_ref: str | None = None


def enqueue(session: Session, messages: Sequence[NewMessage], now: datetime) -> int:
    """Queue messages; a key queued before (by anyone) is left alone. Returns how many were new.

    INSERT ... ON CONFLICT (key) DO NOTHING: the same message can never be queued twice,
    even by two instances at the same moment.
    """
    if not messages:
        return 0
    factory = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        factory(_outbox).on_conflict_do_nothing(index_elements=["key"]).returning(_outbox.c.id)
    )
    values = [
        {
            "key": m.key,
            "kind": m.kind,
            "member_id": m.member_id,
            "platform": m.platform,
            "address": m.address,
            "payload": m.payload,
            "deadline_ref": m.deadline_ref,
            "not_before": m.not_before,
            "expires_at": m.expires_at,
            "skip_weekends": m.skip_weekends,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for m in messages
    ]
    # RETURNING gives the rows really added (psycopg's executemany reports no rowcount).
    return len(session.execute(statement, values).all())


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox message claimed for sending."""

    id: int
    key: str
    kind: str
    member_id: int
    platform: str
    address: str
    payload: list[dict[str, Any]]
    attempts: int


def claim(
    session: Session,
    platform: str,
    now: datetime,
    instance: str,
    *,
    weekend: bool,
    limit: int = 1,
    address: str | None = None,
    holiday: bool = False,
    kinds: Sequence[str] | None = None,
) -> list[Claimed]:
    """Take due messages of a platform and mark them `sending` (the caller commits at once).

    On a weekend only messages that do not wait for Monday are taken; on a holiday no
    reminder or digest (a message about a deadline) is, while a document asked for or an
    entry sent back still goes.

    On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so two instances never take
    the same one; SQLite transactions are serialised (BEGIN IMMEDIATE) anyway.
    """
    o = _outbox.c
    conditions = [
        o.status == OutboxStatus.PENDING,
        o.platform == platform,
        o.not_before <= now,
        or_(o.expires_at.is_(None), o.expires_at > now),
    ]
    if weekend:
        conditions.append(o.skip_weekends.is_(False))
    if holiday:
        conditions.append(o.deadline_ref.is_(None))
    if address is not None:  # one account's messages only
        conditions.append(o.address == address)
    if kinds is not None:  # e.g. in quiet hours only what someone asked for
        conditions.append(o.kind.in_(list(kinds)))
    rows = session.execute(
        select(o.id, o.key, o.kind, o.member_id, o.platform, o.address, o.payload, o.attempts)
        .where(*conditions)
        .order_by(o.not_before, o.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    session.execute(
        update(_outbox)
        .where(o.id.in_([r[0] for r in rows]))
        .values(
            status=OutboxStatus.SENDING,
            claimed_by=instance,
            claimed_at=now,
            attempts=o.attempts + 1,
        )
    )
    return [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], list(r[6]), r[7] + 1) for r in rows]


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    """The platform took the message."""
    session.execute(
        update(_outbox)
        .where(_outbox.c.id == message_id)
        .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
    )


def mark_retry(session: Session, message_id: int, not_before: datetime, error: str) -> None:
    """The send failed for a passing reason: try again, not before the given time."""
    session.execute(
        update(_outbox)
        .where(_outbox.c.id == message_id)
        .values(status=OutboxStatus.PENDING, not_before=not_before, last_error=error[:500])
    )


def mark_failed(session: Session, message_id: int, error: str) -> None:
    """The message cannot be delivered; the reason is shown to coordinators."""
    session.execute(
        update(_outbox)
        .where(_outbox.c.id == message_id)
        .values(status=OutboxStatus.FAILED, last_error=error[:500])
    )


def mark_uncertain(session: Session, message_id: int, error: str) -> None:
    """Whether the message went out is unknown; it is not sent again."""
    session.execute(
        update(_outbox)
        .where(_outbox.c.id == message_id)
        .values(status=OutboxStatus.UNCERTAIN, last_error=error[:500])
    )


def recover_stale(session: Session, before: datetime, now: datetime) -> int:
    """Messages still `sending` since before `before`: their sender died mid-call. Never resent."""
    o = _outbox.c
    result = session.execute(
        update(_outbox)
        .where(o.status == OutboxStatus.SENDING, o.claimed_at < before)
        .values(
            status=OutboxStatus.UNCERTAIN,
            last_error=literal("sending was cut off; not sent again (checked ", String)
            + literal(now.isoformat(timespec="seconds"), String)
            + literal(")", String),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def expire(session: Session, now: datetime) -> int:
    """Pending messages whose moment passed (a reminder after its deadline) will not go."""
    o = _outbox.c
    result = session.execute(
        update(_outbox)
        .where(o.status == OutboxStatus.PENDING, o.expires_at.is_not(None), o.expires_at <= now)
        .values(status=OutboxStatus.EXPIRED)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def next_due(session: Session, platform: str) -> datetime | None:
    """The earliest not_before of a platform's pending messages."""
    o = _outbox.c
    found: datetime | None = session.scalar(
        select(func.min(o.not_before)).where(
            o.status == OutboxStatus.PENDING, o.platform == platform
        )
    )
    return found


def counts(session: Session) -> dict[str, int]:
    """How many outbox messages are in each status."""
    rows = session.execute(select(_outbox.c.status, func.count()).group_by(_outbox.c.status)).all()
    return {OutboxStatus(r[0]).value: int(r[1]) for r in rows}


@dataclass(frozen=True, slots=True)
class Problem:
    """A message that did not reach its member."""

    member_id: int
    name: str
    kind: str
    status: OutboxStatus
    error: str | None
    created_at: datetime


def delivery_problems(session: Session, within: Sequence[str], since: datetime) -> list[Problem]:
    """Failed and uncertain messages since `since` to members of units under `within`,
    unless a later message to the same member went through."""
    o = _outbox.c
    later = _outbox.alias("later")
    recovered = exists().where(
        later.c.member_id == o.member_id,
        later.c.status == OutboxStatus.SENT,
        later.c.created_at > o.created_at,
    )
    in_scope = (
        exists()
        .where(RoleGrant.member_id == o.member_id)
        .where(Unit.id == RoleGrant.unit_id)
        .where(or_(*(Unit.path.startswith(p) for p in within)) if within else true())
    )
    rows = session.execute(
        select(o.member_id, Member.name, o.kind, o.status, o.last_error, o.created_at)
        .join(Member, Member.id == o.member_id)
        .where(
            o.status.in_((OutboxStatus.FAILED, OutboxStatus.UNCERTAIN)),
            o.created_at >= since,
            in_scope,
            not_(recovered),
        )
        .order_by(o.created_at.desc(), o.id.desc())
    ).all()
    return [Problem(r[0], r[1], r[2], OutboxStatus(r[3]), r[4], r[5]) for r in rows]


def pending_messages(session: Session, until: datetime) -> list[tuple[str, str, str, datetime]]:
    """(key, platform, member name, not_before) of pending messages due by `until`."""
    o = _outbox.c
    rows = session.execute(
        select(o.key, o.platform, Member.name, o.not_before)
        .join(Member, Member.id == o.member_id)
        .where(o.status == OutboxStatus.PENDING, o.not_before <= until)
        .order_by(o.not_before, o.id)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def prune(
    session: Session,
    *,
    messages_before: datetime,
    outbox_before: datetime,
    month_of: Callable[[datetime], str] = lambda at: f"{at:%Y-%m}",
) -> tuple[int, int]:
    """Forget processed-message keys and finished outbox messages older than the given times.

    A platform redelivers a message within hours (Telegram keeps updates 24 hours, WeCom
    retries for seconds), so a key a month old protects nothing any more. The sent messages
    pruned are counted first into the tally (per member, month by `month_of`, and kind).
    """
    messages = session.execute(
        delete(ProcessedMessage).where(ProcessedMessage.processed_at < messages_before)
    )
    o = _outbox.c
    sent = session.execute(
        select(o.member_id, o.kind, o.sent_at).where(
            o.status == OutboxStatus.SENT, o.created_at < outbox_before, o.sent_at.is_not(None)
        )
    ).all()
    tally: Counter[tuple[int, str, str]] = Counter(
        (int(member), month_of(cast(datetime, at)), str(kind)) for member, kind, at in sent
    )
    for (member, month, kind), count in tally.items():
        row = session.get(OutboxTally, (member, month, kind))
        if row is None:
            session.add(OutboxTally(member_id=member, month=month, kind=kind, count=count))
        else:
            row.count += count
    session.flush()
    outbox = session.execute(
        delete(_outbox).where(_outbox.c.status.in_(FINAL), _outbox.c.created_at < outbox_before)
    )
    return (
        int(getattr(messages, "rowcount", 0) or 0),
        int(getattr(outbox, "rowcount", 0) or 0),
    )


def sent_counts(
    session: Session, kinds: Sequence[str], since: datetime, until: datetime
) -> list[tuple[int, str, int]]:
    """(member id, kind, how many) of the messages of these kinds sent in the window and
    still in the outbox."""
    o = _outbox.c
    rows = session.execute(
        select(o.member_id, o.kind, func.count())
        .where(
            o.status == OutboxStatus.SENT,
            o.sent_at >= since,
            o.sent_at < until,
            o.kind.in_(list(kinds)),
        )
        .group_by(o.member_id, o.kind)
    ).all()
    return [(int(m), str(k), int(c)) for m, k, c in rows]


def tallied_counts(
    session: Session, kinds: Sequence[str], months: Sequence[str]
) -> list[tuple[int, str, int]]:
    """(member id, kind, how many) of the messages of these kinds sent in these months and
    pruned from the outbox since (counted in the tally by `prune`)."""
    rows = session.execute(
        select(OutboxTally.member_id, OutboxTally.kind, func.sum(OutboxTally.count))
        .where(OutboxTally.month.in_(list(months)), OutboxTally.kind.in_(list(kinds)))
        .group_by(OutboxTally.member_id, OutboxTally.kind)
    ).all()
    return [(int(m), str(k), int(c)) for m, k, c in rows]

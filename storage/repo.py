"""Repository functions: every query Huibao makes, in one place, each inside a caller's session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    ConversationState,
    Entry,
    EntryMetric,
    EntryPhoto,
    EntryRevision,
    Identity,
    Invite,
    Member,
    Platform,
    ProcessedMessage,
    QuestionnaireVersion,
    ReceivedMessage,
    Reflection,
    RoleGrant,
    RoleName,
    Unit,
    utcnow,
)


def _insert_ignoring_conflicts(session: Session, model: Any, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True if a row was added."""
    dialect = session.get_bind().dialect.name
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    key = next(iter(model.__table__.primary_key.columns))
    statement = factory(model).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None


# --- messages ------------------------------------------------------------------------


_messages = cast(Table, ProcessedMessage.__table__)
# Built once with bind parameters: on the per-message path, building a statement anew
# costs more than running it (measured: 0.35 ms against 0.14 ms on SQLite).
_CLAIM = {
    name: factory(_messages)
    .values(
        platform=bindparam("platform"),
        message_key=bindparam("key"),
        processed_at=bindparam("at"),
        replies=bindparam("replies"),
    )
    .on_conflict_do_nothing()
    .returning(_messages.c.platform)
    for name, factory in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_MARK_SENT = (
    update(_messages)
    .where(
        _messages.c.platform == bindparam("sent_platform"),
        _messages.c.message_key.in_(bindparam("keys", expanding=True)),
    )
    .values(sent_at=bindparam("at"), replies=None)
)
_STORED = select(_messages.c.replies, _messages.c.sent_at).where(
    _messages.c.platform == bindparam("platform"), _messages.c.message_key == bindparam("key")
)


def claim_message(
    session: Session, platform: str, key: str, replies: list[dict[str, Any]] | None = None
) -> bool:
    """Record a platform message as processed, with its replies; False if it was before."""
    statement = _CLAIM[session.get_bind().dialect.name]
    params = {"platform": platform, "key": key, "at": utcnow(), "replies": replies}
    return session.execute(statement, params).first() is not None


def claim_messages(session: Session, claims: Sequence[tuple[str, str, Any]]) -> int:
    """Record several messages as processed, with their replies, in one statement (one
    INSERT of many rows); return how many were new (fewer: some were processed before)."""
    if not claims:
        return 0
    statement = _CLAIM[session.get_bind().dialect.name]
    at = utcnow()
    params = [
        {"platform": platform, "key": key, "at": at, "replies": replies}
        for platform, key, replies in claims
    ]
    return len(session.execute(statement, params).all())


def unsent_replies(session: Session, platform: str, key: str) -> list[dict[str, Any]] | None:
    """The replies of a processed message that were never marked sent (None if sent)."""
    row = session.execute(_STORED, {"platform": platform, "key": key}).first()
    if row is None or row[1] is not None:
        return None
    return list(row[0] or [])


def unsent_since(
    session: Session,
    platform: str,
    *,
    processed_before: datetime,
    processed_after: datetime,
    limit: int = 200,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(key, replies) of messages processed in the window whose replies were never sent.

    For a platform that does not deliver a message again once it was answered (WeCom):
    replies lost between the commit and the send (a crash, the API unreachable) are found
    here and sent later.
    """
    m = _messages.c
    rows = session.execute(
        select(m.message_key, m.replies)
        .where(
            m.platform == platform,
            m.sent_at.is_(None),
            m.processed_at < processed_before,
            m.processed_at > processed_after,
        )
        .order_by(m.processed_at)
        .limit(limit)
    ).all()
    return [(str(key), list(replies or [])) for key, replies in rows]


def mark_sent(session: Session, platform: str, keys: Sequence[str]) -> None:
    """Note that the replies to these messages went out, and drop their copies."""
    if keys:
        session.execute(_MARK_SENT, {"sent_platform": platform, "keys": list(keys), "at": utcnow()})


def keep_received(
    session: Session, platform: str, key: str, body: dict[str, Any], now: datetime
) -> None:
    """Keep a message that was answered before it was processed (once per key)."""
    _insert_ignoring_conflicts(
        session,
        ReceivedMessage,
        {"platform": platform, "message_key": key, "received_at": now, "body": body},
    )


def drop_received(session: Session, platform: str, key: str) -> None:
    """Forget a kept message: it was processed."""
    session.execute(
        delete(ReceivedMessage).where(
            ReceivedMessage.platform == platform, ReceivedMessage.message_key == key
        )
    )


def waiting_received(
    session: Session, platform: str, received_before: datetime, limit: int = 200
) -> list[tuple[str, dict[str, Any]]]:
    """(key, body) of kept messages not processed yet: a crash came between."""
    rows = session.execute(
        select(ReceivedMessage.message_key, ReceivedMessage.body)
        .where(
            ReceivedMessage.platform == platform,
            ReceivedMessage.received_at < received_before,
        )
        .order_by(ReceivedMessage.received_at)
        .limit(limit)
    ).all()
    return [(str(key), dict(body)) for key, body in rows]


def probe_write(session: Session, now: datetime) -> None:
    """Write a row and delete it again, for a health check; raises if writes are refused.

    The caller commits: a rolled-back write never leaves SQLite's page cache, so it cannot
    notice a full disk (measured: with the files unable to grow, a rolled-back INSERT
    passes, a committed one fails). The pair leaves nothing behind for anyone to see.
    """
    key = f"probe-{uuid.uuid4().hex}"
    table = ReceivedMessage
    session.execute(
        insert(table).values(platform="healthz", message_key=key, received_at=now, body={})
    )
    session.execute(delete(table).where(table.platform == "healthz", table.message_key == key))


# --- members and units ---------------------------------------------------------------


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


# --- conversation state --------------------------------------------------------------
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


def save_state(
    session: Session,
    current: DialogState | None,
    *,
    member_id: int | None,
    platform: str,
    external_id: str,
    kind: str,
    data: dict[str, Any],
) -> None:
    """Create or replace a person's dialog state."""
    if current is not None:
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


def clear_state(session: Session, current: DialogState | None) -> None:
    """Forget a dialog state."""
    if current is not None:
        session.execute(_DELETE_STATE, {"state_id": current.id})


def set_locale(session: Session, member_id: int, locale: str) -> None:
    """Store the language a member is spoken to in."""
    session.execute(update(Member).where(Member.id == member_id).values(locale=locale))


# --- questionnaires ------------------------------------------------------------------


def questionnaire_row(
    session: Session, key: str, version: int, title: str, body: Callable[[], dict[str, Any]]
) -> int:
    """The id of the stored snapshot of a questionnaire version, storing it on first use."""
    lookup = select(QuestionnaireVersion.id).where(
        QuestionnaireVersion.key == key, QuestionnaireVersion.version == version
    )
    found = session.scalars(lookup).first()
    if found is None:
        _insert_ignoring_conflicts(
            session,
            QuestionnaireVersion,
            {
                "key": key,
                "version": version,
                "title": title,
                "body": body(),
                "created_at": utcnow(),
            },
        )
        found = session.scalars(lookup).one()
    return int(found)


# --- entries -------------------------------------------------------------------------


def entry_snapshot(entry: Entry) -> dict[str, Any]:
    """The whole entry as JSON, as kept in a revision."""
    return {
        "revision": entry.revision,
        "unit_id": entry.unit_id,
        "area": entry.area,
        "area_name": entry.area_name,
        "title": entry.title,
        "start_date": entry.start_date.isoformat(),
        "end_date": entry.end_date.isoformat(),
        "location": entry.location,
        "answers": entry.answers,
        "metrics": [
            {
                "question_id": m.question_id,
                "label": m.label,
                "unit": m.unit,
                "low": str(m.low),
                "high": None if m.high is None else str(m.high),
                "approx": m.approx,
                "raw": m.raw,
            }
            for m in entry.metrics
        ],
        "photos": [
            {"platform": p.platform, "ref": p.file_ref, "path": p.stored_path} for p in entry.photos
        ],
        "updated_at": entry.updated_at.isoformat(),
        "deleted_at": None if entry.deleted_at is None else entry.deleted_at.isoformat(),
    }


def write_entry(
    session: Session,
    entry: Entry | None,
    *,
    member_id: int,
    editor_id: int,
    questionnaire_id: int,
    platform: str,
    fields: dict[str, Any],
    metrics: Sequence[dict[str, Any]],
    photos: Sequence[dict[str, str | None]],
    now: datetime,
) -> Entry:
    """Store a new entry, or a new revision of `entry` keeping the old one whole."""
    if entry is None:
        entry = Entry(member_id=member_id, questionnaire_id=questionnaire_id, created_at=now)
        session.add(entry)
    else:
        _keep_revision(session, entry, editor_id, now)
        entry.questionnaire_id = questionnaire_id
        entry.metrics.clear()
        entry.photos.clear()
        session.flush()
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.updated_at = now
    entry.metrics.extend(EntryMetric(position=i, **m) for i, m in enumerate(metrics))
    entry.photos.extend(
        EntryPhoto(
            position=i,
            platform=photo.get("platform") or platform,
            file_ref=photo["ref"] or "",
            stored_path=photo.get("path"),
        )
        for i, photo in enumerate(photos)
    )
    session.flush()
    return entry


def _keep_revision(session: Session, entry: Entry, editor_id: int | None, now: datetime) -> None:
    """Store the entry as it is now as a revision, and number the next version."""
    session.add(
        EntryRevision(
            entry=entry,
            revision=entry.revision,
            snapshot=entry_snapshot(entry),
            replaced_by_member_id=editor_id,
            created_at=now,
        )
    )
    entry.revision += 1


def mark_deleted(session: Session, entry: Entry, editor_id: int | None, now: datetime) -> None:
    """Take an entry out of the summaries, keeping its last version as a revision.

    ``editor_id`` None: deleted from the command line (``huibao entries delete``).
    """
    _keep_revision(session, entry, editor_id, now)
    entry.deleted_at = now
    entry.updated_at = now


def restore_deleted(session: Session, entry: Entry, editor_id: int | None, now: datetime) -> None:
    """Put a deleted entry back into the summaries, keeping the deleted version as a revision."""
    _keep_revision(session, entry, editor_id, now)
    entry.deleted_at = None
    entry.updated_at = now


def live_entry(session: Session, entry_id: int) -> Entry | None:
    """An entry that is not deleted, with its figures and photos."""
    statement = (
        select(Entry)
        .where(Entry.id == entry_id, Entry.deleted_at.is_(None))
        .options(selectinload(Entry.metrics), selectinload(Entry.photos))
    )
    return session.scalars(statement).first()


def entries_of_member(session: Session, member_id: int, period: str | None) -> Sequence[Entry]:
    """A member's live entries in a period (or in all periods), oldest activity first."""
    statement = (
        select(Entry)
        .where(Entry.member_id == member_id, Entry.deleted_at.is_(None))
        .options(selectinload(Entry.metrics))
        .order_by(Entry.start_date, Entry.id)
    )
    if period is not None:
        statement = statement.where(Entry.period == period)
    return session.scalars(statement).all()


def entries_in(session: Session, unit: Unit | None, period: str | None) -> Sequence[Entry]:
    """Live entries of a unit's subtree (or all units) and a period (or all periods)."""
    statement = (
        select(Entry)
        .where(Entry.deleted_at.is_(None))
        .options(
            selectinload(Entry.metrics),
            selectinload(Entry.member),
            selectinload(Entry.unit),
            selectinload(Entry.photos),
        )
        .order_by(Entry.start_date, Entry.id)
    )
    if unit is not None:
        statement = statement.where(Entry.unit_id.in_(subtree_ids(session, unit)))
    if period is not None:
        statement = statement.where(Entry.period == period)
    return session.scalars(statement).all()


# --- the reflection round ------------------------------------------------------------


def add_reflections(
    session: Session,
    member_id: int,
    unit_id: int,
    period: str,
    kind: str,
    texts: Sequence[str],
    now: datetime,
    *,
    in_review: bool = False,
) -> None:
    """Store reflection points (kind "shortcoming" or "plan"); `in_review` for points a
    coordinator adds to the summary, which are not their own answer to the round."""
    session.add_all(
        Reflection(
            member_id=member_id,
            unit_id=unit_id,
            period=period,
            kind=kind,
            text=t,
            created_at=now,
            added_in_review=in_review,
        )
        for t in texts
    )


def reflections_in(session: Session, unit: Unit, period: str) -> list[Reflection]:
    """The live reflection points of a unit's subtree in a period, oldest first."""
    statement = (
        select(Reflection)
        .join(Unit, Unit.id == Reflection.unit_id)
        .where(
            Unit.path.startswith(unit.path),
            Reflection.period == period,
            Reflection.dropped_at.is_(None),
        )
        .order_by(Reflection.created_at, Reflection.id)
    )
    return list(session.scalars(statement).all())


def drop_reflections(session: Session, ids: Sequence[int], member_id: int, now: datetime) -> None:
    """Take reflection points out of the summary (kept, marked as dropped)."""
    session.execute(
        update(Reflection)
        .where(Reflection.id.in_(list(ids)))
        .values(dropped_at=now, dropped_by=member_id)
    )

"""Entries sent back to their reporter for correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.models import (
    Entry,
    EntryReturn,
)


@dataclass(frozen=True, slots=True)
class OpenReturn:
    """An entry sent back and not corrected yet."""

    id: int
    entry_id: int
    revision: int
    comment: str
    returned_by: int
    returned_at: datetime


def open_return(session: Session, entry_id: int) -> OpenReturn | None:
    """The entry's return awaiting correction, if any."""
    row = session.execute(
        select(
            EntryReturn.id,
            EntryReturn.entry_id,
            EntryReturn.revision,
            EntryReturn.comment,
            EntryReturn.returned_by,
            EntryReturn.returned_at,
        ).where(EntryReturn.entry_id == entry_id, EntryReturn.resolved_at.is_(None))
    ).first()
    return None if row is None else OpenReturn(row[0], row[1], row[2], row[3], row[4], row[5])


def returned_entry_ids(session: Session, entry_ids: Sequence[int]) -> set[int]:
    """Which of these entries are sent back and not corrected yet."""
    if not entry_ids:
        return set()
    return set(
        session.scalars(
            select(EntryReturn.entry_id).where(
                EntryReturn.entry_id.in_(list(entry_ids)), EntryReturn.resolved_at.is_(None)
            )
        ).all()
    )


def add_return(
    session: Session, entry_id: int, revision: int, comment: str, member_id: int, now: datetime
) -> int:
    """Record that an entry was sent back; return the return's id."""
    row = EntryReturn(
        entry_id=entry_id,
        revision=revision,
        comment=comment,
        returned_by=member_id,
        returned_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def resolve_return(session: Session, return_id: int, revision: int, now: datetime) -> None:
    """The reporter saved a corrected version."""
    session.execute(
        update(EntryReturn)
        .where(EntryReturn.id == return_id)
        .values(resolved_at=now, resolved_revision=revision)
    )


@dataclass(frozen=True, slots=True)
class ReturnedEntry:
    """An entry of the member's sent back and not corrected yet."""

    entry_id: int
    title: str
    comment: str
    returned_at: datetime


def open_returns_of(session: Session, member_id: int) -> list[ReturnedEntry]:
    """The member's entries sent back for correction and not corrected yet, oldest first."""
    rows = session.execute(
        select(Entry.id, Entry.title, EntryReturn.comment, EntryReturn.returned_at)
        .join(EntryReturn, EntryReturn.entry_id == Entry.id)
        .where(
            Entry.member_id == member_id,
            Entry.deleted_at.is_(None),
            EntryReturn.resolved_at.is_(None),
        )
        .order_by(EntryReturn.returned_at, EntryReturn.id)
    ).all()
    return [ReturnedEntry(r[0], r[1], r[2], r[3]) for r in rows]

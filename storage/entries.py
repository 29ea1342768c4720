"""Entries (reported activities): the questionnaire version they answer, each change kept as
a revision, deleting and restoring, and the reads of live entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session, selectinload

from storage._sql import insert_ignoring_conflicts
from storage.members import subtree_ids
from storage.models import (
    Entry,
    EntryMetric,
    EntryPhoto,
    EntryRevision,
    QuestionnaireVersion,
    Unit,
    utcnow,
)


def questionnaire_row(
    session: Session, key: str, version: int, title: str, body: Callable[[], dict[str, Any]]
) -> int:
    """The id of the stored snapshot of a questionnaire version, storing it on first use."""
    lookup = select(QuestionnaireVersion.id).where(
        QuestionnaireVersion.key == key, QuestionnaireVersion.version == version
    )
    found = session.scalars(lookup).first()
    if found is None:
        insert_ignoring_conflicts(
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

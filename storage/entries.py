"""Entries (reported activities): saved from a typed draft (the chat's, the import's and the
tests' one write path), the questionnaire version they answer, each change kept as a
revision, deleting and restoring, and the reads of live entries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, func, insert, select
from sqlalchemy.orm import Session, selectinload

from storage._sql import insert_ignoring_conflicts
from storage.members import subtree_ids, within
from storage.models import (
    Entry,
    EntryMetric,
    EntryPhoto,
    EntryRevision,
    Member,
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


@dataclass(frozen=True)
class MetricValue:
    """A counted figure ready to be stored."""

    question_id: str
    label: str
    unit: str
    low: Decimal
    high: Decimal | None
    approx: str
    raw: str


@dataclass(frozen=True)
class Draft:
    """A report ready to be stored as an entry: confirmed in the chat (a new entry, or a new
    revision of `entry_id`), read from a ledger row, or made by a test."""

    entry_id: int | None
    unit_id: int
    area: str
    area_name: str
    title: str
    start_date: date
    end_date: date
    period: str  # the half-year it counts for (bot.core.periods.period_of), "2026H1"
    location: str | None
    answers: dict[str, Any]
    metrics: tuple[MetricValue, ...]
    photos: tuple[dict[str, str | None], ...] = ()


def _entry_values(draft: Draft) -> dict[str, Any]:
    """The entry's columns that come from its draft."""
    return {
        "unit_id": draft.unit_id,
        "area": draft.area,
        "area_name": draft.area_name,
        "title": draft.title,
        "start_date": draft.start_date,
        "end_date": draft.end_date,
        "period": draft.period,
        "location": draft.location,
        "answers": draft.answers,
    }


def _metric_values(metric: MetricValue, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "question_id": metric.question_id,
        "label": metric.label,
        "unit": metric.unit,
        "low": metric.low,
        "high": metric.high,
        "approx": metric.approx,
        "raw": metric.raw,
    }


def save(
    session: Session,
    draft: Draft,
    *,
    member_id: int,
    questionnaire_id: int,
    platform: str,
    now: datetime,
    replacing: Entry | None = None,
) -> Entry:
    """Store a draft as a new entry of `member_id`, or as a new revision of `replacing`
    (the entry `draft.entry_id` names, looked up by the caller) made by `member_id`,
    keeping the old one whole. Photos without a platform of their own came on `platform`."""
    entry = replacing
    if entry is None:
        entry = Entry(member_id=member_id, questionnaire_id=questionnaire_id, created_at=now)
        session.add(entry)
    else:
        _keep_revision(session, entry, member_id, now)
        entry.questionnaire_id = questionnaire_id
        entry.metrics.clear()
        entry.photos.clear()
        session.flush()
    for column, value in _entry_values(draft).items():
        setattr(entry, column, value)
    entry.updated_at = now
    entry.metrics.extend(EntryMetric(**_metric_values(m, i)) for i, m in enumerate(draft.metrics))
    entry.photos.extend(
        EntryPhoto(
            position=i,
            platform=photo.get("platform") or platform,
            file_ref=photo["ref"] or "",
            stored_path=photo.get("path"),
        )
        for i, photo in enumerate(draft.photos)
    )
    session.flush()
    return entry


def save_new(
    session: Session,
    drafts: Sequence[tuple[int, Draft]],
    *,
    questionnaire_id: int,
    now: datetime,
) -> list[int]:
    """Store drafts, (member id, draft) each, as new entries in two statements (one INSERT
    of the entries, one of their figures); their ids, in order.

    As `save` stores a new entry (revision 1, figures in their order), but without the
    ORM's unit of work: no flush per entry and no objects held in the session, so a long
    ledger takes neither minutes nor memory to write. Drafts with photos or replacing an
    entry are `save`'s."""
    if any(d.photos or d.entry_id is not None for _, d in drafts):
        raise ValueError("save_new stores new entries without photos; use save")
    if not drafts:
        return []
    rows = [
        {
            "member_id": member_id,
            "questionnaire_id": questionnaire_id,
            **_entry_values(draft),
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        for member_id, draft in drafts
    ]
    # render_nulls: one statement for all rows, not one per set of empty columns
    ids = list(
        session.scalars(
            insert(Entry)
            .returning(Entry.id, sort_by_parameter_order=True)
            .execution_options(render_nulls=True),
            rows,
        ).all()
    )
    metrics = [
        {"entry_id": entry_id, **_metric_values(metric, position)}
        for entry_id, (_, draft) in zip(ids, drafts, strict=True)
        for position, metric in enumerate(draft.metrics)
    ]
    if metrics:
        session.execute(insert(EntryMetric).execution_options(render_nulls=True), metrics)
    return ids


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


def entry_by_id(session: Session, entry_id: int) -> Entry | None:
    """An entry by id, deleted or not."""
    return session.get(Entry, entry_id)


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


def recent_within(session: Session, paths: Sequence[str], limit: int) -> Sequence[Entry]:
    """The latest live entries of the units in the subtrees given by `paths`, newest first."""
    return session.scalars(
        select(Entry)
        .join(Unit, Unit.id == Entry.unit_id)
        .where(within(paths), Entry.deleted_at.is_(None))
        .options(selectinload(Entry.metrics), selectinload(Entry.member), selectinload(Entry.unit))
        .order_by(Entry.created_at.desc(), Entry.id.desc())
        .limit(limit)
    ).all()


def _in_month(unit_ids: Sequence[int], first: date, following: date) -> list[ColumnElement[bool]]:
    # the units as a list, so entries are read by (unit_id, start_date): joined to the
    # units, SQLite walked the whole index instead (a street: 32 ms, now 0.3 ms)
    return [
        Entry.unit_id.in_(list(unit_ids)),
        Entry.deleted_at.is_(None),
        Entry.start_date >= first,
        Entry.start_date < following,
    ]


def counts_by_person(
    session: Session, unit_ids: Sequence[int], first: date, following: date
) -> dict[tuple[int, int], int]:
    """(unit id, member id) -> how many live entries of these units start in the days from
    `first` up to (not including) `following`."""
    rows = session.execute(
        select(Entry.unit_id, Entry.member_id, func.count())
        .where(*_in_month(unit_ids, first, following))
        .group_by(Entry.unit_id, Entry.member_id)
    ).all()
    return {(int(unit_id), int(member_id)): int(count) for unit_id, member_id, count in rows}


def month_rows(
    session: Session, unit_ids: Sequence[int], first: date, following: date
) -> list[tuple[int, int, str, int, date, str, str]]:
    """The live entries of these units starting from `first` up to `following`, as plain
    rows: (unit id, member id, member name, entry id, first day, area, title)."""
    rows = session.execute(
        select(
            Entry.unit_id,
            Entry.member_id,
            Member.name,
            Entry.id,
            Entry.start_date,
            Entry.area_name,
            Entry.title,
        )
        .join(Member, Member.id == Entry.member_id)
        .where(*_in_month(unit_ids, first, following))
    ).all()
    return [(u, m, n, i, d, a, t) for u, m, n, i, d, a, t in rows]


def answers_by_member(session: Session, first: date, following: date) -> list[tuple[int, Any]]:
    """(member id, answers) of every live entry starting from `first` up to `following`."""
    rows = session.execute(
        select(Entry.member_id, Entry.answers).where(
            Entry.deleted_at.is_(None),
            Entry.start_date >= first,
            Entry.start_date < following,
        )
    ).all()
    return [(int(member_id), answers) for member_id, answers in rows]


def live_dates_of_unit(session: Session, unit_id: int) -> list[tuple[int, str, date, date]]:
    """(id, title, first day, last day) of a unit's live entries."""
    rows = session.execute(
        select(Entry.id, Entry.title, Entry.start_date, Entry.end_date).where(
            Entry.unit_id == unit_id, Entry.deleted_at.is_(None)
        )
    ).all()
    return [(int(i), str(t), s, e) for i, t, s, e in rows]


def same_days_of_member(
    session: Session, member_id: int, unit_id: int, start: date, end: date
) -> list[tuple[int, str]]:
    """(id, title) of a member's live entries in a unit held on exactly these days, oldest
    first: the ones a new report may repeat. Read by an index of (member_id, start_date) or
    (unit_id, start_date): both databases choose the member's."""
    rows = session.execute(
        select(Entry.id, Entry.title)
        .where(
            Entry.unit_id == unit_id,
            Entry.start_date == start,
            Entry.end_date == end,
            Entry.member_id == member_id,
            Entry.deleted_at.is_(None),
        )
        .order_by(Entry.id)
    ).all()
    return [(int(i), str(t)) for i, t in rows]


def figures_of(session: Session, entry_id: int) -> list[tuple[str, Decimal, Decimal | None, str]]:
    """(question id, low, high, approx) of an entry's figures."""
    rows = session.execute(
        select(
            EntryMetric.question_id, EntryMetric.low, EntryMetric.high, EntryMetric.approx
        ).where(EntryMetric.entry_id == entry_id)
    ).all()
    return [(q, low, high, approx) for q, low, high, approx in rows]


# --- the summary's reads: streams of plain rows ----------------------------------------
# Core rows, not the ORM's: its loading layer cost a third of reading 100,000 entries.


def _in_period(path: str, period: str) -> tuple[ColumnElement[bool], ...]:
    return (Unit.path.startswith(path), Entry.period == period, Entry.deleted_at.is_(None))


def questionnaires_in(session: Session, path: str, period: str) -> set[int]:
    """The ids of the questionnaire versions the live entries of a subtree and period answer."""
    return set(
        session.scalars(
            select(Entry.questionnaire_id)
            .join(Unit, Unit.id == Entry.unit_id)
            .where(*_in_period(path, period))
            .distinct()
        )
    )


def questionnaire_bodies(session: Session, ids: Iterable[int]) -> list[tuple[int, Any]]:
    """(id, stored snapshot) of these questionnaire versions."""
    rows = session.execute(
        select(QuestionnaireVersion.id, QuestionnaireVersion.body).where(
            QuestionnaireVersion.id.in_(list(ids))
        )
    ).all()
    return [(int(i), body) for i, body in rows]


def metric_stream(
    session: Session, path: str, period: str, chunk: int
) -> Iterator[Row[*tuple[Any, ...]]]:
    """The figures of the live entries of a subtree and period, read `chunk` rows at a
    time, by entry and position: (entry id, question id, label, unit, low, high, approx)."""
    return iter(
        session.connection().execute(
            select(
                EntryMetric.entry_id,
                EntryMetric.question_id,
                EntryMetric.label,
                EntryMetric.unit,
                EntryMetric.low,
                EntryMetric.high,
                EntryMetric.approx,
            )
            .join(Entry, Entry.id == EntryMetric.entry_id)
            .join(Unit, Unit.id == Entry.unit_id)
            .where(*_in_period(path, period))
            .order_by(EntryMetric.entry_id, EntryMetric.position)
            .execution_options(yield_per=chunk)
        )
    )


def summary_stream(
    session: Session,
    path: str,
    period: str,
    *,
    texts: Sequence[str],
    wholes: Sequence[str],
    chunk: int,
) -> Iterator[Row[*tuple[Any, ...]]]:
    """The live entries of a subtree and period, read `chunk` rows at a time, by date:
    (id, unit name, unit path, area, area name, title, first day, last day, location,
    reporter's name, questionnaire version id), then the text answer to each question of
    `texts` and whether the answer to each of `wholes` is the report message itself.

    The texts are read out of the answers by the database (a JSON path each), not by
    parsing every entry's whole answers document in Python."""
    said = [Entry.answers[(key, "text")].as_string() for key in texts]
    said += [Entry.answers[(key, "whole")].as_boolean() for key in wholes]
    return iter(
        session.connection().execute(
            select(
                Entry.id,
                Unit.name,
                Unit.path,
                Entry.area,
                Entry.area_name,
                Entry.title,
                Entry.start_date,
                Entry.end_date,
                Entry.location,
                Member.name,
                Entry.questionnaire_id,
                *said,
            )
            .join(Unit, Unit.id == Entry.unit_id)
            .join(Member, Member.id == Entry.member_id)
            .where(*_in_period(path, period))
            .order_by(Entry.start_date, Entry.id)
            .execution_options(yield_per=chunk)
        )
    )

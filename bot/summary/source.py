"""Read what a summary is composed from: entries of a unit's subtree in a period, fast."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.periods import Period
from bot.summary.compose import EntryIn, MetricIn
from storage.models import Entry, EntryMetric, Member, Unit

# Plain rows rather than ORM objects: a street-level summary reads 100,000 entries.
_CHUNK = 5000


def _text(answers: dict[str, Any], key: str) -> str | None:
    value = answers.get(key)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return str(value["text"])
    return None


def load_entries(session: Session, unit: Unit, period: Period) -> list[EntryIn]:
    """The live entries of `unit` and the units below it, in `period`."""
    rows = session.execute(
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
            Entry.answers,
            Member.name,
        )
        .join(Unit, Unit.id == Entry.unit_id)
        .join(Member, Member.id == Entry.member_id)
        .where(
            Unit.path.startswith(unit.path),
            Entry.period == period.key,
            Entry.deleted_at.is_(None),
        )
        .order_by(Entry.start_date, Entry.id)
    ).all()
    ids = [row[0] for row in rows]
    metrics: dict[int, list[MetricIn]] = defaultdict(list)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for entry_id, qid, label, unit_text, low, high, approx in session.execute(
            select(
                EntryMetric.entry_id,
                EntryMetric.question_id,
                EntryMetric.label,
                EntryMetric.unit,
                EntryMetric.low,
                EntryMetric.high,
                EntryMetric.approx,
            )
            .where(EntryMetric.entry_id.in_(chunk))
            .order_by(EntryMetric.entry_id, EntryMetric.position)
        ):
            upper = None if high is None else Decimal(high)
            metrics[entry_id].append(MetricIn(qid, label, unit_text, Decimal(low), approx, upper))
    return [
        EntryIn(
            id=row[0],
            unit=row[1],
            unit_path=row[2],
            area=row[3],
            area_name=row[4],
            title=row[5],
            start=row[6],
            end=row[7],
            location=row[8],
            content=_text(row[9], "content"),
            achievements=_text(row[9], "achievements"),
            highlights=_text(row[9], "highlights"),
            reporter=row[10],
            metrics=tuple(metrics.get(row[0], ())),
        )
        for row in rows
    ]

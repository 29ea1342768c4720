"""The reflection round: shortcomings and plans of a period, added, read for the summary
and dropped from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.models import (
    Reflection,
    Unit,
)


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

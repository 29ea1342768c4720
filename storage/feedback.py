"""Feedback and complaints: stored for admins, forwarded only by an admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from storage.models import Feedback, Member, RoleGrant, Unit


def add(session: Session, member_id: int, platform: str, text: str, now: datetime) -> int:
    """Store a complaint or suggestion; return its number."""
    row = Feedback(member_id=member_id, platform=platform, text=text, created_at=now)
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True, slots=True)
class Item:
    """One piece of feedback as an admin lists it."""

    id: int
    member_id: int
    name: str
    units: str
    platform: str
    text: str
    created_at: datetime
    forwarded_to: str | None
    forwarded_at: datetime | None


def listing(session: Session, *, since: datetime | None = None) -> list[Item]:
    """Every piece of feedback (since a time), oldest first, with who sent it and their units."""
    target = aliased(Member, name="target")
    units = (
        select(func.min(Unit.name))
        .join(RoleGrant, RoleGrant.unit_id == Unit.id)
        .where(RoleGrant.member_id == Feedback.member_id)
        .correlate(Feedback)
        .scalar_subquery()
    )
    query = (
        select(
            Feedback.id,
            Feedback.member_id,
            Member.name,
            units,
            Feedback.platform,
            Feedback.text,
            Feedback.created_at,
            target.name,
            Feedback.forwarded_at,
        )
        .join(Member, Member.id == Feedback.member_id)
        .outerjoin(target, target.id == Feedback.forwarded_to)
        .order_by(Feedback.id)
    )
    if since is not None:
        query = query.where(Feedback.created_at >= since)
    return [
        Item(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6], r[7], r[8])
        for r in session.execute(query).all()
    ]


def get(session: Session, feedback_id: int) -> Feedback | None:
    """One piece of feedback by its number."""
    return session.get(Feedback, feedback_id)


def mark_forwarded(session: Session, feedback_id: int, member_id: int, now: datetime) -> None:
    """Record that an admin forwarded the feedback to a member."""
    session.execute(
        update(Feedback)
        .where(Feedback.id == feedback_id)
        .values(forwarded_to=member_id, forwarded_at=now)
    )

"""Jobs: heavy work asked for in a message, recorded in its transaction, done after commit.

A job is claimed by one worker at a time. On PostgreSQL the due row is picked FOR UPDATE
SKIP LOCKED, so two instances never take the same one; on SQLite (one writer at a time)
the claim is an UPDATE conditional on the row being as it was read (its state and its
attempt count, bumped by every claim). A job whose worker died stays `running`; once its
lease has passed (`claimed_at` older than `stale_before`) it is due again. A worker told to
stop mid-job hands the job back (`release`): it is due again at once, not after the lease.

A claim is known by its worker's name and the attempt count (`_held`): a job is settled
(`finish`, `fail`) or handed back only by the claim that holds it, so a worker that
outlived its claim (its lease passed, or it was stopped and the job handed back) cannot
settle a job another worker now holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Job, JobState


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job taken by a worker."""

    id: int
    kind: str
    member_id: int
    arguments: dict[str, Any]
    attempts: int  # this one included
    created_at: datetime
    by: str  # the worker's name (unique per process: its claims are told apart by it)


def enqueue(
    session: Session, kind: str, member_id: int, arguments: dict[str, Any], now: datetime
) -> int:
    """Record a job (in the caller's transaction); its id."""
    job = Job(
        kind=kind,
        member_id=member_id,
        arguments=arguments,
        state=JobState.PENDING,
        attempts=0,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job.id


def _due(stale_before: datetime) -> Any:
    return or_(
        Job.state == JobState.PENDING,
        and_(Job.state == JobState.RUNNING, Job.claimed_at < stale_before),
    )


def claim(
    session: Session, now: datetime, instance: str, *, stale_before: datetime
) -> Claimed | None:
    """Take the oldest due job and mark it `running` (the caller commits at once)."""
    row = session.execute(
        select(Job.id, Job.kind, Job.member_id, Job.arguments, Job.attempts, Job.created_at)
        .where(_due(stale_before))
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    taken = session.execute(
        update(Job)
        .where(Job.id == row.id, Job.attempts == row.attempts, _due(stale_before))
        .values(
            state=JobState.RUNNING,
            claimed_by=instance[:64],
            claimed_at=now,
            attempts=Job.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        return None  # someone else took it between the read and the write
    return Claimed(
        row.id,
        row.kind,
        row.member_id,
        dict(row.arguments),
        row.attempts + 1,
        row.created_at,
        instance[:64],
    )


def pending(session: Session, kind: str, member_id: int) -> list[tuple[int, dict[str, Any]]]:
    """A member's jobs of a kind not claimed yet: (id, arguments)."""
    rows = session.execute(
        select(Job.id, Job.arguments).where(
            Job.kind == kind, Job.member_id == member_id, Job.state == JobState.PENDING
        )
    )
    return [(job_id, dict(arguments)) for job_id, arguments in rows]


def any_due(session: Session, stale_before: datetime) -> bool:
    """Whether a job waits to be claimed."""
    return session.execute(select(Job.id).where(_due(stale_before)).limit(1)).first() is not None


def _held(job: Claimed) -> Any:
    """The job is still held by this claim (no other claim has taken it since). A handed
    back job's attempt count goes down again, so the name tells a later claim apart."""
    return and_(
        Job.id == job.id,
        Job.state == JobState.RUNNING,
        Job.attempts == job.attempts,
        Job.claimed_by == job.by,
    )


def _settle(session: Session, job: Claimed, **values: Any) -> bool:
    done = session.execute(
        update(Job).where(_held(job)).values(**values).execution_options(synchronize_session=False)
    )
    return getattr(done, "rowcount", 0) == 1


def finish(session: Session, job: Claimed, now: datetime, result_path: str | None) -> bool:
    """The job's result is queued for delivery; False if the claim no longer holds it."""
    return _settle(
        session,
        job,
        state=JobState.DONE,
        finished_at=now,
        result_path=result_path,
        last_error=None,
    )


def fail(session: Session, job: Claimed, now: datetime, error: str) -> bool:
    """The job cannot be done; the member is told (by the caller, in the same transaction).
    False if the claim no longer holds it."""
    return _settle(session, job, state=JobState.FAILED, finished_at=now, last_error=error[:500])


def release(session: Session, job: Claimed) -> bool:
    """Hand a job back unfinished (its worker is stopping): due again at once, and this
    attempt not counted, for it did not fail. False if the claim no longer holds it."""
    return _settle(
        session,
        job,
        state=JobState.PENDING,
        claimed_by=None,
        claimed_at=None,
        attempts=Job.attempts - 1,
    )


def state_of(session: Session, job_id: int) -> JobState | None:
    """Where a job is (tests, tools)."""
    return session.scalar(select(Job.state).where(Job.id == job_id))


def prune(session: Session, finished_before: datetime) -> list[int]:
    """Forget the jobs done or failed before the given time; their ids."""
    ids = list(
        session.scalars(
            select(Job.id).where(
                Job.state.in_([JobState.DONE, JobState.FAILED]), Job.finished_at < finished_before
            )
        )
    )
    if ids:
        session.execute(delete(Job).where(Job.id.in_(ids)))
    return ids

"""Typed SQLAlchemy 2 models: the single source of truth for Huibao."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Huibao stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class RoleName(enum.StrEnum):
    STAFF = "staff"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Platform(enum.StrEnum):
    TELEGRAM = "telegram"
    WECOM = "wecom"
    SHELL = "shell"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        validate_strings=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Unit(Base):
    """An organisational unit: 区, 街道, 社区 ... arranged as a tree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Materialised path of ids, "/1/4/9/", so a subtree is one indexed prefix query.
    path: Mapped[str] = mapped_column(String(400), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class Member(Base):
    """A person who reports or reads reports."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    locale: Mapped[str] = mapped_column(String(10), default="zh")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(back_populates="member")
    roles: Mapped[list[RoleGrant]] = relationship(back_populates="member")


class Identity(Base):
    """One platform account of a member (Telegram user id, WeCom userid, shell name)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="identities")


class RoleGrant(Base):
    """A role of a member, valid for a unit and its whole subtree."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("member_id", "unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[RoleName] = mapped_column(_enum(RoleName))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="roles")
    unit: Mapped[Unit] = relationship()


class Invite(Base):
    """A join code that registers people in a unit with a role."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[RoleName] = mapped_column(_enum(RoleName))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit] = relationship()


class QuestionnaireVersion(Base):
    """A snapshot of each questionnaire version that entries were collected with."""

    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationState(Base):
    """Where a person is in a dialog (an interview, a join, a pending delete)."""

    __tablename__ = "conversation_states"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Registered members' state is keyed by member, so it follows them across platforms;
    # a person who is joining has no member yet and is keyed by platform identity.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    platform: Mapped[Platform | None] = mapped_column(_enum(Platform))
    external_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Entry(Base):
    """One reported activity, as currently valid (earlier versions in EntryRevision)."""

    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_unit_period", "unit_id", "period"),
        # /entries: the newest of a scope, in index order (no sort of every entry in scope)
        Index("ix_entries_created_at", "created_at", "id"),
        # /status and a deadline's "has reported": this month's entries of a unit
        Index("ix_entries_unit_start", "unit_id", "start_date"),
        # /mine: a member's entries in activity order
        Index("ix_entries_member_start", "member_id", "start_date"),
        # a month's entries of many units at once (a district's /status, a deadline's standing)
        Index("ix_entries_start_date", "start_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    area: Mapped[str] = mapped_column(String(40))
    area_name: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(10))
    location: Mapped[str | None] = mapped_column(String(200))
    answers: Mapped[dict[str, Any]]
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship()
    unit: Mapped[Unit] = relationship()
    metrics: Mapped[list[EntryMetric]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="EntryMetric.position"
    )
    photos: Mapped[list[EntryPhoto]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="EntryPhoto.position"
    )
    revisions: Mapped[list[EntryRevision]] = relationship(
        back_populates="entry", order_by="EntryRevision.revision"
    )


class EntryMetric(Base):
    """One counted figure of an entry (场次, 人次, 条 ...), kept with its approximation."""

    __tablename__ = "entry_metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    low: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    high: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    approx: Mapped[str] = mapped_column(String(12))
    raw: Mapped[str] = mapped_column(String(200))

    entry: Mapped[Entry] = relationship(back_populates="metrics")


class EntryPhoto(Base):
    """A photo attached to an entry, by platform file reference."""

    __tablename__ = "entry_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(20))
    file_ref: Mapped[str] = mapped_column(String(300))
    stored_path: Mapped[str | None] = mapped_column(String(400))

    entry: Mapped[Entry] = relationship(back_populates="photos")


class EntryRevision(Base):
    """A previous version of an entry, kept whole when the entry is edited or deleted."""

    __tablename__ = "entry_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]]
    replaced_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entry: Mapped[Entry] = relationship(back_populates="revisions")


class Reflection(Base):
    """One point of the half-year reflection round: something that fell short, or a plan."""

    __tablename__ = "reflections"
    __table_args__ = (
        Index("ix_reflections_unit_period", "unit_id", "period"),
        # who has answered the round: the reflection deadline's anti-join
        Index("ix_reflections_member_period", "member_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    period: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))  # "shortcoming" or "plan"
    text: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A coordinator may take a point out of the summary; it is kept, marked.
    dropped_at: Mapped[datetime | None]
    dropped_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # A point a coordinator added while reviewing the summary (/closing add): material for
    # the summary, not the coordinator's own answer to the round.
    added_in_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class Requirement(enum.StrEnum):
    """What a deadline asks of each member."""

    MONTHLY_ENTRY = "monthly-entry"  # at least one entry in the month, per unit worked for
    ENTRY = "entry"  # at least one entry in the period (a month or a half-year), per unit
    REFLECTION = "reflection"  # the half-year reflection round answered (staff, coordinators)


class Deadline(Base):
    """A deadline set by an admin for a unit and its subtree (defaults are computed rules)."""

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_period_requirement", "period", "requirement"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # "2026H1" (a half-year) or "2026-06" (a month)
    period: Mapped[str] = mapped_column(String(10))
    requirement: Mapped[Requirement] = mapped_column(_enum(Requirement))
    due_at: Mapped[datetime]
    # Reminder offsets before due_at in minutes, largest first; None: the configured ladder.
    ladder: Mapped[list[Any] | None] = mapped_column(JSON)
    # None: the configured HUIBAO_REMINDERS__SKIP_WEEKENDS.
    skip_weekends: Mapped[bool | None] = mapped_column(Boolean)
    # Due on a day off (a public holiday, a weekend not worked): True moves it to the next
    # working day, same time; False keeps it; None: HUIBAO_REMINDERS__MOVE_DEADLINES.
    move_off_days: Mapped[bool | None] = mapped_column(Boolean)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # None: the CLI
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))

    unit: Mapped[Unit] = relationship()


class OutboxStatus(enum.StrEnum):
    """Where a message of the outbox is."""

    PENDING = "pending"  # waiting for its not_before time (also between retries)
    SENDING = "sending"  # claimed; the platform call is under way
    SENT = "sent"
    FAILED = "failed"  # permanently: blocked, account gone, or too many attempts
    UNCERTAIN = "uncertain"  # the sender died during the call: never sent again
    EXPIRED = "expired"  # its moment passed before it could go (a reminder after the deadline)


class OutboxMessage(Base):
    """A message the bot sends on its own initiative; its unique key makes it go out once."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "platform", "not_before"),
        # the tick's expiry of pending messages whose moment passed
        Index("ix_outbox_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "remind:d12:345:1440" (deadline, member, step in minutes), "return:7"
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # reminder, digest, returned, revised
    # No foreign key on purpose: a reminder step inserts 10,000 rows in one statement and
    # PostgreSQL's per-row FK check cost a third of that (members are never deleted).
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    platform: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(128))
    payload: Mapped[list[Any]] = mapped_column(JSON)  # bot.core.types.replies_to_json
    deadline_ref: Mapped[str | None] = mapped_column(String(60))
    not_before: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    skip_weekends: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntryReturn(Base):
    """An entry sent back to its reporter for correction; resolved when they save a new version."""

    __tablename__ = "entry_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)  # the version that was returned
    comment: Mapped[str] = mapped_column(String(500))
    returned_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    returned_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_revision: Mapped[int | None] = mapped_column(Integer)


class OutboxTally(Base):
    """What the outbox sent, counted per member, month and kind: kept when the rows are
    pruned, so `huibao burden` can still tell what the bot asked of each person."""

    __tablename__ = "outbox_tally"

    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-06, local time
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ReminderMute(Base):
    """A person asked for fewer reminders: none for one deadline, or none until a date."""

    __tablename__ = "reminder_mutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    # The deadline (its reference, "d12" or "monthly-entry:2026-06"), or None for all.
    deadline_ref: Mapped[str | None] = mapped_column(String(60))
    # No reminders before this day (local); None with a deadline: for that deadline only.
    until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """A complaint or suggestion: read by admins only, forwarded to someone only by an admin."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    forwarded_to: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    forwarded_at: Mapped[datetime | None]


class ProcessedMessage(Base):
    """A platform message already handled: the key that makes delivery idempotent."""

    __tablename__ = "processed_messages"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The replies, kept until the adapter says they went out: a message delivered again
    # after a crash between commit and send gets them then, and is not processed twice.
    replies: Mapped[list[Any] | None] = mapped_column(JSON)
    sent_at: Mapped[datetime | None]


class ReceivedMessage(Base):
    """A platform message answered before it was processed (a WeCom callback whose work
    outlasted the platform's answer deadline): kept until processed, so a crash between the
    answer and the commit loses nothing. The platform will not deliver it again."""

    __tablename__ = "received_messages"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the message as the adapter read it


class JobState(enum.StrEnum):
    """Where a job (heavy work run after the message's commit) is."""

    PENDING = "pending"
    RUNNING = "running"  # claimed; reclaimed when its lease has passed (the worker died)
    DONE = "done"  # its result is queued in the outbox
    FAILED = "failed"  # the member was told; last_error says why


class Job(Base):
    """Heavy work asked for in a message (a summary document), done after its commit."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "state", "claimed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # summary
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[JobState] = mapped_column(_enum(JobState), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The folder of its files under the data folder (e.g. documents/12), once done.
    result_path: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(String(500))


__all__ = [
    "Base",
    "ConversationState",
    "Deadline",
    "Entry",
    "EntryMetric",
    "EntryPhoto",
    "EntryReturn",
    "EntryRevision",
    "Feedback",
    "Identity",
    "Invite",
    "Job",
    "JobState",
    "Member",
    "OutboxMessage",
    "OutboxStatus",
    "OutboxTally",
    "Platform",
    "ProcessedMessage",
    "QuestionnaireVersion",
    "ReceivedMessage",
    "Reflection",
    "ReminderMute",
    "Requirement",
    "RoleGrant",
    "RoleName",
    "Unit",
]

"""Deadlines, the outbox of messages the bot sends on its own, entries sent back for correction.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REQUIREMENT = sa.Enum(
    "monthly-entry", "entry", "reflection", name="requirement", native_enum=False, length=20
)
_STATUS = sa.Enum(
    "pending",
    "sending",
    "sent",
    "failed",
    "uncertain",
    "expired",
    name="outboxstatus",
    native_enum=False,
    length=20,
)


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("requirement", _REQUIREMENT, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ladder", sa.JSON(), nullable=True),
        sa.Column("skip_weekends", sa.Boolean(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["members.id"], name=op.f("fk_deadlines_created_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["removed_by"], ["members.id"], name=op.f("fk_deadlines_removed_by_members")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_deadlines_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
    )
    op.create_index("ix_deadlines_period_requirement", "deadlines", ["period", "requirement"])
    op.create_index(op.f("ix_deadlines_unit_id"), "deadlines", ["unit_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("deadline_ref", sa.String(length=60), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skip_weekends", sa.Boolean(), nullable=False),
        sa.Column("status", _STATUS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "platform", "not_before"])
    op.create_index(op.f("ix_outbox_member_id"), "outbox", ["member_id"])
    op.create_table(
        "entry_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("returned_by", sa.Integer(), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_revision", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_entry_returns_entry_id_entries")
        ),
        sa.ForeignKeyConstraint(
            ["returned_by"], ["members.id"], name=op.f("fk_entry_returns_returned_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_returns")),
    )
    op.create_index(op.f("ix_entry_returns_entry_id"), "entry_returns", ["entry_id"])
    op.create_index("ix_reflections_member_period", "reflections", ["member_id", "period"])


def downgrade() -> None:
    op.drop_index("ix_reflections_member_period", table_name="reflections")
    op.drop_index(op.f("ix_entry_returns_entry_id"), table_name="entry_returns")
    op.drop_table("entry_returns")
    op.drop_index(op.f("ix_outbox_member_id"), table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_deadlines_unit_id"), table_name="deadlines")
    op.drop_index("ix_deadlines_period_requirement", table_name="deadlines")
    op.drop_table("deadlines")

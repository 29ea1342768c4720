"""The holiday calendar, feedback, reminder mutes and the outbox tally (issue 15).

- deadlines.move_off_days: a deadline due on a day off moves to the next working day;
- reminder_mutes: a person's 少提醒 (one deadline) or /remind off DATE (all until then);
- feedback: complaints and suggestions, for admins only;
- outbox_tally: sent messages counted per member, month and kind, kept when rows are pruned.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deadlines") as batch:
        batch.add_column(sa.Column("move_off_days", sa.Boolean(), nullable=True))
    op.create_table(
        "reminder_mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("deadline_ref", sa.String(length=60), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_reminder_mutes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_mutes")),
    )
    op.create_index(op.f("ix_reminder_mutes_member_id"), "reminder_mutes", ["member_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forwarded_to", sa.Integer(), nullable=True),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_feedback_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["forwarded_to"], ["members.id"], name=op.f("fk_feedback_forwarded_to_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_member_id"), "feedback", ["member_id"])
    op.create_table(
        "outbox_tally",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "month", "kind", name=op.f("pk_outbox_tally")),
    )


def downgrade() -> None:
    op.drop_table("outbox_tally")
    op.drop_index(op.f("ix_feedback_member_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_reminder_mutes_member_id"), table_name="reminder_mutes")
    op.drop_table("reminder_mutes")
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_column("move_off_days")

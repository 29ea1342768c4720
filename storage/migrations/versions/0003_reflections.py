"""The half-year reflection round: shortcomings and plans.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reflections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dropped_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_reflections_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["dropped_by"], ["members.id"], name=op.f("fk_reflections_dropped_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_reflections_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reflections")),
    )
    op.create_index("ix_reflections_unit_period", "reflections", ["unit_id", "period"])


def downgrade() -> None:
    op.drop_index("ix_reflections_unit_period", table_name="reflections")
    op.drop_table("reflections")

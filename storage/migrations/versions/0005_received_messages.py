"""Keep messages answered before they were processed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "received_messages",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("message_key", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "message_key", name=op.f("pk_received_messages")),
    )


def downgrade() -> None:
    op.drop_table("received_messages")

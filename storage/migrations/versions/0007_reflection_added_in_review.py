"""Mark reflection points a coordinator added while reviewing the summary.

Such a point is material for the summary; it is not the coordinator's own answer to the
half-year review, and `/status` must not count it as one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.add_column(
            sa.Column("added_in_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.drop_column("added_in_review")

"""Indexes for the per-message and coordinator paths (issue 16).

- entries(created_at, id): /entries, the newest entries of a scope, read from the index
  in order instead of sorting every entry in scope;
- entries(unit_id, start_date): /status and a deadline's "has reported" test, this month's
  entries of a unit instead of all of them;
- entries(member_id, start_date): /mine, a member's entries in activity order;
- entries(start_date): a month's entries of many units at once (a district's /status, the
  deadline's "has reported" test read for a batch of members at once);
- outbox(status, expires_at): the tick's expiry of pending messages whose moment passed
  (with 200,000 pending, reading them all held SQLite's write lock for half a second).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_entries_created_at", "entries", ["created_at", "id"])
    op.create_index("ix_entries_unit_start", "entries", ["unit_id", "start_date"])
    op.create_index("ix_entries_member_start", "entries", ["member_id", "start_date"])
    op.create_index("ix_entries_start_date", "entries", ["start_date"])
    op.create_index("ix_outbox_expiry", "outbox", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_expiry", table_name="outbox")
    op.drop_index("ix_entries_start_date", table_name="entries")
    op.drop_index("ix_entries_member_start", table_name="entries")
    op.drop_index("ix_entries_unit_start", table_name="entries")
    op.drop_index("ix_entries_created_at", table_name="entries")

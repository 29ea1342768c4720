"""Names, titles, places and typed answers stored before they were cleaned become one line.

Until this revision a line break or a bidirectional override typed into a name or a title was
stored as typed, and showed as a line of its own in other people's chats. New text is cleaned
on the way in (`bot.core.text.clean_text`); this cleans what was stored before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.core.text import clean_text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def _clean_answers(answers: Any) -> Any:
    if not isinstance(answers, dict):
        return answers
    cleaned = dict(answers)
    for key, value in answers.items():
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            cleaned[key] = {**value, "text": clean_text(value["text"])}
    return cleaned


def _clean_column(table: sa.Table, *columns: str) -> None:
    connection = op.get_bind()
    select = sa.select(table.c.id, *(table.c[c] for c in columns)).order_by(table.c.id)
    last = 0
    while True:
        rows = connection.execute(select.where(table.c.id > last).limit(_BATCH)).all()
        if not rows:
            return
        for row in rows:
            changes: dict[str, Any] = {}
            for name in columns:
                value = row._mapping[name]
                new = _clean_answers(value) if name == "answers" else None
                if isinstance(value, str):
                    new = clean_text(value) or value
                if new is not None and new != value:
                    changes[name] = new
            if changes:
                connection.execute(sa.update(table).where(table.c.id == row.id).values(**changes))
        last = rows[-1].id


def upgrade() -> None:
    meta = sa.MetaData()
    members = sa.Table(
        "members", meta, sa.Column("id", sa.Integer), sa.Column("name", sa.String(60))
    )
    units = sa.Table("units", meta, sa.Column("id", sa.Integer), sa.Column("name", sa.String(100)))
    entries = sa.Table(
        "entries",
        meta,
        sa.Column("id", sa.Integer),
        sa.Column("title", sa.String(200)),
        sa.Column("location", sa.String(200)),
        sa.Column("answers", sa.JSON),
    )
    _clean_column(members, "name")
    _clean_column(units, "name")
    _clean_column(entries, "title", "location", "answers")


def downgrade() -> None:
    """Nothing to undo: the cleaned text reads the same, on one line."""

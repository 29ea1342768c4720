"""SQL helpers the storage modules share (the dialect differences of SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    func,
    literal,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql._typing import ColumnExpressionArgument


def insert_ignoring_conflicts(session: Session, model: Any, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True if a row was added."""
    dialect = session.get_bind().dialect.name
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    key = next(iter(model.__table__.primary_key.columns))
    statement = factory(model).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None


SEPARATOR = "\x1f"  # joins aggregated names in SQL; no name contains it


def aggregate(session: Session, value: ColumnExpressionArgument[str]) -> ColumnElement[str]:
    """SQL: the values of a group joined by SEPARATOR (group_concat / string_agg)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.string_agg(value, literal(SEPARATOR, String))
    return func.group_concat(value, literal(SEPARATOR, String))

"""Whether the database takes a write: what /healthz (bot.channels.server) reports."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from storage import messages

log = logging.getLogger(__name__)

LOCK_WAIT = 2.0  # seconds the health check's write waits for a lock


def _short(error: BaseException) -> str:
    """An error on one line, for a warning (SQL parameters are hidden by the engine)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}"[:300]


@contextmanager
def _waiting_at_most(connection: Connection, seconds: float) -> Iterator[None]:
    """On SQLite, wait at most `seconds` for the write lock (the engine's default is 30 s)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout")
        row = cursor.fetchone()
        before = row[0] if row else 30000
        cursor.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(before)}")
    finally:
        cursor.close()


def _read(connection: Connection) -> None:
    """A plain read on the driver's connection: no transaction, so no write lock on SQLite."""
    raw = connection.connection
    cursor = raw.cursor()
    try:
        cursor.execute("select 1")
        cursor.fetchall()
    finally:
        cursor.close()
        raw.rollback()


def _write(connection: Connection, lock_wait: float) -> None:
    with Session(bind=connection) as session:
        if connection.dialect.name == "postgresql":
            wait = int(lock_wait * 1000)
            session.execute(text(f"SET LOCAL lock_timeout = {wait}"))
            session.execute(text(f"SET LOCAL statement_timeout = {wait * 2}"))
        messages.probe_write(session, datetime.now(UTC))
        session.commit()


def database_state(engine: Engine, lock_wait: float = LOCK_WAIT) -> str:
    """'ok'; 'not writable' when it answers a read but refuses (or stalls) a write; or
    'unreachable'.

    The write is real: a row inserted and deleted in a committed transaction (see
    `messages.probe_write`), waiting at most `lock_wait` seconds for a lock.
    """
    try:
        with engine.connect() as connection, _waiting_at_most(connection, lock_wait):
            try:
                _read(connection)
            except Exception as error:
                log.warning("health check: database unreachable (%s)", _short(error))
                return "unreachable"
            try:
                _write(connection, lock_wait)
            except Exception as error:
                log.warning("health check: database refuses writes (%s)", _short(error))
                return "not writable"
    except Exception as error:
        log.warning("health check: database unreachable (%s)", _short(error))
        return "unreachable"
    return "ok"

"""Faults injected at the database seam: the engine refuses writes as a full disk does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def writes_fail(engine: Engine) -> Iterator[None]:
    """Every INSERT, UPDATE and DELETE fails with the driver's 'database or disk is full';
    reads still work."""
    dbapi = engine.dialect.loaded_dbapi

    def refuse(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        if statement.lstrip()[:6].upper() in WRITES:
            raise dbapi.OperationalError("database or disk is full")
        return statement, parameters

    event.listen(engine, "before_cursor_execute", refuse, retval=True)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)

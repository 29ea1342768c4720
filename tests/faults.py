"""Faults injected at the database seam: the engine refuses writes as a full disk does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def writes_fail(
    engine: Engine, *, times: int | None = None, table: str | None = None
) -> Iterator[None]:
    """INSERT, UPDATE and DELETE fail with the driver's 'database or disk is full' (only the
    first `times` of them, or only those naming `table`, if given); reads still work."""
    dbapi = engine.dialect.loaded_dbapi
    left = [times]

    def refuse(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        is_write = statement.lstrip()[:6].upper() in WRITES
        if is_write and (table is None or table in statement) and left[0] != 0:
            if left[0] is not None:
                left[0] -= 1
            raise dbapi.OperationalError("database or disk is full")
        return statement, parameters

    event.listen(engine, "before_cursor_execute", refuse, retval=True)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)

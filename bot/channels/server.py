"""The HTTP server: /healthz, and the webhook endpoints of the chat platforms (Starlette)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from storage import messages

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1_000_000


LOCK_WAIT = 2.0  # seconds the health check's write waits for a lock
HEALTH_TIMEOUT = 5.0  # seconds: /healthz answers within this, whatever the database does


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


def health_route(
    engine: Engine, *, lock_wait: float = LOCK_WAIT, timeout: float = HEALTH_TIMEOUT
) -> Route:
    """GET /healthz: 200 when the database takes a write, 503 otherwise (within `timeout`)."""

    async def healthz(_request: Request) -> Response:
        try:
            state = await asyncio.wait_for(
                run_in_threadpool(database_state, engine, lock_wait), timeout
            )
        except TimeoutError:
            log.warning("health check: no answer from the database within %.0f s", timeout)
            state = "no answer"
        if state == "ok":
            return JSONResponse({"status": "ok", "database": "ok"})
        return JSONResponse({"status": "error", "database": state}, status_code=503)

    return Route("/healthz", healthz, methods=["GET"])


def telegram_webhook_route(
    path: str, secret: str, handle: Callable[[dict[str, object]], Awaitable[bool]]
) -> Route:
    """POST `path`: a Telegram update, accepted only with the right secret token header.

    The update is handled before the answer, so Telegram delivers it again if Huibao
    died while handling it (its key makes the second delivery count once).
    """

    async def webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPDATE_BYTES:
                return PlainTextResponse("too large", status_code=413)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
            log.warning("telegram webhook: a body that is not JSON (%s)", type(error).__name__)
            return PlainTextResponse("bad request", status_code=400)
        if not isinstance(data, dict):
            log.warning("telegram webhook: a JSON %s, not an update", type(data).__name__)
            return PlainTextResponse("bad request", status_code=400)
        try:
            handled = await handle(data)  # an update it cannot read is logged and skipped
        except Exception:
            log.exception("telegram webhook: the update could not be handled")
            handled = False
        if not handled:
            # A reply did not go out (or the database failed): Telegram delivers it again.
            return PlainTextResponse("retry later", status_code=503)
        return PlainTextResponse("ok")

    return Route(path, webhook, methods=["POST"])


def build_server(routes: list[Route]) -> Starlette:
    """One Starlette app for every route Huibao serves."""
    return Starlette(routes=routes)

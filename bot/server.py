"""The HTTP server: /healthz, and the webhook endpoints of the chat platforms (Starlette)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1_000_000


def _database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return False
    return True


def health_route(engine: Engine) -> Route:
    """GET /healthz: 200 when the database answers, 503 otherwise."""

    async def healthz(_request: Request) -> Response:
        if await run_in_threadpool(_database_ok, engine):
            return JSONResponse({"status": "ok", "database": "ok"})
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)

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
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return PlainTextResponse("too large", status_code=413)
        try:
            data = await request.json()
        except ValueError:
            return PlainTextResponse("bad request", status_code=400)
        if not isinstance(data, dict):
            return PlainTextResponse("bad request", status_code=400)
        if not await handle(data):
            # A reply did not go out: Telegram will deliver the update again.
            return PlainTextResponse("retry later", status_code=503)
        return PlainTextResponse("ok")

    return Route(path, webhook, methods=["POST"])


def build_server(routes: list[Route]) -> Starlette:
    """One Starlette app for every route Huibao serves."""
    return Starlette(routes=routes)

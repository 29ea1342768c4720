"""The HTTP server: /healthz, and the webhook endpoints of the chat platforms (Starlette)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.health import LOCK_WAIT, database_state

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1_000_000
HEALTH_TIMEOUT = 5.0  # seconds: /healthz answers within this, whatever the database does


def health_route(
    engine: Engine, *, lock_wait: float = LOCK_WAIT, timeout: float = HEALTH_TIMEOUT
) -> Route:
    """GET /healthz: 200 when the database takes a write (`bot.health.database_state`), 503
    otherwise (within `timeout`)."""

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

"""Running the platforms: the Telegram bot (polling or webhook) and the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import uvicorn
from telegram import Update

from bot.app import App
from bot.conversation import default_menus
from bot.server import build_server, health_route, telegram_webhook_route
from bot.telegram import TelegramBot, run_until_stopped

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the caller."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def webhook_secret(app: App) -> str:
    """The configured secret, or one derived from the token (the same on every instance)."""
    telegram = app.settings.telegram
    if telegram.webhook_secret is not None:
        return telegram.webhook_secret.get_secret_value()
    assert telegram.token is not None
    digest = hashlib.sha256(b"huibao-webhook:" + telegram.token.get_secret_value().encode())
    return digest.hexdigest()[:48]


def make_telegram_bot(app: App) -> TelegramBot:
    """Wire the Telegram adapter from the settings."""
    telegram = app.settings.telegram
    assert telegram.token is not None
    return TelegramBot(
        app.conversation,
        token=telegram.token.get_secret_value(),
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        photos_dir=app.settings.data_dir / "photos" / "telegram",
        poll_timeout=telegram.poll_timeout,
        menus=lambda: app.conversation.leader_menus("telegram"),
        default_menus=default_menus(),
    )


async def run_platforms(app: App) -> None:
    """Serve /healthz (and the webhook, if configured) and run the Telegram bot."""
    settings = app.settings
    bot = make_telegram_bot(app)
    routes = [health_route(app.engine)]
    webhook = settings.telegram.webhook_url
    secret = webhook_secret(app)
    if webhook:

        async def handle(data: dict[str, object]) -> None:
            update = Update.de_json(data, bot.bot)
            await bot.handle_batch([update])

        routes.append(telegram_webhook_route(urlsplit(webhook).path or "/", secret, handle))
    config = uvicorn.Config(
        build_server(routes),
        host=settings.server.host,
        port=settings.server.port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        await bot.bot.set_webhook(
            webhook or "", secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        log.info("webhook mode: %s", webhook)
        await server.serve()

    if webhook:
        await run_until_stopped(bot, serve)
        return
    quiet = _QuietServer(config)  # the polling loop owns SIGINT/SIGTERM
    serving = asyncio.create_task(quiet.serve())
    try:
        log.info("polling mode; /healthz on %s:%s", settings.server.host, settings.server.port)
        await run_until_stopped(bot, None)
    finally:
        quiet.should_exit = True
        await serving

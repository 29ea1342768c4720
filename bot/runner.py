"""Running the platforms: the Telegram bot (polling or webhook) and the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from collections.abc import Iterator
from urllib.parse import urlsplit

import uvicorn

from bot.app import App
from bot.conversation import default_menus
from bot.server import build_server, health_route, telegram_webhook_route
from bot.telegram import TelegramBot

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `run_platforms`."""

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


async def run_platforms(app: App, stop: asyncio.Event | None = None) -> None:
    """Serve /healthz (and the webhook, if configured) and run the Telegram bot.

    Runs until SIGINT/SIGTERM, or until `stop` is set (tests, embedding).
    """
    settings = app.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, stop.set)  # only possible in the main thread
    bot = make_telegram_bot(app)
    routes = [health_route(app.engine)]
    webhook = settings.telegram.webhook_url
    secret = webhook_secret(app)
    if webhook:
        routes.append(
            telegram_webhook_route(urlsplit(webhook).path or "/", secret, bot.handle_json)
        )
    server = _QuietServer(
        uvicorn.Config(
            build_server(routes),
            host=settings.server.host,
            port=settings.server.port,
            log_level="warning",
            lifespan="off",
        )
    )
    await bot.start()
    try:
        serving = asyncio.create_task(server.serve())
        polling = None
        if webhook:
            await bot.use_webhook(webhook, secret)
            log.info("webhook mode: %s", webhook)
        else:
            polling = asyncio.create_task(bot.poll())
            log.info("polling mode")
        log.info("serving /healthz on %s:%s", settings.server.host, settings.server.port)
        await stop.wait()
        bot.request_stop()
        if polling is not None:
            await polling
        server.should_exit = True
        await serving
    finally:
        await bot.stop()

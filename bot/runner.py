"""Running the platforms: Telegram (polling or webhook), WeCom (the app's callback or the
intelligent robot's long connection) and the HTTP server.

One Starlette/uvicorn app serves /healthz, the Telegram webhook (in webhook mode) and the
WeCom callback. `make_channels` builds every configured platform in one place, each with
the core's `Delivery` for its platform (bot.core.delivery); the reminder tick and the
outbox's senders (bot.reminders.tick.Background) send through the started channels, and so
can extra jobs passed as `run_platforms(..., jobs=...)`. The leader also runs the core's
sweep of the WeCom app's unsent replies and kept callbacks (one instance sends them).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.routing import Route

from bot.app import App
from bot.channels.server import build_server, health_route, telegram_webhook_route
from bot.channels.telegram import TelegramBot
from bot.channels.wecom.adapter import WecomBot
from bot.channels.wecom.api import WecomApi
from bot.channels.wecom.crypto import WecomCrypto
from bot.channels.wecom_bot.channel import KEPT, WecomRobot
from bot.core.commands import default_menus
from bot.core.delivery import Delivery
from bot.core.types import Channel
from bot.instances import InFlight, Leadership, single_instance
from bot.reminders.tick import Background

log = logging.getLogger(__name__)

Job = Callable[[Mapping[str, Channel]], Coroutine[Any, Any, None]]


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `run_platforms`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def webhook_secret(app: App) -> str:
    """The configured secret, or one derived from the token (the same on every instance)."""
    secret = app.settings.telegram.webhook_secret_value()
    assert secret is not None
    return secret


def make_telegram_bot(app: App) -> TelegramBot:
    """Wire the Telegram adapter from the settings."""
    telegram = app.settings.telegram
    assert telegram.token is not None
    return TelegramBot(
        Delivery(app.conversation, "telegram"),
        token=telegram.token.get_secret_value(),
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        photos_dir=app.settings.data_dir / "photos" / "telegram",
        poll_timeout=telegram.poll_timeout,
        menus=lambda: app.conversation.leader_menus("telegram"),
        default_menus=default_menus(),
        clock=app.clock,
    )


def make_wecom_bot(app: App) -> WecomBot:
    """Wire the WeCom adapter from the settings."""
    wecom = app.settings.wecom
    assert wecom.corp_id is not None and wecom.agent_id is not None
    assert wecom.secret is not None and wecom.token is not None
    assert wecom.encoding_aes_key is not None
    api = WecomApi(
        base_url=wecom.base_url,
        corp_id=wecom.corp_id,
        agent_id=wecom.agent_id,
        secret=wecom.secret.get_secret_value(),
    )
    crypto = WecomCrypto(
        wecom.token.get_secret_value(), wecom.encoding_aes_key.get_secret_value(), wecom.corp_id
    )
    return WecomBot(
        Delivery(app.conversation, "wecom"),
        api=api,
        crypto=crypto,
        corp_id=wecom.corp_id,
        photos_dir=app.settings.data_dir / "photos" / "wecom",
    )


def make_wecom_robot(app: App) -> WecomRobot:
    """Wire the WeCom intelligent robot (long connection) from the settings."""
    robot = app.settings.wecom_bot
    assert robot.bot_id is not None and robot.secret is not None
    return WecomRobot(
        Delivery(app.conversation, "wecom", kept_as=KEPT),
        url=robot.url,
        bot_id=robot.bot_id,
        secret=robot.secret.get_secret_value(),
        photos_dir=app.settings.data_dir / "photos" / "wecom",
        clock=app.clock,
    )


def make_channels(app: App) -> dict[str, TelegramBot | WecomBot | WecomRobot]:
    """Every configured platform's adapter, by platform name (not started yet).

    WeCom is the self-built app or the intelligent robot (the settings allow one): the
    same people, by their WeCom UserID, on the platform "wecom".
    """
    channels: dict[str, TelegramBot | WecomBot | WecomRobot] = {}
    if app.settings.telegram.token is not None:
        channels["telegram"] = make_telegram_bot(app)
    if app.settings.wecom.configured:
        channels["wecom"] = make_wecom_bot(app)
    elif app.settings.wecom_bot.configured:
        channels["wecom"] = make_wecom_robot(app)
    return channels


def make_leader_channels(app: App) -> dict[str, TelegramBot | WecomRobot]:
    """The channels only the leading instance may run (bot.instances): Telegram when it
    long-polls (no webhook URL) and the WeCom robot's long connection. Fresh ones for each
    term of leading."""
    channels: dict[str, TelegramBot | WecomRobot] = {}
    if "telegram" in leader_only(app):
        channels["telegram"] = make_telegram_bot(app)
    if "wecom" in leader_only(app):
        channels["wecom"] = make_wecom_robot(app)
    return channels


def leader_only(app: App) -> set[str]:
    """The platforms whose channel only the leader runs (see make_leader_channels)."""
    settings, names = app.settings, set()
    if settings.telegram.token is not None and not settings.telegram.webhook_url:
        names.add("telegram")
    if not settings.wecom.configured and settings.wecom_bot.configured:
        names.add("wecom")
    return names


async def lead(
    app: App,
    shared: Mapping[str, TelegramBot | WecomBot | WecomRobot],
    ended: asyncio.Event,
    jobs: Sequence[Job] = (),
) -> None:
    """The leader's work until `ended`: poll Telegram or hold the WeCom robot's connection,
    sweep the WeCom app's unsent replies, tick the reminders and send the outbox, run the
    extra jobs; then wind it all down."""
    channels: dict[str, Channel] = dict(shared)
    async with contextlib.AsyncExitStack() as started:
        own = make_leader_channels(app)
        for platform, channel in own.items():
            await channel.start()
            started.push_async_callback(channel.stop)
            channels[platform] = channel
        telegram = own.get("telegram")
        polling = None
        if isinstance(telegram, TelegramBot):
            polling = asyncio.create_task(telegram.poll())
            log.info("Telegram polling mode")
        if isinstance(own.get("wecom"), WecomRobot):
            log.info("WeCom intelligent robot: long connection to %s", app.settings.wecom_bot.url)
        # Reminders, digests and returned entries: ticking and the outbox's senders.
        background = Background.from_app(app)
        await background.start(channels)
        started.push_async_callback(background.stop)  # before the channels stop
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(job(dict(channels))) for job in jobs]
        app_channel = shared.get("wecom")
        if isinstance(app_channel, WecomBot):  # callbacks come to every instance: one sweeps
            sweep = app_channel.delivery.sweep_forever(
                app_channel, every=app_channel.sweep_every, after=app_channel.sweep_after
            )
            tasks.append(asyncio.create_task(sweep, name="wecom-sweep"))
        await ended.wait()
        if isinstance(telegram, TelegramBot):
            telegram.request_stop()
        if polling is not None:
            await polling
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def run_platforms(
    app: App, stop: asyncio.Event | None = None, *, jobs: Sequence[Job] = ()
) -> None:
    """Serve /healthz, the Telegram webhook and the WeCom callback; run the configured bots.

    Runs until SIGINT/SIGTERM, or until `stop` is set (tests, embedding). Of several
    instances on one PostgreSQL database, the leader (bot.instances) also polls Telegram or
    holds the WeCom robot's connection, ticks, sends the outbox and runs `jobs` (each with
    the started channels, cancelled when it stops leading); on SQLite the one instance
    leads, and a second one on the same file is refused (InstanceError).
    """
    settings = app.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, stop.set)  # only possible in the main thread
    own = leader_only(app)
    channels = {p: c for p, c in make_channels(app).items() if p not in own}
    telegram = channels.get("telegram")
    wecom = channels.get("wecom")
    routes: list[Route] = [health_route(app.engine)]
    in_flight = InFlight(app.engine)
    webhook = settings.telegram.webhook_url
    if isinstance(telegram, TelegramBot) and webhook:
        path = urlsplit(webhook).path or "/"
        # one delivery of an update at a time, across the instances (bot.instances.InFlight)
        handle = in_flight.wrap("telegram", telegram.handle_json)
        routes.append(telegram_webhook_route(path, webhook_secret(app), handle))
    if isinstance(wecom, WecomBot):
        routes.append(wecom.route(settings.wecom.callback_path))
    server = _QuietServer(
        uvicorn.Config(
            build_server(routes),
            host=settings.server.host,
            port=settings.server.port,
            log_level="warning",
            # uvicorn's own logging configuration would give its loggers handlers that write
            # past the redaction and the JSON format: its lines go to the root handler.
            log_config=None,
            lifespan="off",
        )
    )
    leadership = Leadership(
        app.engine, retry=settings.leader.retry_seconds, check=settings.leader.check_seconds
    )
    async with contextlib.AsyncExitStack() as started:
        started.enter_context(single_instance(settings.database_url))
        started.push_async_callback(in_flight.close)
        for channel in channels.values():
            await channel.start()
            started.push_async_callback(channel.stop)
        serving = asyncio.create_task(server.serve())
        if isinstance(telegram, TelegramBot) and webhook:  # every instance serves it
            await telegram.use_webhook(webhook, webhook_secret(app))
            log.info("Telegram webhook mode: %s", webhook)
        if isinstance(wecom, WecomBot):
            log.info("WeCom callback on %s", settings.wecom.callback_path)

        async def leading(ended: asyncio.Event) -> None:
            await lead(app, channels, ended, jobs)

        leader = asyncio.create_task(leadership.run(stop, leading), name="leadership")
        log.info("serving /healthz on %s:%s", settings.server.host, settings.server.port)
        # What start-up made (modules, settings, the org) is kept out of the collector's
        # passes: fewer objects to scan, and a stop that does not tear them down one by
        # one (measured: the interpreter's exit fell from 1.4-1.8 s to 0.1 s under load).
        gc.freeze()
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({stopping, leader}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        stop.set()  # the leader's work failed (it raised): the whole instance stops with it
        if isinstance(telegram, TelegramBot):
            telegram.request_stop()
        try:
            await leader
        finally:
            server.should_exit = True
            await serving

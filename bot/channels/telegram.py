"""The Telegram adapter: updates in, the core's `Delivery`, Bot API calls out.

It only translates. Updates are fetched by our own long-polling loop (or arrive by
webhook). In polling, a batch is confirmed to Telegram (the next getUpdates' offset) once
the core has stored it with its replies; the replies then go out per chat, in order, chats
side by side, while the next batch is fetched and handled: one chat's long answer, paced at
Telegram's one message a second, makes nobody else wait. A reply is marked sent once it
went out (by the core); replies stored but not sent (a crash, a stop in the middle of
pacing) are sent when polling starts again. A webhook update is answered only after its
replies went out, so Telegram delivers it again if they could not be sent; the core's
processed-message keys make each update count once.

The hot path stays close to the wire: a private text message is read from its JSON (PTB's
`Update` is built only for the rarer kinds: buttons, photos, edits, groups), and replies,
button answers and edits are posted as dicts through PTB's rate limiter without building
a `Message` from each answer. HTTP goes through aiohttp (bot.channels.telegram_request)
unless the caller passes another PTB request. Pacing, flood waits and retries run on the
clock and the sleep passed in, so tests pace in virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter
from telegram.request import BaseRequest

from bot.channels.telegram_request import AiohttpRequest
from bot.core import types
from bot.core.conversation import Outcome
from bot.core.delivery import SWEEP_WINDOW, Delivery, SentMarks
from bot.core.messages import text as msg
from bot.core.types import Incoming, Kind, Photo, Reply, SendFailed

log = logging.getLogger(__name__)

__all__ = [
    "InvalidToken",
    "NetworkError",
    "PacedRateLimiter",
    "TelegramBot",
    "TelegramError",
    "fetch_username",
]

PLATFORM = "telegram"
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile limit
SEND_ENDPOINTS = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument"}
)
PACED_ENDPOINTS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
NETWORK_RETRIES = 4


_RETRY = object()  # a batch must be delivered again
STOP_GRACE = 0.5  # seconds a stop leaves replies being paced out; the rest go after a restart
SWEEP_LIMIT = 5000  # unsent replies looked up when polling starts


Sleep = Callable[[float], Awaitable[None]]


def retry_seconds(error: RetryAfter) -> float:
    """The wait a RetryAfter asks for, in seconds (PTB gives an int or a timedelta)."""
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class _Bucket:
    """A leaky bucket: `burst` calls at once, then `rate` a second.

    Written here rather than taken from aiolimiter (PTB's AIORateLimiter uses it): aiolimiter
    reads the event loop's clock and waits on its timers, and pacing must run on the clock
    and the sleep the bot is given, so that tests pace in virtual time.
    """

    __slots__ = ("burst", "checked", "level", "rate")

    def __init__(self, burst: float, rate: float) -> None:
        self.burst = burst
        self.rate = rate
        self.level = 0.0
        self.checked = 0.0

    def idle(self, now: float) -> bool:
        """True when the bucket has drained (it may be forgotten)."""
        self.level = max(0.0, self.level - (now - self.checked) * self.rate)
        self.checked = now
        return self.level == 0.0

    async def acquire(self, monotonic: Callable[[], float], sleep: Sleep) -> None:
        while True:
            self.idle(monotonic())
            if self.level + 1 <= self.burst:
                self.level += 1
                return
            await sleep((self.level + 1 - self.burst) / self.rate)


class PacedRateLimiter(BaseRateLimiter[int]):
    """Telegram's flood limits on the bot's clock: `overall_rate` calls a second to chats,
    20 a minute per group, a burst of 4 then `chat_rate` messages a second per private chat.
    A RetryAfter holds every call for the time Telegram asks, then the call is tried again
    (up to `max_retries`); a send that met a network error is retried with backoff.

    The rules of PTB's AIORateLimiter plus pacing per private chat and network retries.
    """

    def __init__(
        self,
        *,
        overall_rate: float = 30.0,
        chat_rate: float = 1.0,
        chat_burst: int = 4,
        group_per_minute: float = 20.0,
        max_retries: int = 3,
        network_backoff: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Args:
        overall_rate: calls a second to all chats together (0: no limit).
        monotonic, sleep: the clock and the wait of pacing and retries.
        """
        self._overall = _Bucket(overall_rate, overall_rate) if overall_rate > 0 else None
        self._chat_rate = chat_rate
        self._chat_burst = chat_burst
        self._group_rate = group_per_minute / 60
        self._group_burst = group_per_minute
        self._max_retries = max_retries
        self._backoff = network_backoff
        self._monotonic = monotonic
        self._sleep = sleep
        self._chats: dict[int | str, _Bucket] = {}
        self._resume_at = 0.0  # no call before this time (a RetryAfter)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _bucket(self, chat: int | str, private: bool) -> _Bucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) > 4096:  # drained buckets of idle chats are forgotten
                now = self._monotonic()
                self._chats = {k: b for k, b in self._chats.items() if not b.idle(now)}
            bucket = (
                _Bucket(self._chat_burst, self._chat_rate)
                if private
                else _Bucket(self._group_burst, self._group_rate)
            )
            self._chats[chat] = bucket
        return bucket

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):  # an int chat id given as a string
            chat_id = int(chat_id)  # type: ignore[arg-type]
        monotonic, sleep = self._monotonic, self._sleep
        if endpoint in PACED_ENDPOINTS and isinstance(chat_id, int) and chat_id > 0:
            await self._bucket(chat_id, private=True).acquire(monotonic, sleep)
        retries = rate_limit_args or self._max_retries
        network_retries = NETWORK_RETRIES if endpoint in SEND_ENDPOINTS else 0
        floods = failures = 0
        while True:
            if isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0):
                await self._bucket(chat_id, private=False).acquire(monotonic, sleep)
            if chat_id is not None and self._overall is not None:
                await self._overall.acquire(monotonic, sleep)
            while (wait := self._resume_at - monotonic()) > 0:
                await sleep(wait)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if floods == retries:
                    raise
                floods += 1
                wait = retry_seconds(error) + 0.1
                log.info("%s: flood limit; every call waits %.1f s", endpoint, wait)
                self._resume_at = max(self._resume_at, monotonic() + wait)
            except BadRequest:
                raise
            except NetworkError as error:  # includes TimedOut; BadRequest is handled above
                if failures == network_retries:
                    raise
                delay = self._backoff * 2**failures
                failures += 1
                log.warning("%s failed (%s); retrying in %.1f s", endpoint, error, delay)
                await sleep(delay)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split a long text into messages under Telegram's limit (characters)."""
    return types.split_text(text, limit)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Lay the choices out as inline buttons: short labels three a row, long ones alone."""
    if not reply.choices:
        return None
    longest = max(len(c.label) for c in reply.choices)
    per_row = 3 if longest <= 6 else 2 if longest <= 12 else 1
    buttons = [InlineKeyboardButton(c.label, callback_data=c.value) for c in reply.choices]
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(rows)


def keyboard_json(reply: Reply) -> dict[str, Any] | None:
    """`keyboard` as the Bot API's JSON, without building PTB objects."""
    if not reply.choices:
        return None
    longest = max(len(c.label) for c in reply.choices)
    per_row = 3 if longest <= 6 else 2 if longest <= 12 else 1
    buttons = [{"text": c.label, "callback_data": c.value} for c in reply.choices]
    return {"inline_keyboard": [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]}


def message_key(chat_id: int, update_id: int) -> str:
    """The key the core claims for an update: '{chat id}/u{update_id}'. The chat comes first
    so that replies stored but never sent can be sent after a restart."""
    return f"{chat_id}/u{update_id}"


def _chat_of(key: str) -> int | None:
    """The chat of a message key (None for keys of older versions, 'u{update_id}')."""
    head, slash, _ = key.partition("/")
    if not slash:
        return None
    try:
        return int(head)
    except ValueError:
        return None


def _private_text(data: dict[str, Any], update_id: int) -> tuple[int, Incoming] | None:
    """A private chat's plain text message read straight from its JSON; None when the
    update is anything else or not well formed, for PTB to read (or refuse) it."""
    if len(data) != 2:
        return None
    message = data.get("message")
    if type(message) is not dict:
        return None
    text = message.get("text")
    chat = message.get("chat")
    user = message.get("from")
    date = message.get("date")
    if (
        type(text) is not str
        or type(chat) is not dict
        or type(user) is not dict
        or type(date) is not int
        or type(message.get("message_id")) is not int
        or chat.get("type") != "private"
        or "forward_origin" in message
    ):
        return None
    chat_id = chat.get("id")
    user_id = user.get("id")
    first = user.get("first_name")
    last = user.get("last_name")
    language = user.get("language_code")
    if (
        type(chat_id) is not int
        or type(user_id) is not int
        or user.get("is_bot") is not False
        or type(first) is not str
        or (last is not None and type(last) is not str)
        or (language is not None and type(language) is not str)
    ):
        return None
    incoming = Incoming(
        platform=PLATFORM,
        user_id=str(user_id),
        message_id=message_key(chat_id, update_id),
        at=datetime.fromtimestamp(date, UTC),
        text=text,
        display_name=f"{first} {last}" if last else first,
        locale=language,
    )
    return chat_id, incoming


def _locale(language_code: str | None) -> str:
    """The catalogue for a Telegram user's language (the core's own rule for newcomers)."""
    return "en" if language_code and language_code.lower().startswith("en") else "zh"


def _update_id(data: object) -> int | None:
    """The update_id of an update's JSON, if it has a valid one."""
    if not isinstance(data, dict):
        return None
    value = data.get("update_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pressed_label(query: CallbackQuery) -> str | None:
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


@dataclass(eq=False)
class _Delivery:
    """The replies to one processed update, waiting their turn in their chat."""

    key: str  # the update's message key: marked sent once the replies went out
    replies: list[Reply]
    menu: tuple[tuple[str, str], ...] | None = None  # the person's new command menu
    user_id: int | None = None  # whose menu
    done: asyncio.Future[bool] | None = None  # webhook: told when sent (True) or failed


class TelegramBot:
    """Huibao on Telegram."""

    platform = PLATFORM

    def __init__(
        self,
        delivery: Delivery,
        *,
        token: str,
        base_url: str,
        base_file_url: str,
        photos_dir: Path,
        poll_timeout: int = 30,
        menus: Callable[[], list[tuple[str, str, tuple[tuple[str, str], ...]]]] | None = None,
        default_menus: dict[str, tuple[tuple[str, str], ...]] | None = None,
        chat_rate: float = 1.0,
        network_backoff: float = 0.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        overall_rate: float = 30.0,
        request: BaseRequest | None = None,
        get_updates_request: BaseRequest | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Args:
        clock: the time a button press is stamped with (a callback query has no date of
            its own); the composition root passes the App's clock.
        overall_rate: Bot API calls a second to all chats together (Telegram's 30).
        request, get_updates_request: the transport of the Bot API calls and of the long
            poll (default: aiohttp); tests pass an in-process Bot API.
        monotonic, sleep: the clock and the wait of pacing, flood waits and retries;
            tests pass virtual ones.
        """
        self._delivery = delivery
        self._clock = clock
        self._photos_dir = photos_dir
        self._poll_timeout = poll_timeout
        self._menus = menus
        self._default_menus = default_menus or {}
        self._backoff = network_backoff
        self._pause = sleep
        # The core is synchronous (SQLAlchemy); a few threads keep the event loop free.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="huibao-core")
        self._username: str | None = None
        self._stop = asyncio.Event()
        self._fetch: asyncio.Future[list[object]] | None = None  # the long poll in flight
        # Replies waiting per chat, each chat's sender task, and the keys not marked yet.
        self._queues: dict[int, deque[_Delivery]] = {}
        self._senders: dict[int, asyncio.Task[None]] = {}
        self._in_flight: set[str] = set()
        self._marks = SentMarks(delivery, run=self._in_worker, marked=self._marked)
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            # Room for every chat being sent to at once; a request waits for a free
            # connection rather than failing after PTB's default of 1 s.
            .request(request or AiohttpRequest(connection_pool_size=64, pool_timeout=30.0))
            .get_updates_request(get_updates_request or AiohttpRequest(connection_pool_size=1))
            .rate_limiter(
                PacedRateLimiter(
                    overall_rate=overall_rate,
                    chat_rate=chat_rate,
                    max_retries=3,
                    network_backoff=network_backoff,
                    monotonic=monotonic,
                    sleep=sleep,
                )
            )
            .updater(None)
            .build()
        )

    @property
    def bot(self) -> Bot:
        """The PTB bot."""
        bot: Bot = self.application.bot
        return bot

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Initialise PTB, learn the bot's name, set the command menus."""
        await self.application.initialize()
        await self.application.start()
        self._username = self.bot.username
        await self._set_default_menus()

    async def stop(self) -> None:
        """Stop PTB and the worker threads (replies still queued are sent after a restart)."""
        self._stop.set()
        await self._drain(0.0)
        with contextlib.suppress(Exception):
            await self.application.stop()
        await self.application.shutdown()
        self._executor.shutdown(wait=True)

    def request_stop(self) -> None:
        """Ask the polling loop to finish: the long poll is cancelled at once, a batch in
        hand is handled and stored first."""
        self._stop.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def poll(self) -> None:
        """Long-poll getUpdates; confirm a batch (the next offset) once it is stored.

        An update that cannot be read is logged, skipped and confirmed with the others.
        Replies stored but never sent before this start go out first.
        """
        await self.bot.delete_webhook()
        # Queued before the first batch is read: an update delivered again finds its key
        # in flight and is not sent twice.
        await self._send_unsent(datetime.now(UTC))
        offset: int | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                raw = await self._fetch_updates(offset)
                failures = 0
            except RetryAfter as error:
                await self._sleep(retry_seconds(error))
                continue
            except (NetworkError, TelegramError) as error:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("getUpdates failed (%s); retrying in %.1f s", error, delay)
                await self._sleep(delay)
                continue
            if not raw:
                continue
            ids = [i for i in map(_update_id, raw) if i is not None]
            if not ids:  # nothing to confirm them by: Telegram always sends update_id
                failures += 1
                log.warning("getUpdates gave %d updates without an update_id", len(raw))
                await self._sleep(min(30.0, 0.5 * 2**failures))
                continue
            updates = [u for u in map(self.parse_update, raw) if u is not None]
            if updates and await self._take_in(updates) is None:
                # An update could not be read (network): leave the batch unconfirmed.
                failures += 1
                await self._sleep(min(30.0, 0.5 * 2**failures))
                continue
            offset = max(ids) + 1
        if offset is not None:  # confirm the last batch before leaving
            with contextlib.suppress(TelegramError, TimeoutError):
                await asyncio.wait_for(self._get_updates(offset, 0), STOP_GRACE / 2)
        await self._drain(STOP_GRACE)

    async def _fetch_updates(self, offset: int | None) -> list[object] | None:
        """One long poll; None when `request_stop` cancelled it."""
        fetch = self._fetch = asyncio.ensure_future(self._get_updates(offset, self._poll_timeout))
        try:
            return await fetch
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._stop.is_set() and not (task is not None and task.cancelling()):
                return None
            raise
        finally:
            self._fetch = None

    async def _get_updates(self, offset: int | None, timeout: int) -> list[object]:
        """One getUpdates call, its updates left as JSON to be read one by one.

        PTB's `Bot.get_updates` reads the whole batch at once, so one malformed update
        would fail the call (and log the batch's contents with a traceback) every time.
        """
        result = await self.bot._post(
            "getUpdates",
            {"offset": offset, "timeout": timeout, "allowed_updates": Update.ALL_TYPES},
            read_timeout=timeout + 10,
        )
        if not isinstance(result, list):
            raise TelegramError(f"getUpdates gave {type(result).__name__}, not a list")
        return result

    def parse_update(self, data: object) -> Update | tuple[int, Incoming] | None:
        """Read one update's JSON: a private text as (chat id, Incoming) straight away,
        anything else as PTB's Update; None, logged in one line, if it cannot be read."""
        update_id = _update_id(data)
        if update_id is None:
            log.warning("an update without a valid update_id was skipped")
            return None
        text = _private_text(cast(dict[str, Any], data), update_id)
        if text is not None:
            return text
        try:
            return Update.de_json(cast(dict[str, Any], data), self.bot)
        except Exception as error:  # PTB raises KeyError, TypeError, ... on bad shapes
            # Only the kind and the error's type: the update may hold what people typed.
            kinds = ",".join(str(k) for k in cast(dict[str, Any], data) if k != "update_id")
            log.warning(
                "update %s (%s) was skipped: it could not be read (%s)",
                update_id,
                kinds[:60] or "empty",
                type(error).__name__,
            )
            return None

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds` on the bot's clock, or until a stop is asked for."""
        if self._stop.is_set():
            return
        pause = asyncio.ensure_future(self._pause(seconds))
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((pause, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            pause.cancel()
            stop.cancel()

    async def use_webhook(self, url: str, secret: str) -> None:
        """Have Telegram post updates to `url`, signed with `secret`."""
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)

    async def handle_json(self, data: dict[str, object]) -> bool:
        """Handle one update posted to the webhook; False if it must be delivered again.

        An update that cannot be read is logged and skipped (True): delivering it again
        would not make it readable.
        """
        update = self.parse_update(data)
        if update is None:
            return True
        return await self.handle_batch([update])

    async def handle_batch(self, updates: Sequence[Update | tuple[int, Incoming]]) -> bool:
        """Handle updates and wait until their replies went out (the webhook's way).

        Returns False when some reply could not be sent for a passing reason (network,
        flood limits), so the caller must let the updates be delivered again.
        """
        waiting = await self._take_in(updates, wait=True)
        if waiting is None:
            return False
        return all(await asyncio.gather(*waiting))

    async def _take_in(
        self, updates: Sequence[Update | tuple[int, Incoming]], *, wait: bool = False
    ) -> list[asyncio.Future[bool]] | None:
        """Read the updates (answer button presses, fetch photos), run the core on all of
        them in one worker call, in order, and queue their replies, each in its chat.

        None when an update could not be read for a passing reason (the batch must come
        again); else, with `wait`, a future per queued delivery.
        """
        loop = asyncio.get_running_loop()
        read = await asyncio.gather(
            *(self._read(update) for update in updates if not isinstance(update, tuple))
        )
        if any(item is _RETRY for item in read):
            return None
        items: list[tuple[int, Incoming]] = []
        parsed = iter(read)
        for update in updates:  # in the order they came
            item = update if isinstance(update, tuple) else next(parsed)
            if isinstance(item, tuple):
                items.append(item)
        # One worker call for the batch: a call per update made the worker and the event
        # loop trade the interpreter lock at every SQLite call (measured: 5.9 against
        # 3.1 ms CPU per update).
        outcomes = await loop.run_in_executor(
            self._executor, self._process_all, [incoming for _, incoming in items]
        )
        waiting: list[asyncio.Future[bool]] = []
        for (chat_id, incoming), outcome in zip(items, outcomes, strict=True):
            if incoming.message_id in self._in_flight:
                continue  # delivered again while its replies are still queued
            delivery = _Delivery(incoming.message_id, outcome.replies)
            if outcome.menu is not None and not incoming.in_group:
                delivery.menu, delivery.user_id = outcome.menu, int(incoming.user_id)
            if wait:
                delivery.done = loop.create_future()
                waiting.append(delivery.done)
            self._enqueue(chat_id, delivery)
        return waiting

    def _process_all(self, incomings: list[Incoming]) -> list[Outcome]:
        return self._delivery.process_batch(incomings)

    # -- delivery -----------------------------------------------------------------------

    def _enqueue(self, chat_id: int, delivery: _Delivery) -> None:
        """Queue replies behind those already waiting in this chat."""
        self._in_flight.add(delivery.key)
        queue = self._queues.get(chat_id)
        if queue is None:
            queue = self._queues[chat_id] = deque()
        queue.append(delivery)
        if chat_id not in self._senders:
            self._senders[chat_id] = asyncio.create_task(self._send_chat(chat_id, queue))

    async def _send_chat(self, chat_id: int, queue: deque[_Delivery]) -> None:
        """Send one chat's queued replies in order, retrying what fails for a passing reason
        (a webhook's update fails instead: Telegram delivers it again)."""
        failures = 0
        try:
            while queue:
                delivery = queue[0]
                sent = await self._deliver(chat_id, delivery)
                if not sent and delivery.done is None:
                    failures += 1
                    await self._sleep(min(30.0, self._backoff * 2**failures))
                    if self._stop.is_set():
                        return  # stored, not sent: it goes out after the restart
                    continue
                failures = 0
                queue.popleft()
                if sent and delivery.done is not None:
                    # webhook: marked before the answer, so that a second delivery of the
                    # update to another instance finds its replies sent (bot.instances)
                    await self._marks.now(delivery.key)
                elif sent:
                    self._marks.add(delivery.key)
                else:
                    self._in_flight.discard(delivery.key)
                if delivery.done is not None and not delivery.done.done():
                    delivery.done.set_result(sent)
        finally:
            del self._senders[chat_id]
            if not queue:
                del self._queues[chat_id]

    async def _deliver(self, chat_id: int, delivery: _Delivery) -> bool:
        """Send the replies to one update; False if they must be tried again later."""
        if delivery.replies:
            try:
                await self.send(chat_id, delivery.replies)
            except Forbidden as error:  # blocked by the user: nothing to retry
                log.warning("chat %s cannot be written to: %s", chat_id, error)
            except BadRequest:
                log.exception("a reply to chat %s was refused", chat_id)
            except (NetworkError, RetryAfter) as error:
                log.warning("replies to chat %s not sent (%s); will retry", chat_id, error)
                return False
            except Exception:  # a bug must not stop the bot
                log.exception("replies to chat %s could not be sent", chat_id)
        if delivery.menu is not None and delivery.user_id is not None:
            await self._set_chat_menu(delivery.user_id, delivery.menu)
        return True

    async def _in_worker(self, mark: Callable[[list[str]], None], keys: list[str]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, mark, keys)

    def _marked(self, keys: list[str]) -> None:
        self._in_flight.difference_update(keys)

    async def _drain(self, grace: float) -> None:
        """Give queued replies `grace` seconds to go out, stop the senders, write the marks."""
        senders = list(self._senders.values())
        if senders and grace > 0:
            await asyncio.wait(senders, timeout=grace)
        for task in self._senders.values():
            task.cancel()
        for task in list(self._senders.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._queues.values():
            for delivery in queue:
                if delivery.done is not None and not delivery.done.done():
                    delivery.done.set_result(False)
        self._queues.clear()
        await self._marks.flush()

    async def _send_unsent(self, before: datetime) -> None:
        """Queue the replies stored before `before` but never sent (a crash or a stop came
        between); keys of older versions, which do not name the chat, are marked sent."""
        loop = asyncio.get_running_loop()

        def unsent() -> list[tuple[str, list[Reply]]]:
            return self._delivery.unsent(
                processed_before=before, processed_after=before - SWEEP_WINDOW, limit=SWEEP_LIMIT
            )

        try:
            rows = await loop.run_in_executor(self._executor, unsent)
        except Exception:
            log.exception("the replies not sent before the restart could not be looked up")
            return
        for key, stored in rows:
            if key in self._in_flight:
                continue
            chat_id = _chat_of(key)
            replies = stored if chat_id is not None else []
            if replies:
                log.info("sending the replies to Telegram update %s, stored before a restart", key)
                self._enqueue(cast(int, chat_id), _Delivery(key, replies))
            else:
                self._in_flight.add(key)
                self._marks.add(key)

    async def _read(self, update: Update) -> tuple[int, Incoming] | object | None:
        """An update as (chat id, Incoming); None to ignore it; _RETRY on a network error."""
        try:
            if update.callback_query is not None:
                return await self._read_callback(update, update.callback_query)
            incoming = await self._incoming(update)
        except BadRequest:
            log.exception("update %s could not be read", update.update_id)
            return None
        except (NetworkError, RetryAfter) as error:
            log.warning(
                "update %s not read (%s); the batch will come again", update.update_id, error
            )
            return _RETRY
        except Exception:  # a bug must not stop the bot: this update is skipped, logged
            log.exception("update %s could not be read", update.update_id)
            return None
        chat = update.effective_chat
        if incoming is None or chat is None:
            return None
        return chat.id, incoming

    # -- one update ---------------------------------------------------------------------

    async def _incoming(self, update: Update) -> Incoming | None:
        edited = update.edited_message
        message = update.message
        in_group = update.effective_chat is not None and update.effective_chat.type in (
            ChatType.GROUP,
            ChatType.SUPERGROUP,
        )
        user = update.effective_user
        chat = update.effective_chat
        if user is None or user.is_bot or chat is None:
            return None
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "user_id": str(user.id),
            "message_id": message_key(chat.id, update.update_id),
            "display_name": user.full_name,
            "locale": user.language_code,
            "in_group": in_group,
        }
        if edited is not None:
            if in_group:
                return None
            return Incoming(at=edited.edit_date or edited.date, kind=Kind.EDITED, **base)
        if message is None:
            return None
        at = message.date or self._clock()
        if in_group:
            text = message.text or ""
            if not self._addressed_to_me(text):
                return None  # groups: only commands meant for this bot
            return Incoming(at=at, text=text, **base)
        if message.forward_origin is not None:
            return Incoming(at=at, kind=Kind.FORWARDED, **base)
        if message.text is not None:
            return Incoming(at=at, text=message.text, **base)
        if message.photo:
            return Incoming(at=at, kind=Kind.PHOTO, photo=await self._photo(message), **base)
        return Incoming(at=at, kind=Kind.UNSUPPORTED, **base)

    def _addressed_to_me(self, text: str) -> bool:
        if not text.startswith("/"):
            return False
        head = text.split(maxsplit=1)[0]
        if "@" not in head:
            return True
        return head.split("@", 1)[1].lower() == (self._username or "").lower()

    async def _photo(self, message: Message) -> Photo:
        largest = message.photo[-1]
        if largest.file_size is not None and largest.file_size > DOWNLOAD_LIMIT:
            return Photo(largest.file_id, largest.file_size, too_large=True)
        target = self._photos_dir / f"{largest.file_unique_id}.jpg"
        try:
            file = await largest.get_file()
            target.parent.mkdir(parents=True, exist_ok=True)
            await file.download_to_drive(target)
        except BadRequest as error:
            if "too big" in str(error).lower():
                return Photo(largest.file_id, largest.file_size, too_large=True)
            raise
        return Photo(largest.file_id, largest.file_size, stored_path=str(target))

    async def _read_callback(
        self, update: Update, query: CallbackQuery
    ) -> tuple[int, Incoming] | None:
        message = query.message
        user = query.from_user
        chat = message.chat if message is not None else None
        if chat is not None and chat.type == ChatType.PRIVATE and chat.id != user.id:
            # A private chat's buttons are its owner's: a press by anyone else changes nothing.
            log.warning("user %s pressed a button of private chat %s: refused", user.id, chat.id)
            text = msg(_locale(user.language_code), "button_not_yours")
            with contextlib.suppress(BadRequest):
                await self._call(
                    "answerCallbackQuery", {"callback_query_id": query.id, "text": text}
                )
            return None
        if not isinstance(message, Message) or query.data is None:
            await self._call("answerCallbackQuery", {"callback_query_id": query.id})
            return None
        in_group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        # The pressed message loses its buttons, so it cannot act twice; the press is
        # answered (Telegram's clients show a spinner until then) at the same time.
        label = _pressed_label(query)
        where = {"chat_id": message.chat.id, "message_id": message.message_id}
        if message.text is not None and label is not None:
            edit = self._call(
                "editMessageText",
                {**where, "text": f"{message.text_html}\n\n➡️ {label}", "parse_mode": "HTML"},
            )
        else:
            edit = self._call("editMessageReplyMarkup", where)
        await asyncio.gather(
            self._call("answerCallbackQuery", {"callback_query_id": query.id}), edit
        )
        incoming = Incoming(
            platform=PLATFORM,
            user_id=str(user.id),
            message_id=message_key(message.chat.id, update.update_id),
            at=self._clock(),
            kind=Kind.BUTTON,
            text=query.data,
            display_name=user.full_name,
            locale=user.language_code,
            in_group=in_group,
        )
        return message.chat.id, incoming

    async def _call(self, endpoint: str, data: dict[str, Any]) -> Any:
        """A Bot API call through the rate limiter, its answer left as JSON.

        A BadRequest (a press too old to answer, an edit of a message gone) is ignored:
        what the call was for still counts.
        """
        with contextlib.suppress(BadRequest):
            return await self.bot._post(endpoint, data)
        return None

    async def send(self, chat_id: int, replies: Sequence[Reply]) -> None:
        """Send replies in order; only the last part of a long text carries the buttons."""
        post = self.bot._post
        for reply in replies:
            parts = split_text(reply.text)
            last = len(parts) - 1
            for index, part in enumerate(parts):
                data: dict[str, Any] = {"chat_id": chat_id, "text": part}
                markup = keyboard_json(reply) if index == last else None
                if markup is not None:
                    data["reply_markup"] = markup
                await post("sendMessage", data)
            if reply.image is not None:
                await self.bot.send_photo(
                    chat_id, reply.image.content, filename=reply.image.filename
                )
            if reply.document is not None:
                await self.bot.send_document(
                    chat_id, reply.document.content, filename=reply.document.filename
                )

    async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
        """Send on the bot's own initiative (the outbox): `address` is the person's chat id.

        Raises SendFailed; permanent when the person blocked the bot or the chat is gone.
        (RetryAfter and network errors were already retried by the rate limiter.)
        """
        try:
            await self.send(int(address), replies)
        except Forbidden as exc:
            raise SendFailed(f"telegram: {exc.message}", permanent=True) from exc
        except BadRequest as exc:
            permanent = "chat not found" in exc.message.lower()
            raise SendFailed(f"telegram: {exc.message}", permanent=permanent) from exc
        except RetryAfter as exc:
            raise SendFailed(
                "telegram: flood", permanent=False, retry_after=retry_seconds(exc)
            ) from exc
        except TelegramError as exc:
            raise SendFailed(f"telegram: {exc.message}", permanent=False) from exc

    # -- menus and errors ---------------------------------------------------------------

    async def _set_default_menus(self) -> None:
        for key, menu in self._default_menus.items():
            scope_name, _, language = key.partition(":")
            scope = (
                BotCommandScopeAllGroupChats()
                if scope_name == "group"
                else BotCommandScopeAllPrivateChats()
            )
            await self._set_commands(menu, scope, language or None)
        if self._menus is not None:
            loop = asyncio.get_running_loop()
            for user_id, _locale, menu in await loop.run_in_executor(self._executor, self._menus):
                await self._set_chat_menu(int(user_id), menu)

    async def _set_chat_menu(self, chat_id: int, menu: tuple[tuple[str, str], ...]) -> None:
        with contextlib.suppress(BadRequest, Forbidden):
            await self._set_commands(menu, BotCommandScopeChat(chat_id), None)

    async def _set_commands(
        self, menu: tuple[tuple[str, str], ...], scope: Any, language: str | None
    ) -> None:
        commands = [BotCommand(name, description) for name, description in menu]
        await self.bot.set_my_commands(commands, scope=scope, language_code=language)


async def fetch_username(token: str, base_url: str) -> str:
    """Ask the Bot API for the bot's @username (getMe)."""
    async with Bot(token, base_url=base_url) as bot:
        return bot.username

"""The Telegram adapter: PTB updates in, `Conversation.process`, Bot API calls out.

It only translates. Updates are fetched by our own long-polling loop (or arrive by
webhook) and the offset that confirms them to Telegram advances only after they were
handled, so a killed bot gets every pending update again on restart; the core's
processed-message keys make each count once, and replies that were committed but not
sent are sent then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from aiolimiter import AsyncLimiter
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
from telegram._utils.defaultvalue import DefaultValue
from telegram.constants import ChatType, MessageLimit
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import HTTPXRequest, RequestData

from bot import types
from bot.conversation import Conversation, Outcome
from bot.messages import text as msg
from bot.types import Incoming, Kind, Photo, Reply, SendFailed

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
SEND_SLOTS = 4  # chats sent to at once: more made httpx scan its pool on every request


class PacedRateLimiter(AIORateLimiter):
    """PTB's limiter (30/s overall, 20/min per group, RetryAfter honoured) plus pacing per
    private chat (a burst of 4, then 1 message per second) and retries of network errors."""

    def __init__(
        self,
        *,
        chat_rate: float = 1.0,
        chat_burst: int = 4,
        network_backoff: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._backoff = network_backoff
        self._chat_rate = chat_rate
        self._chat_burst = chat_burst
        self._chats: dict[int, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            if len(self._chats) > 4096:
                self._chats.clear()  # limiters of idle chats are cheap to rebuild
            limiter = AsyncLimiter(self._chat_burst, self._chat_burst / self._chat_rate)
            self._chats[chat_id] = limiter
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint not in SEND_ENDPOINTS:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        chat_id = data.get("chat_id")
        if endpoint in PACED_ENDPOINTS and isinstance(chat_id, int) and chat_id > 0:
            await self._chat_limiter(chat_id).acquire()
        for attempt in range(NETWORK_RETRIES + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise
            except NetworkError as error:  # includes TimedOut; BadRequest is handled above
                if attempt == NETWORK_RETRIES:
                    raise
                delay = self._backoff * 2**attempt
                log.warning("%s failed (%s); retrying in %.1f s", endpoint, error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


class JsonRequest(HTTPXRequest):
    """PTB's httpx transport, posting JSON bodies instead of form-encoded ones.

    PTB form-encodes every call without a file; urllib percent-encodes that byte by byte
    in Python, which for Chinese text with a keyboard cost more than the rest of sending
    the message (measured: 0.2 against 0.02 s per 1,200 messages under cProfile).
    The Bot API takes application/json for every call except uploads, which keep
    PTB's multipart path.
    """

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Post `request_data` as JSON; files go the way PTB sends them."""
        if request_data is None or request_data.contains_files:
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        defaults = self._client.timeout
        timeout = httpx.Timeout(
            connect=_given(connect_timeout, defaults.connect),
            read=_given(read_timeout, defaults.read),
            write=_given(write_timeout, defaults.write),
            pool=_given(pool_timeout, defaults.pool),
        )
        headers = {"User-Agent": self.USER_AGENT, "Content-Type": "application/json"}
        try:
            response = await self._client.request(
                method, url, headers=headers, timeout=timeout, content=request_data.json_payload
            )
        except httpx.TimeoutException as error:  # as HTTPXRequest maps them
            raise TimedOut from error
        except httpx.HTTPError as error:
            raise NetworkError(f"httpx.{error.__class__.__name__}: {error}") from error
        return response.status_code, response.content


def _given(value: Any, default: float | None) -> float | None:
    """A timeout passed to a Bot call, or the transport's default for PTB's DEFAULT_NONE."""
    return default if isinstance(value, DefaultValue) else cast(float | None, value)


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


class TelegramBot:
    """Huibao on Telegram."""

    platform = PLATFORM

    def __init__(
        self,
        conversation: Conversation,
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
    ) -> None:
        """Args:
        clock: the time a button press is stamped with (a callback query has no date of
            its own); the composition root passes the App's clock.
        """
        self._conversation = conversation
        self._clock = clock
        self._photos_dir = photos_dir
        self._poll_timeout = poll_timeout
        self._menus = menus
        self._default_menus = default_menus or {}
        # The core is synchronous (SQLAlchemy); a few threads keep the event loop free.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="huibao-core")
        self._username: str | None = None
        self._stop = asyncio.Event()
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            # Room for a batch's callback answers at once; a request waits for a free
            # connection rather than failing after PTB's default of 1 s.
            .request(JsonRequest(connection_pool_size=64, pool_timeout=30.0))
            .get_updates_request(JsonRequest(connection_pool_size=1))
            .rate_limiter(
                PacedRateLimiter(
                    max_retries=3, chat_rate=chat_rate, network_backoff=network_backoff
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
        self._send_slots = asyncio.Semaphore(SEND_SLOTS)
        await self.application.initialize()
        await self.application.start()
        self._username = self.bot.username
        await self._set_default_menus()

    async def stop(self) -> None:
        """Stop PTB and the worker threads."""
        self._stop.set()
        with contextlib.suppress(Exception):
            await self.application.stop()
        await self.application.shutdown()
        self._executor.shutdown(wait=True)

    def request_stop(self) -> None:
        """Ask the polling loop to finish after the batch in hand."""
        self._stop.set()

    async def poll(self) -> None:
        """Long-poll getUpdates; confirm an update (next offset) only after handling it.

        An update that cannot be read is logged, skipped and confirmed with the others.
        """
        await self.bot.delete_webhook()
        offset: int | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                raw = await self._get_updates(offset, self._poll_timeout)
                failures = 0
            except RetryAfter as error:
                wait = error.retry_after
                await self._sleep(wait.total_seconds() if isinstance(wait, timedelta) else wait)
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
            if updates and not await self.handle_batch(updates):
                # A reply could not be sent: leave the batch unconfirmed. Telegram gives
                # it again; handled updates are duplicates then, whose unsent replies go out.
                failures += 1
                await self._sleep(min(30.0, 0.5 * 2**failures))
                continue
            offset = max(ids) + 1
        if offset is not None:  # confirm the last batch before leaving
            with contextlib.suppress(TelegramError):
                await self._get_updates(offset, 0)

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

    def parse_update(self, data: object) -> Update | None:
        """Read one update's JSON; None, logged in one line, if it cannot be read."""
        update_id = _update_id(data)
        if update_id is None:
            log.warning("an update without a valid update_id was skipped")
            return None
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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

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

    async def handle_batch(self, updates: Sequence[Update]) -> bool:
        """Handle a batch in three steps: read the updates (answer button presses, fetch
        photos), run the core on all of them in one worker call, in order, then send the
        replies, chats in parallel (at most a few at once) and each chat in order.

        Returns False when some reply could not be sent for a passing reason (network,
        flood limits), so the caller must let the batch be delivered again.
        """
        loop = asyncio.get_running_loop()
        read = await asyncio.gather(*(self._read(update) for update in updates))
        if any(item is _RETRY for item in read):
            return False
        items = [item for item in read if isinstance(item, tuple)]
        # One worker call for the batch: a call per update made the worker and the event
        # loop trade the interpreter lock at every SQLite call (measured: 5.9 against
        # 3.1 ms CPU per update).
        outcomes = await loop.run_in_executor(
            self._executor, self._process_all, [incoming for _, incoming in items]
        )
        by_chat: dict[int, list[tuple[Incoming, Outcome]]] = defaultdict(list)
        for (chat_id, incoming), outcome in zip(items, outcomes, strict=True):
            by_chat[chat_id].append((incoming, outcome))
        delivered: list[str] = []
        results = await asyncio.gather(
            *(self._deliver_chat(chat_id, pairs, delivered) for chat_id, pairs in by_chat.items())
        )
        if delivered:  # one UPDATE for the whole batch
            await loop.run_in_executor(
                self._executor, self._conversation.mark_sent, PLATFORM, delivered
            )
        return all(results)

    def _process_all(self, incomings: list[Incoming]) -> list[Outcome]:
        return self._conversation.process_batch(incomings)

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

    async def _deliver_chat(
        self, chat_id: int, pairs: list[tuple[Incoming, Outcome]], delivered: list[str]
    ) -> bool:
        """Send one chat's replies in order; False if they must be tried again later."""
        async with self._send_slots:
            for incoming, outcome in pairs:
                if outcome.replies:
                    try:
                        await self.send(chat_id, outcome.replies)
                    except Forbidden as error:  # blocked by the user: nothing to retry
                        log.warning("chat %s cannot be written to: %s", chat_id, error)
                    except BadRequest:
                        log.exception("a reply to chat %s was refused", chat_id)
                    except (NetworkError, RetryAfter) as error:
                        log.warning("replies to chat %s not sent (%s); will retry", chat_id, error)
                        return False
                    except Exception:  # a bug must not stop the bot
                        log.exception("replies to chat %s could not be sent", chat_id)
                    delivered.append(incoming.message_id)
                if outcome.menu is not None and not incoming.in_group:
                    await self._set_chat_menu(int(incoming.user_id), outcome.menu)
        return True

    # -- one update ---------------------------------------------------------------------

    async def _incoming(self, update: Update) -> Incoming | None:
        edited = update.edited_message
        message = update.message
        in_group = update.effective_chat is not None and update.effective_chat.type in (
            ChatType.GROUP,
            ChatType.SUPERGROUP,
        )
        user = update.effective_user
        if user is None or user.is_bot:
            return None
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "user_id": str(user.id),
            "message_id": f"u{update.update_id}",
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
            with contextlib.suppress(BadRequest):
                await query.answer(msg(_locale(user.language_code), "button_not_yours"))
            return None
        with contextlib.suppress(BadRequest):  # too old to answer: the press still counts
            await query.answer()
        if not isinstance(message, Message) or query.data is None:
            return None
        in_group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        # The pressed message loses its buttons, so it cannot act twice.
        label = _pressed_label(query)
        with contextlib.suppress(BadRequest):
            if message.text is not None and label is not None:
                await message.edit_text(f"{message.text_html}\n\n➡️ {label}", parse_mode="HTML")
            else:
                await message.edit_reply_markup(reply_markup=None)
        incoming = Incoming(
            platform=PLATFORM,
            user_id=str(user.id),
            message_id=f"u{update.update_id}",
            at=self._clock(),
            kind=Kind.BUTTON,
            text=query.data,
            display_name=user.full_name,
            locale=user.language_code,
            in_group=in_group,
        )
        return message.chat.id, incoming

    async def send(self, chat_id: int, replies: Sequence[Reply]) -> None:
        """Send replies in order; only the last part of a long text carries the buttons."""
        for reply in replies:
            parts = split_text(reply.text)
            for index, part in enumerate(parts):
                markup = keyboard(reply) if index == len(parts) - 1 else None
                await self.bot.send_message(chat_id, part, reply_markup=markup)
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
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise SendFailed("telegram: flood", permanent=False, retry_after=seconds) from exc
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

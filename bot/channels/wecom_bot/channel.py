"""Huibao as a WeCom intelligent robot (智能机器人) over its long connection.

It only translates: message and event frames become Incoming values for the core, the
core's replies become frames. A person is the same WeCom UserID as on the self-built app,
so the platform is "wecom" too (one or the other runs; see docs/wecom.md).

Nothing is lost across a dropped connection or a crash, and nothing counts twice:

1. a frame is kept by the core (`bot.core.delivery`) as it arrives, before anything else;
2. the core processes it under its processed-message key ('{userid}/{msgid}'), in one
   transaction with its replies; then the kept copy is forgotten;
3. the replies go out: on the frame's own req_id while that connection is open and
   WeCom's time to answer it lasts, else as messages of the bot's own (aibot_send_msg);
   then they are marked sent.

Every time the connection is up again (and every `sweep_every` seconds while it is), the
kept frames not yet processed are processed and the replies not yet sent are sent, before
new frames of the same person. A duplicated frame, or one delivered again, finds its key
taken and counts once. Whatever is sent is paced per chat.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import random
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.wecom.adapter import PRESSED, Card
from bot.channels.wecom.api import FLOOD_CODE, FLOOD_WAIT, PERMANENT_CODES
from bot.channels.wecom_bot import protocol
from bot.channels.wecom_bot.link import (
    AUTH_RETRY,
    RECONNECT,
    Backoff,
    Connector,
    Link,
    LinkDown,
    Refused,
    Sleep,
    State,
    within,
)
from bot.channels.wecom_bot.protocol import Callback, Frame, MalformedFrame, Media, Outgoing
from bot.core.conversation import Outcome
from bot.core.delivery import SWEEP_WINDOW, Delivery
from bot.core.messages import text as msg
from bot.core.types import (
    Choice,
    Document,
    Incoming,
    Kind,
    Photo,
    Reply,
    SendFailed,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

PLATFORM = "wecom"
KEPT = "wecom_robot"  # what this channel's frames are kept as (the app keeps its own)
REPLY_WITHIN = 300.0  # a message may be answered on its req_id (WeCom: within 6 minutes)
EVENT_REPLY_WITHIN = 4.0  # a welcome or a card update (WeCom: within 5 seconds)
DOWNLOAD_LIMIT = 20 * 1024 * 1024
DOWNLOAD_TRIES = 3
MESSAGE_KEY_LIMIT = 128
PRESSED_KEY = "hb:pressed"  # the one button a pressed card keeps; pressing it does nothing
CARDS_KEPT = 10_000


class TooLarge(Exception):
    """A file over the download limit."""


class MediaError(Exception):
    """A file could not be fetched or decrypted."""


def decrypt_media(data: bytes, aeskey: str) -> bytes:
    """Decrypt a file people sent: AES-256-CBC, IV = the key's first 16 bytes, PKCS#7
    padding to 32 bytes (as WeCom pads); MediaError if it does not decrypt."""
    try:
        key = base64.b64decode(aeskey + "=" * (-len(aeskey) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError("the aeskey is not base64") from exc
    if len(key) != 32 or not data or len(data) % 16:
        raise MediaError("not AES-256-CBC data")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
        raise MediaError("bad padding")
    return plain[:-pad]


class ChatPacer:
    """At most `limit` messages to one chat in any `period` seconds; the rest wait (none
    is dropped). Time comes from `monotonic` and `sleep`."""

    def __init__(
        self,
        limit: int = 20,
        period: float = 60.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._limit = limit
        self._period = period
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def wait(self, chat: str) -> None:
        """Return when one more message may go to `chat` (and count it)."""
        lock = self._locks.get(chat)
        if lock is None:
            lock = self._locks[chat] = asyncio.Lock()
        async with lock:
            times = self._sent.setdefault(chat, deque())
            while True:
                now = self._monotonic()
                while times and times[0] <= now - self._period:
                    times.popleft()
                if len(times) < self._limit:
                    times.append(now)
                    break
                await self._sleep(times[0] + self._period - now)
        if len(self._sent) > 4096:  # forget chats that have been quiet for a period
            cutoff = self._monotonic() - self._period
            for name in [c for c, t in self._sent.items() if not t or t[-1] <= cutoff]:
                del self._sent[name]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a frame came from: the connection that can answer it, and when it arrived."""

    link: Link | None  # None for a frame taken up again after a restart or a drop
    received: float


def item_key(callback: Callback, index: int) -> str:
    """The processed-message key of one part of a message ('#n' after the first)."""
    key = callback.key if index == 0 else f"{callback.key}#{index}"
    if len(key) > MESSAGE_KEY_LIMIT:
        digest = hashlib.sha1(key.split("/", 1)[1].encode()).hexdigest()
        key = f"{callback.user}/{digest}"
    return key


class WecomRobot:
    """Huibao as a WeCom intelligent robot on its long connection."""

    platform = PLATFORM

    def __init__(
        self,
        delivery: Delivery,
        *,
        url: str,
        bot_id: str,
        secret: str,
        photos_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        http: httpx.AsyncClient | None = None,
        chat_limit: tuple[int, float] = (20, 60.0),
        reply_within: float = REPLY_WITHIN,
        event_reply_within: float = EVENT_REPLY_WITHIN,
        sweep_every: float = 60.0,
        offline_wait: float = 10.0,
        heartbeat_every: float = 30.0,
        backoff: Backoff = RECONNECT,
        auth_backoff: Backoff = AUTH_RETRY,
    ) -> None:
        """Args:
        delivery: the core's, keeping frames as KEPT.
        """
        self._delivery = delivery
        self._photos_dir = photos_dir
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._http = http or httpx.AsyncClient(timeout=30, follow_redirects=True)
        self._pacer = ChatPacer(*chat_limit, monotonic=monotonic, sleep=sleep)
        self._reply_within = reply_within
        self._event_reply_within = event_reply_within
        self._sweep_every = sweep_every
        self._offline_wait = offline_wait
        self.connector = Connector(
            url,
            bot_id,
            secret,
            on_frame=self._on_frame,
            on_online=self._on_online,
            sleep=sleep,
            jitter=jitter,
            heartbeat_every=heartbeat_every,
            backoff=backoff,
            auth_backoff=auth_backoff,
        )
        # The core is synchronous (SQLAlchemy); a few threads keep the event loop free.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="huibao-robot")
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._in_flight: set[str] = set()  # frame keys being handled now
        self._tasks: set[asyncio.Task[None]] = set()
        self._cards: OrderedDict[str, Card] = OrderedDict()  # task_id -> the card sent
        self._resumed = asyncio.Event()  # new frames wait while the connection resumes
        self._resumed.set()
        self._running: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where the connection stands."""
        return self.connector.state

    async def start(self) -> None:
        """Start connecting (in the background: a refusal is retried, the process stays up)."""
        self._running = asyncio.create_task(self.connector.run(), name="wecom-robot")
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="wecom-robot-sweep")

    async def stop(self) -> None:
        """Close the connection, let work in progress finish briefly, then stop."""
        await self.connector.stop()
        for task in (self._sweeper, self._running):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        for task in set(self._tasks):
            task.cancel()
        await self._http.aclose()
        self._executor.shutdown(wait=True)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lock(self, user: str) -> asyncio.Lock:
        lock = self._locks.get(user)
        if lock is None:
            lock = self._locks[user] = asyncio.Lock()
        return lock

    # -- frames in ----------------------------------------------------------------------

    def _on_frame(self, frame: Frame, link: Link) -> None:
        """A message or event frame arrived (called by the reader: never blocks)."""
        try:
            callback = protocol.read_callback(frame)
        except MalformedFrame as problem:
            log.warning("WeCom robot: a %s frame ignored (%s)", frame.cmd, problem)
            return
        if callback.msgtype == "event":
            if callback.event == protocol.CARD_PRESSED:
                if not callback.event_key or callback.event_key == PRESSED_KEY:
                    return  # a press on a card already pressed
                if callback.key not in self._in_flight:
                    self._spawn(self._update_card(callback, link, self._monotonic()))
            elif callback.event != protocol.ENTER_CHAT:
                log.info("WeCom robot: event %r ignored", callback.event[:40])
                return
        if callback.key in self._in_flight:
            log.info("WeCom robot: frame %s is already being handled", callback.key)
            return
        self._in_flight.add(callback.key)
        body = {"cmd": frame.cmd, "body": dict(frame.body)}
        self._spawn(self._handle(callback, body, Origin(link, self._monotonic())))

    async def _handle(self, callback: Callback, body: dict[str, Any], origin: Origin) -> None:
        key = callback.key
        try:
            try:
                await self._run(self._delivery.keep, key, body)
            except Exception as error:  # processed all the same, only not kept
                log.warning("WeCom robot: frame %s not kept (%s)", key, _short(error))
            await self._resumed.wait()
            async with self._lock(callback.user):
                await self._work(callback, origin)
        except Exception:  # a bug must not stop the channel
            log.exception("WeCom robot: frame %s could not be handled", key)
        finally:
            self._in_flight.discard(key)

    async def _work(self, callback: Callback, origin: Origin) -> None:
        """Process a frame (its parts in order), forget the kept copy, send the replies."""
        incomings = await self._incomings(callback)
        if incomings is None:  # a photo could not be fetched: ask for it again
            locale = await self._run(self._delivery.locale, callback.user)
            await self._forget_quietly(callback.key)
            await self._deliver(callback, origin, [Reply(msg(locale, "photo_not_received"))])
            return
        outcomes = [await self._process(incoming) for incoming in incomings]
        await self._forget_quietly(callback.key)
        replies = [reply for outcome in outcomes for reply in outcome.replies]
        keys = [incoming.message_id for incoming in incomings]
        await self._delivery.send(keys, self._deliver(callback, origin, replies))

    async def _process(self, incoming: Incoming) -> Outcome:
        """Let the core process a message; a failure is tried once more, then the core's
        "sorry" goes out (retrying a fault would not help)."""
        outcome = await self._run(self._delivery.process, incoming)
        if outcome.failed:
            outcome = await self._run(self._delivery.process, incoming)
        return outcome

    async def _incomings(self, callback: Callback) -> list[Incoming] | None:
        """What a frame means to the core: one Incoming per part; None if a photo failed."""
        at = self._clock()
        if callback.msgtype == "event":
            if callback.event == protocol.ENTER_CHAT:  # the core's greeting: how to join,
                kind, said = Kind.TEXT, "/start"  # or the help and the question open
            else:
                kind, said = Kind.BUTTON, callback.event_key
            return [Incoming(PLATFORM, callback.user, callback.key, at, kind, said, in_group=False)]
        incomings = []
        for index, item in enumerate(callback.items):
            key = item_key(callback, index)
            photo = None
            if item.kind == "text":
                kind, said = Kind.TEXT, item.text
            elif item.kind == "image" and item.media is not None:
                photo = await self._photo(callback, item.media, key)
                if photo is None:
                    return None
                kind, said = Kind.PHOTO, ""
            else:
                kind, said = Kind.UNSUPPORTED, ""
            incomings.append(
                Incoming(
                    PLATFORM,
                    callback.user,
                    key,
                    at,
                    kind,
                    said,
                    photo=photo,
                    in_group=callback.in_group,
                )
            )
        return incomings

    async def _photo(self, callback: Callback, media: Media, key: str) -> Photo | None:
        """Fetch, decrypt and store a photo; None when it could not be fetched."""
        ref = f"robot:{key}"
        for attempt in range(1, DOWNLOAD_TRIES + 1):
            try:
                content = decrypt_media(await self._download(media.url), media.aeskey)
            except TooLarge:
                return Photo(ref, too_large=True)
            except (httpx.HTTPError, MediaError) as error:
                log.warning(
                    "WeCom robot: photo of %s not fetched (try %d: %s)", key, attempt, _short(error)
                )
                if attempt < DOWNLOAD_TRIES:
                    await self._sleep(attempt * 1.0)
                continue
            suffix = ".png" if content.startswith(b"\x89PNG") else ".jpg"
            name = hashlib.sha256(key.encode()).hexdigest()[:32]
            target = self._photos_dir / f"{name}{suffix}"
            await self._run(_write_file, target, content)
            return Photo(ref, len(content), stored_path=str(target))
        return None

    async def _download(self, url: str) -> bytes:
        async with self._http.stream("GET", url) as response:
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > DOWNLOAD_LIMIT + 32:
                    raise TooLarge
        return bytes(data)

    # -- frames out ---------------------------------------------------------------------

    async def _deliver(self, callback: Callback, origin: Origin, replies: Sequence[Reply]) -> bool:
        """Send a frame's replies; False when they must wait for the next connection."""
        mode: Literal["message", "welcome", "none"] = "none"
        within_s = self._event_reply_within
        if callback.msgtype != "event":
            mode, within_s = "message", self._reply_within
        elif callback.event == protocol.ENTER_CHAT:
            mode = "welcome"
        deadline = origin.received + within_s
        try:
            for message in protocol.outgoing(replies):
                link = origin.link
                answerable = mode == "message" or (mode == "welcome" and message[0] != "file")
                if link is not None and link.open and answerable:
                    if self._monotonic() < deadline:
                        try:
                            await self._answer(link, callback, message, mode)
                            if mode == "welcome":
                                mode = "none"  # one welcome; the rest is written
                            continue
                        except (Refused, LinkDown) as error:
                            log.info(
                                "WeCom robot: answering %s failed (%s); writing instead",
                                callback.key,
                                _short(error),
                            )
                    mode = "none"
                await self._push(callback.chat, message)
        except LinkDown:
            log.info("WeCom robot: replies to %s wait for the connection", callback.key)
            return False
        except Refused as refused:
            if refused.errcode in PERMANENT_CODES:
                log.warning("WeCom robot: %s cannot be written to: %s", callback.chat, refused)
                return True
            log.warning("WeCom robot: replies to %s not sent (%s)", callback.key, refused)
            return False
        return True

    async def _answer(self, link: Link, callback: Callback, message: Outgoing, mode: str) -> None:
        """Answer a frame on its req_id."""
        if mode == "welcome":
            if message[0] == "text":
                body = protocol.welcome_text_json(message[1])
            else:
                assert message[0] == "card"
                body = protocol.template_card_json(message[1], self._remember(message[1]))
            await self._pacer.wait(callback.chat)
            await link.request(protocol.WELCOME, body, req_id=callback.req_id)
            return
        if message[0] == "text":
            body = protocol.stream_json(message[1], f"hb{uuid.uuid4().hex}")
        else:
            body = await self._body(link, message)
        await self._pacer.wait(callback.chat)
        await link.request(protocol.RESPOND, body, req_id=callback.req_id)

    async def _push(self, chat: str, message: Outgoing) -> None:
        """Write to a chat on the bot's own (aibot_send_msg); LinkDown when offline."""
        link = self.connector.link
        if link is None or not link.open:
            raise LinkDown("not connected")
        if message[0] == "text":
            body = protocol.markdown_json(message[1])
        else:
            body = await self._body(link, message)
        await self._pacer.wait(chat)
        await link.request(protocol.SEND, {"chatid": chat, **body})

    async def _body(self, link: Link, message: Outgoing) -> dict[str, Any]:
        """A card, or an uploaded file or image, as a message body."""
        if message[0] == "card":
            return protocol.template_card_json(message[1], self._remember(message[1]))
        if message[0] == "text":
            return protocol.markdown_json(message[1])
        media_id = await self._upload(link, message[0], message[1])
        return protocol.media_json(message[0], media_id)

    def _remember(self, card: Card) -> str:
        task_id = f"hb{uuid.uuid4().hex}"
        self._cards[task_id] = card
        while len(self._cards) > CARDS_KEPT:
            self._cards.popitem(last=False)
        return task_id

    async def _upload(self, link: Link, kind: Literal["file", "image"], file: Document) -> str:
        """Upload a file in pieces; its media_id."""
        content = file.content
        chunks = max(1, -(-len(content) // protocol.CHUNK_BYTES))
        if chunks > protocol.MAX_CHUNKS:
            raise Refused(40006, f"{file.filename}: {len(content)} bytes is too large to send")
        init = await link.request(
            protocol.UPLOAD_INIT,
            {
                "type": kind,
                "filename": file.filename,
                "total_size": len(content),
                "total_chunks": chunks,
                "md5": hashlib.md5(content).hexdigest(),
            },
        )
        upload_id = init.body.get("upload_id")
        if not isinstance(upload_id, str) or not upload_id:
            raise Refused(-1, "the upload got no upload_id")
        for index in range(chunks):
            piece = content[index * protocol.CHUNK_BYTES : (index + 1) * protocol.CHUNK_BYTES]
            await link.request(
                protocol.UPLOAD_CHUNK,
                {
                    "upload_id": upload_id,
                    "chunk_index": index,
                    "base64_data": base64.b64encode(piece).decode(),
                },
            )
        finish = await link.request(protocol.UPLOAD_FINISH, {"upload_id": upload_id})
        media_id = finish.body.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise Refused(-1, "the upload got no media_id")
        return media_id

    async def _update_card(self, callback: Callback, link: Link, received: float) -> None:
        """A pressed card shows the choice and keeps one button that does nothing."""
        card = self._cards.get(callback.task_id)
        label = ""
        if card is not None:
            label = next((c.label for c in card.choices if c.value == callback.event_key), "")
        pressed = PRESSED.format(label=label).strip()
        new_look = Card(
            card.title if card else pressed,
            card.body if card else "",
            (Choice(pressed, PRESSED_KEY),),
        )
        if self._monotonic() >= received + self._event_reply_within:
            log.info("WeCom robot: card %s pressed too long ago to update", callback.task_id)
            return
        try:
            await link.request(
                protocol.UPDATE,
                protocol.update_json(new_look, callback.task_id),
                req_id=callback.req_id,
            )
        except (Refused, LinkDown, TimeoutError) as error:  # the press counts all the same
            log.info("WeCom robot: card %s not updated (%s)", callback.task_id, _short(error))

    async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
        """Send on the bot's own initiative (the outbox): `address` is the member's UserID.

        Raises SendFailed: passing while the connection is down, permanent when WeCom
        refuses the recipient or the message for good.
        """
        reconnecting = self.connector.state in (State.STARTING, State.WAITING)
        if self.connector.link is None and reconnecting:  # a drop: it is back in seconds
            with contextlib.suppress(TimeoutError):
                waiting = asyncio.ensure_future(self.connector.online.wait())
                try:
                    await within(waiting, self._offline_wait, self._sleep)
                finally:
                    waiting.cancel()
        try:
            async with self._lock(address):
                for message in protocol.outgoing(replies):
                    await self._push(address, message)
        except LinkDown as down:
            state = self.connector.state.value
            raise SendFailed(f"wecom robot: {state}", permanent=False, retry_after=60) from down
        except TimeoutError as late:
            raise SendFailed("wecom robot: no answer", permanent=False) from late
        except Refused as refused:
            raise SendFailed(
                f"wecom robot: {refused}",
                permanent=refused.errcode in PERMANENT_CODES,
                retry_after=FLOOD_WAIT if refused.errcode == FLOOD_CODE else None,
            ) from refused

    # -- resuming -----------------------------------------------------------------------

    async def _on_online(self, link: Link) -> None:
        """The connection is up: take up what a drop or a crash left, before new frames."""
        self._resumed.clear()
        try:
            await self._resume()
        finally:
            self._resumed.set()

    async def _sweep_forever(self) -> None:
        while True:
            await self._sleep(self._sweep_every)
            if self.connector.link is not None:
                try:
                    await self._resume()
                except Exception:
                    log.exception("WeCom robot: the sweep failed")

    async def _resume(self) -> None:
        """Process the kept frames and send the unsent replies (each in its person's turn)."""
        kept, unsent = await self._run(self._waiting)
        taken: set[str] = set()
        for key, body in kept:
            if key in self._in_flight:
                continue
            try:
                callback = protocol.read_callback(
                    Frame(str(body.get("cmd", protocol.MESSAGE)), "resumed", body.get("body", {}))
                )
            except MalformedFrame:
                await self._forget_quietly(key)
                continue
            if callback.key != key:  # cannot happen for a kept frame; do not keep it forever
                await self._forget_quietly(key)
                continue
            taken.add(key)
            self._in_flight.add(key)
            log.info("WeCom robot: processing frame %s, received before a drop or restart", key)
            self._spawn(self._resume_frame(callback))
        for key, stored in unsent:
            frame_key = key.split("#", 1)[0]
            if frame_key in self._in_flight or frame_key in taken:
                continue
            self._in_flight.add(frame_key)
            self._spawn(self._resend(frame_key, key, stored))

    async def _resume_frame(self, callback: Callback) -> None:
        try:
            async with self._lock(callback.user):  # the first thing: keeps the order
                await self._work(callback, Origin(None, self._monotonic()))
        except Exception:
            log.exception("WeCom robot: frame %s could not be taken up", callback.key)
        finally:
            self._in_flight.discard(callback.key)

    async def _resend(self, frame_key: str, key: str, replies: list[Reply]) -> None:
        user = key.split("/", 1)[0]
        try:
            async with self._lock(user):
                if replies:
                    log.info("WeCom robot: sending the unsent replies to %s", key)
                callback = Callback("", "-", user, "", "resent")
                sending = self._deliver(callback, Origin(None, 0.0), replies)
                await self._delivery.send([key], sending)
        except Exception:
            log.exception("WeCom robot: the replies to %s could not be sent", key)
        finally:
            self._in_flight.discard(frame_key)

    # -- the core's keeping ----------------------------------------------------------------

    async def _forget_quietly(self, key: str) -> None:
        try:
            await self._run(self._delivery.forget, key)
        except Exception as error:  # found processed at the next resume: no harm
            log.warning("WeCom robot: kept frame %s not forgotten (%s)", key, _short(error))

    def _waiting(self) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, list[Reply]]]]:
        """The kept frames and the unsent replies, all of them (this channel runs on the
        leading instance only: nothing is on its way elsewhere)."""
        now = datetime.now(UTC)  # stored times are the real time
        soon = now + timedelta(minutes=1)
        kept = self._delivery.waiting(soon)
        unsent = self._delivery.unsent(processed_before=soon, processed_after=now - SWEEP_WINDOW)
        return kept, unsent


def _write_file(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def _short(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]

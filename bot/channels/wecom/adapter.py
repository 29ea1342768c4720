"""The WeCom adapter: callbacks in, `Conversation.process`, `message/send` out.

It only translates. A callback is checked (size, timestamp, corp id, signature), decrypted
and turned into an Incoming; the core processes it (and commits its replies) before the
HTTP answer, which waits at most `answer_within` seconds (WeCom gives up after 5 s and
tries again); the replies are then sent in the background, paced per member. WeCom's
retries carry the same MsgId (or, for events, the same event in the same second), and the
core's processed-message key makes them count once. A callback answered before it was
processed is kept by the core until it is. Replies committed but not sent (a crash, WeCom
unreachable) and kept callbacks are found by the core's sweep (`Delivery.sweep`, run by the
leading instance) and handed back here: `resend`, `take_up`. A callback that could be
neither processed nor kept (the database refuses writes) is answered 503, so WeCom sends it
again.

Message formats: https://developer.work.weixin.qq.com/document/path/90239 (received
messages), /90240 (events), /90236 (message/send, template_card), /94888 (update card).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import re
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.channels.wecom.api import Sleep, TooLarge, WecomApi, WecomError
from bot.channels.wecom.callback import CallbackMessage, MalformedXml, parse_envelope, parse_message
from bot.channels.wecom.crypto import CryptoError, WecomCrypto
from bot.core import types
from bot.core.conversation import Outcome
from bot.core.delivery import Delivery
from bot.core.messages import text as msg
from bot.core.types import Choice, Incoming, Kind, Photo, Reply, SendFailed

log = logging.getLogger(__name__)

PLATFORM = "wecom"
TEXT_LIMIT = 2048  # bytes of a text message; WeCom cuts longer ones
CARD_BUTTONS = 6  # buttons on a button_interaction card
CARD_TITLE_CHARS = 36  # main_title.title, as the API page recommends
CARD_BODY_CHARS = 160  # sub_title_text
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # photos people send; the catalogue says "over 20 MB"
MAX_BODY = 64 * 1024  # a callback is a few hundred bytes of XML
MESSAGE_KEY_LIMIT = 128  # processed_messages.message_key
SIGNATURE = re.compile(r"^[0-9a-fA-F]{40}$")  # msg_signature: a SHA1 in hex
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")  # seconds (WeCom sends ten digits)
NONCE = re.compile(r"^[\x21-\x7e]{1,64}$")  # WeCom sends a few digits
MENU_KEY = re.compile(r"^[a-z]{2,20}$")  # an app menu item's key names a command
UNSUPPORTED_TYPES = frozenset({"voice", "video", "location", "link", "file", "shortvideo"})
PRESSED = "✓ {label}"  # a pressed card's buttons give way to this


# A photo message whose media WeCom does not have (invalid or missing media_id).
PHOTO_LOST: Literal["photo lost"] = "photo lost"
INVALID_MEDIA_ID = 40007


def _received() -> Response:
    """WeCom's "got it": HTTP 200 with an empty body (no passive reply)."""
    return PlainTextResponse("")


def _refused(status: int, why: str) -> Response:
    """Refuse a callback with one warning line (no traceback, nothing of its content)."""
    log.warning("WeCom callback refused (%d): %s", status, why)
    text = {400: "bad request", 403: "forbidden", 413: "too large"}.get(status, "refused")
    return PlainTextResponse(text, status_code=status)


def _short(error: BaseException) -> str:
    """An error on one line (the engine hides SQL parameters, so no personal data)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


@dataclass(frozen=True, slots=True)
class Card:
    """A button_interaction card: a title, an optional text under it, up to six buttons."""

    title: str
    body: str
    choices: tuple[Choice, ...]


ReplyPart = tuple[Literal["text"], str] | tuple[Literal["card"], Card]


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split a text into messages of at most `limit` UTF-8 bytes (WeCom counts bytes)."""
    return types.split_text(text, limit, in_bytes=True)


def plan(reply: Reply) -> list[ReplyPart]:
    """The messages one reply becomes on WeCom (files not included).

    Choices become cards of at most six buttons. With more than six, the numbered choices
    are also listed in the text, so typing the number works as well. A text short enough
    to fit goes on the first card; a longer one is sent as text first, and the card asks
    its last line (e.g. "以上内容对吗？").
    """
    if not reply.choices:
        return [("text", part) for part in split_text(reply.text)]
    text = reply.text.strip()
    choices = reply.choices
    if len(choices) > CARD_BUTTONS and all(c.shortcut for c in choices):
        text += "\n" + "  ".join(f"{c.shortcut}) {c.label}" for c in choices)
    lines = text.split("\n") if text else []
    title = lines[0].strip() if lines else ""
    body = "\n".join(lines[1:]).strip()
    steps: list[ReplyPart] = []
    if not title or len(title) > CARD_TITLE_CHARS or len(body) > CARD_BODY_CHARS:
        last = lines[-1].strip() if lines else ""
        if len(lines) > 1 and 0 < len(last) <= CARD_TITLE_CHARS:
            steps += [("text", part) for part in split_text("\n".join(lines[:-1]))]
            title = last
        else:
            if text:
                steps += [("text", part) for part in split_text(text)]
            title = "👇"  # a card needs a title; the words are in the text above
        body = ""
    groups = [choices[i : i + CARD_BUTTONS] for i in range(0, len(choices), CARD_BUTTONS)]
    for number, group in enumerate(groups, 1):
        if number == 1:
            steps.append(("card", Card(title, body, group)))
        else:
            steps.append(("card", Card(f"{title} ({number}/{len(groups)})", "", group)))
    return steps


class MemberPacer:
    """Paces messages to each member under WeCom's limits of 30 a minute and 1000 an hour
    per member and app, beyond which WeCom drops messages without saying so.

    A leaky bucket lets a full bucket through at once and then `rate` a second, so in any
    window W at most capacity + rate x W pass. With a capacity of half the per-minute limit
    and a rate of that half per minute, a minute sees at most 15 + 15 = 30 and an hour at
    most 15 + 900 = 915 (< 1000). Messages wait, in order; none is dropped.

    Written here rather than with aiolimiter (as before) because aiolimiter reads the event
    loop's clock and sleeps by itself; time here comes from `monotonic` and `sleep`, so
    tests check the spacing in virtual time.
    """

    def __init__(
        self,
        per_period: int = 30,
        period: float = 60.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._capacity = max(1, per_period // 2)
        self._rate = self._capacity / period  # messages a second
        self._monotonic = monotonic
        self._sleep = sleep
        self._levels: dict[str, tuple[float, float]] = {}  # member -> (level, measured at)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _level(self, member: str, now: float) -> float:
        level, measured = self._levels.get(member, (0.0, now))
        return max(0.0, level - (now - measured) * self._rate)

    async def wait(self, member: str) -> None:
        """Return when one more message may go to `member` (and count it)."""
        lock = self._locks.get(member)
        if lock is None:
            lock = self._locks[member] = asyncio.Lock()
        async with lock:  # first come, first served
            while True:
                now = self._monotonic()
                level = self._level(member, now)
                if level + 1 <= self._capacity + 1e-9:
                    self._levels[member] = (level + 1, now)
                    break
                await self._sleep((level + 1 - self._capacity) / self._rate)
        if len(self._levels) > 4096:  # forget members whose bucket has drained
            now = self._monotonic()
            for name in [m for m in self._levels if self._level(m, now) == 0]:
                del self._levels[name]


@dataclass(frozen=True, slots=True)
class _SendingPlace:
    """A place in one member's sending order."""

    user: str
    previous: asyncio.Future[None] | None
    mine: asyncio.Future[None]


class _Outcome:
    """How far a callback got before the HTTP answer."""

    PROCESSED = "processed"
    RETRY = "retry"  # nothing was processed; WeCom should deliver the callback again


class WecomBot:
    """Huibao as a WeCom self-built app (自建应用).

    Pacing takes its time from `monotonic` and `sleep` (tests give a virtual clock); `clock`
    is the wall clock that callbacks' timestamps are checked against.
    """

    platform = PLATFORM

    def __init__(
        self,
        delivery: Delivery,
        *,
        api: WecomApi,
        crypto: WecomCrypto,
        corp_id: str,
        photos_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        member_limit: tuple[int, float] = (30, 60.0),
        answer_within: float = 3.0,
        max_skew: float = 300.0,
        sweep_every: float = 60.0,
        sweep_after: float = 30.0,
    ) -> None:
        """Args:
        sweep_every, sweep_after: how often the core's sweep should look for unsent replies,
            and how old they must be (younger ones may still be paced out): `Delivery.sweep`.
        """
        self.delivery = delivery
        self.sweep_every = sweep_every
        self.sweep_after = sweep_after
        self._api = api
        self._crypto = crypto
        self._corp_id = corp_id
        self._photos_dir = photos_dir
        self._clock = clock
        self._pacer = MemberPacer(*member_limit, monotonic=monotonic, sleep=sleep)
        self._answer_within = answer_within
        self._max_skew = max_skew
        # The core is synchronous (SQLAlchemy); a few threads keep the event loop free.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="huibao-wecom")
        # Per member: messages are processed one at a time, in order of arrival, and the
        # replies go out in the same order, each batch after the one before (a chain of
        # futures), without holding up the processing of the next message.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._last_send: dict[str, asyncio.Future[None]] = {}
        # key -> whether it was processed, for the messages being handled now
        self._in_flight: dict[str, asyncio.Future[str]] = {}
        # Keys of messages answered before they were processed, kept by the core until
        # they are.
        self._kept: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # task_id -> {button key: label}, to show the pressed label on the card afterwards
        self._labels: OrderedDict[str, dict[str, str]] = OrderedDict()

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Check the credentials (fetch an access token)."""
        await self._api.access_token()

    async def stop(self) -> None:
        """Let replies in flight go out (briefly), then stop."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        for task in set(self._tasks):
            task.cancel()
        await self._api.close()
        self._executor.shutdown(wait=True)

    def route(self, path: str) -> Route:
        """The callback route: GET verifies the URL, POST delivers messages and events."""
        return Route(path, self.endpoint, methods=["GET", "POST"])

    async def endpoint(self, request: Request) -> Response:
        """Serve one callback request."""
        if request.method == "GET":
            return self._verify_url(request)
        return await self._receive(request)

    # -- callbacks ----------------------------------------------------------------------

    def _check_query(self, signature: str, timestamp: str, nonce: str) -> Response | None:
        """Refuse a missing or malformed signature, timestamp or nonce, or a stale one."""
        if not (signature and timestamp and nonce):
            return _refused(400, "msg_signature, timestamp or nonce missing")
        for name, value, form in (
            ("msg_signature", signature, SIGNATURE),
            ("timestamp", timestamp, TIMESTAMP),
            ("nonce", nonce, NONCE),
        ):
            if not form.match(value):
                return _refused(400, f"malformed {name} ({len(value)} characters)")
        skew = abs(self._clock().timestamp() - int(timestamp))
        if skew > self._max_skew:
            return _refused(403, f"timestamp {skew:.0f} s off (clock skew?)")
        return None

    def _verify_url(self, request: Request) -> Response:
        """GET: answer the decrypted echostr, as the admin console checks the URL."""
        query = request.query_params
        signature, timestamp = query.get("msg_signature", ""), query.get("timestamp", "")
        nonce, echostr = query.get("nonce", ""), query.get("echostr", "")
        if not echostr:
            return _refused(400, "URL check without echostr")
        refused = self._check_query(signature, timestamp, nonce)
        if refused is not None:
            return refused
        if not self._crypto.verify(signature, timestamp, nonce, echostr):
            # a '+' left unescaped in the query string arrives as a space
            echostr = echostr.replace(" ", "+")
            if not self._crypto.verify(signature, timestamp, nonce, echostr):
                return _refused(403, "URL check with a bad signature")
        try:
            plain = self._crypto.decrypt(echostr)
        except CryptoError as error:
            return _refused(403, f"URL check: {error}")
        return PlainTextResponse(plain)

    async def _receive(self, request: Request) -> Response:
        """POST: check, decrypt, process, answer; the replies go out in the background."""
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared[:12]) > MAX_BODY:
            return _refused(413, f"a body of {declared[:12]} bytes or more")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    return _refused(413, f"a body over {MAX_BODY} bytes")
        except ClientDisconnect:
            return _received()
        query = request.query_params
        signature, timestamp = query.get("msg_signature", ""), query.get("timestamp", "")
        refused = self._check_query(signature, timestamp, query.get("nonce", ""))
        if refused is not None:
            return refused
        try:
            envelope = parse_envelope(bytes(body))
        except MalformedXml as error:
            return _refused(400, f"malformed XML: {error}")
        agent_id = str(self._api.agent_id)
        if envelope.to_user != self._corp_id:
            return _refused(403, "the envelope is for another corp")
        if envelope.agent_id and envelope.agent_id != agent_id:
            return _refused(403, "the envelope is for another app (AgentID)")
        if not self._crypto.verify(signature, timestamp, query["nonce"], envelope.encrypted):
            return _refused(403, "bad signature")
        try:
            message = parse_message(self._crypto.decrypt(envelope.encrypted))
        except CryptoError as error:
            return _refused(403, str(error))
        except MalformedXml as error:
            return _refused(400, f"malformed XML inside: {error}")
        if message.to_user and message.to_user != self._corp_id:
            return _refused(403, "the message is for another corp")
        if message.agent_id and message.agent_id != agent_id:
            return _refused(403, "the message is for another app (AgentID)")
        return await self._accept(message)

    async def _accept(self, message: CallbackMessage) -> Response:
        meaning = _meaning(message)
        if meaning is None:
            return _received()  # enter_agent, subscribe, location reports ...: nothing to say
        key = message_key(message)
        # WeCom's retry of a callback still being handled gets the answer the first would
        done = self._in_flight.get(key) or self._start_work(message, key, meaning)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(done), self._answer_within)
        except TimeoutError:
            # WeCom will not call again once answered: keep the message until it is
            # processed, so that a crash in between loses nothing (the sweep takes it up).
            self._kept.add(key)
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self.delivery.keep, key, dataclasses.asdict(message)
                )
            except Exception as error:  # WeCom's retry finds it processed, or in flight
                self._kept.discard(key)
                log.warning("WeCom message %s not kept (%s); asked again", key, _short(error))
                return PlainTextResponse("retry later", status_code=503)
            log.info("WeCom callback %s still being handled; kept and answered", key)
            return _received()
        if outcome == _Outcome.RETRY:
            return PlainTextResponse("retry later", status_code=503)
        return _received()

    def _start_work(
        self, message: CallbackMessage, key: str, meaning: tuple[Kind, str]
    ) -> asyncio.Future[str]:
        """Process a message in a task of its own; the future tells when it was processed."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        task = asyncio.create_task(self._work(message, key, meaning, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return done

    async def _work(
        self,
        message: CallbackMessage,
        key: str,
        meaning: tuple[Kind, str],
        done: asyncio.Future[str],
    ) -> None:
        user = message.from_user
        try:
            async with self._lock(user):
                if meaning[0] is Kind.BUTTON and message.response_code:
                    await self._grey_out(message)
                incoming = await self._incoming(message, key, meaning)
                if incoming == PHOTO_LOST:
                    # WeCom has no such media: asking WeCom again cannot help, the person can
                    done.set_result(_Outcome.PROCESSED)
                    turn = self._take_turn(user)
                    async with self._sending(turn):
                        await self._deliver(user, [Reply(msg("zh", "photo_not_received"))])
                    return
                assert not isinstance(incoming, str)
                outcome = None if incoming is None else await self._process(message, incoming)
                if outcome is None:
                    done.set_result(_Outcome.RETRY)
                    return
                done.set_result(_Outcome.PROCESSED)
                turn = self._take_turn(user)
            async with self._sending(turn):
                await self.delivery.send([key], self._deliver(user, outcome.replies))
        except Exception:  # a bug must not stop the adapter
            log.exception("WeCom message %s could not be handled", key)
        finally:
            self._in_flight.pop(key, None)
            if not done.done():
                done.set_result(_Outcome.PROCESSED)

    async def _process(self, message: CallbackMessage, incoming: Incoming) -> Outcome | None:
        """Let the core process a message; None if it could be neither processed nor kept.

        When the core fails, the message is kept (received_messages). If even that fails,
        the database refuses writes: nothing is said to the member, and the 503 makes WeCom
        deliver the message again. If it was kept, the failure was not the database's, or
        passed: the core tries once more, and if it fails again the member is told (the
        core's "sorry") and the message is let go, as retrying a fault would not help.
        """
        key = incoming.message_id
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self._executor, self.delivery.process, incoming)
        if outcome.failed:
            body = dataclasses.asdict(message)
            try:
                await loop.run_in_executor(self._executor, self.delivery.keep, key, body)
            except Exception as error:
                log.warning(
                    "WeCom message %s neither processed nor kept (%s); WeCom will send it again",
                    key,
                    _short(error),
                )
                return None
            self._kept.add(key)
            outcome = await loop.run_in_executor(self._executor, self.delivery.process, incoming)
        if key in self._kept:  # processed now (or found processed before), or let go
            try:
                await loop.run_in_executor(self._executor, self.delivery.forget, key)
            except Exception as error:  # the sweep will find it processed: no harm
                log.warning("kept WeCom message %s not forgotten (%s)", key, _short(error))
            else:
                self._kept.discard(key)
        return outcome

    def _lock(self, user: str) -> asyncio.Lock:
        lock = self._locks.get(user)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user] = lock
        return lock

    def _take_turn(self, user: str) -> _SendingPlace:
        """A place in the member's sending order, after everything taken before."""
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        previous = self._last_send.get(user)
        self._last_send[user] = mine
        return _SendingPlace(user, previous, mine)

    @contextlib.asynccontextmanager
    async def _sending(self, turn: _SendingPlace) -> AsyncIterator[None]:
        """Wait for the member's earlier sends; let the later ones go when done."""
        try:
            if turn.previous is not None:
                await asyncio.wait({turn.previous})
            yield
        finally:
            if not turn.mine.done():
                turn.mine.set_result(None)
            if self._last_send.get(turn.user) is turn.mine:
                del self._last_send[turn.user]

    async def _grey_out(self, message: CallbackMessage) -> None:
        """A pressed card shows the choice and cannot be pressed again."""
        label = self._labels.get(message.task_id, {}).get(message.event_key)
        name = PRESSED.format(label=label) if label else PRESSED.format(label="").strip()
        try:
            await self._api.update_card_button(message.response_code, name)
        except WecomError as error:  # too old, or already updated: the press still counts
            log.info("card %s not updated: %s", message.task_id, error.reason)

    async def _incoming(
        self, message: CallbackMessage, key: str, meaning: tuple[Kind, str]
    ) -> Incoming | Literal["photo lost"] | None:
        """The Incoming of a callback; None if a photo could not be fetched (try again), or
        PHOTO_LOST if WeCom says it has no such photo."""
        kind, text = meaning
        photo = None
        if kind is Kind.PHOTO:
            try:
                photo = await self._photo(message)
            except WecomError as error:
                log.warning("photo %s not fetched (%s)", message.msg_id, error.reason)
                if error.permanent or error.errcode == INVALID_MEDIA_ID or not message.media_id:
                    return PHOTO_LOST
                return None
        at = datetime.fromtimestamp(message.create_time, UTC)
        if abs(at - self._clock()) > timedelta(days=1):
            at = self._clock()
        return Incoming(
            platform=PLATFORM,
            user_id=message.from_user,
            message_id=key,
            at=at,
            kind=kind,
            text=text,
            photo=photo,
        )

    async def _photo(self, message: CallbackMessage) -> Photo:
        try:
            download = await self._api.download(message.media_id, DOWNLOAD_LIMIT)
        except TooLarge:
            return Photo(message.media_id, too_large=True)
        suffix = ".png" if download.content_type == "image/png" else ".jpg"
        name = hashlib.sha256(f"{message.from_user}/{message.msg_id}".encode()).hexdigest()[:32]
        target = self._photos_dir / f"{name}{suffix}"
        await asyncio.get_running_loop().run_in_executor(
            self._executor, _write_file, target, download.content
        )
        return Photo(message.media_id, len(download.content), stored_path=str(target))

    # -- sending ------------------------------------------------------------------------

    async def _deliver(self, user: str, replies: Sequence[Reply]) -> bool:
        """Send replies; False when they must be tried again later (the sweep will)."""
        try:
            await self.send(user, replies)
        except WecomError as error:
            if error.permanent:
                log.warning("WeCom member %s cannot be written to: %s", user, error.reason)
                return True
            log.warning("replies to WeCom member %s not sent (%s); will retry", user, error.reason)
            return False
        except Exception:  # a bug must not make the sweep send the same replies forever
            log.exception("replies to WeCom member %s could not be sent", user)
        return True

    async def send(self, user: str, replies: Sequence[Reply]) -> None:
        """Send replies to one member in order, paced; raises WecomError."""
        for reply in replies:
            for step in plan(reply):
                if step[0] == "text":
                    await self._send(user, "text", {"content": step[1]})
                else:
                    await self._send(user, "template_card", self._card(step[1]))
            if reply.image is not None:
                image = reply.image
                media_id = await self._api.upload(
                    "image", image.filename, image.content, image.mime_type
                )
                await self._send(user, "image", {"media_id": media_id})
            if reply.document is not None:
                document = reply.document
                media_id = await self._api.upload(
                    "file", document.filename, document.content, document.mime_type
                )
                await self._send(user, "file", {"media_id": media_id})

    async def _send(self, user: str, msgtype: str, body: dict[str, Any]) -> None:
        await self._pacer.wait(user)
        await self._api.send_message(user, msgtype, body)

    def _card(self, card: Card) -> dict[str, Any]:
        task_id = f"hb-{uuid.uuid4().hex}"
        self._labels[task_id] = {c.value: c.label for c in card.choices}
        while len(self._labels) > 10_000:
            self._labels.popitem(last=False)
        body: dict[str, Any] = {
            "card_type": "button_interaction",
            "main_title": {"title": card.title},
            "task_id": task_id,
            "button_list": [
                {"type": 0, "text": c.label, "style": 1, "key": c.value} for c in card.choices
            ],
        }
        if card.body:
            body["sub_title_text"] = card.body
        return body

    async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
        """Send on the bot's own initiative (the outbox): `address` is the member's UserID.

        Raises SendFailed; permanent when the member is not in the app's visible range or
        does not exist. (Network errors and busy answers were already retried.)
        """
        async with self._sending(self._take_turn(address)):
            try:
                await self.send(address, replies)
            except WecomError as error:
                raise SendFailed(
                    f"wecom: {error.reason}",
                    permanent=error.permanent,
                    retry_after=error.retry_after,
                ) from error

    # -- what the core's sweep hands back -------------------------------------------------

    def busy(self, key: str) -> bool:
        """Whether a callback with this key is being handled now."""
        return key in self._in_flight

    async def resend(self, key: str, replies: list[Reply]) -> bool:
        """Send a message's stored replies in its member's turn (the key names the member)."""
        user = key.split("/", 1)[0]
        async with self._sending(self._take_turn(user)):
            return not replies or await self._deliver(user, replies)

    async def take_up(self, key: str, body: dict[str, Any]) -> None:
        """Process a callback that was answered, and kept, before a restart."""
        message = CallbackMessage(**body)
        meaning = _meaning(message)
        self._kept.add(key)
        if meaning is None:  # cannot happen for a kept message; do not keep it forever
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.delivery.forget, key)
            return
        log.info("processing WeCom message %s, answered before a restart", key)
        self._start_work(message, key, meaning)


def message_key(message: CallbackMessage) -> str:
    """The key the core claims: '{UserID}/{MsgId}', or for an event
    '{UserID}/{CreateTime}/{Event}/{EventKey}[/{TaskId}/{ResponseCode}]'.

    WeCom advises FromUserName + CreateTime for events; a retry repeats the whole event,
    so what tells two presses in one second apart goes in too: the menu item or button
    (EventKey) and the card and press (TaskId, and ResponseCode, new with every press).
    Long keys are hashed after the UserID, which comes first so that unsent replies can be
    sent to the right person later.
    """
    if message.msg_id:
        rest = message.msg_id
    else:
        rest = f"{message.create_time}/{message.event}/{message.event_key}"
        if message.task_id or message.response_code:
            rest += f"/{message.task_id}/{message.response_code}"
    key = f"{message.from_user}/{rest}"
    if len(key) > MESSAGE_KEY_LIMIT:
        key = f"{message.from_user}/{hashlib.sha1(rest.encode()).hexdigest()}"
    return key


def _meaning(message: CallbackMessage) -> tuple[Kind, str] | None:
    """What a callback means to the core: (kind, text); None for what it need not see."""
    if message.msg_type == "text":
        return Kind.TEXT, message.content
    if message.msg_type == "image":
        return Kind.PHOTO, ""
    if message.msg_type in UNSUPPORTED_TYPES:
        return Kind.UNSUPPORTED, ""
    if message.msg_type != "event":
        return None
    event = message.event.lower()
    if event == "click" and MENU_KEY.match(message.event_key.lower()):
        # an app menu item: its key is the command ("report" -> "/report")
        return Kind.TEXT, "/" + message.event_key.lower()
    if event == "template_card_event" and message.event_key:
        return Kind.BUTTON, message.event_key
    return None  # enter_agent: stay quiet; other events are not meant for the core


def _write_file(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)

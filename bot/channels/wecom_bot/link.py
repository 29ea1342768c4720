"""The long connection itself: connect, subscribe, heartbeat, requests and their acks,
reconnection with backoff. It knows frames, not people (the channel does).

Time is an input: every wait (an ack's timeout, the heartbeat, the pause before
reconnecting) goes through the `sleep` given, so tests run on a virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bot.channels.wecom_bot import protocol
from bot.channels.wecom_bot.protocol import Frame, MalformedFrame

log = logging.getLogger(__name__)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
SETTINGS_HINT = "HUIBAO_WECOM_BOT__BOT_ID and HUIBAO_WECOM_BOT__SECRET"


class LinkDown(Exception):
    """There is no open connection (or it closed while waiting)."""


class Refused(Exception):
    """WeCom answered a request with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class State(enum.StrEnum):
    """Where the connection stands."""

    STARTING = "starting"
    ONLINE = "online"
    WAITING = "waiting"  # dropped or refused; reconnecting after a pause
    AUTH_FAILED = "auth_failed"  # WeCom refused the credentials; trying again, slowly
    REPLACED = "replaced"  # a newer connection of the same bot took over: stays down
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential pauses: `first`, doubled each time, at most `limit`, give or take 20 %."""

    first: float
    limit: float
    factor: float = 2.0

    def delay(self, attempt: int, jitter: float = 0.5) -> float:
        """The pause before try number `attempt` (1, 2, ...); `jitter` in [0, 1)."""
        base = min(self.first * self.factor ** max(attempt - 1, 0), self.limit)
        return base * (0.8 + 0.4 * jitter)


async def within(waited: asyncio.Future[T], seconds: float, sleep: Sleep) -> T:
    """The future's result, or TimeoutError after `seconds` (measured by `sleep`)."""
    timer: asyncio.Future[Any] = asyncio.ensure_future(sleep(seconds))
    racing: set[asyncio.Future[Any]] = {waited, timer}
    try:
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if waited.done():
        return waited.result()
    raise TimeoutError


class Link:
    """One open connection: frames out, acks matched to their requests by req_id."""

    def __init__(self, ws: ClientConnection, sleep: Sleep, ack_timeout: float) -> None:
        self.ws = ws
        self._sleep = sleep
        self._ack_timeout = ack_timeout
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        # Requests on one req_id go one after the other: an ack names only the req_id.
        self._busy: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.closed = asyncio.Event()
        self.replaced = False

    @property
    def open(self) -> bool:
        """Whether frames can still be sent on it."""
        return not self.closed.is_set()

    async def request(
        self,
        cmd: str,
        body: Mapping[str, Any] | None = None,
        *,
        req_id: str | None = None,
        timeout: float | None = None,
    ) -> Frame:
        """Send a frame and return its ack; Refused, LinkDown or TimeoutError otherwise."""
        req_id = req_id or protocol.new_req_id(cmd)
        lock = self._busy.get(req_id)
        if lock is None:
            lock = self._busy[req_id] = asyncio.Lock()
        async with lock:
            if not self.open:
                raise LinkDown("the connection is closed")
            waiting: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
            self._pending[req_id] = waiting
            try:
                try:
                    await self.ws.send(protocol.encode(cmd, req_id, body))
                except ConnectionClosed as exc:
                    raise LinkDown(str(exc)) from exc
                ack = await within(waiting, timeout or self._ack_timeout, self._sleep)
            finally:
                self._pending.pop(req_id, None)
        if ack.errcode:
            raise Refused(ack.errcode, ack.errmsg)
        return ack

    def resolve(self, frame: Frame) -> bool:
        """Hand an ack to its request; False if no request waits for it."""
        waiting = self._pending.get(frame.req_id)
        if waiting is None or waiting.done():
            return False
        waiting.set_result(frame)
        return True

    def lost(self) -> None:
        """The connection is gone: fail every request still waiting."""
        self.closed.set()
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_exception(LinkDown("the connection closed"))

    async def close(self) -> None:
        """Close the connection (briefly waiting for the closing handshake)."""
        self.lost()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)


RECONNECT = Backoff(1.0, 60.0)  # after a drop: 1 s, 2 s, 4 s ... at most a minute
AUTH_RETRY = Backoff(30.0, 600.0)  # after a refusal: someone must fix the credentials

FrameHandler = Callable[[Frame, Link], None]
OnlineHandler = Callable[[Link], Awaitable[None]]
Connect = Callable[..., Any]


class Connector:
    """Keeps one authenticated connection to WeCom, reconnecting until stopped or replaced."""

    def __init__(
        self,
        url: str,
        bot_id: str,
        secret: str,
        *,
        on_frame: FrameHandler,
        on_online: OnlineHandler,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        heartbeat_every: float = 30.0,
        ack_timeout: float = 5.0,
        open_timeout: float = 10.0,
        missed_pings: int = 2,
        backoff: Backoff = RECONNECT,
        auth_backoff: Backoff = AUTH_RETRY,
        opener: Connect = connect,
    ) -> None:
        self._url = url
        self._bot_id = bot_id
        self._secret = secret
        self._on_frame = on_frame
        self._on_online = on_online
        self._sleep = sleep
        self._jitter = jitter
        self._heartbeat_every = heartbeat_every
        self._ack_timeout = ack_timeout
        self._open_timeout = open_timeout
        self._missed_pings = missed_pings
        self._backoff = backoff
        self._auth_backoff = auth_backoff
        self._opener = opener
        self.state = State.STARTING
        self.link: Link | None = None  # the online connection, if any
        self.online = asyncio.Event()
        self.pauses: list[float] = []  # every pause before reconnecting, in order
        self._stopping = asyncio.Event()
        self._current: Link | None = None

    # -- running ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect after pauses; return when stopped or replaced."""
        drops = failures = 0
        while not self._stopping.is_set():
            outcome, was_online = await self._session()
            if was_online:
                drops = failures = 0
            if self._stopping.is_set():
                break
            if outcome is State.REPLACED:
                self.state = State.REPLACED
                log.error(
                    "WeCom robot: a newer connection with this bot id took over (another "
                    "Huibao instance, or another program using the robot's credentials); "
                    "this instance stays disconnected so that the two do not keep "
                    "replacing each other. Restart it once the other one is gone."
                )
                return
            if outcome is State.AUTH_FAILED:
                failures += 1
                pause = self._auth_backoff.delay(failures, self._jitter())
            else:
                drops += 1
                pause = self._backoff.delay(drops, self._jitter())
                self.state = State.WAITING
            self.pauses.append(pause)
            log.info("WeCom robot: connecting again in %.1f s", pause)
            await self._pause(pause)
        self.state = State.STOPPED

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        self._stopping.set()
        if self._current is not None:
            await self._current.close()

    async def _pause(self, seconds: float) -> None:
        waiters = {
            asyncio.ensure_future(self._sleep(seconds)),
            asyncio.ensure_future(self._stopping.wait()),
        }
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _session(self) -> tuple[State, bool]:
        """One connection from opening to its end: (how it ended, whether it was online)."""
        try:
            ws = await self._opener(
                self._url,
                open_timeout=self._open_timeout,
                ping_interval=None,  # the protocol's own ping frames keep it alive
                close_timeout=2,
                max_size=4 * 1024 * 1024,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as error:
            log.warning(
                "WeCom robot: cannot connect to %s (HUIBAO_WECOM_BOT__URL): %s",
                self._url,
                _short(error),
            )
            return State.WAITING, False
        link = self._current = Link(ws, self._sleep, self._ack_timeout)
        reader = asyncio.create_task(self._read(link))
        heartbeat: asyncio.Task[None] | None = None
        try:
            try:
                await link.request(
                    protocol.SUBSCRIBE,
                    {"bot_id": self._bot_id, "secret": self._secret},
                    timeout=self._open_timeout,
                )
            except Refused as refused:
                self.state = State.AUTH_FAILED
                log.error(
                    "WeCom robot: WeCom refused the subscription (errcode %s: %s); check %s "
                    "(the robot's API credentials for the long connection)",
                    refused.errcode,
                    refused.errmsg[:200],
                    SETTINGS_HINT,
                )
                return State.AUTH_FAILED, False
            except (LinkDown, TimeoutError):
                log.warning("WeCom robot: the connection closed before the subscription")
                return State.WAITING, False
            self.state = State.ONLINE
            self.link = link
            self.online.set()
            log.info("WeCom robot: connected and subscribed")
            heartbeat = asyncio.create_task(self._heartbeat(link))
            try:
                await self._on_online(link)
            except Exception:
                log.exception("WeCom robot: resuming after the connection failed")
            await link.closed.wait()
            return (State.REPLACED if link.replaced else State.WAITING), True
        finally:
            self.online.clear()
            self.link = None
            if heartbeat is not None:
                heartbeat.cancel()
            await link.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, link: Link) -> None:
        """Read frames until the connection ends; callbacks go to the channel."""
        try:
            async for raw in link.ws:
                try:
                    frame = protocol.parse_frame(raw)
                except MalformedFrame as problem:
                    log.warning("WeCom robot: a malformed frame ignored (%s)", problem)
                    continue
                if frame.cmd in (protocol.MESSAGE, protocol.EVENT):
                    if _eventtype(frame) == protocol.REPLACED:
                        link.replaced = True
                        break
                    try:
                        self._on_frame(frame, link)
                    except Exception:
                        log.exception("WeCom robot: a frame could not be handed over")
                elif not link.resolve(frame):
                    log.warning(
                        "WeCom robot: a frame of unknown kind ignored (cmd %r)", frame.cmd[:40]
                    )
        except ConnectionClosed as closed:
            log.warning("WeCom robot: the connection closed (%s)", _short(closed))
        except Exception as error:  # a broken socket, a frame cut in the middle
            log.warning("WeCom robot: the connection broke (%s)", _short(error))
        finally:
            link.lost()

    async def _heartbeat(self, link: Link) -> None:
        """Ping every `heartbeat_every` seconds; close after `missed_pings` unanswered."""
        missed = 0
        while link.open:
            await self._sleep(self._heartbeat_every)
            try:
                await link.request(protocol.PING)
                missed = 0
            except Refused:
                missed = 0  # an answer all the same
            except LinkDown:
                return
            except TimeoutError:
                missed += 1
                if missed >= self._missed_pings:
                    log.warning("WeCom robot: %d pings unanswered; reconnecting", missed)
                    await link.close()
                    return


def _eventtype(frame: Frame) -> str:
    event = frame.body.get("event")
    kind = event.get("eventtype") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else ""


def _short(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]

"""The outbox: every message the bot sends on its own initiative, sent once, paced.

Reminders, coordinators' digests and entries sent back for correction are rows of the
`outbox` table, each with a unique key (e.g. `remind:d12:345:1440`: deadline, member, step).
Queueing is INSERT ... ON CONFLICT DO NOTHING on that key, so a message can be queued once,
by any number of ticks or instances.

Sending one message:

1. claim it: pick a due `pending` row (PostgreSQL: FOR UPDATE SKIP LOCKED, so a row is
   taken by one instance only; SQLite serialises writers anyway), set it `sending` and
   COMMIT, right before the platform call;
2. call the platform (`Channel.send_to`);
3. set it `sent` and commit.

A crash between 1 and 3 leaves the row `sending`. Whether the platform got the message
cannot be known: the call may have reached it or not. Such a row is never sent again; once
its lease has passed it is marked `uncertain` and counted in the coordinators' status. A
lost reminder is better than a duplicate one, and across a network call this is the
strongest promise there is without idempotency keys on the platform's side (neither the
Telegram Bot API nor WeCom's message/send offers them): at most once, and exactly once
unless the process dies during the one call in flight.

A passing failure (network, flood limits: `SendFailed(permanent=False)`) puts the row back
to `pending` with exponential backoff (or the platform's retry_after); a permanent one (the
person blocked the bot, left the company) marks it `failed` with the reason, shown to
coordinators in their digest and /status. Sending is paced per platform (a configured rate;
Telegram allows 30 messages/s overall) and happens only outside quiet hours (except a
document someone asked for); on a public holiday no reminder or digest goes out (a
document asked for, or an entry sent back, does). A document made by a job (bot.jobs) is
kept as a file under the data folder and the row refers to it by path: it is read when
sent (rows with the content inline, from before, are read as they are).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter
from sqlalchemy.orm import Session, sessionmaker

from bot.core.types import Channel, Reply, SendFailed, replies_from_json, replies_to_json
from bot.reminders.ladder import Window
from storage import members, outbox
from storage.db import transaction

log = logging.getLogger(__name__)

BACKOFF_FIRST = 30.0  # seconds before the first retry, doubled each time
BACKOFF_LIMIT = 3600.0
CONCURRENCY = 4  # platform calls in flight at once per platform
POLL_SECONDS = 1.0  # how often an idle sender looks for new rows (queued by others)
# Messages someone asked for (a summary document made by a job, bot.jobs): they go out
# in quiet hours too, as a reply would.
ASKED_FOR = ("summary",)


def queue_for_member(
    session: Session,
    member_id: int,
    *,
    key: str,
    kind: str,
    replies: Sequence[Reply],
    now: datetime,
    prefer: str | None = None,
) -> bool:
    """Queue a message to a member's account (the one on `prefer` if they have one, else
    their most recent non-shell account); False if they have none or the key was queued."""
    accounts = members.accounts(session, member_id)
    chosen = next((a for a in accounts if a[0] == prefer), None)
    chosen = chosen or next((a for a in accounts if a[0] != "shell"), None)
    chosen = chosen or (accounts[0] if accounts else None)
    if chosen is None:
        return False
    message = outbox.NewMessage(
        key=key,
        kind=kind,
        member_id=member_id,
        platform=chosen[0],
        address=chosen[1],
        payload=replies_to_json(list(replies)),
        not_before=now,
    )
    return outbox.enqueue(session, [message], now) == 1


class Sender:
    """Sends one platform's queued messages through its channel."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        channel: Channel,
        *,
        rate: float,
        window: Window,
        clock: Callable[[], datetime],
        instance: str,
        max_attempts: int = 8,
        concurrency: int = CONCURRENCY,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.platform = channel.platform
        self._sessions = sessions
        self._channel = channel
        self._rate = rate
        self._window = window
        self._clock = clock
        self._instance = instance
        self._max_attempts = max_attempts
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """Look for due messages now (something was queued)."""
        self._wake.set()

    # -- the steps, each one transaction -------------------------------------------------

    def _claim(self) -> outbox.Claimed | None:
        now = self._clock()
        quiet = self._window.quiet(now)
        today = now.astimezone(self._window.zone).date()
        weekend = self._window.day_off(today, skip_weekends=True)
        holiday = self._window.day_off(today, skip_weekends=False)
        with transaction(self._sessions) as session:
            found = outbox.claim(
                session,
                self.platform,
                now,
                self._instance,
                weekend=weekend,
                holiday=holiday,
                limit=1,
                kinds=ASKED_FOR if quiet else None,
            )
        return found[0] if found else None

    def _sent(self, message: outbox.Claimed) -> None:
        with transaction(self._sessions) as session:
            outbox.mark_sent(session, message.id, self._clock())

    def _failed(self, message: outbox.Claimed, failure: SendFailed) -> None:
        with transaction(self._sessions) as session:
            if failure.permanent:
                outbox.mark_failed(session, message.id, failure.reason)
            elif message.attempts >= self._max_attempts:
                reason = f"gave up after {message.attempts} attempts: {failure.reason}"
                outbox.mark_failed(session, message.id, reason)
            else:
                delay = min(BACKOFF_FIRST * 2 ** (message.attempts - 1), BACKOFF_LIMIT)
                delay = max(delay, failure.retry_after or 0.0)
                when = self._clock() + timedelta(seconds=delay)
                outbox.mark_retry(session, message.id, when, failure.reason)

    def _broken(self, message: outbox.Claimed, error: BaseException) -> None:
        # An unexpected error in an adapter: whether anything went out is unknown.
        with transaction(self._sessions) as session:
            outbox.mark_uncertain(session, message.id, f"adapter error: {error!r}")

    def _next_due(self) -> datetime | None:
        with transaction(self._sessions) as session:
            return outbox.next_due(session, self.platform)

    # -- sending -------------------------------------------------------------------------

    async def _deliver(self, message: outbox.Claimed) -> None:
        try:
            # A document kept as a file (a job's result) is read now.
            replies = await asyncio.to_thread(replies_from_json, message.payload)
        except OSError as error:  # its file is gone: sending again will not help
            gone = SendFailed(f"document file missing: {error}", permanent=True)
            await self._record(self._failed, message, gone)
            return
        try:
            await self._channel.send_to(message.address, replies)
        except SendFailed as failure:
            log.warning("outbox %s to %s: %s", message.key, self.platform, failure.reason)
            await self._record(self._failed, message, failure)
            return
        except Exception as error:
            log.exception("outbox %s: the %s channel failed", message.key, self.platform)
            await self._record(self._broken, message, error)
            return
        self.sent += 1
        await self._record(self._sent, message)

    async def _record(self, step: Callable[..., None], *args: object) -> None:
        try:
            await asyncio.to_thread(step, *args)
        except Exception:  # the database is away: the row stays "sending", then uncertain
            log.exception("outbox: could not record the outcome of %s", args[0])

    async def send_due(self) -> int:
        """Send every message due now, one after the other, unpaced; return how many went."""
        before = self.sent
        while (message := await asyncio.to_thread(self._claim)) is not None:
            await self._deliver(message)
        return self.sent - before

    async def run(self, stop: asyncio.Event) -> None:
        """Send due messages until `stop` is set, at most `rate` a second."""
        # `rate` a second with a burst of two at most: a larger burst on top of the steady
        # rate would exceed the platform's limit within a second; two let the pace catch
        # up after a slow claim.
        limiter = AsyncLimiter(2, 2 / self._rate)
        slots = asyncio.Semaphore(self._concurrency)
        flying: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                await slots.acquire()
                await limiter.acquire()
                try:
                    message = await asyncio.to_thread(self._claim)
                except Exception:  # e.g. the database restarting: try again shortly
                    log.exception("outbox: claiming a %s message failed", self.platform)
                    message = None
                if message is None:
                    slots.release()
                    await self._idle(stop)
                    continue
                task = asyncio.create_task(self._deliver(message))
                flying.add(task)
                task.add_done_callback(flying.discard)
                task.add_done_callback(lambda _task: slots.release())
        finally:
            if flying:  # let the calls in flight finish and be recorded
                await asyncio.wait(flying, timeout=30)

    async def _idle(self, stop: asyncio.Event) -> None:
        wait = self._poll
        with contextlib.suppress(Exception):
            due = await asyncio.to_thread(self._next_due)
            if due is not None:
                wait = min(wait, max(0.0, (due - self._clock()).total_seconds()))
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=max(wait, 0.05), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()


def take_waiting(
    sessions: sessionmaker[Session], platform: str, address: str, now: datetime
) -> list[Reply]:
    """Hand over every message waiting for one account now, marked sent at once.

    For the local shell, whose person is at the keyboard: there is no network call that
    could fail, so claiming and marking happen in one transaction. Quiet hours do not
    apply to someone who is typing.
    """
    replies: list[Reply] = []
    with transaction(sessions) as session:
        for message in outbox.claim(
            session, platform, now, "shell", weekend=False, limit=50, address=address
        ):
            try:
                replies.extend(replies_from_json(message.payload))
            except OSError as error:  # a job's document whose file is gone
                outbox.mark_failed(session, message.id, f"document file missing: {error}")
                continue
            outbox.mark_sent(session, message.id, now)
    return replies

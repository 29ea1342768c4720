"""Delivery: what happens to a platform's messages around the core's transaction.

Every channel reaches the core through a `Delivery` for its platform, handed to it by the
composition root; no channel touches the database. The core:

- keeps a received message the platform will not deliver again (a WeCom callback answered
  before its work was done; a robot frame, as it arrives) until it is processed, and gives
  the kept ones back to their channel to be taken up after a restart (`keep`, `forget`,
  `sweep`);
- processes messages, claiming each processed-message key with its replies in the one
  transaction of its work (`process`, `process_batch`; see `bot.core.conversation`);
- marks the replies sent once the channel's send function delivered them (`send`; or
  gathered for a moment and written together, `SentMarks`), and finds the replies
  committed but never sent (`unsent`, `sweep`).

Which instance sweeps is the composition root's choice: the leader (`bot.runner.lead`), so
that instances sharing PostgreSQL do not each send the same unsent replies. The order of
one person's messages and the platform's pacing stay with the channel, which knows them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.core.conversation import Conversation, Outcome
from bot.core.types import Incoming, Reply, replies_from_json
from storage import members, messages
from storage.db import transaction

log = logging.getLogger(__name__)

SWEEP_WINDOW = timedelta(days=1)  # replies older than this are not sent any more
MARK_DELAY = 0.05  # seconds "sent" marks gather before one UPDATE records them

Run = Callable[[Callable[[list[str]], None], list[str]], Awaitable[None]]


class Redelivery(Protocol):
    """What a channel offers the sweep: what it is handling now, and how to take up a kept
    message or send stored replies in their person's turn."""

    def busy(self, key: str) -> bool:
        """Whether the message with this key is being handled now (the sweep leaves it)."""
        ...

    async def take_up(self, key: str, body: dict[str, Any]) -> None:
        """Start processing a message kept before a restart (as the channel kept it)."""
        ...

    async def resend(self, key: str, replies: list[Reply]) -> bool:
        """Send a message's stored replies; False when they must wait for a later sweep."""
        ...


class Delivery:
    """One platform's way into the core and its replies' way out.

    The blocking methods (process, keep, unsent, ...) run database transactions: a channel
    calls them from a worker thread. The async ones (send, sweep) do that themselves.
    """

    def __init__(
        self, conversation: Conversation, platform: str, *, kept_as: str | None = None
    ) -> None:
        """Args:
        kept_as: the name its kept messages are stored under, when a channel's kept bodies
            are its own (the WeCom robot's frames are not the app's callbacks).
        """
        self.platform = platform
        self._conversation = conversation
        self._sessions = conversation.sessions
        self._kept_as = kept_as or platform

    # -- the message's transaction --------------------------------------------------------

    def process(self, incoming: Incoming) -> Outcome:
        """Process one message once (`Conversation.process`)."""
        return self._conversation.process(incoming)

    def process_batch(self, incomings: Sequence[Incoming]) -> list[Outcome]:
        """Process several messages in order, in one transaction when they can be."""
        return self._conversation.process_batch(incomings)

    def locale(self, user: str) -> str:
        """The language of the person behind an account ('zh' for a stranger)."""
        with transaction(self._sessions) as session:
            member, _state = members.person_and_state(session, self.platform, user)
        return member.locale if member is not None else "zh"

    # -- sent -----------------------------------------------------------------------------

    def mark_sent(self, keys: list[str]) -> None:
        """Record that the replies to these messages went out (one statement)."""
        self._conversation.mark_sent(self.platform, keys)

    async def send(self, keys: list[str], sending: Awaitable[bool]) -> bool:
        """Await the channel's send of the replies to these messages; mark them sent when
        it says they went out (or never can). False: they wait for the sweep."""
        if not await sending:
            return False
        await asyncio.to_thread(self.mark_sent, keys)
        return True

    def unsent(
        self, *, processed_before: datetime, processed_after: datetime, limit: int = 200
    ) -> list[tuple[str, list[Reply]]]:
        """(key, replies) of the messages processed in the window whose replies were never
        marked sent: a crash, or the platform unreachable, came between commit and send."""
        with transaction(self._sessions) as session:
            rows = messages.unsent_since(
                session,
                self.platform,
                processed_before=processed_before,
                processed_after=processed_after,
                limit=limit,
            )
        return [(key, replies_from_json(stored)) for key, stored in rows]

    # -- received, not processed yet ------------------------------------------------------

    def keep(self, key: str, body: dict[str, Any]) -> None:
        """Keep a received message until it is processed (once per key): the platform will
        not deliver it again."""
        with transaction(self._sessions) as session:
            messages.keep_received(session, self._kept_as, key, body, datetime.now(UTC))

    def forget(self, key: str) -> None:
        """Forget a kept message: it was processed (or let go)."""
        with transaction(self._sessions) as session:
            messages.drop_received(session, self._kept_as, key)

    def waiting(self, received_before: datetime) -> list[tuple[str, dict[str, Any]]]:
        """(key, body) of the kept messages received before then, oldest first."""
        with transaction(self._sessions) as session:
            return messages.waiting_received(session, self._kept_as, received_before)

    # -- the sweep ------------------------------------------------------------------------

    async def sweep(self, channel: Redelivery, *, after: float) -> int:
        """Take up the kept messages and send the unsent replies of messages older than
        `after` seconds (younger ones may still be on their way); each once, in turn.

        Returns how many messages had replies to send.
        """
        now = datetime.now(UTC)  # stored times are the real time
        before = now - timedelta(seconds=after)
        unsent = await asyncio.to_thread(
            self.unsent, processed_before=before, processed_after=now - SWEEP_WINDOW
        )
        for key, body in await asyncio.to_thread(self.waiting, before):
            if not channel.busy(key):
                await channel.take_up(key, body)
        handled = 0
        for key, replies in unsent:
            if channel.busy(key):
                continue
            if replies:
                handled += 1
                log.info("sending the unsent replies to %s message %s", self.platform, key)
            await self.send([key], channel.resend(key, replies))
        return handled

    async def sweep_forever(
        self,
        channel: Redelivery,
        *,
        every: float,
        after: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Sweep now and every `every` seconds (`sleep`: tests pass a virtual one), until
        cancelled."""
        while True:
            try:
                await self.sweep(channel, after=after)
            except Exception:
                log.exception("the sweep of unsent %s replies failed", self.platform)
            await sleep(every)


class SentMarks:
    """Replies that went out, marked sent together: the marks noted within `delay` seconds
    are written in one statement. The chats of one Telegram batch finish their sends within
    moments of each other, and an UPDATE per message cost as much as the message's step.

    A failed write is logged and forgotten: those replies are sent again after a restart,
    which is better than lost.
    """

    def __init__(
        self,
        delivery: Delivery,
        *,
        run: Run,
        marked: Callable[[list[str]], None],
        delay: float = MARK_DELAY,
    ) -> None:
        """Args:
        run: runs `delivery.mark_sent(keys)` in the channel's worker thread.
        marked: told the keys once their marks were written (or failed to be).
        """
        self._delivery = delivery
        self._run = run
        self._marked = marked
        self._delay = delay
        self._keys: list[str] = []
        self._writing: asyncio.Task[None] | None = None
        self._hurry = False

    def add(self, key: str) -> None:
        """Note that the replies to a message went out; they are marked in a moment."""
        self._keys.append(key)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())

    async def now(self, key: str) -> None:
        """Mark at once (a webhook's update, answered only once marked: bot.instances)."""
        try:
            await self._run(self._delivery.mark_sent, [key])
        except Exception:  # sent again if delivered again: better than lost
            log.exception("the replies to %s could not be marked sent", key)
        finally:
            self._marked([key])

    async def flush(self) -> None:
        """Write every mark noted so far, without waiting any more (a stop)."""
        self._hurry = True
        if self._writing is not None and not self._writing.done():
            await self._writing
        if self._keys:
            self._writing = asyncio.create_task(self._write())
            await self._writing

    async def _write(self) -> None:
        while self._keys:
            if not self._hurry:
                await asyncio.sleep(self._delay)  # let the batch's other chats finish
            keys, self._keys = self._keys, []
            try:  # one UPDATE for them all
                await self._run(self._delivery.mark_sent, keys)
            except Exception:
                log.exception("%d replies could not be marked sent", len(keys))
            finally:
                self._marked(keys)

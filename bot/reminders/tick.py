"""The background jobs: a tick that queues what is due, senders that empty the outbox.

APScheduler only ticks (an interval job on the event loop); what is due is always computed
from the database and the clock, in a worker thread. The runner builds one `Background`
from the App and starts it with the platform channels it started:

    background = Background.from_app(app)
    await background.start({"telegram": telegram_bot})
    ...
    await background.stop()
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.core.holidays import describe_unknown
from bot.core.types import Channel, Reply
from bot.jobs import Worker
from bot.reminders import ladder
from bot.reminders.deadlines import PUBLIC_RULES, DayRules
from bot.reminders.ladder import Memo, Window
from bot.reminders.outbox import Sender, take_waiting
from bot.settings import ReminderSettings
from storage import outbox
from storage.db import transaction
from storage.models import Platform

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    from bot.app import App

log = logging.getLogger(__name__)

KEEP_MESSAGE_KEYS = timedelta(days=30)
KEEP_OUTBOX = timedelta(days=90)
PRUNE_EVERY = timedelta(hours=6)


@dataclass(frozen=True)
class TickResult:
    """What one tick did."""

    queued: int
    expired: int
    uncertain: int


def jobs_worker(app: App, instance: str) -> Worker:
    """The worker for documents asked for in chat, from the composition root."""
    return Worker(
        app.sessions,
        app.summaries,
        app.settings.data_dir,
        app.clock,
        instance=instance,
        rules=app.rules,  # the deadlines that /status's full list shows
    )


def instance_name() -> str:
    """This process, as named in claimed outbox rows: host, pid and a random tag."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


class Background:
    """The reminder tick, the outbox senders and the pruning, for one running instance."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: ReminderSettings,
        zone: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        instance: str | None = None,
        rules: DayRules = PUBLIC_RULES,
        platforms: Sequence[str] | None = None,
        jobs: Worker | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._zone = zone
        self._clock = clock
        self._rules = rules
        # The platforms reminders are queued for (default: those with a sender, else the
        # chat platforms); the local shell passes ("shell",).
        self._platforms = tuple(platforms) if platforms is not None else None
        self.instance = instance or instance_name()
        self.jobs = jobs  # the worker for documents asked for in chat (bot.jobs)
        self._memo = Memo()
        self.senders: dict[str, Sender] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: set[asyncio.Task[object]] = set()

    @classmethod
    def from_app(cls, app: App, platforms: Sequence[str] | None = None) -> Background:
        """Build it from the composition root."""
        instance = instance_name()
        return cls(
            app.sessions,
            app.settings.reminders,
            app.settings.zone,
            app.clock,
            instance=instance,
            rules=app.rules,
            platforms=platforms,
            jobs=jobs_worker(app, instance),
        )

    @classmethod
    def shell_notices(cls, app: App, user: str) -> Callable[[], list[Reply]]:
        """What the local shell shows as notices: the messages waiting for its account.

        Without a chat platform the reminder tick runs for the shell too (before each line
        is answered), so a newcomer sees the reminder ladder work locally; with one,
        reminders go to the platforms and the shell shows only what is sent to it.
        """
        ticking = None
        if not app.settings.platform_configured:
            ticking = cls.from_app(app, platforms=(Platform.SHELL.value,))
        worker = jobs_worker(app, "shell")

        def notices() -> list[Reply]:
            if ticking is not None:
                ticking.tick()
            worker.run_due()  # a summary asked for on the line just typed
            return take_waiting(app.sessions, Platform.SHELL.value, user, app.clock())

        return notices

    # -- life cycle ---------------------------------------------------------------------

    def attach(self, channels: Mapping[str, Channel]) -> None:
        """Make a sender for each channel (without starting anything)."""
        window = Window.of(self._settings, self._zone, self._rules.calendar)
        self.senders = {
            platform: Sender(
                self._sessions,
                channel,
                rate=self._settings.rate_for(platform),
                window=window,
                clock=self._clock,
                instance=self.instance,
                max_attempts=self._settings.max_attempts,
            )
            for platform, channel in channels.items()
        }

    async def start(self, channels: Mapping[str, Channel]) -> None:
        """Start the senders and the ticking (the first tick at once)."""
        self.attach(channels)
        self._stop = asyncio.Event()
        self._tasks = [
            asyncio.create_task(sender.run(self._stop), name=f"outbox-{platform}")
            for platform, sender in self.senders.items()
        ]
        if self.jobs is not None:  # a finished job's document goes out at once
            work = self.jobs.run(self._stop, on_done=self._wake_senders)
            self._tasks.append(asyncio.create_task(work, name="jobs"))
        # APScheduler: imported when the job starts, not by the shell or the CLI
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        scheduler.add_job(
            self._tick_job,
            "interval",
            seconds=self._settings.tick_seconds,
            next_run_time=now,
            id="reminders-tick",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self._prune_job,
            "interval",
            seconds=PRUNE_EVERY.total_seconds(),
            next_run_time=now + timedelta(minutes=1),
            id="prune",
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        self._scheduler = scheduler
        today = self._clock().astimezone(self._zone).date()
        ahead = [today + timedelta(days=n) for n in range(ladder.HORIZON.days + 1)]
        unknown = self._rules.calendar.unknown_years(ahead)
        if unknown:  # e.g. in December, before the package has next year's notice
            log.warning("%s", describe_unknown(self._rules.calendar, unknown))
        log.info(
            "reminders: ticking every %.0f s, sending on %s (instance %s)",
            self._settings.tick_seconds,
            ", ".join(self.senders) or "no platform",
            self.instance,
        )

    async def stop(self) -> None:
        """Stop ticking; let the sends in flight finish and be recorded. A summary being
        rendered is not waited for: the jobs worker hands its job back (bot.jobs)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._jobs:  # a tick or prune in its worker thread: let it commit
            await asyncio.gather(*self._jobs, return_exceptions=True)

    # -- the jobs -------------------------------------------------------------------------

    async def _tick_job(self) -> None:
        # The work runs in a task of our own, so that stopping the scheduler (which cancels
        # its jobs) never abandons a transaction half-way.
        await self._run_job(self.tick)

    async def _prune_job(self) -> None:
        await self._run_job(self.prune)

    async def _run_job(self, work: Callable[[], object]) -> None:
        job: asyncio.Task[object] = asyncio.ensure_future(asyncio.to_thread(work))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job %s failed", getattr(work, "__name__", work))
            return
        self._wake_senders()

    def _wake_senders(self) -> None:
        for sender in self.senders.values():
            sender.wake()

    def tick(self) -> TickResult:
        """Queue the reminders and digests due now; settle expired and cut-off messages."""
        now = self._clock()
        lease = timedelta(seconds=self._settings.lease_seconds)
        with transaction(self._sessions) as session:
            uncertain = outbox.recover_stale(session, now - lease, now)
            expired = outbox.expire(session, now)
        queued = 0
        if self._settings.enabled:
            platforms = list(self._platforms or self.senders or ladder.PREFERRED_PLATFORMS)
            # its own transactions, one per batch of members (fanout batches)
            queued = ladder.queue_due(
                self._sessions, now, self._settings, self._zone, platforms, self._memo, self._rules
            )
        if queued or expired or uncertain:
            log.info("tick: %s queued, %s expired, %s uncertain", queued, expired, uncertain)
        return TickResult(queued, expired, uncertain)

    def prune(self) -> tuple[int, int]:
        """Forget processed-message keys after 30 days and finished outbox rows after 90;
        remove a finished job's files after 30 days (bot.jobs)."""
        now = self._clock()
        with transaction(self._sessions) as session:
            pruned = outbox.prune(
                session,
                messages_before=now - KEEP_MESSAGE_KEYS,
                outbox_before=now - KEEP_OUTBOX,
                month_of=lambda at: f"{at.astimezone(self._zone):%Y-%m}",
            )
        if any(pruned):
            log.info("pruned %s message keys and %s outbox rows", *pruned)
        if self.jobs is not None and (removed := self.jobs.prune()):
            log.info("removed the files of %s jobs finished long ago", removed)
        return pruned

    async def send_due(self) -> int:
        """Send everything due now on every platform (tests, tools); how many went."""
        total = 0
        for sender in self.senders.values():
            total += await sender.send_due()
        return total

"""Heavy work asked for in chat (a summary document, /status's full list), done after the
message's commit.

`/summary` answers at once ("正在生成，请稍候") and records a job in the same transaction
(`request`). After the commit a `Worker` claims the job, composes the summary in a
read-only transaction (on SQLite it holds no write lock, so everyone's messages are stored
meanwhile), renders the .docx and the chart (and, for a long ledger, the whole 台账 as
.xlsx) outside any transaction, keeps them as files under the data folder
(`<data>/documents/<job id>/`) and queues them for the member in the
outbox, referring to the files by path, in the transaction that marks the job done.

Exactly once: a worker that dies between claim and delivery leaves the job `running`;
after its lease another worker (or the same after a restart) runs it again, and the
outbox's unique key (`job:<id>`) lets its result be queued once whatever happens. A job
that fails, or dies `MAX_ATTEMPTS` times, tells the member so instead of staying silent.

Stopping (SIGTERM) does not wait for a job in progress: a district's summary renders for
seconds, and `huibao run` must exit within 2 s (issue 16 §5). The job runs in a daemon
thread, which the process does not wait for, and the stopping worker hands the job back
(`storage.jobs.release`, one short transaction), so the next start does it at once (the
lease alone would keep the member waiting ten minutes, and a lease short enough would need a
heartbeat through the render). Only the claim that holds a job may settle it, so a run that
was given up never queues anything.

`/status` of a large scope answers with its short text at once and records a
`STATUS_LIST` job the same way (`request_status_list`): the worker counts again in a
read-only snapshot, writes the .xlsx (its title says when: 截至…) and queues it likewise.

`huibao run` runs a worker beside the outbox's senders (bot.reminders.tick.Background), woken
right after the commit of a message that recorded a job and polling the database every
second for jobs recorded by other instances; the shell runs due jobs before it shows its
notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import text as msg
from bot.core.periods import parse_period
from bot.core.types import Document, Reply
from bot.reminders import outbox
from bot.reminders.deadlines import PUBLIC_RULES, DayRules
from storage import jobs, members
from storage.db import reading, transaction

if TYPE_CHECKING:
    from bot.summary.model import Summary
    from bot.summary.service import SummaryKit

log = logging.getLogger(__name__)

SUMMARY = "summary"
STATUS_LIST = "status_list"  # /status of a large scope: the full list as .xlsx
LEASE = timedelta(minutes=10)  # a running job older than this was abandoned by its worker
MAX_ATTEMPTS = 3
POLL_SECONDS = 1.0  # how often an idle worker looks for jobs recorded by other instances
KEEP_DOCUMENTS = timedelta(days=30)  # a finished job's files, then they are removed
# How long a stopping worker tries to hand back its job (well inside the 2 s a stop may
# take); past it the job waits for its lease instead.
HAND_BACK_SECONDS = 1.0
_QUEUED = "huibao.job_queued"  # a Session.info flag: this transaction recorded a job
T = TypeVar("T")

RenderDocx = Callable[["Summary", bytes | None], bytes]


class JobError(Exception):
    """A job that cannot be done (its unit is gone, an unknown kind)."""


def request_summary(
    session: Session,
    *,
    member_id: int,
    unit_id: int,
    period: str,
    today: date,
    platform: str,
    locale: str,
    now: datetime,
) -> int:
    """Record a summary job in the message's transaction; its id.

    `today` is the day the summary is as of (the day it was asked for); the document goes
    to the member's account on `platform` (their private chat when asked in a group).
    """
    arguments = {
        "unit_id": unit_id,
        "period": period,
        "today": today.isoformat(),
        "platform": platform,
        "locale": locale,
    }
    job_id = jobs.enqueue(session, SUMMARY, member_id, arguments, now)
    session.info[_QUEUED] = True
    return job_id


def request_status_list(
    session: Session,
    *,
    member_id: int,
    paths: tuple[str, ...],
    month: date,
    asked: datetime,
    zone: ZoneInfo,
    platform: str,
    locale: str,
    now: datetime,
) -> int:
    """Record the job that makes /status's full list (.xlsx) in the message's transaction.

    `paths` is the asker's scope when they asked, `month` its first day, `asked` the time
    the short answer was counted at (the deadlines it shows). A list of the same scope
    still waiting for a worker is not asked for twice: the one waiting is made later than
    this question, so it is as fresh. Its id."""
    arguments = {
        "paths": list(paths),
        "month": month.isoformat(),
        "asked": asked.isoformat(),
        "zone": zone.key,
        "platform": platform,
        "locale": locale,
    }
    same = {k: v for k, v in arguments.items() if k != "asked"}
    for job_id, waiting in jobs.pending(session, STATUS_LIST, member_id):
        if {k: v for k, v in waiting.items() if k != "asked"} == same:
            return job_id
    job_id = jobs.enqueue(session, STATUS_LIST, member_id, arguments, now)
    session.info[_QUEUED] = True
    return job_id


def _write(folder: Path, name: str, content: bytes) -> Path:
    """Write a file whole or not at all (a rerun after a crash overwrites it)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name.replace("/", "／").replace(os.sep, "／")
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(content)
    partial.replace(target)
    return target.resolve()


class Worker:
    """Claims jobs one at a time, does them and queues their results in the outbox."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        kit: SummaryKit | None,
        data_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        instance: str = "worker",
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        poll_seconds: float = POLL_SECONDS,
        render_docx: RenderDocx | None = None,
        rules: DayRules = PUBLIC_RULES,
    ) -> None:
        self._sessions = sessions
        self._kit = kit
        self._documents = data_dir / "documents"
        self._clock = clock
        self._instance = instance
        self._lease = lease
        self._max_attempts = max_attempts
        self._poll = poll_seconds
        self._render_docx = render_docx
        self._rules = rules  # the working-day calendar, for the deadlines /status lists
        self._pokes: list[Callable[[], None]] = []
        # Held while claiming: a stopping worker takes it to know the job it must hand back
        # and to keep the thread it leaves behind from claiming another one.
        self._claiming = threading.Lock()
        self._current: jobs.Claimed | None = None
        self._closed = False
        self.done = 0
        self.idle = asyncio.Event()  # set while `run` waits for work (tests look at it)

    # -- one job --------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Claim a due job and do it; False if there was none."""
        now = self._clock()
        with self._claiming:
            if self._closed:
                return False
            with transaction(self._sessions) as session:
                job = jobs.claim(session, now, self._instance, stale_before=now - self._lease)
            self._current = job
        if job is None:
            return False
        try:
            return self._do(job)
        finally:
            self._current = None

    def _do(self, job: jobs.Claimed) -> bool:
        """Do a claimed job and settle it (done, or failed with the member told)."""
        locale = str(job.arguments.get("locale", "zh"))
        try:
            if job.attempts > self._max_attempts:
                raise JobError(f"gave up after {job.attempts - 1} attempts")
            if job.kind == SUMMARY:
                replies, folder = self._summary(job)
            elif job.kind == STATUS_LIST:
                replies, folder = self._status_list(job)
            else:
                raise JobError(f"unknown kind of job: {job.kind!r}")
        except Exception as error:
            log.exception("job %s (%s) failed", job.id, job.kind)
            failed = "overview_list_failed" if job.kind == STATUS_LIST else "summary_failed"
            self._finish(job, [Reply(msg(locale, failed))], None, repr(error))
            return True
        if self._finish(job, replies, str(folder), None):
            self.done += 1
        return True

    def run_due(self, stop: threading.Event | None = None) -> int:
        """Do every due job, one after the other; how many were taken."""
        count = 0
        while not (stop is not None and stop.is_set()) and self.run_one():
            count += 1
        return count

    def _summary(self, job: jobs.Claimed) -> tuple[list[Reply], Path]:
        from bot.summary import service

        if self._kit is None:
            raise JobError("no summary templates")
        args: dict[str, Any] = job.arguments
        locale = str(args.get("locale", "zh"))
        with reading(self._sessions) as session:
            unit = members.unit_by_id(session, int(args["unit_id"]))
            if unit is None:
                raise JobError(f"unit {args['unit_id']} is gone")
            period = parse_period(str(args["period"]))
            today = date.fromisoformat(str(args["today"]))
            summary = service.summarise(session, self._kit, unit, period, today)
        # Outside any transaction: drawing and rendering take seconds for a large street.
        chart = service.chart_png(summary) if summary.months else None  # drawn once
        render = self._render_docx or _render_docx
        docx = render(summary, chart)
        folder = self._documents / str(job.id)
        name = service.filename(summary, service.Format.DOCX)
        mime = service.MIME[service.Format.DOCX]
        stored = _write(folder, name, docx)
        replies = [Reply(service.preview(summary))]
        if chart is not None:
            picture = _write(folder, "chart.png", chart)
            image = Document("chart.png", chart, "image/png", str(picture))
            replies.append(Reply(msg(locale, "summary_chart"), image=image))
        file = Document(name, docx, mime, str(stored))
        replies.append(Reply(msg(locale, "summary_file", gaps=len(summary.gaps)), document=file))
        if not summary.ledger_listed:  # the .docx lists subtotals: the whole 台账 beside it
            xlsx = service.render(summary, self._kit, service.Format.XLSX)
            sheet = service.filename(summary, service.Format.XLSX)
            kept = _write(folder, sheet, xlsx)
            ledger = Document(sheet, xlsx, service.MIME[service.Format.XLSX], str(kept))
            replies.append(Reply(msg(locale, "summary_ledger"), document=ledger))
        return replies, folder.resolve()

    def _status_list(self, job: jobs.Claimed) -> tuple[list[Reply], Path]:
        from bot.core.scope import Scope
        from bot.core.status_overview import full_list

        args: dict[str, Any] = job.arguments
        zone = ZoneInfo(str(args["zone"]))
        with reading(self._sessions) as session:  # a snapshot: no write lock on SQLite
            made = self._clock()
            reply = full_list(
                session,
                Scope(tuple(str(p) for p in args["paths"])),
                date.fromisoformat(str(args["month"])),
                datetime.fromisoformat(str(args["asked"])),
                made,
                zone,
                str(args.get("locale", "zh")),
                self._rules,
            )
        assert reply.document is not None
        document = reply.document
        folder = self._documents / str(job.id)
        stored = _write(folder, document.filename, document.content)
        kept = Document(document.filename, document.content, document.mime_type, str(stored))
        return [Reply(reply.text, document=kept)], folder.resolve()

    def _finish(
        self, job: jobs.Claimed, replies: list[Reply], folder: str | None, error: str | None
    ) -> bool:
        """Settle the job and queue its result (or the apology), in one transaction; False
        if the job is no longer this claim's (handed back at a stop, or its lease passed and
        another worker took it): then nothing is queued, the job's holder delivers it."""
        now = self._clock()
        with transaction(self._sessions) as session:
            if error is None:
                held = jobs.finish(session, job, now, folder)
            else:
                held = jobs.fail(session, job, now, error)
            if not held:
                log.info("job %s: no longer this worker's; its result is dropped", job.id)
                return False
            queued = outbox.queue_for_member(
                session,
                job.member_id,
                key=f"job:{job.id}",
                kind=job.kind,
                replies=replies,
                now=now,
                prefer=str(job.arguments.get("platform")),
            )
        if not queued:
            log.warning("job %s: nothing queued (no account, or queued before)", job.id)
        return True

    def prune(self) -> int:
        """Forget the jobs finished more than KEEP_DOCUMENTS ago and remove their files."""
        with transaction(self._sessions) as session:
            ids = jobs.prune(session, self._clock() - KEEP_DOCUMENTS)
        for job_id in ids:
            shutil.rmtree(self._documents / str(job_id), ignore_errors=True)
        return len(ids)

    # -- running beside the platforms ------------------------------------------------------

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_QUEUED, False):
            for poke in list(self._pokes):
                poke()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_QUEUED, None)

    def _run_if_due(self) -> bool:
        # Looking first takes no write lock on SQLite (a claim does): polling stays cheap.
        now = self._clock()
        with reading(self._sessions) as session:
            due = jobs.any_due(session, now - self._lease)
        return due and self.run_one()

    async def run(self, stop: asyncio.Event, on_done: Callable[[], None] | None = None) -> None:
        """Do jobs until `stop` is set: at once when a commit here recorded one, else by
        polling; `on_done` is called (on the event loop) after each job, to wake senders."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def poke() -> None:  # called in whichever thread committed
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(wake.set)

        self._pokes.append(poke)
        event.listen(self._sessions, "after_commit", self._after_commit)
        event.listen(self._sessions, "after_rollback", self._after_rollback)
        self._closed = False
        try:
            while not stop.is_set():
                wake.clear()
                doing = asyncio.wrap_future(_in_daemon_thread(self._run_if_due, "huibao-job"))
                stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait(
                        {cast("asyncio.Future[Any]", doing), stopping},
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    stopping.cancel()
                if not doing.done():  # stopped mid-job: leave the thread, hand the job back
                    await self._abandon()
                    break
                try:
                    ran = doing.result()
                except Exception:  # e.g. the database restarting: try again shortly
                    log.exception("jobs: claiming or recording a job failed")
                    ran = False
                if ran:
                    if on_done is not None:
                        on_done()
                    continue
                await self._idle(stop, wake)
        finally:
            self._pokes.remove(poke)
            if not self._pokes:
                event.remove(self._sessions, "after_commit", self._after_commit)
                event.remove(self._sessions, "after_rollback", self._after_rollback)

    async def _abandon(self) -> None:
        """Hand back the job in progress, waiting at most HAND_BACK_SECONDS for it."""
        handing = asyncio.wrap_future(_in_daemon_thread(self._hand_back, "huibao-job-release"))
        try:
            await asyncio.wait_for(handing, HAND_BACK_SECONDS)
        except TimeoutError:
            log.warning("jobs: the job in progress was not handed back; due after its lease")
        except Exception:
            log.exception("jobs: handing back the job in progress failed; due after its lease")

    def _hand_back(self) -> None:
        # A claim commits in a moment, but on SQLite it may wait for the write lock: the
        # stop does not wait for it past a bound (the job is then due after its lease).
        if not self._claiming.acquire(timeout=HAND_BACK_SECONDS / 2):
            self._closed = True
            log.warning("jobs: a claim was under way at the stop; its job is due after its lease")
            return
        try:
            self._closed = True  # the thread left behind claims nothing more
            job = self._current
        finally:
            self._claiming.release()
        if job is None:
            return
        with transaction(self._sessions) as session:
            released = jobs.release(session, job)
        if released:
            log.info("job %s handed back at the stop: done after the restart", job.id)

    async def _idle(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
        self.idle.set()
        try:
            await asyncio.wait(waiters, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.idle.clear()
            for waiter in waiters:
                waiter.cancel()


def _in_daemon_thread(work: Callable[[], T], name: str) -> Future[T]:
    """Run `work` in a daemon thread of its own; its outcome.

    Not `asyncio.to_thread`: the loop's default executor is joined when `asyncio.run` ends,
    and its threads again when the interpreter exits, so a render in progress would hold
    up the exit for seconds. Python cannot kill a thread; a daemon thread is not waited for
    and ends with the process (the job it was doing is handed back, see `Worker._abandon`).
    """
    outcome: Future[T] = Future()

    def target() -> None:
        if not outcome.set_running_or_notify_cancel():
            return
        try:
            result = work()
        except BaseException as error:  # the waiter sees it, as with to_thread
            outcome.set_exception(error)
        else:
            outcome.set_result(result)

    threading.Thread(target=target, name=name, daemon=True).start()
    return outcome


def _render_docx(summary: Summary, chart: bytes | None) -> bytes:
    from bot.summary.render import render_docx

    return render_docx(summary, chart)

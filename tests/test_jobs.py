"""Heavy work after the commit: /summary answers at once, a job makes the document.

The job's document is a file under the data folder, queued in the outbox by path and
delivered once, even when a worker dies half-way; composing and rendering hold no lock
that would keep other people's messages waiting.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import docx
import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from bot import jobs as summary_jobs
from bot.core.conversation import Conversation
from bot.core.types import Reply, SendFailed
from bot.reminders.ladder import Window
from bot.reminders.outbox import Sender, take_waiting
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from bot.shipped import templates_dir
from bot.summary.render import render_docx
from bot.summary.service import SummaryKit
from storage import jobs
from storage.db import transaction
from storage.models import (
    Job,
    JobState,
    OutboxMessage,
    OutboxStatus,
    ProcessedMessage,
    RoleName,
)
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.core.test_dialog import HAPPY_PATH

TITLE = "和平街道2026年上半年文化工作总结"


@pytest.fixture(scope="module")
def kit() -> SummaryKit:
    return SummaryKit.load(templates_dir() / "summary")


@pytest.fixture
def leader(sessions, questionnaires, clock: Clock, kit: SummaryKit) -> Conversation:
    return Conversation(
        sessions, questionnaires, "community_culture", SHANGHAI, clock, summaries=kit
    )


@pytest.fixture
def street(
    leader: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> int:
    """李华 reported an activity; 周主任 leads the street. The coordinator's member id."""
    register(sessions, "李华", "demo-xinhua")
    boss = register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    play(Chat(leader, "李华", clock), HAPPY_PATH)
    return boss


def _worker(
    sessions: sessionmaker[Session], kit: SummaryKit, data: Path, clock: Clock, **extra: Any
) -> summary_jobs.Worker:
    return summary_jobs.Worker(sessions, kit, data, clock, **extra)


def _request(sessions: sessionmaker[Session], member_id: int, clock: Clock) -> int:
    """Record a street summary job as /summary does, in a transaction of its own."""
    from storage import members

    with transaction(sessions) as session:
        unit = members.unit_by_key(session, "demo-street")
        assert unit is not None
        return summary_jobs.request_summary(
            session,
            member_id=member_id,
            unit_id=unit.id,
            period="2026H1",
            today=date(2026, 6, 24),
            platform="shell",
            locale="zh",
            now=clock(),
        )


def _delivered(sessions: sessionmaker[Session], user: str, clock: Clock) -> list[Reply]:
    return take_waiting(sessions, "shell", user, clock())


def _docx_text(reply: Reply) -> str:
    assert reply.document is not None
    opened = docx.Document(io.BytesIO(reply.document.content))
    return "\n".join(p.text for p in opened.paragraphs)


def _job_rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.key.like("job:%"))).all()
        )


# -- in chat --------------------------------------------------------------------------------


def test_summary_answers_at_once_and_the_document_follows_from_the_job(
    leader: Conversation,
    street: int,
    sessions: sessionmaker[Session],
    clock: Clock,
    kit: SummaryKit,
    tmp_path: Path,
) -> None:
    boss = Chat(leader, "周主任", clock)
    assert boss.say("/summary") == "正在生成，请稍候"
    assert all(r.document is None and r.image is None for r in boss.replies)
    with sessions() as session:  # the message's stored replies carry no document
        stored = session.scalars(select(ProcessedMessage.replies)).all()
    assert all(
        item["document"] is None and item["image"] is None
        for replies in stored
        for item in replies or []
    )
    assert _delivered(sessions, "周主任", clock) == []  # nothing before the worker ran

    assert _worker(sessions, kit, tmp_path, clock).run_due() == 1
    replies = _delivered(sessions, "周主任", clock)
    assert TITLE in replies[0].text and "参学党员群众4000余人次" in replies[0].text
    (image,) = [r.image for r in replies if r.image is not None]
    (document,) = [r.document for r in replies if r.document is not None]
    assert image.content.startswith(b"\x89PNG")
    body = _docx_text(next(r for r in replies if r.document is not None))
    assert TITLE in body and "4000余人次" in body
    # kept as files under the data folder; the outbox refers to them by path
    assert document.path is not None
    assert Path(document.path).parent.parent == (tmp_path / "documents").resolve()
    (row,) = _job_rows(sessions)
    files = [item["document"] or item["image"] for item in row.payload]
    assert all("content" not in f and Path(f["path"]).is_file() for f in files if f)
    assert _delivered(sessions, "周主任", clock) == []  # once


def test_in_english_the_coordinator_is_told_to_wait(
    leader: Conversation, street: int, clock: Clock
) -> None:
    boss = Chat(leader, "周主任", clock)
    boss.say("/lang en")
    assert boss.say("/summary") == "Generating, please wait…"


def test_in_a_group_the_job_delivers_to_the_private_chat(
    leader: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    clock: Clock,
    kit: SummaryKit,
    tmp_path: Path,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR, platform="telegram")
    play(Chat(leader, "李华", clock), HAPPY_PATH)
    group = Chat(leader, "周主任", clock, platform="telegram", in_group=True)
    answer = group.say("/summary")
    assert "私信发给周主任" in answer and TITLE not in answer
    assert _worker(sessions, kit, tmp_path, clock).run_due() == 1
    (row,) = _job_rows(sessions)
    assert row.platform == "telegram" and row.address == "周主任"  # the private chat
    documents = [item["document"] for item in row.payload if item["document"]]
    assert [d["filename"] for d in documents] == [f"{TITLE}.docx"]


# -- outside the message's transaction ---------------------------------------------------------


def test_others_answers_are_stored_while_a_summary_is_rendered(
    leader: Conversation,
    street: int,
    sessions: sessionmaker[Session],
    clock: Clock,
    kit: SummaryKit,
    tmp_path: Path,
) -> None:
    rendering, release = threading.Event(), threading.Event()

    def slow_render(summary: Any, chart: bytes | None) -> bytes:
        rendering.set()
        assert release.wait(30), "the test never released the render"
        return render_docx(summary, chart)

    _request(sessions, street, clock)
    worker = _worker(sessions, kit, tmp_path, clock, render_docx=slow_render)
    working = threading.Thread(target=worker.run_due)
    working.start()
    try:
        assert rendering.wait(30)
        # Another member answers while the document is being rendered: stored at once.
        answered: list[str] = []
        staff = Chat(leader, "李华", clock)
        talking = threading.Thread(target=lambda: answered.append(staff.say("/report")))
        talking.start()
        talking.join(20)
        assert not talking.is_alive(), "the answer waited for the render"
        assert "这次活动属于哪一类工作" in answered[0]
        assert _delivered(sessions, "周主任", clock) == []  # not yet
    finally:
        release.set()
        working.join(30)
    assert any(r.document is not None for r in _delivered(sessions, "周主任", clock))


def test_a_worker_that_dies_mid_job_is_replaced_and_the_document_goes_once(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    class Died(BaseException):  # the process ending, not an error a worker handles
        pass

    def dies(summary: Any, chart: bytes | None) -> bytes:
        raise Died

    job_id = _request(sessions, street, clock)
    with pytest.raises(Died):
        _worker(sessions, kit, tmp_path, clock, render_docx=dies).run_due()
    with sessions() as session:
        assert jobs.state_of(session, job_id) is JobState.RUNNING
    survivor = _worker(sessions, kit, tmp_path, clock)
    assert survivor.run_due() == 0  # its lease has not passed: maybe it is still working
    clock.advance(minutes=11)
    assert survivor.run_due() == 1
    assert survivor.run_due() == 0
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state is JobState.DONE and job.attempts == 2
    assert len(_job_rows(sessions)) == 1
    replies = _delivered(sessions, "周主任", clock)
    assert [TITLE in _docx_text(r) for r in replies if r.document is not None] == [True]


def test_a_stop_mid_render_exits_at_once_and_the_restart_delivers_the_document_once(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    """SIGTERM during a district's render: the stop does not wait for it (issue 16 §5)."""
    rendering, release = threading.Event(), threading.Event()
    renderers: list[threading.Thread] = []

    def slow_render(summary: Any, chart: bytes | None) -> bytes:
        renderers.append(threading.current_thread())
        rendering.set()
        assert release.wait(60), "the test never released the render"
        return render_docx(summary, chart)

    job_id = _request(sessions, street, clock)
    first = _worker(
        sessions, kit, tmp_path, clock, instance="first", render_docx=slow_render, poll_seconds=600
    )
    # as in `huibao run`: the worker beside the reminders, stopped by the runner on SIGTERM
    background = Background(
        sessions, ReminderSettings(enabled=False), SHANGHAI, clock, instance="b", jobs=first
    )
    began: list[float] = []

    async def stopped_mid_render() -> None:
        await background.start({})
        assert await asyncio.to_thread(rendering.wait, 60)
        began.append(time.monotonic())
        await asyncio.wait_for(background.stop(), 30)

    asyncio.run(stopped_mid_render())  # the loop is closed too, as when `huibao run` ends
    took = time.monotonic() - began[0]
    assert took < 2.0  # a bound, not a pace: the render is still blocked, and was not awaited
    (left,) = renderers
    assert left.is_alive() and left.daemon  # still rendering; the process would not wait
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        # handed back: due at once after the restart, the stopped run not counted as a try
        assert (job.state, job.attempts, job.claimed_by) == (JobState.PENDING, 0, None)

    second = _worker(sessions, kit, tmp_path, clock, instance="second")
    assert second.run_due() == 1  # no lease to wait for
    release.set()  # the run left behind ends (in `huibao run` it ended with the process)
    left.join(60)
    assert (first.done, second.done) == (0, 1)  # its result was dropped, not queued again
    assert second.run_due() == 0
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.state, job.attempts, job.claimed_by) == (JobState.DONE, 1, "second")
    assert len(_job_rows(sessions)) == 1
    replies = _delivered(sessions, "周主任", clock)
    assert [TITLE in _docx_text(r) for r in replies if r.document is not None] == [True]


def test_a_stop_while_a_claim_waits_for_the_database_is_not_held_up_and_loses_nothing(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    """The claim stuck (e.g. behind SQLite's write lock) when SIGTERM comes: the stop does not
    wait for it; the job, claimed after all, is done once (in `huibao run` the claim would
    die with the process and the job be due after its lease)."""
    claiming, go = threading.Event(), threading.Event()
    claimers: list[threading.Thread] = []

    def stuck(state: ORMExecuteState) -> None:
        if state.is_update and not claiming.is_set():  # the claim's UPDATE of the job
            claimers.append(threading.current_thread())
            claiming.set()
            assert go.wait(60), "the test never let the claim through"

    job_id = _request(sessions, street, clock)
    first = _worker(sessions, kit, tmp_path, clock, instance="first", poll_seconds=600)
    event.listen(sessions, "do_orm_execute", stuck)
    began: list[float] = []

    async def stopped_mid_claim() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(first.run(stop))
        assert await asyncio.to_thread(claiming.wait, 60)
        began.append(time.monotonic())
        stop.set()
        await asyncio.wait_for(running, 30)

    try:
        asyncio.run(stopped_mid_claim())
        took = time.monotonic() - began[0]
        assert claimers and claimers[0].is_alive()  # still stuck when the stop returned
    finally:
        go.set()
        for thread in claimers:
            thread.join(60)
        event.remove(sessions, "do_orm_execute", stuck)  # not while a thread runs its events
    assert took < 2.0  # a bound, not a pace: the claim was still stuck
    second = _worker(sessions, kit, tmp_path, clock, instance="second")
    assert second.run_due() == 0  # the claim went through: its worker did the job
    with sessions() as session:
        assert jobs.state_of(session, job_id) is JobState.DONE
    assert (first.done, len(_job_rows(sessions))) == (1, 1)
    replies = _delivered(sessions, "周主任", clock)
    assert [TITLE in _docx_text(r) for r in replies if r.document is not None] == [True]


def test_a_failing_job_tells_the_member_and_a_job_that_keeps_dying_gives_up(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    def broken(summary: Any, chart: bytes | None) -> bytes:
        raise RuntimeError("the template is broken")

    failing = _request(sessions, street, clock)
    assert _worker(sessions, kit, tmp_path, clock, render_docx=broken).run_due() == 1
    (apology,) = _delivered(sessions, "周主任", clock)
    assert apology.text.startswith("生成工作总结时出了问题") and apology.document is None
    with sessions() as session:
        assert jobs.state_of(session, failing) is JobState.FAILED

    class Died(BaseException):
        pass

    def dies(summary: Any, chart: bytes | None) -> bytes:
        raise Died

    dying = _request(sessions, street, clock)
    for _ in range(summary_jobs.MAX_ATTEMPTS):
        with pytest.raises(Died):
            _worker(sessions, kit, tmp_path, clock, render_docx=dies).run_due()
        clock.advance(minutes=11)
    assert _worker(sessions, kit, tmp_path, clock, render_docx=dies).run_due() == 1
    (apology,) = _delivered(sessions, "周主任", clock)
    assert apology.text.startswith("生成工作总结时出了问题")
    with sessions() as session:
        assert jobs.state_of(session, dying) is JobState.FAILED


def test_two_workers_never_claim_the_same_job(
    street: int, sessions: sessionmaker[Session], clock: Clock
) -> None:
    ids = {_request(sessions, street, clock) for _ in range(2)}
    stale = clock() - timedelta(minutes=10)
    claimed: set[int] = set()
    # One worker has claimed a job and not committed yet: another takes the next one.
    with transaction(sessions) as first:
        one = jobs.claim(first, clock(), "a", stale_before=stale)
        assert one is not None and one.id in ids
        claimed.add(one.id)
        if sessions.kw["bind"].dialect.name == "postgresql":
            with transaction(sessions) as second:
                other = jobs.claim(second, clock(), "b", stale_before=stale)
            assert other is not None and other.id in ids - {one.id}
            claimed.add(other.id)
    # many claimers at once: each job taken once
    more = {_request(sessions, street, clock) for _ in range(30)}
    taken: list[int] = []

    def claimer(name: str) -> None:
        while True:
            with transaction(sessions) as session:
                job = jobs.claim(session, clock(), name, stale_before=stale)
            if job is None:
                return
            taken.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == sorted(more | (ids - claimed))


# -- the document file ------------------------------------------------------------------------


class _Recording:
    platform = "shell"

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Reply]]] = []

    async def send_to(self, address: str, replies: Any) -> None:
        self.sent.append((address, list(replies)))


def test_the_sender_reads_the_file_at_once_in_quiet_hours_and_fails_a_missing_one(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    clock.now = clock.now.replace(hour=14, minute=30)  # 22:30 in Shanghai: quiet hours
    channel = _Recording()
    sender = Sender(
        sessions,
        channel,
        rate=100,
        window=Window.of(ReminderSettings(), SHANGHAI),
        clock=clock,
        instance="test",
    )
    _request(sessions, street, clock)
    _worker(sessions, kit, tmp_path, clock).run_due()
    assert asyncio.run(sender.send_due()) == 1  # asked for: not held until the morning
    ((address, replies),) = channel.sent
    assert address == "周主任" and TITLE in _docx_text(replies[-1])
    # a document whose file was removed is not "sent": it fails, with the reason
    _request(sessions, street, clock)
    _worker(sessions, kit, tmp_path, clock).run_due()
    for row in _job_rows(sessions):
        for item in row.payload:
            if item["document"] and row.status is OutboxStatus.PENDING:
                Path(item["document"]["path"]).unlink()
    assert asyncio.run(sender.send_due()) == 0
    first, second = sorted(_job_rows(sessions), key=lambda row: row.id)
    assert first.status is OutboxStatus.SENT
    assert second.status is OutboxStatus.FAILED and "missing" in (second.last_error or "")


def test_rows_queued_with_the_content_inline_are_still_read() -> None:
    from bot.core.types import Document, replies_from_json, replies_to_json

    inline = Reply("附件", document=Document("a.txt", b"hello", "text/plain"))
    data = replies_to_json([inline])
    assert "content" in data[0]["document"]
    assert replies_from_json(data) == [inline]


# -- in `huibao run` -----------------------------------------------------------------------------


def test_the_running_worker_starts_right_after_the_commit_not_at_the_next_poll(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    worker = _worker(sessions, kit, tmp_path, clock, poll_seconds=600)

    async def scenario() -> None:
        stop = asyncio.Event()
        finished = asyncio.Event()
        running = asyncio.create_task(worker.run(stop, on_done=finished.set))
        await asyncio.wait_for(worker.idle.wait(), timeout=60)  # nothing to do: it waits
        await asyncio.to_thread(_request, sessions, street, clock)
        await asyncio.wait_for(finished.wait(), timeout=60)  # far below the 600 s poll
        stop.set()
        await running

    asyncio.run(scenario())
    assert worker.done == 1
    assert any(r.document is not None for r in _delivered(sessions, "周主任", clock))


def test_failed_send_of_a_job_is_not_retried_as_sent(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    """A passing failure of the platform puts the document back, kept by path, for later."""

    class Flaky(_Recording):
        async def send_to(self, address: str, replies: Any) -> None:
            raise SendFailed("timeout", permanent=False)

    sender = Sender(
        sessions,
        Flaky(),
        rate=100,
        window=Window.of(ReminderSettings(), SHANGHAI),
        clock=clock,
        instance="test",
    )
    _request(sessions, street, clock)
    _worker(sessions, kit, tmp_path, clock).run_due()
    assert asyncio.run(sender.send_due()) == 0
    (row,) = _job_rows(sessions)
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    clock.advance(minutes=5)
    assert any(r.document is not None for r in _delivered(sessions, "周主任", clock))


def test_composing_reads_without_taking_the_write_lock(sessions: sessionmaker[Session]) -> None:
    """The worker composes in `reading`: on SQLite others write meanwhile (no BEGIN IMMEDIATE)."""
    from storage.db import reading
    from storage.models import Member

    written: list[int] = []

    def write() -> None:
        with transaction(sessions) as session:
            member = Member(name="王强", locale="zh")
            session.add(member)
            session.flush()
            written.append(member.id)

    with reading(sessions) as session:
        assert session.scalars(select(Member)).all() == []
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(20)
        assert not writer.is_alive() and len(written) == 1
        assert session.scalars(select(Member)).all() == []  # its snapshot


def test_the_shell_shows_the_answer_then_the_document_saved_in_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from click.testing import CliRunner

    from bot.admin.cli import main
    from tests.admin.test_cli import CLOCK, REPORT_SCRIPT

    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "WARNING",
    }
    result = CliRunner().invoke(
        main, ["run"], env=env, input=REPORT_SCRIPT + "/summary\n", obj=CLOCK
    )
    assert result.exit_code == 0, result.output
    after = result.output.split("你> /summary")[1]
    answer, notice = after.split("汇报（通知）> ", 1)
    assert answer.strip() == "汇报> 正在生成，请稍候"
    assert notice.startswith("新华社区2026年上半年文化工作总结")
    name = "新华社区2026年上半年文化工作总结.docx"
    saved = re.search(rf"（文件：{name}，\d+ 字节，已保存到 (\S+)）", notice)
    assert saved is not None, notice
    opened = docx.Document(saved.group(1))
    assert "新华社区2026年上半年文化工作总结" in "\n".join(p.text for p in opened.paragraphs)
    assert list((tmp_path / "data" / "documents").glob(f"*/{name}"))  # the job's own file


def test_a_long_ledger_comes_as_an_xlsx_beside_the_docx(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    from openpyxl import load_workbook
    from sqlalchemy import insert

    from bot.summary.model import LEDGER_LIMIT
    from storage.models import Entry

    with transaction(sessions) as session:  # the one entry reported, many times over
        row = session.execute(select(Entry.__table__)).mappings().one()
        copies = [{**row, "id": row["id"] + n} for n in range(1, LEDGER_LIMIT + 1)]
        session.execute(insert(Entry.__table__), copies)
    _request(sessions, street, clock)
    assert _worker(sessions, kit, tmp_path, clock).run_due() == 1
    replies = _delivered(sessions, "周主任", clock)
    names = [r.document.filename for r in replies if r.document is not None]
    assert names == [f"{TITLE}.docx", "和平街道2026年上半年活动台账.xlsx"]
    assert replies[-1].text.startswith("全部活动台账")
    assert replies[-1].document is not None
    sheet = load_workbook(io.BytesIO(replies[-1].document.content), read_only=True)
    rows = sum(
        1 for ws in sheet.worksheets for r in ws.iter_rows(values_only=True) if "端午" in str(r)
    )
    assert rows >= LEDGER_LIMIT + 1


def test_a_finished_jobs_files_are_removed_after_thirty_days(
    street: int, sessions: sessionmaker[Session], clock: Clock, kit: SummaryKit, tmp_path: Path
) -> None:
    worker = _worker(sessions, kit, tmp_path, clock)
    old = _request(sessions, street, clock)
    worker.run_due()
    clock.advance(days=20)
    recent = _request(sessions, street, clock)
    worker.run_due()
    folders = {job: tmp_path / "documents" / str(job) for job in (old, recent)}
    assert all(any(folder.iterdir()) for folder in folders.values())
    clock.advance(days=11)  # the first finished 31 days ago, the second 11
    from bot.reminders.tick import Background

    Background(sessions, ReminderSettings(enabled=False), SHANGHAI, clock, jobs=worker).prune()
    assert not folders[old].exists() and any(folders[recent].iterdir())
    with sessions() as session:
        assert jobs.state_of(session, old) is None
        assert jobs.state_of(session, recent) is JobState.DONE


# -- /status's full list ------------------------------------------------------------------------


@pytest.fixture
def district(
    sessions: sessionmaker[Session], engine: Engine, conversation: Conversation, clock: Clock
) -> Chat:
    """A district of 700 staff (too many for every name): its coordinator's chat."""
    from tests.core.test_status_large import populate

    populate(sessions, engine, 700, date(2026, 6, 1))
    register(sessions, "区负责人", "d", RoleName.COORDINATOR)
    return Chat(conversation, "区负责人", clock)


def test_status_asked_twice_before_the_worker_runs_sends_one_list(
    district: Chat, sessions: sessionmaker[Session], clock: Clock, tmp_path: Path
) -> None:
    first = district.say("/status")
    assert "稍后发给你" in first and district.replies[0].document is None
    district.say("/status")
    worker = summary_jobs.Worker(sessions, None, tmp_path, clock)
    assert worker.run_due() == 1  # the list still waiting was asked for once
    (listed,) = _delivered(sessions, "区负责人", clock)
    assert listed.document is not None and listed.document.filename == "上报情况_2026-06.xlsx"
    district.say("/status")  # asked again after it was sent: a new one
    assert worker.run_due() == 1
    assert len(_delivered(sessions, "区负责人", clock)) == 1


def test_a_status_list_that_fails_says_so_in_a_friendly_line(
    district: Chat, sessions: sessionmaker[Session], clock: Clock, tmp_path: Path
) -> None:
    district.say("/status")
    with transaction(sessions) as session:  # the job's arguments broken under it
        job = session.scalars(select(Job).where(Job.kind == summary_jobs.STATUS_LIST)).one()
        job.arguments = {**job.arguments, "zone": "Nowhere/Atlantis"}
    assert summary_jobs.Worker(sessions, None, tmp_path, clock).run_due() == 1
    (apology,) = _delivered(sessions, "区负责人", clock)
    assert apology.document is None
    assert apology.text.startswith("生成上报情况完整名单时出了问题，请稍后再发一次 /status")
    with sessions() as session:
        assert jobs.state_of(session, job.id) is JobState.FAILED

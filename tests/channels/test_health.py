"""GET /healthz: green only when the database takes a write. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.server import build_server, health_route
from storage.db import create_db_engine, transaction
from storage.models import Member, ReceivedMessage
from tests.faults import writes_fail


def healthz(engine: Engine, **options: float) -> tuple[int, dict[str, str]]:
    """GET /healthz; (status, body)."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(build_server([health_route(engine, **options)]))
        async with httpx.AsyncClient(transport=transport, base_url="http://huibao") as client:
            return await client.get("/healthz")

    answer = asyncio.run(get())
    return answer.status_code, answer.json()


def test_red_when_writes_fail_while_reads_still_work(
    engine: Engine, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with writes_fail(engine):
        with transaction(sessions) as session:  # reads work: the old check said ok here
            assert session.scalar(select(func.count()).select_from(Member)) == 0
        assert healthz(engine) == (503, {"status": "error", "database": "not writable"})
    warnings = [r for r in caplog.records if r.name == "bot.health"]
    assert len(warnings) == 1 and "database or disk is full" in warnings[0].getMessage()
    assert warnings[0].exc_info is None  # one line, no traceback
    # the disk has room again; the check left nothing behind
    assert healthz(engine) == (200, {"status": "ok", "database": "ok"})
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(ReceivedMessage)) == 0


def test_a_held_lock_makes_it_red_quickly_instead_of_hanging(engine: Engine) -> None:
    with engine.connect() as holder:
        if engine.dialect.name == "sqlite":
            holder.execute(text("select 1"))  # BEGIN IMMEDIATE: the write lock is taken
        else:
            holder.execute(text("LOCK TABLE received_messages IN EXCLUSIVE MODE"))
        started = time.monotonic()
        status, body = healthz(engine, lock_wait=0.3)
        elapsed = time.monotonic() - started
        holder.rollback()
    assert (status, body["database"]) == (503, "not writable")
    assert elapsed < 3  # not the engine's 30 s busy timeout, nor forever


@pytest.fixture
def sqlite_file(engine: Engine) -> Iterator[str]:
    if engine.dialect.name != "sqlite":
        pytest.skip("a SQLite file")
    assert engine.url.database is not None
    yield engine.url.database


def test_a_sqlite_file_opened_read_only_is_red_and_a_missing_one_unreachable(
    sqlite_file: str, tmp_path: Path
) -> None:
    read_only = create_db_engine(f"sqlite:///file:{sqlite_file}?mode=ro&uri=true")
    try:
        with read_only.connect() as connection:  # it answers reads
            assert connection.exec_driver_sql("select count(*) from members").scalar() == 0
        assert healthz(read_only) == (503, {"status": "error", "database": "not writable"})
    finally:
        read_only.dispose()
    missing = create_db_engine(f"sqlite:///file:{tmp_path / 'no' / 'such.db'}?mode=ro&uri=true")
    assert healthz(missing) == (503, {"status": "error", "database": "unreachable"})


FULL_DISK = """
import resource, signal, sqlite3, sys
from bot.health import database_state
from storage.db import create_db_engine, upgrade

path = sys.argv[1]
engine = create_db_engine("sqlite:///" + path)
upgrade(engine)
print("before", database_state(engine))  # its pooled connection stays open
raw = sqlite3.connect(path)
raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
raw.close()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))  # no file may grow: a full disk
with engine.connect() as connection:
    print("read", connection.exec_driver_sql("select count(*) from members").scalar())
print("after", database_state(engine), file=sys.stderr)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
def test_a_disk_that_cannot_grow_is_red_on_sqlite(tmp_path: Path, project_root: Path) -> None:
    """A real full disk, not an injected error: a rolled-back write would not notice it."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FULL_DISK), str(tmp_path / "huibao.sqlite3")],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split("\n")[:2] == ["before ok", "read 0"]
    assert "after not writable" in done.stderr

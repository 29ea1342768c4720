"""`huibao backup` and `huibao restore`: a consistent SQLite copy while entries are being
written, restored into a new place and opened by the app; PostgreSQL gets the pg_dump and
pg_restore commands instead of a pretend backup."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.admin.cli import main
from bot.admin.org import demo_org, load_org
from bot.app import build
from bot.core.types import Incoming
from bot.settings import Settings
from storage import entries as entry_store
from storage import members
from storage.db import alembic_config, current_revision, transaction
from storage.models import Entry, RoleName

WRITER_NAME = "李华"


def _env(database: Path) -> dict[str, str]:
    return {"HUIBAO_DATABASE_URL": f"sqlite:///{database}", "HUIBAO_LOG_LEVEL": "WARNING"}


class Writer:
    """A thread that keeps storing entries, each with two figures, one transaction each."""

    def __init__(self, database: Path) -> None:
        self.app = build(Settings(database_url=f"sqlite:///{database}"))
        with transaction(self.app.sessions) as session:
            load_org(session, demo_org())
            unit = members.unit_by_key(session, "demo-xinhua")
            assert unit is not None
            member = members.join(
                session,
                WRITER_NAME,
                platform="shell",
                external_id="li",
                unit_id=unit.id,
                roles=(RoleName.STAFF,),
            )
            self.member_id, self.unit_id = member.id, unit.id
            self.questionnaire_id = entry_store.questionnaire_row(session, "q", 1, "q", dict)
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _write_one(self, number: int) -> None:
        now = datetime.now(UTC)
        with transaction(self.app.sessions) as session:
            draft = entry_store.Draft(
                entry_id=None,
                unit_id=self.unit_id,
                area="theory",
                area_name="理论学习",
                title=f"第{number}次学习",
                start_date=now.date(),
                end_date=now.date(),
                period="2026H1",
                location=None,
                answers={},
                metrics=tuple(
                    entry_store.MetricValue(
                        question_id=question,
                        label=question,
                        unit="人次",
                        low=Decimal(number),
                        high=None,
                        approx="exact",
                        raw=str(number),
                    )
                    for question in ("sessions", "attendance")
                ),
            )
            entry_store.save(
                session,
                draft,
                member_id=self.member_id,
                questionnaire_id=self.questionnaire_id,
                platform="shell",
                now=now,
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            self._write_one(self.written + 1)
            self.written += 1

    def start(self, at_least: int) -> None:
        self._thread.start()
        self.wait_for(at_least)

    def wait_for(self, written: int) -> None:
        """Wait (30 s at most) until `written` entries are in."""
        deadline = time.monotonic() + 30
        while self.written < written and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(30)
        self.app.close()


def test_backup_while_entries_are_written_then_restore_and_open(tmp_path: Path) -> None:
    live = tmp_path / "data" / "huibao.sqlite3"
    writer = Writer(live)
    runner = CliRunner()
    try:
        writer.start(at_least=50)
        before = writer.written
        result = runner.invoke(
            main, ["backup", "-o", str(tmp_path / "copy.sqlite3")], env=_env(live)
        )
        after = writer.written
        writer.wait_for(after + 1)
    finally:
        writer.stop()
    assert result.exit_code == 0, result.output
    assert writer.written > after >= before, "the writer kept writing during the backup"

    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(copy) as raw:
        assert raw.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert raw.execute("pragma journal_mode").fetchone()[0] == "delete"
        copied = raw.execute("select count(*) from entries").fetchone()[0]
        # a snapshot: every entry with both its figures, none half-written
        figures = raw.execute(
            "select count(*) from entries e join entry_metrics m on m.entry_id = e.id"
        ).fetchone()[0]
    assert before <= copied <= after and figures == 2 * copied
    assert not list(tmp_path.glob("*.partial"))

    restored = tmp_path / "restored" / "huibao.sqlite3"
    result = runner.invoke(main, ["restore", str(copy)], env=_env(restored))
    assert result.exit_code == 0, result.output
    assert f"restored {copied} entries" in result.output

    app = build(Settings(database_url=f"sqlite:///{restored}"))
    try:
        head = ScriptDirectory.from_config(alembic_config(app.engine)).get_current_head()
        assert current_revision(app.engine) == head
        with transaction(app.sessions) as session:
            entries = session.scalars(
                select(Entry).options(selectinload(Entry.metrics)).order_by(Entry.id)
            ).all()
            assert [e.title for e in entries] == [f"第{n}次学习" for n in range(1, copied + 1)]
            assert all(len(e.metrics) == 2 for e in entries)
        # the restored database works: the member is known and can start a report
        now = datetime.now(UTC)
        answer = app.conversation.handle(
            Incoming("shell", "li", "after-restore", now, text="/report")
        )
        assert "这次活动属于哪一类工作" in answer[0].text
    finally:
        app.close()


def test_restore_does_not_overwrite_without_replace_and_keeps_the_old_database(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    for database, entries in ((first, 3), (second, 1)):
        writer = Writer(database)
        for number in range(entries):
            writer._write_one(number + 1)
        writer.stop()
    runner = CliRunner()
    copy = tmp_path / "first-copy.sqlite3"
    assert runner.invoke(main, ["backup", "-o", str(copy)], env=_env(first)).exit_code == 0
    refused = runner.invoke(main, ["restore", str(copy)], env=_env(second))
    assert refused.exit_code != 0 and "--replace" in refused.output
    again = runner.invoke(main, ["backup", "-o", str(copy)], env=_env(first))
    assert again.exit_code != 0 and "exists already" in again.output

    done = runner.invoke(main, ["restore", str(copy), "--replace"], env=_env(second))
    assert done.exit_code == 0, done.output
    with sqlite3.connect(second) as raw:
        assert raw.execute("select count(*) from entries").fetchone()[0] == 3
    (kept,) = tmp_path.glob("second-before-restore-*.sqlite3")
    with sqlite3.connect(kept) as raw:
        assert raw.execute("select count(*) from entries").fetchone()[0] == 1


def test_restore_refuses_a_file_that_is_not_a_huibao_backup(tmp_path: Path) -> None:
    runner = CliRunner()
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as raw:
        raw.execute("create table t (x)")
    target = tmp_path / "huibao.sqlite3"
    for bad in (junk, other):
        result = runner.invoke(main, ["restore", str(bad)], env=_env(target))
        assert result.exit_code != 0
        assert "Traceback" not in result.output
    assert "not a Huibao database" in result.output
    assert not target.exists()


def test_backup_of_a_missing_database_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["backup"], env=_env(tmp_path / "none.sqlite3"))
    assert result.exit_code != 0 and "there is no database at" in result.output


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_postgresql_gets_the_pg_dump_command_not_a_pretend_backup(
    tmp_path: Path, command: str
) -> None:
    url = "postgresql://huibao:s3cret-pw@db.internal:5432/huibao"
    args = [command] if command == "backup" else [command, str(_some_file(tmp_path))]
    result = CliRunner().invoke(main, args, env={"HUIBAO_DATABASE_URL": url})
    assert result.exit_code != 0
    tool = "pg_dump --format=custom" if command == "backup" else "pg_restore --clean"
    assert tool in result.output
    assert "postgresql://huibao@db.internal:5432/huibao" in result.output
    assert "s3cret-pw" not in result.output


def _some_file(tmp_path: Path) -> Path:
    dump = tmp_path / "huibao.dump"
    dump.write_bytes(b"PGDMP")
    return dump


def test_the_default_backup_name_is_beside_the_database(tmp_path: Path) -> None:
    live = tmp_path / "huibao.sqlite3"
    Writer(live).stop()
    result = CliRunner().invoke(main, ["backup"], env=_env(live))
    assert result.exit_code == 0, result.output
    (made,) = (tmp_path / "backups").glob("huibao-*.sqlite3")
    assert str(made) in result.output
    stamp = datetime.strptime(made.stem.removeprefix("huibao-"), "%Y%m%d-%H%M%S")
    assert abs(stamp - datetime.now()) < timedelta(days=1)
    with sqlite3.connect(made) as raw:
        assert raw.execute("select count(*) from members").fetchone()[0] == 1

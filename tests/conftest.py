"""Shared fixtures: one storage contract, two databases (SQLite always, PostgreSQL if reachable).

PostgreSQL tests use HUIBAO_TEST_POSTGRES_URL (default: the local server's `test` database)
in a schema of their own, dropped at the end. With HUIBAO_TEST_REQUIRE_POSTGRES=1 (set by
.ci/run) an unreachable server fails the run instead of skipping those tests.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.core.questionnaire import Questionnaire, load_questionnaires
from bot.shipped import templates_dir
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import Base, RoleName
from tests.chat import Chat

POSTGRES_URL = os.environ.get(
    "HUIBAO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("HUIBAO_TEST_REQUIRE_POSTGRES") == "1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(
            make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
    return None


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """A test that runs a `huibao` command in process gets the CLI's logging set-up (a root
    handler whose filter rewrites records in place); later tests must see logging as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def schema_url(schema: str) -> str:
    """The URL of the test server with `schema` as its search_path."""
    url = make_url(POSTGRES_URL).set(
        drivername="postgresql+psycopg", query={"options": f"-csearch_path={schema}"}
    )
    return url.render_as_string(hide_password=False)


def db_engine(url: str) -> Engine:
    """`create_db_engine(url)`; on PostgreSQL its commits do not wait for the WAL to reach
    the disk (synchronous_commit=off, for its own sessions only): a commit is as visible and
    as atomic as before, only a crash of the server itself could lose the last ones, and it
    costs a fraction of the fsync that made most of a PostgreSQL test's time.

    (Set on connecting, not as a second -c in the URL's options: bot.instances renders the
    URL for psycopg, which would not read the space between them back.)
    """
    engine = create_db_engine(url)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def commit_without_flush(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("SET synchronous_commit = off")
            dbapi_connection.commit()

    return engine


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, as a URL with its search_path (one
    per pytest process: each xdist worker has its own)."""
    problem = _postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(problem)
        pytest.skip(problem)
    schema = f"huibao_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    yield schema_url(schema)
    with admin.begin() as connection:
        connection.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on each backend with the schema migrated to head, shared by the session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'huibao.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = db_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def empty_tables(engine: Engine, *, restart_ids: bool = False) -> None:
    """Delete every row of every table, children first, in one transaction; with
    `restart_ids`, new rows are numbered from 1 again.

    Rows, not tables: TRUNCATE takes PostgreSQL tens of milliseconds a table (it makes new
    files), a DELETE of the few rows a test leaves well under one; and on PostgreSQL the
    deletes go in one round trip.
    """
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            quote = connection.dialect.identifier_preparer.format_table
            connection.exec_driver_sql("; ".join(f"DELETE FROM {quote(t)}" for t in tables))
            if restart_ids:
                connection.exec_driver_sql(
                    "SELECT setval(oid, 1, false) FROM pg_class"
                    " WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"
                )
        else:  # sqlite3 runs one statement a call; an emptied rowid table counts from 1
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The migrated engine, emptied before the test."""
    empty_tables(migrated_engine)
    return migrated_engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def questionnaires() -> dict[str, Questionnaire]:
    return load_questionnaires(templates_dir() / "questionnaires")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    # Wednesday 24 June 2026, 10:00 in Shanghai.
    return Clock(datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC))


@pytest.fixture
def conversation(
    sessions: sessionmaker[Session], questionnaires: dict[str, Questionnaire], clock: Clock
) -> Conversation:
    return Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)


@pytest.fixture
def demo_org(sessions: sessionmaker[Session]) -> None:
    from bot.admin.org import demo_org as spec
    from bot.admin.org import load_org

    with transaction(sessions) as session:
        load_org(session, spec())


def register(
    sessions: sessionmaker[Session],
    name: str,
    unit_code: str,
    role: RoleName = RoleName.STAFF,
    platform: str = "shell",
    external_id: str | None = None,
) -> int:
    """Register a member directly (the join dialog has tests of its own)."""
    from storage import members

    with transaction(sessions) as session:
        unit = members.unit_by_key(session, unit_code)
        assert unit is not None, unit_code
        return members.join(
            session,
            name,
            platform=platform,
            external_id=external_id or name,
            unit_id=unit.id,
            roles=(role,),
        ).id


@pytest.fixture
def staff_chat(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> Chat:
    """A registered staff member of 新华社区 chatting in the shell."""
    register(sessions, "李华", "demo-xinhua")
    return Chat(conversation, "李华", clock)


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

"""Engines, sessions and migrations. Nothing here runs at import time."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config  # Alembic takes long to import: only when migrating

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READ_ONLY = "huibao_read_only"  # an execution option: see `reading`


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; for SQLite, make the file's folder and set WAL and locking."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an error message must not carry what people typed (the logs
        # keep ids, never personal data).
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, echo=echo, pool_pre_ping=True, hide_parameters=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own
        # transaction handling defers it and breaks SERIALIZABLE-like use).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only an OS crash may lose
        # the last transactions, never corrupt the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue on busy_timeout
        # instead of failing with SQLITE_BUSY when a read is upgraded to a write.
        # A transaction opened by `reading` takes none: in WAL mode it reads a snapshot
        # while others write.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory the rest of Huibao receives."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session for long reads (composing a summary) from one snapshot: it writes
    nothing and, on SQLite, holds no write lock, so people's messages are stored meanwhile."""
    with factory() as session:
        options: dict[str, Any] = {READ_ONLY: True}
        if session.get_bind().dialect.name == "postgresql":
            options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        session.connection(execution_options=options)
        try:
            yield session
        finally:
            session.rollback()


def alembic_config(engine: Engine) -> Config:
    """Build the Alembic configuration in code, so it works from an installed package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser treats % as interpolation; URLs may carry %-escapes.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to the given revision."""
    if revision == "head" and _at_head(engine):
        return  # nothing to migrate (as Alembic would find, after a slow import)
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


# `revision = "0010"` and `down_revision = "0009"` (or None), as Alembic writes them.
_REVISION_LINE = re.compile(
    r"""^(revision|down_revision)(?:: [^=]+)? = (?:"([^"]+)"|(None))$""", re.MULTILINE
)


def _at_head(engine: Engine) -> bool:
    """Whether the database is at the newest migration, found without Alembic: the one
    revision of the migration files that no other names as its down_revision. Anything
    unusual (no version table, a merge, a file written otherwise) answers False."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = _REVISION_LINE.findall(path.read_text(encoding="utf-8"))
        names = {name: value or None for name, value, _ in found}
        revision = names.get("revision")
        if len(found) != 2 or len(names) != 2 or revision is None:
            return False
        revisions[revision] = names["down_revision"]
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:
        return False
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(text("SELECT version_num FROM alembic_version"))
        return list(versions.scalars()) == list(heads)


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision the database is at, or None if it has none."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

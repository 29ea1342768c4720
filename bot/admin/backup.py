"""Backups: a consistent copy of a SQLite database while Huibao runs, and its restore.

SQLite's online backup API (`sqlite3.Connection.backup`) copies the database as one
snapshot: in WAL mode the bot keeps writing while the copy is made, and the copy holds
every transaction committed before it began and nothing of one in flight. Copying the
file with `cp` is not safe: the last transactions may still be in the -wal file.

PostgreSQL is backed up with its own tools (pg_dump / pg_restore); `pg_dump_command`
gives the command for the configured database rather than pretending to do it here.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Copy:
    """What a backup or restore wrote."""

    path: Path
    size: int
    revision: str | None  # the schema (Alembic) revision of the copied database
    entries: int


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a sqlite:/// URL; None for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("only a SQLite database in a file can be backed up")
    return Path(url.database).expanduser()


def default_target(source: Path, now: datetime) -> Path:
    """backups/huibao-20260624-101500.sqlite3 next to the database."""
    return source.parent / "backups" / f"huibao-{now:%Y%m%d-%H%M%S}.sqlite3"


def _describe(connection: sqlite3.Connection) -> tuple[str | None, int]:
    """The schema revision and the number of entries; BackupError if not Huibao's."""
    try:
        revision = connection.execute("select version_num from alembic_version").fetchone()
        entries = connection.execute("select count(*) from entries").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"not a Huibao database ({exc})") from exc
    return (None if revision is None else str(revision[0])), int(entries[0])


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # pages=-1: the whole database in one step, so the copy is one consistent snapshot
    # (in steps, a write by another connection would restart it, and go on restarting
    # while the bot is busy).
    source.backup(target, pages=-1)


def backup_sqlite(source: Path, target: Path) -> Copy:
    """Copy the database at `source` into the new file `target`, consistently.

    The copy is written beside the target and renamed into place when complete and
    checked, so a failed backup never leaves a half-written file under the target name.
    """
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists already; choose another file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(source, timeout=30)) as reader:
            _describe(reader)
            with contextlib.closing(sqlite3.connect(partial)) as writer:
                _copy(reader, writer)
                # A backup is one self-contained file, not a database with a -wal beside it.
                writer.execute("PRAGMA journal_mode=DELETE")
                check = writer.execute("PRAGMA integrity_check").fetchone()[0]
                if check != "ok":
                    raise BackupError(f"the copy failed its integrity check: {check}")
                revision, entries = _describe(writer)
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        partial.replace(target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {source}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return Copy(target, target.stat().st_size, revision, entries)


def restore_sqlite(backup: Path, target: Path, *, replace: bool, now: datetime) -> Copy:
    """Restore a backup made by `backup_sqlite` into the database file `target`.

    Huibao must not be running on `target`. An existing database is replaced only with
    `replace`, and is first kept as a backup of its own (…-before-restore-<time>.sqlite3).
    The restore goes through the backup API too, so a -wal file left beside the old
    database cannot be replayed over the restored one.
    """
    try:
        read_only = f"{backup.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(read_only, uri=True)) as source:
            check = source.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{backup} is damaged: {check}")
            revision, entries = _describe(source)
            if target.exists():
                if not replace:
                    raise BackupError(
                        f"a database exists at {target}; stop Huibao, then restore with "
                        "--replace (the current database is kept as a backup first)"
                    )
                kept = target.with_name(f"{target.stem}-before-restore-{now:%Y%m%d-%H%M%S}.sqlite3")
                backup_sqlite(target, kept)
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(sqlite3.connect(target, timeout=30)) as writer:
                _copy(source, writer)
                writer.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot restore from {backup}: {exc}") from exc
    return Copy(target, target.stat().st_size, revision, entries)


def _libpq_url(database_url: str) -> URL:
    """The URL as libpq (pg_dump, psql) reads it: no driver name, no password."""
    url = make_url(database_url)
    return URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )


def pg_dump_command(database_url: str, now: datetime) -> str:
    """The pg_dump command that backs up the configured PostgreSQL database."""
    url = _libpq_url(database_url).render_as_string(hide_password=False)
    target = f"huibao-{now:%Y%m%d-%H%M%S}.dump"
    return f"pg_dump --format=custom --file={target} {shlex.quote(url)}"


def pg_restore_command(database_url: str, dump: str) -> str:
    """The pg_restore command that restores a pg_dump file into the configured database."""
    url = _libpq_url(database_url).render_as_string(hide_password=False)
    return (
        "pg_restore --clean --if-exists --no-owner --exit-on-error "
        f"--dbname={shlex.quote(url)} {shlex.quote(dump)}"
    )

"""Several `huibao run` processes on one database: which one leads.

Most of the work needs no leader. A webhook update or a WeCom callback is handled by
whichever instance the load balancer gives it to, and its processed-message key makes a
second delivery count once; outbox rows are claimed FOR UPDATE SKIP LOCKED and queued under
unique keys. What must be done by ONE process is done by the leader:

- long-polling Telegram (a second `getUpdates` makes Telegram answer 409 to one of them);
- holding the WeCom intelligent robot's long connection (a second one replaces the first);
- the reminder tick, the pruning and the outbox's senders (one sender per platform keeps
  the configured rate the bot's rate, not each instance's; the tick's work is not repeated).

On PostgreSQL the leader is the instance holding a session-level advisory lock, on a
connection of its own kept open for as long as it leads (no transaction stays open). The
lock is per schema, so deployments (and test runs) in other schemas of the same database
do not contend. The server frees it when that connection ends: at once when the process
dies, even by SIGKILL (the kernel closes its socket); within about 25 s when the machine
vanishes (the connection asks the server for TCP keepalives of 10 s, 5 s and 3 probes).
The others try to take it every `retry` seconds. The leader checks its connection every
`check` seconds and steps down when it is gone, so in a short overlap (a broken connection
not noticed yet) two instances may both lead: Telegram refuses one of two pollers for that
time, and the outbox's keys and claims keep every reminder single anyway.

On SQLite there is one instance: it leads from the start, and a second `huibao run` on the
same database file is refused (`SingleInstance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import IO, Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

LOCK_CLASS = 0x48554942  # "HUIB": the first key of Huibao's advisory locks
KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5")
KEEPALIVE_COUNT = "SET tcp_keepalives_count = 3"
CHECK_TIMEOUT = 10.0  # seconds a check of the lock's connection may take

Lead = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class InstanceError(Exception):
    """This instance may not run (another one uses the same SQLite database)."""


@contextlib.contextmanager
def single_instance(database_url: str) -> Iterator[None]:
    """On SQLite, hold an exclusive lock on `<database>.run.lock` while running.

    SQLite serialises writers, but two instances would both poll and tick, and both hold
    the file's write lock in turn. The lock is the kernel's (flock): a killed process
    releases it. PostgreSQL URLs and in-memory databases pass through.
    """
    url = make_url(database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    path = Path(database).expanduser().resolve()
    lock_path = path.with_name(path.name + ".run.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise InstanceError(
                f"another huibao run (pid {holder}) is using the SQLite database {path}: "
                "SQLite is for one instance; for several, use PostgreSQL "
                "(HUIBAO_DATABASE_URL=postgresql://...), see docs/deployment.md"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


class Leadership:
    """Becomes the leader when it can and runs the leader's work while it is.

    `run(stop, lead)` calls `lead(ended)` each time this instance becomes the leader;
    `ended` is set when it must stop leading (the lock's connection was lost, or `stop`
    was set), and `lead` returns once its work is wound down.
    """

    def __init__(
        self, engine: Engine, *, retry: float = 5.0, check: float = 5.0, name: str = "leader"
    ) -> None:
        self._engine = engine
        self._retry = retry
        self._check = check
        self._name = name
        self._postgres = engine.dialect.name == "postgresql"
        self.leading = False
        self.terms = 0  # how many times this instance became the leader

    async def run(self, stop: asyncio.Event, lead: Lead) -> None:
        """Until `stop` is set: take the lead whenever it is free and run `lead` meanwhile."""
        if not self._postgres:  # one instance (see single_instance): it leads
            await self._term(stop, lead, None)
            return
        locks = create_engine(self._engine.url, poolclass=NullPool, hide_parameters=True)
        announced = False
        try:
            while not stop.is_set():
                try:
                    connection = await asyncio.to_thread(self._acquire, locks)
                except Exception as error:
                    log.warning("leader lock: database not reachable (%s)", _short(error))
                    connection = None
                if connection is None:
                    if not announced:
                        log.info("another instance leads; standing by (retry: %.1f s)", self._retry)
                        announced = True
                    await _wait(stop, self._retry)
                    continue
                announced = False
                await self._term(stop, lead, connection)
                await _wait(stop, self._retry)  # after a term cut short: not in a tight loop
        finally:
            locks.dispose()

    async def _term(self, stop: asyncio.Event, lead: Lead, connection: Connection | None) -> None:
        self.leading = True
        self.terms += 1
        ended = asyncio.Event()
        log.info("this instance leads (%s)", "advisory lock" if connection else "SQLite")
        work: asyncio.Task[None] = asyncio.create_task(lead(ended), name="leader")
        try:
            while not stop.is_set() and not work.done():
                stopping = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait(
                        {stopping, work},
                        timeout=self._check if connection is not None else None,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    stopping.cancel()
                checking = connection is not None and not stop.is_set() and not work.done()
                if checking and connection is not None and not await self._alive(connection):
                    log.warning("leader lock lost (its connection failed): stepping down")
                    break
        finally:
            ended.set()
            try:
                # A failure of the leader's work (Telegram refusing the token, say) ends
                # `run` with it: the process stops with the error rather than keeping its
                # port and serving nothing; another instance, or a restart, takes over.
                await work
            finally:
                self.leading = False
                if connection is not None:  # a check that hangs may hold it: wait so long
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.to_thread(_close, connection), CHECK_TIMEOUT)

    def _acquire(self, locks: Engine) -> Connection | None:
        connection = locks.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            for statement in (*KEEPALIVES, KEEPALIVE_COUNT):
                connection.execute(text(statement))
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:c, hashtext(current_schema() || :n))"),
                {"c": LOCK_CLASS, "n": f"/huibao/{self._name}"},
            ).scalar_one()
        except BaseException:
            _close(connection)
            raise
        if not got:
            _close(connection)
            return None
        return connection

    async def _alive(self, connection: Connection) -> bool:
        check = asyncio.ensure_future(asyncio.to_thread(_ping, connection))
        try:
            await asyncio.wait_for(asyncio.shield(check), CHECK_TIMEOUT)
        except Exception as error:
            log.warning("leader lock: check failed (%s)", _short(error))
            return False
        return True


def _ping(connection: Connection) -> None:
    connection.execute(text("SELECT 1")).scalar_one()


def _close(connection: Connection) -> None:
    # Closing the connection ends the session, which frees its advisory locks.
    with contextlib.suppress(Exception):
        connection.invalidate()
    with contextlib.suppress(Exception):
        connection.close()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _short(error: BaseException) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}"[:200]


_TRY_LOCK = "SELECT pg_try_advisory_lock(%s, hashtext(current_schema() || %s))"
_UNLOCK = "SELECT pg_advisory_unlock(%s, hashtext(current_schema() || %s))"


class InFlight:
    """One delivery of a platform message handled at a time, across instances.

    Telegram delivers an update again when its answer did not come in time, and a load
    balancer may give the second delivery to another instance while the first is still
    at work. The processed-message key makes the second count once, but it would also
    find the first one's replies stored and not yet marked sent, and send them again. So a
    delivery waits while the same update is in hand here or on another instance (a
    session-level advisory lock per update, on one connection of this instance's own):
    it goes on once the first finished (its replies marked sent: nothing to resend) or
    died (its connection closed: the stored replies are sent now). After `wait` seconds
    it gives up, and the caller answers "retry later".
    """

    def __init__(self, engine: Engine, *, wait: float = 20.0, poll: float = 0.05) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._wait = wait
        self._poll = poll
        # psycopg's own asyncio connection: no worker thread hop per statement (measured:
        # two hops per update cost more than the two statements themselves)
        # The connection's parameters as SQLAlchemy gives them to psycopg: a URL rendered
        # back to text writes the spaces of `?options=-c a -c b` as "+", which libpq's URI
        # parser keeps, and the server then refuses the options.
        _, params = engine.dialect.create_connect_args(engine.url) if self._postgres else ([], {})
        self._conninfo = psycopg.conninfo.make_conninfo(
            "", **{name: value for name, value in params.items() if name != "context"}
        )
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._connecting = asyncio.Lock()
        self._here: dict[str, asyncio.Event] = {}

    def wrap(
        self, platform: str, handle: Callable[[dict[str, object]], Coroutine[Any, Any, bool]]
    ) -> Callable[[dict[str, object]], Coroutine[Any, Any, bool]]:
        """`handle` for Telegram updates (keyed by update_id), one delivery at a time."""

        async def guarded(data: dict[str, object]) -> bool:
            update_id = data.get("update_id")
            if not isinstance(update_id, int):
                return await handle(data)
            return await self.run(f"{platform}:{update_id}", lambda: handle(data))

        return guarded

    async def run(self, key: str, work: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
        """Run `work` when no other delivery of `key` is in hand; False if that took
        longer than `wait` (or the lock could not be asked for)."""
        give_up = asyncio.get_running_loop().time() + self._wait
        while (other := self._here.get(key)) is not None:  # the same update, here
            left = give_up - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(other.wait(), left)
        done = asyncio.Event()
        self._here[key] = done
        try:
            if self._postgres:
                while True:
                    try:
                        got = await self._statement(key)
                    except Exception as error:
                        log.warning("in-flight lock not available (%s)", _short(error))
                        return False
                    if got:
                        break
                    if asyncio.get_running_loop().time() >= give_up:
                        log.info("delivery %s: another instance still has it in hand", key)
                        return False
                    await asyncio.sleep(self._poll)
            try:
                return await work()
            finally:
                if self._postgres:
                    with contextlib.suppress(Exception):
                        await self._statement(key, unlock=True)
        finally:
            del self._here[key]
            done.set()

    async def _statement(self, key: str, *, unlock: bool = False) -> bool:
        async with self._connecting:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                )
        connection = self._connection
        try:
            cursor = await connection.execute(
                _UNLOCK if unlock else _TRY_LOCK, (LOCK_CLASS + 1, f"/huibao/update/{key}")
            )
            row = await cursor.fetchone()
        except Exception:
            with contextlib.suppress(Exception):  # its locks went with it; a new one next time
                await connection.close()
            raise
        return bool(row and row[0])

    async def close(self) -> None:
        """Close the lock connection (freeing any lock still held)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

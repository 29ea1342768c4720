"""CPU per Telegram update: Huibao's whole path next to a bare python-telegram-bot echo bot.

One fake Bot API server (tests/fakes/telegram_api.py) runs in this process; each bot runs in
a process of its own (multiprocessing, "spawn"), which reports its own CPU time
(getrusage(RUSAGE_SELF): all its threads, user + system) when told to start measuring and
again when told to stop, so neither the fake's CPU nor the bot's start-up and shutdown is
counted. Simulated people talk in waves: every user sends one text, then everyone waits
until each got its answer and the bot has confirmed the batch; then the next wave. Each user
goes through complete reports (12 texts: /report, 1, title, 昨天, place, 3场, 4000多人次,
content, effect, /skip, 完成, 1 -> 已保存): one update, one interview step with its database
transaction, one reply (two after /skip), plus the write that marks replies as sent.
The echo bot gets exactly the same texts and answers each with reply_text(text).

The echo bot uses PTB's AIORateLimiter, Huibao its PacedRateLimiter (the same rules, chat_rate
1000 so the per-chat pacing of real Telegram does not set the pace), both with max_retries=3
and the same overall limit. PTB's default overall limit is 30 messages/s, which would make
every run wall bound (2,400 updates = 80 s per bot); --overall-rate sets it for both bots
(default 100000, i.e. the limiter code still runs but never waits; --overall-rate 30 is the
production value).
Throttled to 30/s both bots handle each update alone after an idle gap, and the echo bot's
CPU per update more than doubles (cold caches, wake-ups), so the ratio looks better there.

    .venv/bin/python benchmarks/telegram_throughput.py [--updates 2400] [--users 50]
        [--rounds 3] [--overall-rate 100000] [--database-url URL] [--profile FILE]

Without --database-url the bot uses a fresh SQLite file (WAL, synchronous=NORMAL); a
PostgreSQL URL works too (its server's CPU is not counted, as it is another process).
--profile FILE runs Huibao once more under cProfile (event-loop thread and the core's worker
threads) after the measured rounds, saves the stats to FILE and prints the hot spots.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import faulthandler
import logging
import multiprocessing
import os
import pstats
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/fakes is not an installed package

from benchmarks.interview_step import SCRIPT as INTERVIEW_SCRIPT  # noqa: E402

if TYPE_CHECKING:
    from bot.core.types import Incoming
    from tests.fakes.telegram_api import FakeTelegram, SimUser

SCRIPT = tuple(INTERVIEW_SCRIPT)  # the same report as benchmarks/interview_step.py
SAVED = "已保存"
TARGET_RATIO = 1.0  # Huibao/echo on SQLite (issue 16)
TARGET_RATIO_POSTGRESQL = 1.2  # with the server's CPU counted
FIRST_USER = 7_000_001
FIRST_WARMUP_USER = 7_900_001
WARMUP_USERS = 10
WAVE_TIMEOUT = 120.0
CHILD_TIMEOUT = 120.0

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# The bot process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildConfig:
    kind: str  # "floor", "echo" or "huibao"
    token: str
    base_url: str
    base_file_url: str
    overall_rate: float
    chat_rate: float
    database_url: str
    user_ids: tuple[int, ...]  # members to create (Huibao)
    work_dir: str
    profile: str | None  # write cProfile stats (CPU clock) of the measured phase here


@dataclass(frozen=True)
class CpuSample:
    user: float
    system: float

    @property
    def total(self) -> float:
        return self.user + self.system


def cpu_now() -> CpuSample:
    """This process's CPU time so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuSample(usage.ru_utime, usage.ru_stime)


class Runner(Protocol):
    async def start(self) -> None: ...
    async def serve(self) -> None: ...
    def request_stop(self) -> None: ...
    async def stop(self) -> None: ...


class EchoRunner:
    """The bare PTB 22 echo bot: Application + Updater polling + one MessageHandler."""

    def __init__(self, config: ChildConfig) -> None:
        from telegram import Update
        from telegram.ext import (
            AIORateLimiter,
            ApplicationBuilder,
            ContextTypes,
            MessageHandler,
            filters,
        )

        async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            message = update.message
            if message is not None and message.text is not None:
                await message.reply_text(message.text)

        self._app = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.base_url)
            .base_file_url(config.base_file_url)
            .rate_limiter(AIORateLimiter(overall_max_rate=config.overall_rate, max_retries=3))
            .build()
        )
        self._app.add_handler(MessageHandler(filters.TEXT, echo))
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self._app.initialize()
        await self._app.start()
        assert self._app.updater is not None
        await self._app.updater.start_polling(poll_interval=0, timeout=1)

    async def serve(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        assert self._app.updater is not None
        await self._app.updater.stop()
        await self._app.stop()
        await self._app.shutdown()


class FloorRunner:
    """The physical floor: asyncio streams speaking HTTP/1.1 keep-alive by hand, `json`, one
    SQLite row per update (one transaction per batch) and one sendMessage per update, a few
    connections in parallel. No library between the socket and the answer."""

    def __init__(self, config: ChildConfig) -> None:
        import sqlite3
        from urllib.parse import urlsplit

        parts = urlsplit(config.base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._prefix = f"{parts.path}{config.token}/"
        self._db = sqlite3.connect(str(Path(config.work_dir) / "floor.sqlite3"))
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.execute(
            "create table if not exists seen (update_id integer primary key, "
            "chat_id integer, text text)"
        )
        self._pool: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._stop = asyncio.Event()
        self._poll: asyncio.Task[Any] | None = None

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        import json

        reader, writer = (
            self._pool.pop()
            if self._pool
            else await asyncio.open_connection(self._host, self._port)
        )
        body = json.dumps(payload).encode()
        writer.write(
            f"POST {self._prefix}{method} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        data = await reader.readexactly(length)
        self._pool.append((reader, writer))
        return json.loads(data)["result"]

    async def start(self) -> None:
        await self._call("getMe", {})

    async def serve(self) -> None:
        offset = None
        sends = asyncio.Semaphore(8)

        async def reply(chat_id: int, text: str) -> None:
            async with sends:
                await self._call("sendMessage", {"chat_id": chat_id, "text": text})

        while not self._stop.is_set():
            self._poll = asyncio.ensure_future(
                self._call("getUpdates", {"offset": offset, "timeout": 1})
            )
            try:
                updates = await self._poll
            except asyncio.CancelledError:
                break
            if not updates:
                continue
            rows = []
            for update in updates:
                message = update.get("message") or {}
                rows.append((update["update_id"], message["chat"]["id"], message.get("text")))
            with self._db:
                self._db.executemany("insert or ignore into seen values (?, ?, ?)", rows)
            await asyncio.gather(*(reply(chat, text or "?") for _, chat, text in rows))
            offset = rows[-1][0] + 1
        if offset is not None:
            await self._call("getUpdates", {"offset": offset, "timeout": 0})

    def request_stop(self) -> None:
        self._stop.set()
        if self._poll is not None:
            self._poll.cancel()

    async def stop(self) -> None:
        for _, writer in self._pool:
            writer.close()
        self._db.close()


def cpu_profile() -> cProfile.Profile:
    """A profiler timing with the thread's CPU clock (the default clock is wall time, which
    would count a worker's waits, e.g. SQLite's busy-timeout sleeps, as its own time)."""
    return cProfile.Profile(time.thread_time)


class ThreadProfiles:
    """cProfile for the core's worker threads (cProfile only sees the thread enabling it)."""

    def __init__(self) -> None:
        self.active = False
        self.profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def call(self, function: Callable[..., T], *args: Any) -> T:
        if not self.active or threading.current_thread() is threading.main_thread():
            return function(*args)  # the event loop's thread has a profiler of its own
        profile: cProfile.Profile | None = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cpu_profile()
            with self._lock:
                self.profiles.append(profile)
        result: T = profile.runcall(function, *args)
        return result


class HuibaoRunner:
    """Huibao's TelegramBot with its Conversation core on a freshly set-up database."""

    def __init__(self, config: ChildConfig, thread_profiles: ThreadProfiles | None) -> None:
        from zoneinfo import ZoneInfo

        from bot.channels.telegram import TelegramBot
        from bot.core.conversation import Conversation, Outcome
        from bot.core.delivery import Delivery
        from bot.core.questionnaire import load_questionnaires
        from bot.shipped import templates_dir
        from storage.db import create_db_engine, make_sessionmaker, upgrade

        self._engine = create_db_engine(config.database_url)
        upgrade(self._engine)
        sessions = make_sessionmaker(self._engine)
        fill_database(self._engine, sessions, config.user_ids)
        questionnaires = load_questionnaires(templates_dir() / "questionnaires")

        class ProfiledConversation(Conversation):
            def process(self, incoming: Incoming) -> Outcome:
                assert thread_profiles is not None
                return thread_profiles.call(super().process, incoming)

            def process_batch(self, incomings: Sequence[Incoming]) -> list[Outcome]:
                assert thread_profiles is not None
                return thread_profiles.call(super().process_batch, incomings)

            def mark_sent(self, platform: str, keys: list[str]) -> None:
                assert thread_profiles is not None
                thread_profiles.call(super().mark_sent, platform, keys)

        kind = Conversation if thread_profiles is None else ProfiledConversation
        conversation = kind(
            sessions, questionnaires, "community_culture", ZoneInfo("Asia/Shanghai")
        )
        self._bot = TelegramBot(
            Delivery(conversation, "telegram"),
            token=config.token,
            base_url=config.base_url,
            base_file_url=config.base_file_url,
            photos_dir=Path(config.work_dir) / "photos",
            poll_timeout=1,
            menus=None,
            default_menus=None,
            chat_rate=config.chat_rate,
            network_backoff=0.5,
            overall_rate=config.overall_rate,
        )

    async def start(self) -> None:
        await self._bot.start()

    async def serve(self) -> None:
        await self._bot.poll()

    def request_stop(self) -> None:
        self._bot.request_stop()

    async def stop(self) -> None:
        await self._bot.stop()
        self._engine.dispose()


def fill_database(engine: Any, sessions: Any, user_ids: Sequence[int]) -> None:
    """Empty every table, load the demo organisation, make each user staff of demo-xinhua."""
    from bot.admin.org import demo_org, load_org
    from storage import members
    from storage.db import transaction
    from storage.models import Base, RoleName

    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    with transaction(sessions) as session:
        load_org(session, demo_org())
        unit = members.unit_by_key(session, "demo-xinhua")
        assert unit is not None
        for user_id in user_ids:
            members.join(
                session,
                f"用户{user_id}",
                platform="telegram",
                external_id=str(user_id),
                unit_id=unit.id,
                roles=(RoleName.STAFF,),
            )


def child_main(config: ChildConfig, conn: Connection) -> None:
    """Entry point of the bot process."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the parent's "where are you?"
    logging.basicConfig(level=logging.WARNING, format="child %(levelname)s %(name)s: %(message)s")
    asyncio.run(_child(config, conn))


async def _child(config: ChildConfig, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    thread_profiles = ThreadProfiles() if config.profile else None
    loop_profile = cpu_profile() if config.profile else None
    runner: Runner
    if config.kind == "floor":
        runner = FloorRunner(config)
    elif config.kind == "echo":
        runner = EchoRunner(config)
    else:
        runner = HuibaoRunner(config, thread_profiles)
    await runner.start()
    serving = asyncio.create_task(runner.serve())
    stopped = asyncio.Event()

    def set_profiling(on: bool) -> None:
        assert loop_profile is not None and thread_profiles is not None
        thread_profiles.active = on
        if on:
            loop_profile.enable()
        else:
            loop_profile.disable()

    def commands() -> None:
        # Blocks in recv (no CPU) and answers with the process's CPU time at that moment.
        while True:
            command = conn.recv()
            sample = cpu_now()
            if loop_profile is not None:
                loop.call_soon_threadsafe(set_profiling, command == "mark")
            conn.send(sample)
            if command == "stop":
                loop.call_soon_threadsafe(stopped.set)
                return

    conn.send(("ready", cpu_now()))
    threading.Thread(target=commands, name="bench-commands", daemon=True).start()
    await stopped.wait()
    runner.request_stop()
    await serving
    await runner.stop()
    if config.profile and loop_profile is not None and thread_profiles is not None:
        stats = pstats.Stats(loop_profile)
        for profile in thread_profiles.profiles:
            stats.add(profile)
        stats.dump_stats(config.profile)
    conn.send("done")


# --------------------------------------------------------------------------------------------
# The simulated people
# --------------------------------------------------------------------------------------------


PRESSABLE = {1: "1", 10: "完成", 11: "1"}  # steps of SCRIPT that a button can answer


def press_or_type(fake: FakeTelegram, user: SimUser, text: str) -> None:
    """Press the button `text` names (its label, or "N" for the N-th) on the last message
    with buttons; type `text` if there is none."""
    for message in reversed(fake.sent(user.id)):
        if not message.buttons:
            continue
        buttons = [button for row in message.buttons for button in row]
        chosen = (
            buttons[int(text) - 1]
            if text.isdigit() and int(text) <= len(buttons)
            else next((b for b in buttons if b[0] == text), None)
        )
        if chosen is not None and chosen[1] is not None:
            fake.user_presses(user, message.message_id, chosen[1])
            return
        break
    fake.user_sends_text(user, text)


def wave(fake: FakeTelegram, users: Sequence[SimUser], text: str, press: bool = False) -> None:
    """Every user sends `text`; wait until each has its answer (a new message, not the edit
    of a pressed one) and no update is pending (the bot confirmed them all)."""

    def messages(chat_id: int) -> int:
        return sum(1 for m in fake.sent(chat_id) if m.method == "sendMessage")

    before = {user.id: messages(user.id) for user in users}
    for user in users:
        if press:
            press_or_type(fake, user, text)
        else:
            fake.user_sends_text(user, text)
    waiting = set(before)

    def answered() -> bool:
        for chat_id in list(waiting):
            if messages(chat_id) > before[chat_id]:
                waiting.discard(chat_id)
        return not waiting and fake.pending_updates() == 0

    fake.wait_for(answered, WAVE_TIMEOUT, lambda: f"{len(waiting)} users still unanswered")


def talk(fake: FakeTelegram, users: Sequence[SimUser], waves: int, press: bool = False) -> None:
    """`waves` steps of the report; with `press`, the choices are made by button."""
    for index in range(waves):
        step = index % len(SCRIPT)
        wave(fake, users, SCRIPT[step], press and step in PRESSABLE)


# --------------------------------------------------------------------------------------------
# One measured run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    bot: str
    updates: int
    cpu: CpuSample
    wall: float
    replies: int
    saved: int
    server: float = 0.0  # the PostgreSQL backends' CPU serving this bot, seconds

    @property
    def cpu_ms_per_update(self) -> float:
        """The bot process's CPU and its database server's, per update."""
        return (self.cpu.total + self.server) / self.updates * 1e3

    @property
    def per_second(self) -> float:
        return self.updates / self.wall


def _receive(
    conn: Connection, process: BaseProcess, what: str, timeout: float = CHILD_TIMEOUT
) -> Any:
    deadline = time.monotonic() + timeout
    try:
        while not conn.poll(0.2):
            if not process.is_alive():
                raise EOFError
            if time.monotonic() > deadline:
                if process.pid is not None:
                    os.kill(process.pid, signal.SIGUSR1)  # its threads' stacks go to stderr
                    time.sleep(1)
                raise RuntimeError(f"the bot process sent no {what} within {timeout:.0f} s")
        return conn.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(
            f"the bot process exited (code {process.exitcode}) before its {what}; "
            "its traceback is above"
        ) from None


class ServerCpu:
    """CPU of the PostgreSQL backends whose application_name is `name` (one per pooled
    connection of the bot process), read from /proc: the server is on this machine."""

    def __init__(self, database_url: str, name: str) -> None:
        from sqlalchemy import create_engine

        self._engine = create_engine(database_url)
        self._name = name
        self._start: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        from sqlalchemy import text

        with self._engine.connect() as connection:
            pids = connection.execute(
                text("select pid from pg_stat_activity where application_name = :name"),
                {"name": self._name},
            ).scalars()
            cpu = {}
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            return cpu

    def mark(self) -> None:
        self._start = self._sample()

    def seconds(self) -> float:
        """CPU since `mark` (a backend started since counts from its start)."""
        now = self._sample()
        self._engine.dispose()
        return sum(value - self._start.get(pid, 0.0) for pid, value in now.items())


def run_bot(
    kind: str,
    fake: FakeTelegram,
    args: argparse.Namespace,
    users: Sequence[SimUser],
    warmup: Sequence[SimUser],
    waves: int,
    work_dir: Path,
    profile: str | None = None,
) -> Result:
    database_url = args.database_url or f"sqlite:///{work_dir / 'bench.sqlite3'}"
    server: ServerCpu | None = None
    if kind in ("huibao", "buttons") and database_url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        name = f"hb_tp_{os.getpid()}_{work_dir.name}"
        database_url = (
            make_url(database_url)
            .update_query_dict({"application_name": name})
            .render_as_string(hide_password=False)
        )
        server = ServerCpu(database_url, name)
    config = ChildConfig(
        kind="huibao" if kind == "buttons" else kind,
        token=fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        overall_rate=args.overall_rate,
        chat_rate=args.chat_rate,
        database_url=database_url,
        user_ids=tuple(u.id for u in (*warmup, *users)),
        work_dir=str(work_dir),
        profile=profile,
    )
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    process = context.Process(target=child_main, args=(config, child_conn), daemon=True)
    process.start()
    child_conn.close()  # the child's end lives in the child only
    try:
        tag, _ = _receive(conn, process, "ready signal")
        assert tag == "ready"
        press = kind == "buttons"
        talk(fake, warmup, len(SCRIPT), press)  # one whole report: caches, imports, connections
        sent_before = {user.id: len(fake.sent(user.id)) for user in users}
        conn.send("mark")
        start = _receive(conn, process, "CPU sample")
        if server is not None:
            server.mark()
        wall_start = time.perf_counter()
        talk(fake, users, waves, press)
        wall = time.perf_counter() - wall_start
        conn.send("stop")
        end = _receive(conn, process, "CPU sample")
        server_seconds = server.seconds() if server is not None else 0.0
        _receive(conn, process, "end signal")
        process.join(30)
    finally:
        if process.is_alive():
            process.terminate()
            process.join(5)
    replies = 0
    saved = 0
    for user in users:
        new = fake.sent(user.id)[sent_before[user.id] :]
        replies += len(new)
        saved += sum(1 for m in new if m.text is not None and m.text.startswith(SAVED))
    cpu = CpuSample(end.user - start.user, end.system - start.system)
    return Result(kind, waves * len(users), cpu, wall, replies, saved, server_seconds)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def print_table(results: Sequence[Result]) -> None:
    header = (
        f"{'bot':<7} {'round':>5} {'updates':>7} {'replies':>7} {'saved':>5} {'CPU s':>7} "
        f"{'user s':>7} {'sys s':>6} {'server s':>8} {'CPU ms/upd':>10} {'wall s':>7} "
        f"{'upd/s':>7}"
    )
    print(header)
    print("-" * len(header))
    rounds: dict[str, int] = {}
    for r in results:
        rounds[r.bot] = rounds.get(r.bot, 0) + 1
        print(
            f"{r.bot:<7} {rounds[r.bot]:>5} {r.updates:>7} {r.replies:>7} {r.saved:>5} "
            f"{r.cpu.total:>7.2f} {r.cpu.user:>7.2f} {r.cpu.system:>6.2f} {r.server:>8.2f} "
            f"{r.cpu_ms_per_update:>10.3f} {r.wall:>7.2f} {r.per_second:>7.0f}"
        )


def median_of(results: Sequence[Result], bot: str, value: Callable[[Result], float]) -> float:
    return statistics.median(value(r) for r in results if r.bot == bot)


def print_profile(path: str, updates: int, limit: int = 25) -> None:
    """Self time by area, then the top functions outside PTB, httpx/httpcore and asyncio."""
    stats = pstats.Stats(path)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = getattr(
        stats, "stats", {}
    )
    total = sum(entry[2] for entry in table.values()) or 1.0

    def area(filename: str, name: str) -> str:
        if filename == "~":
            if "sqlite3" in name:
                return "sqlite3 (C)"
            if "psycopg" in name:
                return "psycopg (C)"
            return "builtins (C)"
        for marker, label in (
            ("/telegram/", "python-telegram-bot"),
            ("/httpx/", "httpx/httpcore/h11"),
            ("/httpcore/", "httpx/httpcore/h11"),
            ("/h11/", "httpx/httpcore/h11"),
            ("/anyio/", "httpx/httpcore/h11"),
            ("/aiolimiter/", "aiolimiter"),
            ("/sqlalchemy/", "sqlalchemy"),
            ("/psycopg", "psycopg"),
            (f"{ROOT}/bot/", "huibao bot/"),
            (f"{ROOT}/storage/", "huibao storage/"),
            ("/asyncio/", "asyncio"),
            ("/json/", "json"),
            ("importlib", "importlib (imports)"),
        ):
            if marker in filename:
                return label
        return "stdlib/other"

    by_area: dict[str, float] = {}
    for (filename, _line, name), entry in table.items():
        key = area(filename, name)
        by_area[key] = by_area.get(key, 0.0) + entry[2]
    print(
        f"\nprofile {path}: {total:.2f} s CPU self time, {total / updates * 1e3:.3f} ms per "
        "update (cProfile overhead included), by area:"
    )
    for key, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(
            f"  {key:<22} {seconds:7.2f} s {seconds / total:6.1%} "
            f"{seconds / updates * 1e3:7.3f} ms/update"
        )
    skip = {"python-telegram-bot", "httpx/httpcore/h11", "asyncio"}
    print(f"\ntop {limit} functions by self time, outside PTB, httpx/httpcore and asyncio:")
    print(f"  {'self s':>7} {'share':>6} {'us/upd':>7} {'calls':>8} {'cum s':>7}  function")
    rows = sorted(table.items(), key=lambda kv: -kv[1][2])
    shown = 0
    for (filename, line, name), (_cc, calls, self_time, cumulative, _callers) in rows:
        if area(filename, name) in skip:
            continue
        where = name if filename == "~" else f"{Path(filename).name}:{line} {name}"
        if filename.startswith(f"{ROOT}/"):
            where = f"{Path(filename).relative_to(ROOT)}:{line} {name}"
        print(
            f"  {self_time:7.3f} {self_time / total:6.1%} {self_time / updates * 1e6:7.1f} "
            f"{calls:>8} {cumulative:7.3f}  {where}"
        )
        shown += 1
        if shown == limit:
            break
    print("\nHuibao's own functions by cumulative time (coroutines: only while running):")
    own = [
        (cumulative, calls, filename, line, name)
        for (filename, line, name), (_cc, calls, _self, cumulative, _callers) in table.items()
        if area(filename, name).startswith("huibao")
    ]
    for cumulative, calls, filename, line, name in sorted(own, reverse=True)[:15]:
        where = f"{Path(filename).relative_to(ROOT)}:{line} {name}"
        print(f"  {cumulative:7.3f} s {cumulative / updates * 1e6:7.1f} us/upd {calls:>8}  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2400, help="measured updates per run")
    parser.add_argument("--users", type=int, default=50, help="simulated people per wave")
    parser.add_argument("--rounds", type=int, default=3, help="floor, echo, Huibao; medians")
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="postgresql: a fresh schema in HUIBAO_TEST_POSTGRES_URL's database",
    )
    parser.add_argument(
        "--overall-rate",
        type=float,
        default=100_000.0,
        help="AIORateLimiter overall messages/s for both bots (PTB default 30; 0 = none)",
    )
    parser.add_argument("--chat-rate", type=float, default=1000.0, help="Huibao per-chat msg/s")
    parser.add_argument(
        "--buttons",
        action="store_true",
        help="a fourth run per round: Huibao with the report's 3 choices made by button",
    )
    parser.add_argument("--profile", default=None, help="profile one more Huibao run into FILE")
    parser.add_argument(
        "--profile-echo", default=None, help="profile one more echo run into FILE, to compare"
    )
    args = parser.parse_args()
    if args.users < 1 or args.updates < 1 or args.rounds < 1:
        parser.error("--updates, --users and --rounds must be positive")

    from tests.fakes.telegram_api import SimUser

    waves = -(-args.updates // args.users)
    users = [SimUser(FIRST_USER + n, f"用户{n}") for n in range(args.users)]
    warmup = [SimUser(FIRST_WARMUP_USER + n, f"预热{n}") for n in range(WARMUP_USERS)]
    backend = args.database if not args.database_url else args.database_url.split(":", 1)[0]
    print(
        f"{waves} waves x {args.users} users = {waves * args.users} updates per run "
        f"({waves * args.users / len(SCRIPT):.0f} reports of {len(SCRIPT)} texts); "
        f"{args.rounds} round(s) of floor, echo, Huibao; database {backend}; "
        f"overall limit {args.overall_rate:g}/s, Huibao chat_rate {args.chat_rate:g}/s"
    )
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.database == "postgresql" and not args.database_url:
            from benchmarks.crash_test import database

            folder = stack.enter_context(tempfile.TemporaryDirectory())
            args.database_url = stack.enter_context(database("postgresql", Path(folder)))
        results, profiled, profiled_echo = measure(args, users, warmup, waves)
    report(args, results, profiled, profiled_echo, waves, started)


def measure(
    args: argparse.Namespace, users: list[SimUser], warmup: list[SimUser], waves: int
) -> tuple[list[Result], Result | None, Result | None]:
    """The interleaved rounds (floor, echo, Huibao), then the profiled runs asked for."""
    from tests.fakes.telegram_api import FakeTelegram

    results: list[Result] = []
    profiled = profiled_echo = None
    with tempfile.TemporaryDirectory() as folder, FakeTelegram() as fake:
        for round_no in range(args.rounds):
            for kind in ("floor", "echo", "huibao", *(["buttons"] if args.buttons else [])):
                work_dir = Path(folder) / f"{kind}{round_no}"
                work_dir.mkdir()
                results.append(run_bot(kind, fake, args, users, warmup, waves, work_dir))
        if args.profile:
            work_dir = Path(folder) / "profile"
            work_dir.mkdir()
            profile = str(Path(args.profile).resolve())
            profiled = run_bot("huibao", fake, args, users, warmup, waves, work_dir, profile)
        if args.profile_echo:
            work_dir = Path(folder) / "profile-echo"
            work_dir.mkdir()
            echo_profile = str(Path(args.profile_echo).resolve())
            profiled_echo = run_bot(
                "echo", fake, args, users, warmup, waves, work_dir, echo_profile
            )
    return results, profiled, profiled_echo


def report(
    args: argparse.Namespace,
    results: list[Result],
    profiled: Result | None,
    profiled_echo: Result | None,
    waves: int,
    started: float,
) -> None:
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    print()
    print_table(results)
    floor = median_of(results, "floor", lambda r: r.cpu_ms_per_update)
    echo = median_of(results, "echo", lambda r: r.cpu_ms_per_update)
    huibao = median_of(results, "huibao", lambda r: r.cpu_ms_per_update)
    target = TARGET_RATIO_POSTGRESQL if backend.startswith("postgresql") else TARGET_RATIO
    pairs = [
        h.cpu_ms_per_update / e.cpu_ms_per_update
        for e, h in zip(
            [r for r in results if r.bot == "echo"],
            [r for r in results if r.bot == "huibao"],
            strict=True,
        )
    ]
    ratio = huibao / echo
    verdict = "PASS" if ratio <= target else "FAIL"
    server_note = " (PostgreSQL server CPU included)" if backend.startswith("postgresql") else ""
    print(
        f"\nmedian CPU per update{server_note}: floor {floor:.3f} ms, echo {echo:.3f} ms, "
        f"huibao {huibao:.3f} ms\nratio huibao/echo {ratio:.2f} (target <= {target}): "
        f"{verdict}; per round {', '.join(f'{p:.2f}' for p in pairs)}\n"
        f"distance to the floor: echo {echo / floor:.1f}x, huibao {huibao / floor:.1f}x"
    )
    print(
        "median wall throughput: "
        f"floor {median_of(results, 'floor', lambda r: r.per_second):.0f}, "
        f"echo {median_of(results, 'echo', lambda r: r.per_second):.0f} updates/s, "
        f"huibao {median_of(results, 'huibao', lambda r: r.per_second):.0f} updates/s"
    )
    if args.buttons:
        text_run = median_of(results, "huibao", lambda r: r.cpu_ms_per_update)
        pressed = median_of(results, "buttons", lambda r: r.cpu_ms_per_update)
        runs = [r for r in results if r.bot == "buttons"]
        share = (runs[0].replies - runs[0].updates) / runs[0].updates  # an edit per press
        print(
            f"buttons: {pressed:.3f} ms per update with {share:.0%} of the updates pressed; "
            f"a press costs {text_run + (pressed - text_run) / share:.3f} ms "
            f"(answerCallbackQuery, editMessageText, sendMessage) against "
            f"{text_run:.3f} ms for a typed step"
        )
    expected_saved = (waves * args.users) // (args.users * len(SCRIPT)) * args.users
    bad = [r for r in results if r.bot in ("huibao", "buttons") and r.saved != expected_saved]
    if bad:
        print(
            f"WARNING: expected {expected_saved} saved reports per Huibao run, got "
            f"{[r.saved for r in bad]}"
        )
    if args.profile and profiled is not None:
        print(f"\nprofiled run: {profiled.cpu_ms_per_update:.3f} ms CPU per update under cProfile")
        print_profile(str(Path(args.profile).resolve()), profiled.updates)
    if args.profile_echo and profiled_echo is not None:
        print(f"\nprofiled echo run: {profiled_echo.cpu_ms_per_update:.3f} ms CPU per update")
        print_profile(str(Path(args.profile_echo).resolve()), profiled_echo.updates)
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

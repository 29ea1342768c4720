"""Reminder fan-out at 10,000, 40,000 and 200,000 members, on SQLite and PostgreSQL: the tick
that finds who is due and queues their messages (and, with --dispatch, the dispatch through
the real TelegramBot to the fake Bot API at the configured rate).

    .venv/bin/python benchmarks/reminder_fanout.py [--sizes 10000,40000,200000]
        [--databases sqlite,postgresql] [--rounds 3] [--database-url URL]
        [--dispatch N] [--rate 25] [--trees BEFORE,AFTER]

Each (size, database) gets a database of its own, filled once: a fresh SQLite file, or a
PostgreSQL schema of its own (dropped at the end; the URL defaults to
HUIBAO_TEST_POSTGRES_URL). The people are spread over 100 communities in 10 streets, each
street with a coordinator; the one deadline (June's entries for the whole district, due
Tuesday 30 June 18:00) is at its 3-day step (Saturday 27 June 18:00), and nobody has
reported, so every member is due a reminder and every coordinator a digest.

Tick: wall time of `Background.tick()` on an emptied outbox (on PostgreSQL vacuumed and
analysed after loading and after each emptying, as autovacuum does on a live database: the
planner then sees an empty outbox, the case that went quadratic), then the steady-state tick
(everything queued already). The rounds are interleaved: each round ticks every size on
every database once, so a load by others falls on all of them alike. Printed: min / median /
max per size and database, the ratio of the medians 200k/40k (linear: 5.0), and on SQLite
the longest single write statement and the longest transaction (every SQLite transaction
here is BEGIN IMMEDIATE, so that is how long the write lock was held at once). Also the
tick's CPU: the process's (getrusage) plus, on PostgreSQL, its server backends' (found by
application_name, read from /proc): on a machine shared with others the wall time swings
2x between rounds, the CPU far less.
Before/after (--trees BEFORE,AFTER: two checkouts of the same layout, e.g. git worktrees):
the databases are filled once, and each round ticks every case once with each tree's code,
in a process of its own (this script with --code TREE), the trees' order alternating.
Dispatch (--dispatch N, the first size on the first database): `Sender.run` through
`TelegramBot.send_to` against the fake (in this process, its own thread); rate = messages /
(last arrival - first arrival) at the fake, as a ratio of --rate. PTB's own overall limiter
(30/s) is lifted when --rate is above it. Duplicates: messages per chat at the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# the code of the tree this script is in (or of --code TREE), whatever is installed; read
# before the imports below, which it decides
sys.path.insert(
    0,
    sys.argv[sys.argv.index("--code") + 1]
    if "--code" in sys.argv
    else str(Path(__file__).resolve().parent.parent),
)

from sqlalchemy import Connection, Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from bot.admin.org import OrgFile, load_org
from bot.channels.telegram import TelegramBot
from bot.core.conversation import Conversation
from bot.core.delivery import Delivery
from bot.core.questionnaire import load_questionnaires
from bot.reminders.deadlines import month_span, set_deadline
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from bot.shipped import templates_dir
from storage import members as member_store
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import (
    Identity,
    Member,
    OutboxMessage,
    Platform,
    Requirement,
    RoleGrant,
    RoleName,
)
from tests.fakes.telegram_api import FakeTelegram

ZONE = ZoneInfo("Asia/Shanghai")
STEP_AT = datetime(2026, 6, 27, 18, 0, tzinfo=ZONE).astimezone(UTC)
DUE_AT = datetime(2026, 6, 30, 18, 0, tzinfo=ZONE).astimezone(UTC)
STREETS, COMMUNITIES = 10, 100


def org() -> OrgFile:
    """A district of 10 streets of 10 communities."""
    streets = [
        {
            "code": f"s{s}",
            "name": f"第{s}街道",
            "kind": "街道",
            "children": [
                {"code": f"s{s}c{c}", "name": f"第{s}街道第{c}社区", "kind": "社区"}
                for c in range(COMMUNITIES // STREETS)
            ],
        }
        for s in range(STREETS)
    ]
    return OrgFile.model_validate(
        {"units": [{"code": "d", "name": "示范区", "kind": "区", "children": streets}]}
    )


def populate(engine: Engine, members: int) -> int:
    """The units, the staff and the coordinators (bulk inserts); the deadline row."""
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        load_org(session, org())
        ids = {}
        for s in range(STREETS):
            street = member_store.unit_by_key(session, f"s{s}")
            assert street is not None
            ids[f"s{s}"] = street.id
            for c in range(COMMUNITIES // STREETS):
                unit = member_store.unit_by_key(session, f"s{s}c{c}")
                assert unit is not None
                ids[f"s{s}c{c}"] = unit.id
        district = member_store.unit_by_key(session, "d")
        assert district is not None
        district_id = district.id
    now = datetime.now(UTC)
    people, accounts, grants = [], [], []
    for i in range(members):
        street, community = i % STREETS, (i // STREETS) % (COMMUNITIES // STREETS)
        people.append({"id": i + 1, "name": f"员工{i + 1}", "locale": "zh", "created_at": now})
        accounts.append(
            {
                "member_id": i + 1,
                "platform": Platform.TELEGRAM,
                "external_id": str(100_000 + i),
                "created_at": now,
            }
        )
        grants.append(
            {
                "member_id": i + 1,
                "unit_id": ids[f"s{street}c{community}"],
                "role": RoleName.STAFF,
                "created_at": now,
            }
        )
    for s in range(STREETS):
        member_id = members + s + 1
        people.append({"id": member_id, "name": f"主任{s}", "locale": "zh", "created_at": now})
        accounts.append(
            {
                "member_id": member_id,
                "platform": Platform.TELEGRAM,
                "external_id": str(900_000 + s),
                "created_at": now,
            }
        )
        grants.append(
            {
                "member_id": member_id,
                "unit_id": ids[f"s{s}"],
                "role": RoleName.COORDINATOR,
                "created_at": now,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(Member), people)
        connection.execute(insert(Identity), accounts)
        connection.execute(insert(RoleGrant), grants)
    with transaction(sessions) as session:
        set_deadline(
            session,
            unit_id=district_id,
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=DUE_AT,
            now=STEP_AT - timedelta(days=10),
        )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:  # as autovacuum soon does on a live database
            connection.execute(text("ANALYZE"))
            connection.commit()
    return members + STREETS


class LockWatch:
    """On SQLite: the longest statement and the longest transaction (each one holds the
    write lock: every transaction is BEGIN IMMEDIATE), from the engine's events."""

    def __init__(self, engine: Engine) -> None:
        self.statement = 0.0
        self.transaction = 0.0
        self.transactions = 0
        self.slowest = ""
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.statement = self.transaction = 0.0
        self.transactions = 0
        self.slowest = ""

    def _begin(self, connection: Connection) -> None:
        connection.info["bench_begun"] = time.perf_counter()

    def _end(self, connection: Connection) -> None:
        begun = connection.info.pop("bench_begun", None)
        if begun is not None:
            self.transactions += 1
            self.transaction = max(self.transaction, time.perf_counter() - begun)

    def _before(self, connection: Connection, *_args: object) -> None:
        connection.info["bench_statement"] = time.perf_counter()

    def _after(self, connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        took = time.perf_counter() - connection.info.pop("bench_statement", time.perf_counter())
        if took > self.statement:
            self.statement = took
            self.slowest = " ".join(statement.split())[:60]


@dataclass
class Case:
    """One size on one database: its engine and what its ticks measured."""

    size: int
    label: str
    engine: Engine
    schema: str | None
    watch: LockWatch | None
    url: str = ""
    tree: str = ""  # --trees: whose code ticks (a process of its own); "" this one, in process
    ticks: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the process's and its server backends'
    steady: list[float] = field(default_factory=list)
    statement: float = 0.0
    transaction: float = 0.0
    transactions: int = 0
    slowest: str = ""
    queued: int = 0


def backends_cpu(engine: Engine) -> dict[int, float]:
    """PostgreSQL: CPU seconds of each server backend of this engine's application_name."""
    name = engine.url.query.get("application_name")
    if engine.dialect.name != "postgresql" or not name:
        return {}
    with engine.connect() as connection:
        pids = connection.execute(
            text("select pid from pg_stat_activity where application_name = :name"),
            {"name": name},
        ).scalars()
        cpu = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended, or the server runs elsewhere (then not counted)
                continue
            cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu


def tick_once(case: Case, settings: ReminderSettings) -> None:
    """A fan-out tick on an emptied outbox, then a steady-state tick."""
    if case.tree:
        tick_elsewhere(case)
        return
    engine = case.engine
    sessions = make_sessionmaker(engine)
    with engine.begin() as connection:
        connection.execute(OutboxMessage.__table__.delete())
    if engine.dialect.name == "postgresql":  # the dead rows, as autovacuum would
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE outbox"))
    background = Background(sessions, settings, ZONE, lambda: STEP_AT, instance="bench")
    if case.watch is not None:
        case.watch.reset()
    server = backends_cpu(engine)
    cpu = time.process_time()
    started = time.perf_counter()
    case.queued = background.tick().queued
    case.ticks.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    cpu += sum(v - server.get(pid, 0.0) for pid, v in backends_cpu(engine).items())
    case.cpu.append(cpu)
    if case.watch is not None:
        case.statement = max(case.statement, case.watch.statement)
        if case.watch.transaction > case.transaction:
            case.transaction = case.watch.transaction
        case.transactions = case.watch.transactions
        if case.watch.statement >= case.statement:
            case.slowest = case.watch.slowest
    started = time.perf_counter()
    again = Background(sessions, settings, ZONE, lambda: STEP_AT, instance="bench").tick()
    case.steady.append(time.perf_counter() - started)
    assert again.queued == 0


def tick_elsewhere(case: Case) -> None:
    """Tick with the code of `case.tree`, in a process of its own (this script, --tick)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--tick", case.url, "--code", case.tree],
        env={**os.environ, "PYTHONPATH": case.tree},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    case.ticks.extend(found["ticks"])
    case.steady.extend(found["steady"])
    case.cpu.extend(found["cpu"])
    case.queued = found["queued"]
    if found["statement"] >= case.statement:
        case.statement, case.slowest = found["statement"], found["slowest"]
    case.transaction = max(case.transaction, found["transaction"])
    case.transactions = found["transactions"]


def tick_here(url: str) -> None:
    """--tick URL: one round on a filled database with this process's code, as JSON."""
    engine = create_db_engine(url)
    watch = LockWatch(engine) if engine.dialect.name == "sqlite" else None
    case = Case(0, "", engine, None, watch)
    tick_once(case, ReminderSettings())
    engine.dispose()
    print(json.dumps({k: getattr(case, k) for k in TICK_FIELDS}))


TICK_FIELDS = ("ticks", "steady", "cpu", "queued", "statement", "slowest", "transaction")
TICK_FIELDS += ("transactions",)


def spread(values: list[float]) -> str:
    """min / median / max in ms."""
    ms = [v * 1000 for v in values]
    return f"{min(ms):.0f} / {statistics.median(ms):.0f} / {max(ms):.0f} ms"


async def dispatch(
    engine: Engine, settings: ReminderSettings, fake: FakeTelegram, limit: int, work: Path
) -> None:
    """Run the sender against the fake until `limit` messages arrived there."""
    sessions = make_sessionmaker(engine)
    questionnaires = load_questionnaires(templates_dir() / "questionnaires")
    conversation = Conversation(
        sessions, questionnaires, "community_culture", ZONE, lambda: STEP_AT
    )
    bot = TelegramBot(
        Delivery(conversation, "telegram"),
        token=fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        photos_dir=work,
        poll_timeout=1,
        # Telegram's overall 30/s would cap a faster sender
        overall_rate=settings.rate_per_second * 2 if settings.rate_per_second > 30 else 30.0,
    )
    await bot.start()
    background = Background(sessions, settings, ZONE, lambda: STEP_AT, instance="bench")
    background.attach({"telegram": bot})
    stop = asyncio.Event()
    runner = asyncio.create_task(background.senders["telegram"].run(stop))
    try:
        while len(fake.sent()) < limit:
            await asyncio.sleep(0.5)
            if runner.done():
                runner.result()
                break
    finally:
        stop.set()
        await runner
        await bot.stop()


def fresh_database(url: str | None, folder: Path, name: str) -> tuple[str, str, str | None]:
    """A URL to use, a label, and the PostgreSQL schema made for it (to drop)."""
    if url is None:
        return f"sqlite:///{folder / name}.sqlite3", "SQLite", None
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    schema = f"fanout_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parsed)
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    admin.dispose()
    # the application name finds the backends serving it, to read their CPU
    scoped = parsed.set(query={"options": f"-csearch_path={schema}", "application_name": schema})
    return scoped.render_as_string(hide_password=False), "PostgreSQL", schema


def drop_schema(url: str, schema: str) -> None:
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg", query={}))
    with admin.begin() as connection:
        connection.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,40000,200000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=ReminderSettings().rate_per_second)
    parser.add_argument("--dispatch", type=int, default=0, help="messages to dispatch (0: none)")
    parser.add_argument("--trees", default="", help="BEFORE,AFTER: checkouts to compare")
    parser.add_argument("--tick", default="", help=argparse.SUPPRESS)  # a tick of --trees
    parser.add_argument("--code", default="", help=argparse.SUPPRESS)  # (read at the top)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "HUIBAO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL",
    )
    args = parser.parse_args()
    if args.tick:
        tick_here(args.tick)
        return
    trees = [str(Path(t).resolve()) for t in args.trees.split(",") if t]
    sizes = [int(n) for n in args.sizes.split(",")]
    databases = args.databases.split(",")
    if "postgresql" in databases and not args.database_url:
        parser.error("PostgreSQL needs --database-url (or HUIBAO_TEST_POSTGRES_URL)")
    settings = ReminderSettings(rate_per_second=args.rate)
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as folder:
        try:
            for size in sizes:
                for database in databases:
                    pg = args.database_url if database == "postgresql" else None
                    url, label, schema = fresh_database(pg, Path(folder), f"bench{size}")
                    engine = create_db_engine(url)
                    watch = LockWatch(engine) if engine.dialect.name == "sqlite" else None
                    case = Case(size, label, engine, schema, watch, url)
                    cases.append(case)
                    for tree in trees:  # the same database, ticked by each tree's code
                        cases.append(Case(size, label, engine, None, None, url, tree))
                    started = time.perf_counter()
                    upgrade(engine)
                    populate(engine, size)
                    took = time.perf_counter() - started
                    print(f"filled {label} with {size} members in {took:.0f} s", flush=True)
            ticked = [c for c in cases if c.tree or not trees]
            for round_ in range(args.rounds):
                for case in ticked:
                    tick_once(case, settings)
                if trees:  # the other tree first next round
                    n = len(trees)
                    ticked = [
                        c
                        for k in range(0, len(ticked), n)
                        for c in ticked[k + 1 : k + n] + ticked[k : k + 1]
                    ]
                print(f"round {round_ + 1} of {args.rounds} done", flush=True)
            report([c for c in cases if c.tree or not trees], sizes)
            if args.dispatch:
                first = cases[0]
                with FakeTelegram() as fake:
                    started = time.perf_counter()
                    asyncio.run(dispatch(first.engine, settings, fake, args.dispatch, Path(folder)))
                    wall = time.perf_counter() - started
                    sent = [m for m in fake.sent() if m.method == "sendMessage"]
                per_chat = Counter(m.chat_id for m in sent)
                duplicates = sum(n - 1 for n in per_chat.values())
                span = sent[-1].timestamp - sent[0].timestamp if len(sent) > 1 else float("nan")
                rate = (len(sent) - 1) / span
                print(
                    f"dispatch ({first.label}, {first.size} members): {len(sent)} messages in "
                    f"{span:.1f} s ({wall:.1f} s with start-up): {rate:.2f}/s against "
                    f"{args.rate:g}/s configured = {rate / args.rate:.1%} (target >= 95%); "
                    f"duplicates: {duplicates}"
                )
        finally:
            for case in cases:
                case.engine.dispose()
                if case.schema is not None:
                    drop_schema(args.database_url, case.schema)


def report(cases: list[Case], sizes: list[int]) -> None:
    """One line per size and database, then the ratios of the medians."""
    print(f"{STREETS} coordinators, one deadline; ticks min / median / max")
    for case in cases:
        line = (
            f"{case.label:10} {Path(case.tree).name:>8} {case.size:>7} members: fan-out tick "
            f"({case.queued} queued) {spread(case.ticks)}, CPU {spread(case.cpu)}; "
            f"steady {spread(case.steady)}"
        )
        if case.transactions:  # SQLite: ticked here or in a process of its own
            line += (
                f"; write lock: longest statement {case.statement * 1000:.0f} ms "
                f"({case.slowest}...), longest transaction {case.transaction * 1000:.0f} ms "
                f"of {case.transactions}"
            )
        print(line)
    median = {(c.label, c.tree, c.size): statistics.median(c.ticks) for c in cases}
    cpu = {(c.label, c.tree, c.size): statistics.median(c.cpu) for c in cases}
    for label, tree in dict.fromkeys((c.label, c.tree) for c in cases):
        for small, large in itertools.pairwise(sizes):
            if (label, tree, small) in median and (label, tree, large) in median:
                ratio = median[(label, tree, large)] / median[(label, tree, small)]
                by_cpu = cpu[(label, tree, large)] / cpu[(label, tree, small)]
                per_round = [
                    f"{b / a:.2f}"
                    for a, b in zip(
                        next(
                            c.ticks
                            for c in cases
                            if (c.label, c.tree, c.size) == (label, tree, small)
                        ),
                        next(
                            c.ticks
                            for c in cases
                            if (c.label, c.tree, c.size) == (label, tree, large)
                        ),
                        strict=True,
                    )
                ]
                print(
                    f"{label} {Path(tree).name}: tick {large}/{small} = {ratio:.2f} "
                    f"(per round {', '.join(per_round)}; CPU {by_cpu:.2f}; "
                    f"linear: {large / small:.1f}; target <= {large / small:.1f})"
                )


if __name__ == "__main__":
    main()

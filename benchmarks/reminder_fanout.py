"""Reminder fan-out: 10,000 staff, one deadline; the tick that finds who is due, then the
dispatch through the real TelegramBot to the fake Bot API at the configured rate.

    .venv/bin/python benchmarks/reminder_fanout.py [--members 10000] [--rate 25]
        [--dispatch N] [--database-url URL]

Without --database-url it uses a fresh SQLite file; a PostgreSQL URL gets a schema of its
own, dropped at the end. The people are spread over 100 communities in 10 streets, each
street with a coordinator; the one deadline (June's entries for the whole district, due
Tuesday 30 June 18:00) is at its 3-day step (Saturday 27 June 18:00), and nobody has
reported, so every member is due a reminder and every coordinator a digest.

Tick: wall time of `Background.tick()` (settle stale and expired rows; one INSERT ...
SELECT ... ON CONFLICT DO NOTHING that finds the members who owe by anti-joins and queues
their messages; one grouped query and ten rows for the coordinators' digests), best and
median of --ticks runs, each on an emptied outbox (on PostgreSQL vacuumed and analysed
after loading and after each emptying, as autovacuum does on a live database); then the
steady-state tick (everything queued already). Dispatch: `Sender.run` through
`TelegramBot.send_to` against the fake (in this process, its own thread); rate = messages /
(last arrival - first arrival) at the fake, as a ratio of --rate. PTB's own overall limiter
(30/s) is lifted when --rate is above it. Duplicates: messages per chat at the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiolimiter import AsyncLimiter
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from telegram.ext import AIORateLimiter

from bot.app import templates_dir
from bot.conversation import Conversation
from bot.deadlines import month_span, set_deadline
from bot.org import OrgFile, load_org
from bot.questionnaire import load_questionnaires
from bot.scheduler import Background
from bot.settings import ReminderSettings
from bot.telegram import TelegramBot
from storage import repo
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
            street = repo.unit_by_key(session, f"s{s}")
            assert street is not None
            ids[f"s{s}"] = street.id
            for c in range(COMMUNITIES // STREETS):
                unit = repo.unit_by_key(session, f"s{s}c{c}")
                assert unit is not None
                ids[f"s{s}c{c}"] = unit.id
        district = repo.unit_by_key(session, "d")
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


def measure_ticks(
    engine: Engine, settings: ReminderSettings, runs: int
) -> tuple[list[float], int, float]:
    """Best-of fan-out ticks (outbox emptied between runs), then one steady-state tick."""
    sessions = make_sessionmaker(engine)
    times = []
    queued = 0
    for _ in range(runs):
        with engine.begin() as connection:
            connection.execute(OutboxMessage.__table__.delete())
        if engine.dialect.name == "postgresql":  # the dead rows, as autovacuum would
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE outbox"))
        background = Background(sessions, settings, ZONE, lambda: STEP_AT, instance="bench")
        background.attach({})
        started = time.perf_counter()
        queued = background.tick().queued
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    again = Background(sessions, settings, ZONE, lambda: STEP_AT, instance="bench").tick()
    steady = time.perf_counter() - started
    assert again.queued == 0
    return times, queued, steady


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
        conversation,
        token=fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        photos_dir=work,
        poll_timeout=1,
    )
    if settings.rate_per_second > 30:  # PTB's overall limiter would cap it at 30/s
        limiter = bot.application.bot.rate_limiter
        assert isinstance(limiter, AIORateLimiter)
        limiter._base_limiter = AsyncLimiter(settings.rate_per_second * 2, 1)
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


def fresh_database(url: str | None, folder: Path) -> tuple[str, str, str | None]:
    """A URL to use, a label, and the PostgreSQL schema made for it (to drop)."""
    if url is None:
        return f"sqlite:///{folder / 'bench.sqlite3'}", "SQLite file, WAL", None
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    schema = f"fanout_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parsed)
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    admin.dispose()
    scoped = parsed.set(query={"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), "PostgreSQL, local TCP", schema


def drop_schema(url: str, schema: str) -> None:
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg", query={}))
    with admin.begin() as connection:
        connection.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=ReminderSettings().rate_per_second)
    parser.add_argument("--dispatch", type=int, default=None, help="messages (default: all)")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    settings = ReminderSettings(rate_per_second=args.rate)
    with tempfile.TemporaryDirectory() as folder:
        url, label, schema = fresh_database(args.database_url, Path(folder))
        engine = create_db_engine(url)
        try:
            upgrade(engine)
            people = populate(engine, args.members)
            times, queued, steady = measure_ticks(engine, settings, args.ticks)
            print(f"{label}: {args.members} staff, {STREETS} coordinators, one deadline")
            print(
                f"fan-out tick: {queued} messages queued; best {min(times) * 1000:.0f} ms, "
                f"median {statistics.median(times) * 1000:.0f} ms (target <= 200 ms); "
                f"steady-state tick {steady * 1000:.0f} ms"
            )
            limit = min(args.dispatch or queued, queued)
            with FakeTelegram() as fake:
                started = time.perf_counter()
                asyncio.run(dispatch(engine, settings, fake, limit, Path(folder)))
                wall = time.perf_counter() - started
                sent = [m for m in fake.sent() if m.method == "sendMessage"]
            per_chat = Counter(m.chat_id for m in sent)
            duplicates = sum(n - 1 for n in per_chat.values())
            span = sent[-1].timestamp - sent[0].timestamp if len(sent) > 1 else float("nan")
            rate = (len(sent) - 1) / span
            print(
                f"dispatch: {len(sent)} messages in {span:.1f} s ({wall:.1f} s with start-up): "
                f"{rate:.2f}/s against {args.rate:g}/s configured = {rate / args.rate:.1%} "
                f"(target >= 95%); duplicates: {duplicates}; people: {people}"
            )
        finally:
            engine.dispose()
            if schema is not None and args.database_url is not None:
                drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()

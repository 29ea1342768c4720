"""/status for a district coordinator: the message's transaction with and without the .xlsx.

    .venv/bin/python benchmarks/status_scale.py [--staff 10000] [--runs 5]
        [--database-url URL]

A district of 10 streets of 10 communities (tests.core.test_status_large.populate): every third
person reported once in June, every ninth twice; the default deadlines of June 2026 (the
month's report, the half-year review) are current on Wednesday 24 June. Without
--database-url a fresh SQLite file; a PostgreSQL URL gets a schema of its own, dropped at the
end.

Timed in the same run, interleaved (detailed, before, after, job, detailed, ...), each in a
transaction of its own as a message's; min/median/max:
* detailed: `coordination.status_report`, the text that named everyone (39 messages; the
  CLI still prints it), cut as the Telegram and WeCom adapters cut it;
* before: the short text and the .xlsx built in the message's transaction, as /status did
  until c58666b (`status_overview.gather`, `workbook`, `short_text`: what `overview_reply`
  did);
* after: what /status does in the message's transaction now: `coordination.status_reply`
  (counting and the short text) and `request_list` (recording the `status_list` job);
* job: the worker making that job's list afterwards (`bot.jobs.Worker.run_one`: a
  read-only snapshot, the .xlsx, its file and the outbox row), outside any message.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bot.channels import telegram
from bot.channels.wecom import adapter as wecom
from bot.core import coordination, status_overview
from bot.core.scope import leader_scope
from bot.core.types import Reply
from bot.jobs import Worker
from storage import members
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import RoleName
from tests.core.test_status_large import populate

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 24, 10, 0, tzinfo=ZONE).astimezone(UTC)


def coordinator(engine: Engine) -> int:
    """The district's coordinator, added after the staff."""
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        district = members.unit_by_key(session, "d")
        assert district is not None
        member = members.join(
            session,
            "区负责人",
            platform="shell",
            external_id="区负责人",  # where the list goes
            unit_id=district.id,
            roles=(RoleName.COORDINATOR,),
        )
        return member.id


def spread(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{min(ms):.0f} / {statistics.median(ms):.0f} / {max(ms):.0f} ms"


def measure(engine: Engine, staff: int, runs: int) -> None:
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    populate(sessions, engine, staff, date(2026, 6, 1), streets=10, communities=10)
    boss = coordinator(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    print(f"{engine.dialect.name}: {staff} staff loaded in {time.perf_counter() - started:.1f} s")
    detailed: list[float] = []
    before: list[float] = []
    after: list[float] = []
    job: list[float] = []
    old, new, listed = "", Reply(""), b""
    with tempfile.TemporaryDirectory() as data:
        worker = Worker(sessions, None, Path(data), lambda: NOW)
        for _ in range(runs):
            with transaction(sessions) as session:
                scope = leader_scope(session, boss)
                t = time.perf_counter()
                old = coordination.status_report(session, scope, NOW, ZONE, "zh")
                detailed.append(time.perf_counter() - t)
            with transaction(sessions) as session:
                scope = leader_scope(session, boss)
                t = time.perf_counter()
                first, following = coordination.month_bounds(NOW.astimezone(ZONE).date())
                overview = status_overview.gather(session, scope, first, following, NOW, ZONE, "zh")
                name = status_overview.filename(first, "zh")
                listed = status_overview.workbook(session, overview, ZONE, "zh", NOW)
                status_overview.short_text(overview, "zh", name)
                before.append(time.perf_counter() - t)
            with transaction(sessions) as session:
                scope = leader_scope(session, boss)
                t = time.perf_counter()
                new, month = coordination.status_reply(session, scope, NOW, ZONE, "zh")
                assert month is not None
                new = coordination.request_list(
                    session,
                    new,
                    scope,
                    month,
                    member=(boss, "区负责人"),
                    in_group=False,
                    asked=NOW,
                    now=NOW,
                    zone=ZONE,
                    platform="shell",
                    locale="zh",
                )
                after.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert worker.run_one()
            job.append(time.perf_counter() - t)
    assert new.document is None
    print(
        f"  detailed: {len(telegram.split_text(old))} Telegram messages, "
        f"{len(wecom.plan(Reply(old)))} WeCom messages, {len(old):,} characters; "
        f"{spread(detailed)}"
    )
    print(
        f"  before (text + .xlsx, {len(listed) / 1024:.0f} KiB, in the transaction): "
        f"{spread(before)}"
    )
    print(
        f"  after (text + the job recorded): {len(telegram.split_text(new.text))} Telegram "
        f"message, {len(wecom.plan(Reply(new.text)))} WeCom message, {len(new.text):,} "
        f"characters ({len(new.text.encode()):,} bytes); {spread(after)}"
    )
    print(f"  job (the .xlsx, afterwards, outside the message): {spread(job)}")
    median = statistics.median
    print(
        f"  medians: after/before {median(after) / median(before):.2f}, "
        f"after/detailed {median(after) / median(detailed):.2f}, "
        f"before/detailed {median(before) / median(detailed):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.database_url:
        schema = f"status_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(make_url(args.database_url))
        with admin.begin() as connection:
            connection.execute(text(f"create schema {schema}"))
        url = make_url(args.database_url).set(query={"options": f"-csearch_path={schema}"})
        engine = create_db_engine(url.render_as_string(hide_password=False))
        try:
            upgrade(engine)
            measure(engine, args.staff, args.runs)
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text(f"drop schema {schema} cascade"))
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as folder:
        engine = create_db_engine(f"sqlite:///{Path(folder) / 'status.sqlite3'}")
        upgrade(engine)
        measure(engine, args.staff, args.runs)
        engine.dispose()


if __name__ == "__main__":
    main()

"""The coordinator and per-message queries over 100,000 entries, with and without the indexes
of migration 0009 (issue 16), on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/query_indexes.py [--entries 100000] [--rounds 5]
        [--databases sqlite,postgresql] [--database-url URL]

A district of 10 streets of 5 communities, 2,000 staff, the entries spread over two years
in the order people report them (tests/storage/test_query_plans.py builds the same data), ANALYZEd.
Timed, through the real functions: /entries of the district (bot.core.coordination.
recent_entries), /status's counts of a street and of the district (bot.core.coordination.
status_text), /mine of one person (storage.entries.entries_of_member, one half-year) and a
deadline's standing for the district (storage.deadlines.standing, the tick's digest read).
Timed: the statements that read `entries` (the engine's cursor events; the Python that builds
the reply around them is the same either way), the second of two calls. Each round times
every query with the indexes, then drops them (and ANALYZEs), times them again, and creates
them back: the two columns are interleaved. Printed: min / median / max per query in ms, and
the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

Query = Callable[[Session], object]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reminder_fanout import drop_schema, fresh_database  # noqa: E402
from bot.core.coordination import recent_entries, status_text  # noqa: E402
from bot.core.scope import Scope  # noqa: E402
from bot.reminders.deadlines import month_span  # noqa: E402
from storage import deadlines, members  # noqa: E402
from storage import entries as entry_store  # noqa: E402
from storage.db import create_db_engine, make_sessionmaker, upgrade  # noqa: E402
from storage.models import Requirement, RoleName  # noqa: E402
from tests.storage.test_query_plans import add_entries, add_staff, analyze, city  # noqa: E402

TODAY = date(2026, 6, 24)
INDEXES = {
    "ix_entries_created_at": "entries (created_at, id)",
    "ix_entries_unit_start": "entries (unit_id, start_date)",
    "ix_entries_member_start": "entries (member_id, start_date)",
    "ix_entries_start_date": "entries (start_date)",
}


def queries(paths: dict[str, str], member: int) -> dict[str, Query]:
    district, street = Scope((paths["d"],)), Scope((paths["s1"],))
    span = month_span(2026, 6)
    coverage = deadlines.Coverage(
        requirement=Requirement.MONTHLY_ENTRY,
        roles=(RoleName.STAFF,),
        period=span.key,
        first_day=span.first_day,
        end_day=span.end_day,
        unit_path=paths["d"],
        excluded=(),
    )
    return {
        "/entries, district": lambda s: recent_entries(s, district),
        "/status counts, street": lambda s: status_text(s, street, TODAY, "zh"),
        "/status counts, district": lambda s: status_text(s, district, TODAY, "zh"),
        "/mine, one half-year": lambda s: entry_store.entries_of_member(s, member, "2026H1"),
        "standing, district (tick)": lambda s: deadlines.standing(s, coverage),
    }


class StatementClock:
    """Time spent in the statements that read `entries` (from the engine's events)."""

    def __init__(self, engine: Engine) -> None:
        self.spent = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, connection: Connection, *_: object) -> None:
        connection.info["query_started"] = time.perf_counter()

    def _after(self, connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        started = connection.info.pop("query_started", None)
        if started is not None and re.search(r"\bentries\b", statement):
            self.spent += time.perf_counter() - started


def time_all(
    engine: Engine, clock: StatementClock, work: dict[str, Query], into: dict[str, list[float]]
) -> None:
    sessions = make_sessionmaker(engine)
    for name, query in work.items():
        with sessions() as session:
            query(session)  # warm the statement cache and the pages
            clock.spent = 0.0
            query(session)
            into[name].append(clock.spent)
            session.rollback()


def set_indexes(engine: Engine, present: bool) -> None:
    with engine.begin() as connection:
        for name, columns in INDEXES.items():
            if present:
                connection.execute(text(f"CREATE INDEX {name} ON {columns}"))
            else:
                connection.execute(text(f"DROP INDEX {name}"))
    analyze(engine)


def run(engine: Engine, entries: int, rounds: int, label: str) -> None:
    sessions = make_sessionmaker(engine)
    units = city(sessions)
    staff = add_staff(engine, units, 2000)
    add_entries(engine, staff, entries, TODAY)
    analyze(engine)
    with sessions() as session:
        found = {code: members.unit_by_key(session, code) for code in ("d", "s1")}
        paths = {code: unit.path for code, unit in found.items() if unit is not None}
    work = queries(paths, staff[0][0])
    with_: dict[str, list[float]] = {n: [] for n in work}
    without: dict[str, list[float]] = {n: [] for n in work}
    clock = StatementClock(engine)
    for _ in range(rounds):
        time_all(engine, clock, work, with_)
        set_indexes(engine, present=False)
        time_all(engine, clock, work, without)
        set_indexes(engine, present=True)
    print(f"{label}, {entries} entries, {rounds} rounds: ms min / median / max")
    for name in work:
        a, b = with_[name], without[name]
        ratio = statistics.median(b) / statistics.median(a)
        print(f"  {name:27} without {_spread(b)}; with {_spread(a)}; {ratio:.1f}x faster")


def _spread(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{min(ms):.2f} / {statistics.median(ms):.2f} / {max(ms):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "HUIBAO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for database in args.databases.split(","):
            pg = args.database_url if database == "postgresql" else None
            url, label, schema = fresh_database(pg, Path(folder), "indexes")
            engine = create_db_engine(url)
            try:
                upgrade(engine)
                run(engine, args.entries, args.rounds, label)
            finally:
                engine.dispose()
                if schema is not None:
                    drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()

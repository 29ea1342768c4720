"""What the test suite's database chores cost on PostgreSQL, each way it could do them.

In a schema of its own on HUIBAO_TEST_POSTGRES_URL (dropped at the end), migrated to head:

- a commit of one small INSERT, with the server's default synchronous_commit (the commit
  waits for the WAL on disk) and with it off for the session (tests/conftest.py `db_engine`);
- emptying the 21 tables between tests: a DELETE a table in a round trip each, all the
  DELETEs in one round trip (tests/conftest.py `empty_tables`), that plus numbering from 1
  again (setval of the schema's sequences, the fuzz test's reset), and TRUNCATE ... RESTART
  IDENTITY CASCADE (the fuzz test's reset before);

each the median of --runs, in milliseconds, rounds interleaved so that each way sees the
same load. The tables are empty: the cost is the statements', as between two small tests.

    .venv/bin/python benchmarks/suite_db_costs.py --runs 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from storage.db import create_db_engine, upgrade
from storage.models import Base
from tests.conftest import POSTGRES_URL, db_engine, empty_tables, schema_url


def one_commit(engine: Engine) -> Callable[[], None]:
    def run() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO bench_commits VALUES (1)"))

    return run


def delete_each(engine: Engine) -> Callable[[], None]:
    def run() -> None:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())

    return run


def truncate(engine: Engine) -> Callable[[], None]:
    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))

    def run() -> None:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    return run


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    schema = f"huibao_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    default, quick = create_db_engine(schema_url(schema)), db_engine(schema_url(schema))
    try:
        upgrade(quick)
        with quick.begin() as connection:
            connection.execute(text("CREATE TABLE bench_commits (n integer)"))

        def emptied(restart: bool) -> Callable[[], None]:
            return lambda: empty_tables(quick, restart_ids=restart)

        ways: dict[str, Callable[[], None]] = {
            "commit, synchronous_commit on (server default)": one_commit(default),
            "commit, synchronous_commit off (db_engine)": one_commit(quick),
            "empty 21 tables: a DELETE a round trip": delete_each(quick),
            "empty 21 tables: DELETEs in one round trip": emptied(False),
            "  the same, ids from 1 again (setval)": emptied(True),
            "empty 21 tables: TRUNCATE ... RESTART IDENTITY": truncate(quick),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for run in ways.values():  # warm-up: connections made, statements prepared
            run()
        for _ in range(args.runs):
            for name, run in ways.items():
                times[name].append(timed(run))
        for name, values in times.items():
            print(f"{name:50} {statistics.median(values):8.2f} ms")
    finally:
        default.dispose()
        quick.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

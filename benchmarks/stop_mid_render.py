"""The time from SIGTERM to exit while a summary job renders (issue 16 §5: within 2 s).

A street of N entries (benchmarks/summary_scale.py's SQLite file, seeded once per size) has a
summary job. Each run is a fresh process that runs a jobs worker as `huibao run` does (an
event loop whose SIGTERM handler sets the stop, `Worker.run`, then `asyncio.run` ends and the
interpreter exits), on a fresh copy of the file. When the .docx render starts the child says
so; the parent sends SIGTERM at once (the whole render and the .xlsx still to come: the
worst case) and measures the wall time until the process has exited, then reads the job's
state in the file (`pending`: handed back, done at once after a restart; `running`: due
only after its 10-minute lease; `done`: the stop waited for it).

--huibao runs the real `huibao run` instead (Telegram polling against tests/fakes'
fake Bot API server, as crash_test.py does; the file stamped at Alembic's head), with the job
recorded before it starts: SIGTERM is sent as soon as the job is claimed (its summary being
composed, then rendered: the stop waits for all of it, or for none).

--before PATH runs the same with the code at PATH (e.g. `git worktree add /tmp/old <commit>`),
interleaved run by run:

    .venv/bin/python benchmarks/stop_mid_render.py --entries 100000 --before /tmp/old [--huibao]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakes.telegram_api import FakeTelegram

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(code: Path, database: Path, data: Path) -> None:
    """Run a worker on `database` until SIGTERM (in a fresh process, with the code at `code`)."""
    sys.path.insert(0, str(code))
    os.chdir(code)
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from bot import jobs
    from bot.summary.model import Summary
    from bot.summary.render import render_docx
    from bot.summary.service import SummaryKit
    from storage.db import transaction

    engine = create_engine(f"sqlite:///{database}")
    sessions = sessionmaker(engine, expire_on_commit=False)
    now = datetime(2026, 6, 30, 8, 0, tzinfo=UTC)
    with transaction(sessions) as session:
        jobs.request_summary(
            session,
            member_id=1,
            unit_id=1,
            period="2026H1",
            today=date(2026, 6, 30),
            platform="telegram",
            locale="zh",
            now=now,
        )

    def announced(summary: Summary, chart: bytes | None) -> bytes:
        print("rendering", flush=True)
        return render_docx(summary, chart)

    kit = SummaryKit.load(code / "templates" / "summary")
    worker = jobs.Worker(sessions, kit, data, lambda: now, render_docx=announced)

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await worker.run(stop)

    asyncio.run(run())
    engine.dispose()


def _stamp(database: Path) -> None:
    """Mark the seeded file as migrated (its tables were made from the models)."""
    from alembic import command
    from sqlalchemy import create_engine

    from storage.db import alembic_config

    engine = create_engine(f"sqlite:///{database}")
    command.stamp(alembic_config(engine), "head")
    engine.dispose()


def once(code: Path, database: Path, work: Path) -> tuple[float, str]:
    """One run: the seconds from SIGTERM to exit, and the job's state after it."""
    import sqlite3

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy = work / "huibao.sqlite"
    shutil.copyfile(database, copy)
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(code), "--db", str(copy), "--data", str(work)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "rendering", line
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(600) == 0
    took = time.monotonic() - began
    with sqlite3.connect(copy) as db:
        (state,) = db.execute("SELECT state FROM jobs").fetchone()
    return took, str(state).lower()


def _record_job(database: Path) -> None:
    """The summary job, as /summary records it (the current code's storage)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from bot import jobs
    from storage.db import transaction

    engine = create_engine(f"sqlite:///{database}")
    with transaction(sessionmaker(engine)) as session:
        jobs.request_summary(
            session,
            member_id=1,
            unit_id=1,
            period="2026H1",
            today=date(2026, 6, 30),
            platform="telegram",
            locale="zh",
            now=datetime.now(UTC),
        )
    engine.dispose()


def _job_state(database: Path) -> str:
    import sqlite3

    with sqlite3.connect(database, timeout=30) as db:
        (state,) = db.execute("SELECT state FROM jobs").fetchone()
    return str(state).lower()


def huibao_once(code: Path, database: Path, work: Path, fake: FakeTelegram) -> tuple[float, str]:
    """One run of the real `huibao run`: the seconds from SIGTERM to exit, the job's state."""
    from crash_test import bot_env, free_port

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy = work / "huibao.sqlite"
    shutil.copyfile(database, copy)
    _record_job(copy)
    env = bot_env(fake, f"sqlite:///{copy}", work / "data", free_port())
    with (work / "huibao.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env={**env, "PYTHONPATH": str(code)},
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 120
        while _job_state(copy) == "pending":  # a poll of the file, not a pace
            assert process.poll() is None, (work / "huibao.log").read_text()
            assert time.monotonic() < deadline, "the job was never claimed"
            time.sleep(0.005)
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(600) == 0, (work / "huibao.log").read_text()
    return time.monotonic() - began, _job_state(copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per code")
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--data", type=Path, default=Path("/tmp/huibao-stop-mid-render"))
    parser.add_argument("--huibao", action="store_true", help="stop the real `huibao run`")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.db, args.data)
        return
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))  # tests/fakes is not an installed package
    from summary_scale import seed

    from tests.fakes.telegram_api import FakeTelegram

    args.data.mkdir(parents=True, exist_ok=True)
    database = args.data / f"street-{args.entries}.sqlite"
    if not database.exists():
        print(f"seeding {args.entries} entries in {database}", flush=True)
        seed(database, args.entries)
        _stamp(database)
    codes = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    results: dict[str, list[tuple[float, str]]] = {name: [] for name in codes}
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(FakeTelegram()) if args.huibao else None
        for _ in range(args.repeat):
            for name, code in codes.items():
                if fake is not None:
                    took, state = huibao_once(code, database, args.data / name, fake)
                else:
                    took, state = once(code, database, args.data / name)
                results[name].append((took, state))
                print(f"{name}: {took:.2f} s from SIGTERM to exit, job {state}", flush=True)
    for name, runs in results.items():
        times = sorted(t for t, _ in runs)
        states = sorted({s for _, s in runs})
        print(
            f"{name}: median {statistics.median(times):.2f} s "
            f"(min {times[0]:.2f}, max {times[-1]:.2f}), job after exit: {', '.join(states)}"
        )


if __name__ == "__main__":
    main()

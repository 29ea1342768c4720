"""How long a /summary message holds SQLite's write lock, and how long another member waits.

A street of 50 communities with N entries (benchmarks/summary_scale.py's seed) and its
coordinator on the shell. Each run is a fresh process on a fresh copy of the database:

* message: the wall time of `Conversation.process` for "/summary" (one transaction, begun
  with BEGIN IMMEDIATE: the write lock is held for all of it);
* other waits: 20 ms after the /summary message began, another member's message is
  stored (a processed-message key, in a transaction of its own); how long that took;
* stored: the bytes of the replies kept with the message key (processed_messages.replies);
* with --before PATH, the same with the code at PATH (e.g. `git archive <commit> | tar -x
  -C /tmp/h6-before`), interleaved run by run; for the code with jobs, also the worker's
  time (compose + render + queue, outside the message) and what another member waits
  while the worker renders.

    .venv/bin/python benchmarks/summary_lock.py --entries 10000 --repeat 5 --before /tmp/h6-before
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def prepare(path: Path, count: int) -> None:
    """Seed the street and add its coordinator, 周主任, on the shell as "boss"."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    from datetime import UTC, datetime

    import summary_scale  # type: ignore[import-not-found]
    from sqlalchemy import create_engine, insert

    from storage.models import Identity, Member, RoleGrant, RoleName

    summary_scale.seed(path, count)
    now = datetime(2026, 6, 30, 2, 0, tzinfo=UTC)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as db:
        db.execute(insert(Member), [{"id": 9001, "name": "周主任", "created_at": now}])
        db.execute(
            insert(Identity),
            [{"member_id": 9001, "platform": "shell", "external_id": "boss", "created_at": now}],
        )
        db.execute(
            insert(RoleGrant),
            [{"member_id": 9001, "unit_id": 1, "role": RoleName.COORDINATOR, "created_at": now}],
        )
    engine.dispose()


def child(code: Path, database: Path) -> dict[str, Any]:
    """One measurement with the code at `code` (run in a process of its own)."""
    sys.path.insert(0, str(code))
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import insert, select

    from bot.core.conversation import Conversation
    from bot.core.questionnaire import load_questionnaires
    from bot.core.types import Incoming
    from bot.shipped import templates_dir
    from bot.summary.service import SummaryKit
    from storage.db import create_db_engine, make_sessionmaker, transaction
    from storage.models import ProcessedMessage

    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 6, 30, 10, 0, tzinfo=zone).astimezone(UTC)
    engine = create_db_engine(f"sqlite:///{database}")
    sessions = make_sessionmaker(engine)
    kit = SummaryKit.load(templates_dir() / "summary")
    forms = load_questionnaires(templates_dir() / "questionnaires")
    conversation = Conversation(
        sessions, forms, "community_culture", zone, lambda: now, summaries=kit
    )
    conversation.handle(Incoming("shell", "boss", "warm-up", now, text="/help"))

    def other_member(key: str) -> float:
        started = time.perf_counter()
        with transaction(sessions) as session:
            session.execute(
                insert(ProcessedMessage),
                [{"platform": "shell", "message_key": key, "processed_at": now, "replies": []}],
            )
        return time.perf_counter() - started

    result: dict[str, Any] = {}
    spans: list[float] = []

    def ask() -> None:
        started = time.perf_counter()
        conversation.process(Incoming("shell", "boss", "summary-1", now, text="/summary"))
        spans.append(time.perf_counter() - started)

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(0.02)
    result["other_waits"] = other_member("other-1")
    asking.join()
    result["message"] = spans[0]
    with sessions() as session:
        stored = session.scalar(
            select(ProcessedMessage.replies).where(ProcessedMessage.message_key == "summary-1")
        )
    result["stored"] = len(json.dumps(stored, ensure_ascii=False).encode())
    try:
        from bot.jobs import Worker
    except ImportError:  # the code before jobs
        return result
    worker = Worker(sessions, kit, database.parent / "data", lambda: now)
    working = threading.Thread(target=lambda: spans.append(_timed(worker.run_due)))
    working.start()
    time.sleep(0.3)  # well inside composing and rendering
    during = other_member("other-2")
    working.join()
    if worker.done:  # the code with /summary as a job (before it, the worker finds none)
        result["other_waits_during_job"] = during
        result["job"] = spans[1]
    return result


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def spread(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    return "/".join(
        f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a copy of the code to compare with")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.db)))
        return
    work = Path(tempfile.mkdtemp(prefix="huibao-summary-lock-"))
    seeded = work / "seeded.sqlite3"
    prepare(seeded, args.entries)
    codes = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for _ in range(args.repeat):
        for name, code in sorted(codes.items(), reverse=True):  # before, then after
            folder = work / f"{name}-{len(runs[name])}"
            folder.mkdir()
            database = folder / "huibao.sqlite3"
            shutil.copy(seeded, database)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(code), "--db", str(database)],
                capture_output=True,
                text=True,
                check=True,
                cwd=code,
            ).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
            shutil.rmtree(folder)
    print(f"{args.entries} entries, {args.repeat} runs each, interleaved (min/median/max)")
    for name in codes:
        rows = runs[name]
        print(
            f"{name:>6}: /summary message {spread([r['message'] for r in rows])} s; "
            f"another member's message waits {spread([r['other_waits'] for r in rows])} s; "
            f"stored replies {spread([r['stored'] / 1024 for r in rows], 1)} KiB"
        )
        if rows and all("job" in r for r in rows):
            print(
                f"{'':>6}  the job (outside the message) {spread([r['job'] for r in rows])} s; "
                "another member's message during it waits "
                f"{spread([r['other_waits_during_job'] for r in rows])} s"
            )
    if "before" in runs:
        before = statistics.median(r["message"] for r in runs["before"])
        after = statistics.median(r["message"] for r in runs["after"])
        print(f"write lock of the /summary message, median after/before: {after / before:.4f}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()

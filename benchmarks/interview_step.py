"""Cost of one interview step through the whole core (parse, state load/save, entry write).

Runs complete reports through `Conversation.handle`, the function every adapter calls,
against a real database, and prints CPU time and wall time per message.

    .venv/bin/python benchmarks/interview_step.py [--reports 200] [--batch 1]
        [--database-url URL]

Without --database-url it uses a fresh SQLite file (WAL, synchronous=NORMAL).
--batch N hands the core N people's messages at once (`Conversation.process_batch`, one
transaction), as the Telegram adapter does with a getUpdates batch; the default 1 is
`Conversation.handle`, one transaction per message.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.admin.org import demo_org, load_org
from bot.core.conversation import Conversation
from bot.core.questionnaire import load_questionnaires
from bot.core.types import Incoming
from bot.settings import Settings
from bot.shipped import templates_dir
from storage import members
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import Base, RoleName

SCRIPT = [
    "/report",
    "1",
    "端午主题党课",
    "昨天",
    "社区党群服务中心",
    "3场",
    "4000多人次",
    "邀请老党员讲党史故事，组织居民观看专题片。",
    "居民参与热情高，12人报名加入志愿队伍。",
    "/skip",
    "完成",
    "1",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        engine = create_db_engine(url)
        upgrade(engine)
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as session:
            load_org(session, demo_org())
            unit = members.unit_by_key(session, "demo-xinhua")
            assert unit is not None
            for n in range(args.reports):
                members.join(
                    session,
                    f"用户{n}",
                    platform="shell",
                    external_id=f"u{n}",
                    unit_id=unit.id,
                    roles=(RoleName.STAFF,),
                )
        settings = Settings(database_url=url)
        questionnaires = load_questionnaires(templates_dir() / "questionnaires")
        core = Conversation(sessions, questionnaires, "community_culture", settings.zone)
        cpu: list[float] = []
        wall: list[float] = []
        saved = 0
        for first in range(0, args.reports, args.batch):
            people = range(first, min(first + args.batch, args.reports))
            for i, line in enumerate(SCRIPT):
                incomings = [
                    Incoming("shell", f"u{n}", f"{n}-{i}", datetime.now(UTC), text=line)
                    for n in people
                ]
                c0, w0 = time.process_time(), time.perf_counter()
                outcomes = core.process_batch(incomings)
                cpu.append((time.process_time() - c0) / len(incomings))
                wall.append((time.perf_counter() - w0) / len(incomings))
                saved += sum(any("已保存" in r.text for r in o.replies) for o in outcomes)
        engine.dispose()
    backend = url.split(":", 1)[0]
    messages = args.reports * len(SCRIPT)
    print(
        f"backend={backend} reports={args.reports} batch={args.batch} saved={saved} "
        f"messages={messages}"
    )
    print(f"cpu per message: mean {statistics.mean(cpu) * 1e3:.2f} ms")
    q = statistics.quantiles(wall, n=100)
    print(f"wall per message: p50 {q[49] * 1e3:.2f} ms, p99 {q[98] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()

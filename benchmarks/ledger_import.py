"""Time and peak memory of `huibao entries import` for a large 台账 (.xlsx and .csv).

Builds a ledger of --rows activities over the demo units (realistic titles, texts, two or
three figures each, some approximate, a few hundred reporters), then imports it into a fresh
database in a child process per run, as the CLI does: one transaction,
`bot.admin.ledger.import_ledger`.
The child reports the wall and CPU time of the import (CPU time is the steadier figure on
a shared machine) and its peak resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`,
the whole process: interpreter and libraries included), with the peak before the import
for reference. Every step runs in a fresh interpreter started by a small parent.

    .venv/bin/python benchmarks/ledger_import.py --rows 100000
    .venv/bin/python benchmarks/ledger_import.py --rows 100000 \
        --postgres 'postgresql+psycopg://postgres@127.0.0.1:5432/test'

PostgreSQL runs in a schema of its own (created and dropped) when the server is reachable.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The import time: Wednesday 24 June 2026, 10:00 in Shanghai (the dates below are before it).
NOW = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI)

REPORTERS = 300
UNITS = ("新华社区", "朝阳社区", "demo-xinhua", "demo-chaoyang", "和平街道")
# (area, title stem, figures as (label, unit)); the labels are the questionnaire's.
AREAS = (
    ("理论学习", "党的创新理论专题学习会", (("学习场次", "场次"), ("参与人次", "人次"))),
    ("宣传教育", "文明城市创建入户宣传", (("发放宣传资料", "份"), ("受教育群众", "人次"))),
    ("文体活动", "“我们的节日”文艺汇演", (("演出（活动）场次", "场次"), ("参与群众", "人次"))),
    ("志愿服务", "敬老助残志愿服务", (("参与志愿者", "名"), ("服务群众", "人次"))),
    ("全民阅读", "“书香社区”读书分享会", (("读书活动", "场次"), ("参与人次", "人次"))),
    ("阵地建设", "社区书屋改造提升", (("新建（改造）场所", "个"), ("投入资金", "万元"))),
)
PLACES = ("社区党群服务中心", "社区文化广场", "社区书屋", "新时代文明实践站", "")
CONTENTS = (
    "组织辖区居民开展主题活动，邀请老党员讲述身边故事，群众反响热烈。",
    "走访慰问辖区独居老人，帮助打扫卫生、检查用电安全。",
    "发放倡议书，入户讲解创建知识，引导居民积极参与。",
    "居民分享读书心得，现场交流阅读体会，营造书香氛围。",
)


def ledger_rows(count: int, seed: int = 11) -> list[list[object]]:
    """`count` ledger rows dated in the first half of 2026."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(count):
        area, stem, questions = AREAS[rng.randrange(len(AREAS))]
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(170))
        pieces = []
        for label, unit in questions:
            figure = rng.randrange(1, 500)
            more = rng.choice(("", "", "", "余", "多"))
            pieces.append(f"{label}{figure}{more}{unit}")
        rows.append(
            [
                UNITS[i % len(UNITS)],
                area,
                f"{stem}（第{i + 1}期）",
                day,
                None,
                PLACES[rng.randrange(len(PLACES))] or None,
                "；".join(pieces),
                CONTENTS[rng.randrange(len(CONTENTS))],
                f"工作人员{rng.randrange(REPORTERS)}",
            ]
        )
    return rows


def write_files(rows: list[list[object]], folder: Path) -> tuple[Path, Path]:
    """The rows as a .xlsx (date cells) and a .csv (UTF-8 with BOM), as Excel saves them."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from bot.admin.ledger import COLUMNS

    xlsx = folder / "台账.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.append(list(COLUMNS))
    for row in rows:
        cells: list[object] = []
        for value in row:
            if isinstance(value, date):
                cell = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]
                cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
    workbook.save(xlsx)
    path_csv = folder / "台账.csv"
    with path_csv.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                [v.isoformat() if isinstance(v, date) else ("" if v is None else v) for v in row]
            )
    return xlsx, path_csv


def prepare_database(url: str) -> None:
    """Migrate to head, empty it, load the demo units and register the reporters.

    The reporters have a role in the street, which covers its communities, as the staff
    who keep a ledger are registered before it is imported.
    """
    from bot.admin.org import demo_org, load_org
    from storage import members
    from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
    from storage.models import Base, Member, RoleName

    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                connection.execute(table.delete())
    with transaction(make_sessionmaker(engine)) as session:
        load_org(session, demo_org())
        street = members.unit_by_key(session, "demo-street")
        assert street is not None
        for n in range(REPORTERS):
            member = Member(name=f"工作人员{n}", locale="zh")
            session.add(member)
            session.flush()
            members.grant_role(session, member.id, street.id, RoleName.STAFF)
    engine.dispose()


def child(path: Path, url: str) -> None:
    """Import one file into the database at `url`; print the figures as JSON."""
    from sqlalchemy import func, select

    from bot.admin.ledger import import_ledger
    from bot.core.questionnaire import load_questionnaires
    from storage.db import create_db_engine, make_sessionmaker, transaction
    from storage.models import Entry

    # (bot.app is not imported: it brings the chat platforms' libraries, not the import's)
    questionnaires = load_questionnaires(ROOT / "templates" / "questionnaires")
    questionnaire = questionnaires["community_culture"]
    engine = create_db_engine(url)
    sessions = make_sessionmaker(engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    with transaction(sessions) as session:
        result = import_ledger(session, path, questionnaire, now=NOW)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Entry))
    engine.dispose()
    print(
        json.dumps(
            {
                "created": result.created,
                "errors": len(result.errors),
                "stored": stored,
                "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu, 1),
                "rss_before_mib": round(before / 1024, 1),
                "peak_rss_mib": round(peak / 1024, 1),
            }
        )
    )


def step(*args: str) -> str:
    """Run one step of the benchmark in a fresh interpreter; return what it printed.

    Every step runs in a child of this small parent: Linux carries the parent's peak RSS
    over a fork and exec into the child's ru_maxrss, so a parent that built the ledger
    in memory would inflate the figure.
    """
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def postgres_schema(base: str, action: str, schema: str) -> None:
    """Create or drop a schema on the server at `base` (raises if it is not reachable)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(base, connect_args={"connect_timeout": 3})
    with admin.begin() as connection:
        if action == "create":
            connection.execute(text(f"create schema {schema}"))
        else:
            connection.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


def schema_url(base: str, schema: str) -> str:
    """`base` with the search_path set to `schema` (stdlib only: the parent stays small)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server to try as well ('' to skip)",
    )
    parser.add_argument("--only", choices=("xlsx", "csv"), default=None)
    parser.add_argument("--step", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step is not None:
        name, *params = args.step
        if name == "build":
            xlsx, path_csv = write_files(ledger_rows(int(params[1])), Path(params[0]))
            print(f"{xlsx.stat().st_size / 2**20:.1f} {path_csv.stat().st_size / 2**20:.1f}")
        elif name == "prepare":
            prepare_database(params[0])
        elif name == "import":
            child(Path(params[0]), params[1])
        else:
            postgres_schema(params[0], name, params[1])
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        sizes = step("--step", "build", str(folder), str(args.rows)).split()
        print(
            f"{args.rows:,} rows: 台账.xlsx {sizes[0]} MiB, 台账.csv {sizes[1]} MiB "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        files = [folder / f"台账.{kind}" for kind in ("xlsx", "csv") if args.only in (None, kind)]
        backends: list[tuple[str, str]] = [("SQLite", f"sqlite:///{folder / 'bench.sqlite3'}")]
        schema = f"bench_ledger_{uuid.uuid4().hex[:8]}"
        if args.postgres:
            try:
                step("--step", "create", args.postgres, schema)
                backends.append(("PostgreSQL", schema_url(args.postgres, schema)))
            except subprocess.CalledProcessError as exc:
                print(f"PostgreSQL not reachable at {args.postgres}: {exc.stderr.strip()[-200:]}")
                schema = ""
        try:
            for backend, url in backends:
                for path in files:
                    step("--step", "prepare", url)
                    figures = step("--step", "import", str(path), url).splitlines()[-1]
                    print(f"{backend:10} {path.suffix:5} {figures}")
        finally:
            if args.postgres and schema:
                step("--step", "drop", args.postgres, schema)


if __name__ == "__main__":
    main()

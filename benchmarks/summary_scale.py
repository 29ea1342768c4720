"""Peak memory and time of a street-level summary: read, compose, .docx, .xlsx.

A street of 50 communities with N synthetic entries (realistic titles, texts and 2-3 figures
each, some approximate, monthly series such as 每月一课（3月）, some filed under 其他, one
in nine without its required figures) is summarised as the street's roll-up. Each run is a
fresh Python process, so that its peak RSS (`resource.getrusage(...).ru_maxrss`, which sees
lxml's and matplotlib's C allocations, unlike tracemalloc) is the run's own; imports count
(about 130 MiB of it). A run reports:

* read + compose: with --database (the default), `service.summarise` on a SQLite file seeded
  once per size (the read is `source.load`, timed on its own too); with --no-database, the
  entries are built in memory and only `compose` is timed;
* docx: `service.render(..., Format.DOCX)`, the chart included;
* xlsx: `service.render(..., Format.XLSX)`, the complete 台账;
* the CPU seconds of each step (on a loaded machine, what an idle one's wall time would be).

--before PATH runs the same measurement with the code at PATH (e.g. a checkout made with
`git worktree add /tmp/h3-old <commit>`), interleaved with the current code, run by run:

    .venv/bin/python benchmarks/summary_scale.py --entries 10000 100000 --before /tmp/h3-old
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STREET = "和平街道"
UNITS = 50

# (area key, area name, its count questions as in community_culture.yaml) for the in-memory run
AREAS = [
    ("theory", "理论学习", [("sessions", "学习场次", "场次"), ("attendance", "参与人次", "人次")]),
    ("publicity", "宣传教育", [("slogans", "宣传标语", "条"), ("audience", "受教育群众", "人次")]),
    (
        "recreation",
        "文体活动",
        [("sessions", "演出场次", "场次"), ("attendance", "参与群众", "人次")],
    ),
    ("volunteer", "志愿服务", [("volunteers", "参与志愿者", "名"), ("served", "服务群众", "人次")]),
    ("reading", "全民阅读", [("sessions", "读书活动", "场次"), ("new_books", "新增图书", "册")]),
    ("other", "其他", [("attendance", "参与人次", "人次")]),
]
TITLES = {
    "theory": ["每月一课（{month}月）", "理论宣讲进小区", "党史故事会", "主题党日"],
    "publicity": ["反诈宣传", "宣传栏更新（{month}月）", "民法典宣传", "防溺水宣传"],
    "recreation": ["送电影进社区（{month}月）", "广场舞展演", "“我们的节日·端午”包粽子"],
    "volunteer": ["爱卫志愿清扫（{month}月）", "关爱空巢老人", "学雷锋志愿服务"],
    "reading": ["周末课堂第{month}期", "亲子共读绘本会", "读书分享会"],
    "other": ["居民议事会", "防汛知识宣传", "网格员培训"],
}
KEYWORDS = {"宣传教育": ("宣传",), "志愿服务": ("志愿",)}
APPROX = ("exact", "exact", "exact", "more_than", "about")


def synthetic(count: int, units: int = UNITS, seed: int = 7) -> list[Any]:
    """Entries (EntryIn) spread over `units` communities and the first half of 2026."""
    from bot.summary.compose import Asked, EntryIn, MetricIn

    rng = random.Random(seed)
    asked = {
        area: tuple(Asked(qid, label, unit, area == "other") for qid, label, unit in questions)
        for area, _, questions in AREAS
    }
    entries = []
    for i in range(count):
        unit = i % units
        area, area_name, questions = AREAS[rng.randrange(len(AREAS))]
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(181))
        metrics = tuple(
            MetricIn(qid, label, unit_text, Decimal(rng.randrange(1, 500)), rng.choice(APPROX))
            for qid, label, unit_text in questions
            if i % 9  # one in nine came from an imported ledger without figures
        )
        entries.append(
            EntryIn(
                id=i + 1,
                unit=f"第{unit + 1}社区",
                unit_path=f"/1/{unit + 2}/",
                area=area,
                area_name=area_name,
                title=rng.choice(TITLES[area]).format(month=day.month),
                start=day,
                end=day,
                location="社区党群服务中心",
                content="组织居民开展学习交流，邀请专家现场讲解",
                achievements="居民参与热情高，反响良好" if i % 9 else None,
                highlights=None,
                reporter=f"工作人员{rng.randrange(1000)}",
                metrics=metrics,
                asked=asked[area],
                branch=f"第{unit + 1}社区",
            )
        )
    return entries


# --------------------------------------------------------------------------- the database


def seed(path: Path, count: int) -> None:
    """A SQLite file with a street, its 50 communities, their staff and `count` entries in
    2026H1 (and a tenth as many in 2025H1), written with the current code's schema."""
    from sqlalchemy import create_engine, insert

    from bot.core.questionnaire import QuestionType, load_questionnaire
    from bot.shipped import templates_dir
    from storage.models import (
        Base,
        Entry,
        EntryMetric,
        Member,
        QuestionnaireVersion,
        RoleGrant,
        RoleName,
        Unit,
    )

    form = load_questionnaire(templates_dir() / "questionnaires" / "community_culture.yaml")
    areas = [
        (a.key, a.name, [q for q in a.questions if q.type is QuestionType.COUNT])
        for a in form.areas
    ]
    titles = {key: TITLES.get(key, TITLES["other"]) for key, _, _ in areas}
    titles.update({"civility": ["文明家庭评选", "垃圾分类宣传"], "venues": ["书屋图书更新"]})
    titles.update({"heritage": ["剪纸培训", "非遗进社区"]})
    rng = random.Random(7)
    now = datetime(2026, 6, 30, 2, 0, tzinfo=UTC)
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with engine.begin() as db:
        db.execute(
            insert(Unit),
            [{"id": 1, "code": "heping", "name": STREET, "kind": "street", "parent_id": None,
              "path": "/1/", "created_at": now}]
            + [{"id": k + 2, "code": f"c{k + 1}", "name": f"第{k + 1}社区", "kind": "community",
                "parent_id": 1, "path": f"/1/{k + 2}/", "created_at": now}
               for k in range(UNITS)],
        )  # fmt: skip
        db.execute(
            insert(Member),
            [{"id": m + 1, "name": f"工作人员{m}", "created_at": now} for m in range(UNITS * 4)],
        )
        db.execute(
            insert(RoleGrant),
            [{"member_id": m + 1, "unit_id": m % UNITS + 2, "role": RoleName.STAFF,
              "created_at": now} for m in range(UNITS * 4)],
        )  # fmt: skip
        db.execute(
            insert(QuestionnaireVersion),
            [{"id": 1, "key": form.id, "version": form.version, "title": form.title,
              "body": form.model_dump(mode="json"), "created_at": now}],
        )  # fmt: skip
        entry_id = 0
        for period, first, n in (("2026H1", date(2026, 1, 1), count),
                                 ("2025H1", date(2025, 1, 1), count // 10)):  # fmt: skip
            for start in range(0, n, 5000):
                entries, metrics = [], []
                for i in range(start, min(n, start + 5000)):
                    entry_id += 1
                    unit = i % UNITS
                    key, _name, questions = areas[rng.randrange(len(areas))]
                    day = first + timedelta(days=rng.randrange(181))
                    title = rng.choice(titles[key]).format(month=day.month)
                    answers: dict[str, Any] = {
                        "area": key,
                        "title": {"text": title},
                        "dates": {"start": day.isoformat(), "end": day.isoformat()},
                        "location": {"text": "社区党群服务中心"},
                        "content": {"text": "组织居民开展学习交流，邀请专家现场讲解"},
                        "highlights": {"skipped": True},
                        "photos": {"skipped": True},
                    }
                    if i % 9:
                        answers["achievements"] = {"text": "居民参与热情高，反响良好"}
                        for position, q in enumerate(questions[:3]):
                            low = rng.randrange(1, 500)
                            approx = rng.choice(APPROX)
                            answers[q.id] = {"low": str(low), "approx": approx, "raw": str(low)}
                            metrics.append(
                                {"entry_id": entry_id, "position": position,
                                 "question_id": q.id, "label": q.label, "unit": q.unit or "",
                                 "low": Decimal(low), "high": None, "approx": approx,
                                 "raw": f"{low}{q.unit or ''}"}
                            )  # fmt: skip
                    entries.append(
                        {"id": entry_id, "member_id": unit + 1, "unit_id": unit + 2,
                         "questionnaire_id": 1, "area": key, "area_name": _name,
                         "title": title, "start_date": day, "end_date": day,
                         "period": period, "location": "社区党群服务中心", "answers": answers,
                         "revision": 1, "created_at": now, "updated_at": now,
                         "deleted_at": None}
                    )  # fmt: skip
                db.execute(insert(Entry), entries)
                if metrics:
                    db.execute(insert(EntryMetric), metrics)
    engine.dispose()


# --------------------------------------------------------------------------- one run


def peak_mib() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(code: Path, count: int, database: Path | None) -> dict[str, Any]:
    """One measurement with the code at `code` (run in a fresh process)."""
    sys.path.insert(0, str(code))
    os.chdir(code)
    from bot.core.periods import parse_period
    from bot.summary import service, source
    from bot.summary.compose import Reflections, compose

    kit = service.SummaryKit.load(code / "templates" / "summary")
    period = parse_period("2026H1")
    result: dict[str, Any] = {"imports_mib": peak_mib()}
    if database is not None:
        from sqlalchemy import create_engine, select
        from sqlalchemy.orm import Session

        from storage.models import Unit

        loaded = source.load
        read = [0.0, 0.0]

        def timed_load(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return loaded(*args, **kwargs)
            finally:
                read[0] += time.perf_counter() - started
                read[1] += time.process_time() - cpu

        source.load = timed_load  # type: ignore[assignment]  # the benchmark's own probe
        engine = create_engine(f"sqlite:///{database}")
        with Session(engine) as session:
            unit = session.scalars(select(Unit).where(Unit.code == "heping")).one()
            started, cpu = time.perf_counter(), time.process_time()
            summary = service.summarise(session, kit, unit, period, date(2026, 6, 30))
            result["compose_s"] = time.perf_counter() - started
            result["compose_cpu"] = time.process_time() - cpu
        result["read_s"], result["read_cpu"] = read
        engine.dispose()
    else:
        entries = synthetic(count)
        started, cpu = time.perf_counter(), time.process_time()
        summary = compose(
            entries,
            unit_name=STREET,
            period=period,
            phrases=kit.phrases,
            reflections=Reflections(shortcomings=("活动形式较单一",), plans=("培育文艺队伍",)),
            roll_up=True,
            unit_count=UNITS,
            expected=[f"第{n + 1}社区" for n in range(UNITS + 1)],  # one has not reported
            area_keywords=KEYWORDS,
        )
        result["compose_s"] = time.perf_counter() - started
        result["compose_cpu"] = time.process_time() - cpu
        del entries
    result["after_compose_mib"] = peak_mib()
    started, cpu = time.perf_counter(), time.process_time()
    docx = service.render(summary, kit, service.Format.DOCX)
    result["docx_s"] = time.perf_counter() - started
    result["docx_cpu"] = time.process_time() - cpu
    result["after_docx_mib"] = peak_mib()
    started, cpu = time.perf_counter(), time.process_time()
    xlsx = service.render(summary, kit, service.Format.XLSX)
    result["xlsx_s"] = time.perf_counter() - started
    result["xlsx_cpu"] = time.process_time() - cpu
    result.update(
        entries=summary.entry_count,
        sources=len(summary.sources),
        docx_mib=len(docx) / 2**20,
        xlsx_mib=len(xlsx) / 2**20,
        peak_mib=peak_mib(),
    )
    return result


# --------------------------------------------------------------------------- the parent


def spread(values: list[float], digits: int = 2) -> str:
    """min / median / max, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and code")
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--database", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--data", type=Path, default=Path("/tmp/huibao-summary-scale"))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.count, args.db)))
        return

    codes = [("before", args.before.resolve())] if args.before else []
    codes.append(("now", ROOT))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for count in args.entries:
        db = None
        if args.database:
            args.data.mkdir(parents=True, exist_ok=True)
            db = args.data / f"street-{count}.sqlite3"
            if not db.exists():
                started = time.perf_counter()
                seed(db, count)
                print(f"seeded {db} in {time.perf_counter() - started:.0f} s")
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in codes}
        for _ in range(args.repeat):
            for name, code in codes:  # interleaved: the machine's load hits both alike
                command = [sys.executable, __file__, "--child", str(code), "--count", str(count)]
                if db is not None:
                    command += ["--db", str(db)]
                env = {**os.environ, "PYTHONPATH": str(code)}
                done = subprocess.run(
                    command, capture_output=True, text=True, check=True, env=env, cwd=code
                )
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
        for name, _ in codes:
            rows = runs[name]

            def of(key: str, rows: list[dict[str, Any]] = rows) -> list[float]:
                return [float(r.get(key, 0.0)) for r in rows]

            read = f"read {spread(of('read_s'))} s of it; " if db is not None else ""
            print(
                f"{name:6} {count:>7} entries: peak RSS {spread(of('peak_mib'), 0)} MiB "
                f"(after compose {spread(of('after_compose_mib'), 0)}, after docx "
                f"{spread(of('after_docx_mib'), 0)}); compose {spread(of('compose_s'))} s "
                f"({read}{'from the database' if db else 'in memory'}); "
                f"docx {spread(of('docx_s'))} s; xlsx {spread(of('xlsx_s'))} s; "
                f".docx {rows[0]['docx_mib']:.1f} MiB, .xlsx {rows[0]['xlsx_mib']:.1f} MiB, "
                f"{rows[0]['sources']} traced figures\n"
                f"{'':6} CPU seconds (an idle machine's wall time: the work is one thread): "
                f"compose {spread(of('compose_cpu'))} (read {spread(of('read_cpu'))} of it), "
                f"docx {spread(of('docx_cpu'))}, "
                f"xlsx {spread(of('xlsx_cpu'))}"
            )


if __name__ == "__main__":
    main()

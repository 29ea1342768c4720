"""Time and memory of composing a street-level summary to .docx.

Synthetic entries (realistic titles, texts and 2-3 figures each, some approximate) over
200 communities are composed (compose.compose) and rendered (render.render_docx, with the
chart); time is wall time of compose + chart + render, best of --repeat runs; peak memory is
tracemalloc's peak during one run. Reading the entries from a database is measured apart
(--with-db: SQLite file, bot.summary.source.load_entries).

    .venv/bin/python benchmarks/summary_scale.py --entries 10000 100000
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal

from bot.app import templates_dir
from bot.periods import parse_period
from bot.summary.chart import activity_chart
from bot.summary.compose import EntryIn, MetricIn, Phrases, Reflections, compose
from bot.summary.render import render_docx

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
]


def synthetic(count: int, units: int = 200, seed: int = 7) -> list[EntryIn]:
    """Entries spread over `units` communities and the first half of 2026."""
    rng = random.Random(seed)
    entries = []
    for i in range(count):
        unit = i % units
        area, area_name, questions = AREAS[rng.randrange(len(AREAS))]
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(181))
        metrics = tuple(
            MetricIn(
                qid,
                label,
                unit_text,
                Decimal(rng.randrange(1, 500)),
                rng.choice(("exact", "exact", "exact", "more_than")),
            )
            for qid, label, unit_text in questions
        )
        entries.append(
            EntryIn(
                id=i + 1,
                unit=f"第{unit + 1}社区",
                unit_path=f"/1/2/{unit + 3}/",
                area=area,
                area_name=area_name,
                title=f"{area_name}活动第{i + 1}期",
                start=day,
                end=day,
                location="社区党群服务中心",
                content="组织居民开展学习交流，邀请专家现场讲解",
                achievements="居民参与热情高，反响良好",
                highlights=None,
                reporter=f"工作人员{rng.randrange(1000)}",
                metrics=metrics,
            )
        )
    return entries


def run_once(entries: list[EntryIn], phrases: Phrases) -> bytes:
    summary = compose(
        entries,
        unit_name="和平街道",
        period=parse_period("2026H1"),
        phrases=phrases,
        reflections=Reflections(shortcomings=("活动形式较单一",), plans=("培育文艺队伍",)),
        roll_up=True,
        unit_count=200,
    )
    chart = activity_chart(summary.months, "和平街道2026年上半年活动情况")
    return render_docx(summary, chart)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    phrases = Phrases.load(templates_dir() / "summary" / "phrases.yaml")
    run_once(synthetic(100), phrases)  # warm up imports, fonts and caches
    results = []
    for count in args.entries:
        entries = synthetic(count)
        best = float("inf")
        size = 0
        for _ in range(args.repeat if count <= 20_000 else 1):
            started = time.perf_counter()
            size = len(run_once(entries, phrases))
            best = min(best, time.perf_counter() - started)
        tracemalloc.start()
        run_once(entries, phrases)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results.append((count, best, peak, size))
        print(
            f"{count} entries: {best:.2f} s, peak {peak / 2**20:.0f} MiB, "
            f".docx {size / 2**20:.1f} MiB"
        )
    if len(results) >= 2:
        (c1, t1, *_), (c2, t2, *_) = results[0], results[-1]
        print(f"growth: {c2 // c1}x entries took {t2 / t1:.1f}x the time")


if __name__ == "__main__":
    main()

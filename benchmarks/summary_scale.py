"""Time and memory of composing a street-level summary to .docx.

Synthetic entries (realistic titles, texts and 2-3 figures each, some approximate, monthly
series such as 每月一课（3月）, some filed under 其他, one in nine without its required
figures) over the 50 communities of a street are composed as the street's roll-up
(compose.compose: totals per area, each community's standouts and share, the gaps carried
up, every figure traced to ledger rows) and rendered (render.render_docx: the body, the
landscape 台账 appendix and the 数据来源 appendix, with the chart). Time is wall time of
compose + chart + render, best of --repeat runs, and the process's CPU time for it (what
wall time would be on an idle machine: the work is single-threaded); peak memory is
tracemalloc's peak during one run. Reading the entries from a database is not included.

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
from bot.summary.compose import Asked, EntryIn, MetricIn, Phrases, Reflections, compose
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


def synthetic(count: int, units: int = 50, seed: int = 7) -> list[EntryIn]:
    """Entries spread over `units` communities and the first half of 2026."""
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
            MetricIn(
                qid,
                label,
                unit_text,
                Decimal(rng.randrange(1, 500)),
                rng.choice(("exact", "exact", "exact", "more_than", "about")),
            )
            for qid, label, unit_text in questions
            if i % 9  # one in nine came from an imported ledger without figures
        )
        title = rng.choice(TITLES[area]).format(month=day.month)
        entries.append(
            EntryIn(
                id=i + 1,
                unit=f"第{unit + 1}社区",
                unit_path=f"/1/2/{unit + 3}/",
                area=area,
                area_name=area_name,
                title=title,
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


KEYWORDS = {"宣传教育": ("宣传",), "志愿服务": ("志愿",)}


def run_once(entries: list[EntryIn], phrases: Phrases) -> tuple[bytes, float, int]:
    """The .docx, the seconds compose took, and the rows of its 数据来源 appendix."""
    started = time.perf_counter()
    summary = compose(
        entries,
        unit_name="和平街道",
        period=parse_period("2026H1"),
        phrases=phrases,
        reflections=Reflections(shortcomings=("活动形式较单一",), plans=("培育文艺队伍",)),
        roll_up=True,
        unit_count=50,
        expected=[f"第{n + 1}社区" for n in range(51)],  # one has not reported
        area_keywords=KEYWORDS,
    )
    composed = time.perf_counter() - started
    chart = activity_chart(summary.months, "和平街道2026年上半年各月活动数")
    return render_docx(summary, chart), composed, len(summary.sources)


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
        best, cpu, compose_time, size, sources = float("inf"), float("inf"), 0.0, 0, 0
        for _ in range(args.repeat if count <= 20_000 else 1):
            started, started_cpu = time.perf_counter(), time.process_time()
            data, composed, sources = run_once(entries, phrases)
            elapsed = time.perf_counter() - started
            cpu = min(cpu, time.process_time() - started_cpu)
            if elapsed < best:
                best, compose_time, size = elapsed, composed, len(data)
        tracemalloc.start()
        run_once(entries, phrases)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results.append((count, best, peak, size))
        print(
            f"{count} entries: {best:.2f} s (compose {compose_time:.2f} s; CPU {cpu:.2f} s), "
            f"peak {peak / 2**20:.0f} MiB, .docx {size / 2**20:.1f} MiB, "
            f"{sources} traced figures"
        )
    if len(results) >= 2:
        (c1, t1, *_), (c2, t2, *_) = results[0], results[-1]
        print(f"growth: {c2 // c1}x entries took {t2 / t1:.1f}x the time")


if __name__ == "__main__":
    main()

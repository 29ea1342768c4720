"""Compose a half-year summary from stored entries. Every figure is computed here.

Figures are summed per work area and per (figure, unit): unlike units are never added.
A sum of exact values is written exactly; when any part was "more than" (多/余) or a
range, the sum of the lower bounds is written with 余; when any part was "about" (近/约),
with 约. Nothing else is rounded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from bot.figures import metric_text, plain
from bot.periods import Period
from bot.summary.batch import batch
from bot.summary.model import (
    Figure,
    Gap,
    LedgerRow,
    MonthCount,
    Paragraph,
    Point,
    Section,
    Summary,
)

MAX_POINTS = 6  # sub-points per area before the rest is summed up in one sentence
MAX_UNIT_POINTS = 10  # in a roll-up, units told one by one per area


@dataclass(frozen=True)
class MetricIn:
    """One stored figure of an entry."""

    question_id: str
    label: str
    unit: str
    low: Decimal
    approx: str
    high: Decimal | None = None  # the upper end of a range

    @property
    def text(self) -> str:
        """The figure as one entry states it: 4000余人次, 约100人次, 30—40人次."""
        return metric_text(self.low, self.high, self.approx, self.unit)


@dataclass(frozen=True)
class EntryIn:
    """What composition needs of an entry (decoupled from the ORM, for speed and tests)."""

    id: int
    unit: str
    unit_path: str
    area: str
    area_name: str
    title: str
    start: date
    end: date
    location: str | None
    content: str | None
    achievements: str | None
    highlights: str | None
    reporter: str
    metrics: tuple[MetricIn, ...]


@dataclass(frozen=True)
class Reflections:
    """The closing sections' material: what fell short and the next half's plans."""

    shortcomings: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    # who should supply them when missing (e.g. "新华社区负责人")
    owner: str = ""


@dataclass(frozen=True)
class Phrases:
    """Wording per work area (templates/summary/phrases.yaml), so offices can adapt it."""

    headings: dict[str, str]
    topic: str  # e.g. "文化"
    opening: str

    @classmethod
    def load(cls, path: Path) -> Phrases:
        """Read the phrase file."""
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            headings=dict(data["headings"]), topic=str(data["topic"]), opening=str(data["opening"])
        )


def sum_figures(label: str, unit: str, parts: Sequence[tuple[int, MetricIn]]) -> Figure:
    """Add up one figure honestly (see the module docstring)."""
    low = sum((m.low for _, m in parts), Decimal(0))
    kinds = {m.approx for _, m in parts}
    number = plain(low)
    if "about" in kinds:
        text, approximate = f"约{number}{unit}", True
    elif kinds & {"more_than", "range"}:
        text, approximate = f"{number}余{unit}", True
    else:
        text, approximate = f"{number}{unit}", False
    ids = tuple(sorted({entry_id for entry_id, _ in parts}))
    return Figure(label, unit, low, approximate, text, ids)


def _area_figures(entries: Sequence[EntryIn]) -> tuple[list[Figure], list[tuple[str, int]]]:
    """Totals per (figure, unit) in first-seen order, and figures some entries lack."""
    groups: dict[tuple[str, str], list[tuple[int, MetricIn]]] = {}
    labels: dict[tuple[str, str], str] = {}
    for entry in entries:
        for metric in entry.metrics:
            key = (metric.question_id, metric.unit)
            groups.setdefault(key, []).append((entry.id, metric))
            labels.setdefault(key, metric.label)
    figures = [sum_figures(labels[k], k[1], parts) for k, parts in groups.items()]
    partial = [
        (labels[k], len(entries) - len({i for i, _ in parts}))
        for k, parts in groups.items()
        if len({i for i, _ in parts}) < len(entries)
    ]
    return figures, partial


def _day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _when(entry: EntryIn) -> str:
    if entry.start == entry.end:
        return _day(entry.start)
    return f"{_day(entry.start)}至{_day(entry.end)}"


def _clean(text: str | None) -> str:
    return (text or "").strip().rstrip("。；;，,") if text else ""


def _entry_paragraph(entry: EntryIn) -> Paragraph:
    where = f"在{entry.location}" if entry.location else ""
    figures = "，".join(f"{m.label}{m.text}" for m in entry.metrics)
    parts: list[str | Gap] = [f"{_when(entry)}，{where}开展“{entry.title}”"]
    if figures:
        parts.append(f"（{figures}）")
    else:
        parts.append(Gap(f"“{entry.title}”的数量", f"{entry.unit} {entry.reporter}"))
    content = _clean(entry.content)
    parts.append(f"，{content}。" if content else "。")
    achievements = _clean(entry.achievements)
    if achievements:
        parts.append(f"{achievements}。")
    highlights = _clean(entry.highlights)
    if highlights:
        parts.append(f"其亮点在于：{highlights}。")
    return Paragraph(tuple(parts))


def _weight(entry: EntryIn) -> Decimal:
    """Which entries to tell first: the most people reached, then the most figures."""
    people = [m.low for m in entry.metrics if m.unit in ("人次", "人", "名")]
    return max(people, default=Decimal(0))


def _area_section(
    area: str,
    area_name: str,
    entries: Sequence[EntryIn],
    phrases: Phrases,
    unit_name: str,
    roll_up: bool,
    half: str,
) -> Section:
    figures, partial = _area_figures(entries)
    lead_parts: list[str | Gap] = [f"{half}，{unit_name}共开展{area_name}相关活动{len(entries)}次"]
    if figures:
        lead_parts.append("，累计" + "、".join(f"{f.label}{f.text}" for f in figures))
    lead_parts.append("。")
    for label, missing in partial:
        lead_parts.append(f"（另有{missing}次活动未填报{label}，未计入上述数字。）")
    heading = phrases.headings.get(area_name, phrases.headings.get("其他", f"做好{area_name}工作"))
    if roll_up:
        points = _points_by_unit(entries)
    else:
        ranked = sorted(entries, key=lambda e: (-_weight(e), e.start, e.id))
        shown = sorted(ranked[:MAX_POINTS], key=lambda e: (e.start, e.id))
        points = [Point(e.title, (_entry_paragraph(e),)) for e in shown]
        rest = len(entries) - len(shown)
        if rest > 0:
            rest_text = f"此外，还开展{area_name}相关活动{rest}次，详见附件台账。"
            points[-1] = Point(
                points[-1].heading, (*points[-1].paragraphs, Paragraph((rest_text,)))
            )
    return Section(heading, Paragraph(tuple(lead_parts)), tuple(points), area, tuple(figures))


def _points_by_unit(entries: Sequence[EntryIn]) -> list[Point]:
    """A roll-up tells each community's highlights as one point."""
    by_unit: dict[str, list[EntryIn]] = defaultdict(list)
    for entry in entries:
        by_unit[entry.unit].append(entry)
    # The most active units are told one by one; the rest in one sentence (see the ledger).
    ranked = sorted(by_unit, key=lambda u: (-len(by_unit[u]), min(e.unit_path for e in by_unit[u])))
    told = set(ranked[:MAX_UNIT_POINTS])
    points = []
    for unit in sorted(told, key=lambda u: min(e.unit_path for e in by_unit[u])):
        mine = by_unit[unit]
        figures, _ = _area_figures(mine)
        best = sorted(mine, key=lambda e: (-_weight(e), e.start, e.id))[:2]
        summary = f"{unit}开展活动{len(mine)}次"
        if figures:
            summary += "，" + "、".join(f"{f.label}{f.text}" for f in figures)
        text = (
            summary
            + "。"
            + "".join(
                f"其中“{e.title}”"
                + (f"，{_clean(e.achievements)}" if e.achievements else "")
                + "。"
                for e in best
            )
        )
        points.append(Point(unit, (Paragraph((text,)),)))
    rest = [u for u in by_unit if u not in told]
    if rest:
        count = sum(len(by_unit[u]) for u in rest)
        text = f"其余{len(rest)}个单位共开展相关活动{count}次，详见附件台账。"
        points.append(Point("其他单位", (Paragraph((text,)),)))
    return points


def _closing(
    heading: str, items: Sequence[str], what: str, owner: str
) -> tuple[Section, Gap | None]:
    unique = list(dict.fromkeys(_clean(i) for i in items if _clean(i)))
    if not unique:
        gap = Gap(what, owner)
        return Section(heading, Paragraph((gap,)), ()), gap
    ordinals = "一二三四五六七八九十"
    text = "".join(f"{ordinals[i] if i < 10 else i + 1}是{item}。" for i, item in enumerate(unique))
    return Section(heading, Paragraph((text,)), ()), None


@batch
def compose(
    entries: Iterable[EntryIn],
    *,
    unit_name: str,
    period: Period,
    phrases: Phrases,
    reflections: Reflections,
    roll_up: bool = False,
    unit_count: int = 1,
    today: date | None = None,
) -> Summary:
    """Build the summary of `entries` (already limited to the unit's subtree and period)."""
    items = sorted(entries, key=lambda e: (e.start, e.id))
    by_area: dict[str, list[EntryIn]] = {}
    names: dict[str, str] = {}
    for entry in items:
        by_area.setdefault(entry.area, []).append(entry)
        names.setdefault(entry.area, entry.area_name)
    half = "上半年" if period.half == 1 else "下半年"
    sections = [
        _area_section(area, names[area], by_area[area], phrases, unit_name, roll_up, half)
        for area in by_area
    ]
    gaps: list[Gap] = []
    for section in sections:
        for paragraph in (section.lead, *(p for pt in section.points for p in pt.paragraphs)):
            if paragraph is not None:
                gaps.extend(part for part in paragraph.parts if isinstance(part, Gap))
    owner = reflections.owner or f"{unit_name}负责人"
    shortcomings, gap = _closing("存在的不足", reflections.shortcomings, "存在的不足", owner)
    if gap:
        gaps.append(gap)
    next_half = "下半年工作打算" if period.half == 1 else f"{period.year + 1}年工作打算"
    plans, gap = _closing(next_half, reflections.plans, next_half, owner)
    if gap:
        gaps.append(gap)
    area_list = "、".join(names[a] for a in by_area) or "各项工作"
    opening_text = phrases.opening.format(
        period=period.chinese, unit=unit_name, areas=area_list, count=len(items)
    )
    opening: Paragraph
    if items:
        opening = Paragraph((opening_text,))
    else:
        gap = Gap(f"{period.chinese}的活动记录", f"{unit_name}工作人员")
        gaps.insert(0, gap)
        opening = Paragraph((opening_text, gap))
    months: dict[tuple[str, str], int] = defaultdict(int)
    for entry in items:
        months[(f"{entry.start.year}-{entry.start.month:02d}", entry.area_name)] += 1
    last = today or period.last_day
    return Summary(
        title=f"{unit_name}{period.chinese}{phrases.topic}工作总结",
        unit=unit_name,
        period=period.key,
        period_text=period.chinese,
        opening=opening,
        sections=(*sections, shortcomings, plans),
        gaps=tuple(gaps),
        ledger=tuple(_ledger_row(e) for e in items),
        months=tuple(MonthCount(m, a, c) for (m, a), c in sorted(months.items())),
        signature=unit_name,
        date_text=f"{last.year}年{last.month}月{last.day}日",
        entry_count=len(items),
        unit_count=unit_count,
    )


def _ledger_row(entry: EntryIn) -> LedgerRow:
    figures = "；".join(f"{m.label} {m.text}" for m in entry.metrics)
    return LedgerRow(
        entry_id=entry.id,
        start=entry.start,
        end=entry.end,
        unit=entry.unit,
        area=entry.area_name,
        title=entry.title,
        location=entry.location or "",
        figures=figures,
        content="；".join(x for x in (_clean(entry.content), _clean(entry.achievements)) if x),
        reporter=entry.reporter,
    )

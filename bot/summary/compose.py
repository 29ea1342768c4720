"""Compose a half-year summary from stored entries. Every figure is computed here.

The summary reads as a clerk would file it: the areas in the office's order (理论学习
first; the catch-all 其他 never named, its activities folded into the area their words
point to or told in a closing 此外 paragraph); under each area its totals, then the themes
of the work as 一是…二是…, a recurring activity told once with its totals, each with the
成效 staff gave; figures in prose with measure words. A street's (or district's) summary is
its own: the totals per area, then the standout activities of its most active units with
their share, the units' gaps carried up with who owes them.

Figures are summed per work area and per (figure, unit): unlike units are never added. A
sum of exact values is written exactly; when any part was "more than" (多/余) or a range,
the sum of the lower bounds is rounded down to a readable bound and written with 余; when
any part was "about" (近/约), rounded to the nearest readable number with 约
(bot.summary.wording.readable). Every figure written is recorded as a `Source` with the
ledger rows it sums, for the appendix 数据来源.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bot.core.figures import metric_text
from bot.core.periods import Period
from bot.summary.batch import batch
from bot.summary.model import (
    LEDGER_LIMIT,
    Figure,
    Gap,
    LedgerRow,
    MonthCount,
    Paragraph,
    Point,
    Section,
    Source,
    Subtotal,
    Summary,
)
from bot.summary.wording import quoted, readable, recurring_key, sentence

MAX_TITLES = 3  # titles named in one "先后开展“A”“B”“C”等" sentence
MAX_FIGURES = 3  # figures in one sentence about a theme or an activity
MAX_STANDOUTS = 2  # activities singled out under a theme
MAX_BRANCH_STANDOUTS = 3  # activities singled out for a community in a roll-up
MAX_UNIT_POINTS = 10  # in a roll-up, units told one by one per area
MAX_NAMES = 3  # names listed before 等
PEOPLE_UNITS = frozenset({"人次", "人", "名", "位"})


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Asked:
    """A figure an entry's questionnaire asks for its area."""

    question_id: str
    label: str
    unit: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class EntryIn:
    """What composition needs of an entry (decoupled from the ORM, for speed and tests;
    slotted: a street reads 100,000 of them, and a __dict__ each cost 20 MiB more)."""

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
    # the figures its questionnaire asks for its area (empty: unknown, nothing required)
    asked: tuple[Asked, ...] = ()
    # the unit directly below the summarised one that it belongs to (a roll-up's "community")
    branch: str = ""
    # the content is the report message itself, as typed ("3场夏夜汇演，300多人参加"): its
    # facts are the entry's own fields, so the prose does not repeat it (the ledger keeps it)
    message: bool = False


@dataclass(frozen=True)
class Reflections:
    """The closing sections' material: what fell short and the next half's plans."""

    shortcomings: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    # who should supply them when missing (e.g. "新华社区负责人")
    owner: str = ""
    # in a roll-up: how many points the units below made, to pick from in /closing
    material: int = 0


@dataclass(frozen=True)
class Theme:
    """A theme of an area's work and the words of a title that belong to it."""

    name: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class AreaWording:
    """How the summary speaks of one work area."""

    name: str
    heading: str
    verb: str = "开展"
    noun: str = "活动"  # what one activity of the area is: 活动, 项目
    themes: tuple[Theme, ...] = ()
    default_theme: str = ""
    figures: Mapping[str, str] = field(default_factory=dict)

    @property
    def work(self) -> str:
        """The area's activities: 理论学习活动, 文体活动 (not 文体活动活动), 阵地建设项目."""
        return self.name if self.name.endswith(self.noun) else f"{self.name}{self.noun}"

    def theme_of(self, entry: EntryIn) -> str:
        """The theme an activity is told under: its title's words first, then its content."""
        for text in (entry.title, entry.content or ""):
            for theme in self.themes:
                if any(word in text for word in theme.keywords):
                    return theme.name
        return self.default_theme or self.heading


@dataclass(frozen=True)
class Phrases:
    """Wording of the summary (templates/summary/phrases.yaml), so offices can adapt it."""

    topic: str
    other_area: str
    other_heading: str
    areas: tuple[AreaWording, ...]
    figures: Mapping[str, str]
    sentences: Mapping[str, str]
    basis: str = ""
    people_figure: str = ""
    people_prose: str = "{}"

    @classmethod
    def load(cls, path: Path) -> Phrases:
        """Read the phrase file."""
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        areas = tuple(
            AreaWording(
                name=str(a["name"]),
                heading=str(a["heading"]),
                verb=str(a.get("verb", "开展")),
                noun=str(a.get("noun", "活动")),
                themes=tuple(
                    Theme(str(t["name"]), tuple(str(k) for k in t.get("keywords", ())))
                    for t in a.get("themes", ())
                ),
                default_theme=str(a.get("default_theme", "")),
                figures={str(k): str(v) for k, v in (a.get("figures") or {}).items()},
            )
            for a in data["areas"]
        )
        return cls(
            topic=str(data["topic"]),
            other_area=str(data.get("other_area", "其他")),
            other_heading=str(data.get("other_heading", "统筹推进各项工作")),
            areas=areas,
            figures={str(k): str(v) for k, v in (data.get("figures") or {}).items()},
            sentences={str(k): str(v) for k, v in data["sentences"].items()},
            basis=str(data.get("basis", "")),
            people_figure=str(data.get("people_figure", "")),
            people_prose=str(data.get("people_prose", "{}")),
        )

    def area(self, name: str) -> AreaWording:
        """The wording of an area; an area the file does not know gets plain wording."""
        for area in self.areas:
            if area.name == name:
                return area
        return AreaWording(name, f"做好{name}工作", default_theme=f"扎实开展{name}工作")

    def order(self, name: str) -> int:
        """Where an area comes: the file's order, unknown areas after, 其他 last."""
        if name == self.other_area:
            return len(self.areas) + 2
        for i, area in enumerate(self.areas):
            if area.name == name:
                return i
        return len(self.areas) + 1

    def say(self, key: str, **values: Any) -> str:
        """A sentence of the file, filled in (sentences added since, from _LATER)."""
        pattern = self.sentences.get(key)
        return (_LATER[key] if pattern is None else pattern).format(**values)

    def figure(self, area: str, label: str, unit: str, text: str) -> str:
        """A figure in prose: "参学党员群众240余人次", not "参与人次240余人次"."""
        pattern = self.area(area).figures.get(label) or self.figures.get(label)
        if pattern is None:
            stem = label[: -len(unit)] if unit and label.endswith(unit) else label
            return f"{stem}{text}"
        return pattern.format(text)


# Sentences added to phrases.yaml later, for an office's own phrase file that lacks them.
_LATER: Mapping[str, str] = {
    "ledger_elsewhere": "本期共登记活动{count}项，超过{limit}项，下表按类别列出小计；"
    "全部活动明细见附件台账（.xlsx）{numbers}。",
    "ledger_elsewhere_roll_up": "本期共登记活动{count}项，超过{limit}项，下表按类别列出各{kind}"
    "的小计；全部活动明细见附件台账（.xlsx）{numbers}。",
    "ledger_numbers": "，表中“序号”即附件2所列“台账序号”",
}


# --------------------------------------------------------------------------- figures


def _kind(approxes: Iterable[str]) -> str:
    kinds = set(approxes)
    if "about" in kinds:
        return "about"
    if kinds & {"more_than", "range"}:
        return "more_than"
    return "exact"


def sum_figures(label: str, unit: str, parts: Sequence[tuple[int, MetricIn]]) -> Figure:
    """Add up one figure honestly (see the module docstring)."""
    low = sum((m.low for _, m in parts), Decimal(0))
    kind = _kind(m.approx for _, m in parts)
    if len(parts) == 1 and parts[0][1].approx == "range":
        text = parts[0][1].text  # one entry's range is stated as it was: 30—40人次
    else:
        text = readable(low, kind, unit)
    ids = tuple(sorted({entry_id for entry_id, _ in parts}))
    stored = tuple(dict.fromkeys(m.label for _, m in parts if m.label != label))
    return Figure(label, unit, low, kind != "exact", text, ids, kind, stored)


class _Tracer:
    """Records every figure the text states, with the ledger rows (序号) behind it."""

    def __init__(self, rows: Mapping[int, int]) -> None:
        self._rows = rows
        self.sources: list[Source] = []
        self.where = "开头"

    def rows_of(self, ids: Iterable[int]) -> list[int]:
        """The ledger's 序号 of entries `ids`."""
        known = self._rows
        return [known[i] for i in ids if i in known]

    def add(
        self, what: str, text: str, value: Decimal, method: str, ids: Iterable[int], detail: str
    ) -> None:
        """Record a figure written as `text`, worked out by `method` from entries `ids`."""
        known = self._rows
        rows = tuple(sorted([known[i] for i in ids if i in known]))  # each entry once
        self.sources.append(
            Source(len(self.sources) + 1, self.where, what, text, value, method, rows, detail)
        )

    def figure(self, what: str, figure: Figure) -> str:
        method = "单项" if len(figure.entry_ids) == 1 else "合计"
        labels = "、".join(figure.stored)  # figures stored under other names, summed too
        self.add(what + (f"、{labels}" if labels else ""), figure.text, figure.low, method,
                  figure.entry_ids, "")  # fmt: skip
        return figure.text

    def count(self, what: str, entries: Sequence[EntryIn], measure: str = "项") -> str:
        text = f"{len(entries)}{measure}"
        self.add(what, text, Decimal(len(entries)), "计数", (e.id for e in entries), "")
        return text

    def share(self, what: str, part: Sequence[EntryIn], whole: int) -> str:
        percent = round(Decimal(100 * len(part)) / Decimal(whole)) if whole else 0
        text = f"{percent}%"
        detail = f"{len(part)}÷{whole}"
        self.add(what, text, Decimal(percent), "占比", (e.id for e in part), detail)
        return text

    def compare(self, what: str, now: Sequence[EntryIn], before: int) -> str:
        difference = abs(len(now) - before)
        text = f"{difference}项"
        detail = f"本期{len(now)}项，上年同期{before}项"
        self.add(what, text, Decimal(difference), "比较", (e.id for e in now), detail)
        return text


def _figures(
    entries: Sequence[EntryIn],
    keys: Mapping[int, tuple[str, ...]],
    asked: Mapping[tuple[str, str], tuple[int, str]],
) -> list[Figure]:
    """Totals per (figure, unit), in the order the area's questionnaire asks them.

    `keys` maps an entry id to the question ids its figures count as (an activity of the
    catch-all area told under another area counts toward that area's figure of the same
    measure word); `asked` gives the area's (question id, unit) its position and
    name."""
    groups: dict[tuple[str, str], list[tuple[int, MetricIn]]] = {}
    labels: dict[tuple[str, str], str] = {}
    for entry in entries:
        mapped = keys.get(entry.id)
        for position, metric in enumerate(entry.metrics):
            key = (mapped[position] if mapped else metric.question_id, metric.unit)
            groups.setdefault(key, []).append((entry.id, metric))
            labels.setdefault(key, metric.label)
    seen = {key: i for i, key in enumerate(groups)}
    ordered = sorted(groups, key=lambda k: asked[k][0] if k in asked else 1000 + seen[k])
    return [sum_figures(asked[k][1] if k in asked else labels[k], k[1], groups[k]) for k in ordered]


# --------------------------------------------------------------------------- helpers


def _day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _when(entry: EntryIn) -> str:
    if entry.start == entry.end:
        return _day(entry.start)
    if entry.start.month == entry.end.month:
        return f"{_day(entry.start)}至{entry.end.day}日"
    return f"{_day(entry.start)}至{_day(entry.end)}"


def _names(names: Sequence[str]) -> str:
    return "、".join(names[:MAX_NAMES])


def _people(entry: EntryIn) -> Decimal:
    return max((m.low for m in entry.metrics if m.unit in PEOPLE_UNITS), default=Decimal(0))


def _level(unit_name: str) -> str:
    """How a unit calls its whole: 和平街道 -> 全街道, 东城区 -> 全区, else the name."""
    for suffix in ("街道", "镇", "乡", "区", "县", "市", "社区", "村"):
        if unit_name.endswith(suffix):
            return f"全{suffix}"
    return unit_name


def _kind_word(names: Sequence[str]) -> str:
    """What the units below are: 社区, 村, 街道 … or 单位."""
    for suffix in ("社区", "村", "街道", "镇", "乡"):
        if names and all(n.endswith(suffix) for n in names):
            return suffix
    return "单位"


@dataclass
class _Item:
    """What a sentence tells: one activity, or the issues of one recurring activity."""

    entries: list[EntryIn]
    stem: str

    @property
    def series(self) -> bool:
        return len(self.entries) > 1

    @cached_property
    def weight(self) -> tuple[int, int, Decimal, int]:
        """What makes an activity stand out: 成效 given, figures given, people reached."""
        told = any(sentence(e.achievements) for e in self.entries)
        counted = any(e.metrics for e in self.entries)
        people = sum((_people(e) for e in self.entries), Decimal(0))
        return (1 if told else 0, 1 if counted else 0, people, len(self.entries))

    @property
    def first(self) -> EntryIn:
        return self.entries[0]


def _items(entries: Sequence[EntryIn]) -> list[_Item]:
    """Activities with the issues of a recurring one together (same unit, same stem)."""
    items: dict[tuple[str, str], _Item] = {}
    for entry in entries:
        key, stem = recurring_key(entry.title)
        slot = (entry.unit_path, key or f"#{entry.id}")
        item = items.get(slot)
        if item is None:
            items[slot] = _Item([entry], stem or entry.title)
        else:
            item.entries.append(entry)
    result = list(items.values())
    for item in result:
        if not item.series:
            item.stem = item.first.title
    return result


def _span(item: _Item, phrases: Phrases) -> str:
    first, last = item.entries[0].start, item.entries[-1].end
    if first.month != last.month:
        return phrases.say("span_months", first=first.month, last=last.month)
    return phrases.say("span_days", first=_day(first), last=_day(last))


# --------------------------------------------------------------------------- the composer


class _Composer:
    def __init__(
        self,
        phrases: Phrases,
        unit_name: str,
        period: Period,
        roll_up: bool,
        rows: Mapping[int, int],
        keys: Mapping[int, tuple[str, ...]],
    ) -> None:
        self.p = phrases
        self.unit = unit_name
        self.period = period
        self.roll_up = roll_up
        self.trace = _Tracer(rows)
        self.keys = keys  # entry id -> the question ids its figures count as (folded only)
        # per area: (question id, unit) -> (position in the questionnaire, label)
        self.asked: dict[str, dict[tuple[str, str], tuple[int, str]]] = {}
        self.half = "上半年" if period.half == 1 else "下半年"
        self.details: list[Gap] = []  # every missing figure, with who owes it

    # -- figures in prose

    def figures_prose(
        self,
        area: str,
        entries: Sequence[EntryIn],
        what: str,
        *,
        limit: int | None = None,
        lead: str = "，",
        skip_single_session: bool = False,
    ) -> tuple[str, list[Figure]]:
        figures = _figures(entries, self.keys, self.asked.get(area, {}))
        if skip_single_session:  # "组织学习1场次" says nothing about one activity
            figures = [f for f in figures if not (f.unit == "场次" and f.low == 1)]
        if limit is not None:
            figures = figures[:limit]
        if not figures:
            return "", []
        parts = [
            self.p.figure(area, f.label, f.unit, self.trace.figure(f"{what} {f.label}", f))
            for f in figures
        ]
        return lead + "、".join(parts), figures

    # -- one activity, or a recurring one

    def item_in_full(self, area: AreaWording, item: _Item, what: str) -> str:
        """An activity told as a sub-point's whole text: when, where, what was done, its
        figures and 成效; a recurring one with its span and totals."""
        entry = item.first
        title = quoted(item.stem)
        achievements, highlights = self._told(item)
        if item.series:
            figures, _ = self.figures_prose(area.name, item.entries, f"{what}“{item.stem}”")
            count = self.trace.count(f"{what}“{item.stem}”次数", item.entries, "次")
            return self.p.say(
                "series",
                verb=area.verb,
                title=title,
                span=_span(item, self.p),
                count=count,
                figures=figures,
                achievements=achievements,
                highlights=highlights,
            )
        figures, _ = self.figures_prose(
            area.name, item.entries, f"{what}“{item.stem}”", skip_single_session=True
        )
        place = sentence(entry.location)
        where = self.p.say("place", place=place) if place and place not in entry.title else ""
        content = "" if entry.message else sentence(entry.content)
        if content and recurring_key(content)[0] in recurring_key(entry.title)[0]:
            content = ""  # "剪纸培训" under “剪纸培训” says nothing new
        return self.p.say(
            "single",
            date=_when(entry),
            place=where,
            verb=area.verb,
            title=title,
            content=self.p.say("content_clause", text=content) if content else "",
            figures=figures,
            achievements=achievements,
            highlights=highlights,
        )

    def _told(self, item: _Item) -> tuple[str, str]:
        """The 成效 (as a clause) and 亮点 (as a sentence) staff gave for an item; for a
        recurring one the latest given."""
        said = next((a for e in reversed(item.entries) if (a := sentence(e.achievements))), "")
        bright = next((h for e in reversed(item.entries) if (h := sentence(e.highlights))), "")
        return (
            self.p.say("achievements_clause", text=said) if said else "",
            self.p.say("highlights", text=bright) if bright else "",
        )

    def item_brief(self, area: AreaWording, item: _Item, what: str) -> str:
        """An activity singled out: "3月5日开展的“…”，组织志愿者20名，{成效}。"; "" when
        neither a figure nor a 成效 was given (a title alone is no sentence)."""
        if not item.weight[0] and not item.weight[1]:
            return ""
        achievements, highlights = self._told(item)
        if item.series:
            figures, _ = self.figures_prose(
                area.name, item.entries, f"{what}“{item.stem}”", limit=MAX_FIGURES
            )
            count = self.trace.count(f"{what}“{item.stem}”次数", item.entries, "次")
            return self.p.say(
                "standout_series",
                verb=area.verb,
                title=quoted(item.stem),
                count=count,
                figures=figures,
                achievements=achievements,
                highlights=highlights,
            )
        figures, _ = self.figures_prose(
            area.name,
            item.entries,
            f"{what}“{item.stem}”",
            limit=MAX_FIGURES,
            skip_single_session=True,
        )
        return self.p.say(
            "standout",
            date=_when(item.first),
            verb=area.verb,
            title=quoted(item.stem),
            figures=figures,
            achievements=achievements,
            highlights=highlights,
        )

    # -- a theme of an area (一是 …)

    def theme_point(self, area: AreaWording, theme: str, entries: list[EntryIn]) -> Point:
        items = _items(entries)
        what = f"{area.name}·{theme}"
        if len(items) == 1:
            return Point(theme, (Paragraph((self.item_in_full(area, items[0], what),)),))
        titles = "".join(quoted(i.stem) for i in items[:MAX_TITLES])
        figures, _ = self.figures_prose(area.name, entries, what, limit=MAX_FIGURES)
        count = self.trace.count(f"{what} 活动数", entries)
        named_all = len(items) <= MAX_TITLES and not any(i.series for i in items)
        key = "several_all" if named_all else "several"
        text = self.p.say(key, verb=area.verb, titles=titles, count=count, figures=figures)
        ranked = sorted(items, key=lambda i: i.weight, reverse=True)
        standouts = [i for i in ranked if i.weight[0] or i.series][:MAX_STANDOUTS]
        for item in sorted(standouts, key=lambda i: (i.first.start, i.first.id)):
            text += self.item_brief(area, item, what)
        return Point(theme, (Paragraph((text,)),))

    # -- a roll-up: one point per unit below

    def branch_point(
        self, area: AreaWording, branch: str, entries: list[EntryIn], whole: int
    ) -> Point:
        what = f"{area.name}·{branch}"
        count = self.trace.count(f"{what} 活动数", entries)
        share = self.trace.share(f"{what} 占{_level(self.unit)}活动数", entries, whole)
        heading = self.p.say(
            "branch",
            branch=branch,
            verb=area.verb,
            work=area.work,
            count=count,
            whole=_level(self.unit),
            share=share,
        )
        items = sorted(_items(entries), key=lambda i: i.weight, reverse=True)
        chosen = sorted(items[:MAX_BRANCH_STANDOUTS], key=lambda i: (i.first.start, i.first.id))
        text = "".join(self.item_brief(area, item, what) for item in chosen)
        if not text:  # nothing but titles: name them
            titles = "".join(quoted(i.stem) for i in chosen)
            more = "等" if len(items) > len(chosen) else ""
            text = self.p.say("branch_plain", verb=area.verb, titles=titles, more=more)
        return Point(heading, (Paragraph((text,)),))

    # -- an area

    def lacking(self, area: str, entries: Sequence[EntryIn]) -> Paragraph | None:
        """One sentence for the required figures some activities lack; each is a gap."""
        missing: dict[str, list[EntryIn]] = {}
        for entry in entries:
            have = {m.question_id for m in entry.metrics}
            lacks = [a.label for a in entry.asked if not a.optional and a.question_id not in have]
            for label in lacks:
                missing.setdefault(label, []).append(entry)
            if lacks:
                who = f"{entry.unit} {entry.reporter}"
                what = f"{quoted(entry.title)}（{_when(entry)}）的{'、'.join(lacks)}"
                self.details.append(Gap(what, who))
        if not missing:
            return None
        lacking = sorted(
            {e.id: e for group in missing.values() for e in group}.values(),
            key=lambda e: (e.start, e.id),
        )
        labels = "、".join(missing)
        count = self.trace.count(f"{area} 未填报数字的活动数", lacking)
        owners = list(dict.fromkeys(f"{e.unit} {e.reporter}" for e in lacking))
        who = _names(owners) + ("等" if len(owners) > MAX_NAMES else "")
        gap = Gap(self.p.say("lacking_gap", count=count, labels=labels), who)
        return Paragraph((self.p.say("lacking", count=count, labels=labels), gap, "。"))

    def area_section(
        self,
        area: AreaWording,
        entries: list[EntryIn],
        previous: int,
        branches: Sequence[str],
    ) -> Section:
        self.trace.where = area.name
        count = self.trace.count(f"{area.name} 活动数", entries)
        figures_text, figures = self.figures_prose(area.name, entries, area.name)
        compare = self.compare(area.name, entries, previous)
        if self.roll_up:
            kind = _kind_word(branches)
            first_path: dict[str, str] = {}
            for e in entries:
                name = e.branch or e.unit
                first_path[name] = min(first_path.get(name, e.unit_path), e.unit_path)
            reached = sorted(first_path, key=lambda n: first_path[n])
            units = f"{len(reached)}个{kind}"  # counted below
            self.trace.add(
                f"{area.name} 开展活动的{kind}数",
                units,
                Decimal(len(reached)),
                "计数",
                (e.id for e in entries),
                "、".join(reached[:MAX_NAMES]) + ("等" if len(reached) > MAX_NAMES else ""),
            )
            lead = self.p.say(
                "lead_roll_up",
                half=self.half,
                unit=self.unit,
                whole=_level(self.unit),
                units=units,
                verb=area.verb,
                work=area.work,
                count=count,
                figures=figures_text,
                compare=compare,
            )
            points = self.branch_points(area, entries)
        else:
            lead = self.p.say(
                "lead",
                half=self.half,
                unit=self.unit,
                verb=area.verb,
                work=area.work,
                count=count,
                figures=figures_text,
                compare=compare,
            )
            points = self.theme_points(area, entries)
        tail = self.lacking(area.name, entries)
        return Section(
            area.heading,
            Paragraph((lead,)),
            tuple(points),
            area.name,
            tuple(figures),
            (tail,) if tail else (),
        )

    def theme_points(self, area: AreaWording, entries: list[EntryIn]) -> list[Point]:
        by_theme: dict[str, list[EntryIn]] = defaultdict(list)
        for entry in entries:
            by_theme[area.theme_of(entry)].append(entry)
        order = [t.name for t in area.themes] + [area.default_theme or area.heading]
        return [
            self.theme_point(area, name, by_theme[name]) for name in order if by_theme.get(name)
        ]

    def branch_points(self, area: AreaWording, entries: list[EntryIn]) -> list[Point]:
        by_branch: dict[str, list[EntryIn]] = defaultdict(list)
        paths: dict[str, str] = {}
        for entry in entries:
            name = entry.branch or entry.unit
            by_branch[name].append(entry)
            paths[name] = min(paths.get(name, entry.unit_path), entry.unit_path)
        ranked = sorted(by_branch, key=lambda b: (-len(by_branch[b]), paths[b]))
        told = ranked[:MAX_UNIT_POINTS]
        points = [
            self.branch_point(area, b, by_branch[b], len(entries))
            for b in sorted(told, key=lambda b: paths[b])
        ]
        rest = [b for b in sorted(by_branch, key=lambda b: paths[b]) if b not in told]
        if rest:
            rest_entries = [e for b in rest for e in by_branch[b]]
            count = self.trace.count(f"{area.name}·其余单位 活动数", rest_entries)
            kind = _kind_word(rest)
            units = f"{len(rest)}个{kind}"
            self.trace.add(
                f"{area.name}·其余单位数", units, Decimal(len(rest)), "计数",
                (e.id for e in rest_entries), "",
            )  # fmt: skip
            key = "branch_rest" if len(rest) > MAX_NAMES else "branch_rest_few"
            text = self.p.say(
                key, names=_names(rest), units=units, verb=area.verb, work=area.work, count=count
            )
            points.append(Point("", (Paragraph((text,)),)))
        return points

    def compare(self, what: str, entries: Sequence[EntryIn], previous: int) -> str:
        if previous <= 0:
            return ""
        if len(entries) == previous:
            self.trace.add(
                f"{what} 比上年同期", "持平", Decimal(0), "比较", (e.id for e in entries),
                f"本期{len(entries)}项，上年同期{previous}项",
            )  # fmt: skip
            return self.p.say("compare_same")
        difference = self.trace.compare(f"{what} 比上年同期", entries, previous)
        key = "compare_more" if len(entries) > previous else "compare_fewer"
        return self.p.say(key, difference=difference)

    def also(self, entries: list[EntryIn]) -> Paragraph:
        """The catch-all area's activities that fit no area: one 此外 paragraph."""
        items = _items(entries)
        titles = "".join(quoted(i.stem) for i in items[:MAX_TITLES])
        what = "其他活动"
        figures, _ = self.figures_prose(self.p.other_area, entries, what, limit=MAX_FIGURES)
        if len(items) > MAX_TITLES:
            count = self.trace.count(f"{what} 活动数", entries)
            text = self.p.say("also", verb="开展", titles=titles, count=count, figures=figures)
        else:
            text = self.p.say("also_all", verb="开展", titles=titles, figures=figures)
        return Paragraph((text,))


# --------------------------------------------------------------------------- closing


def _closing(
    heading: str,
    lead: str,
    items: Sequence[str],
    gap: Gap,
) -> tuple[Section, Gap | None]:
    unique: list[str] = []
    for item in items:
        text = sentence(item)
        if text and text not in unique:
            unique.append(text)
    if not unique:
        return Section(heading, Paragraph((gap,)), ()), gap
    points = tuple(Point(text, ()) for text in unique)
    return Section(heading, Paragraph((lead,)), points), None


# --------------------------------------------------------------------------- folding 其他


def _fold(
    entries: Sequence[EntryIn],
    phrases: Phrases,
    keywords: Mapping[str, Sequence[str]],
) -> tuple[dict[int, str], dict[int, tuple[str, ...]]]:
    """Where each activity of the catch-all area is told: the area whose keywords its title
    contains, or nowhere (the 此外 paragraph). Returns entry id -> area
    name, and entry id -> for each of its figures the question id of that area with the
    same measure word, so its figures count toward that area's."""
    target: dict[int, str] = {}
    keys: dict[int, tuple[str, ...]] = {}
    patterns = {
        name: re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
        for name, words in keywords.items()
        if words and name != phrases.other_area
    }
    asked_by_area: dict[str, dict[str, str]] = {}
    for entry in entries:
        if entry.area_name != phrases.other_area:
            units = asked_by_area.setdefault(entry.area_name, {})
            for asked in entry.asked:
                units.setdefault(asked.unit, asked.question_id)
    ordered = sorted(patterns, key=phrases.order)
    for entry in entries:
        if entry.area_name != phrases.other_area:
            continue
        # by the title only: a content's words ("入户走访") mislead more than they tell
        found = next((name for name in ordered if patterns[name].search(entry.title)), None)
        if found is None:
            continue
        target[entry.id] = found
        units = asked_by_area.get(found, {})
        keys[entry.id] = tuple(units.get(m.unit, m.question_id) for m in entry.metrics)
    return target, keys


# --------------------------------------------------------------------------- compose


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
    previous: Iterable[EntryIn] = (),
    expected: Sequence[str] = (),
    area_keywords: Mapping[str, Sequence[str]] | None = None,
    ledger_limit: int = LEDGER_LIMIT,
) -> Summary:
    """Build the summary of `entries` (already limited to the unit's subtree and period).

    Args:
        previous: the entries of the same half a year before, for 比上年同期.
        expected: who should report: the units below (a roll-up) or the staff (a
            community); those without an entry are named as not having reported.
        area_keywords: area name -> the questionnaire's keywords, to fold 其他.
        ledger_limit: the most entries the documents list one by one; beyond it they list
            subtotals per unit and area, and point to the whole ledger as the .xlsx.
    """
    items = list(entries)
    other = phrases.other_area
    target, keys = _fold(items, phrases, area_keywords or {})

    def told_in(entry: EntryIn) -> str:
        return target.get(entry.id, entry.area_name)

    # the ledger: by area, then unit, then date, so a figure's rows are runs of 序号
    paths: dict[str, str] = {}  # each unit below, by the first path of its subtree
    for e in items:
        name = e.branch or e.unit
        paths[name] = min(paths.get(name, e.unit_path), e.unit_path)
    ledger_entries = sorted(
        items, key=lambda e: (phrases.order(e.area_name), e.area_name, e.unit_path, e.start, e.id)
    )
    rows = {e.id: i for i, e in enumerate(ledger_entries, 1)}
    c = _Composer(phrases, unit_name, period, roll_up, rows, keys)
    for entry in items:
        known = c.asked.setdefault(entry.area_name, {})
        for position, asked in enumerate(entry.asked):
            known.setdefault((asked.question_id, asked.unit), (position, asked.label))

    by_area: dict[str, list[EntryIn]] = defaultdict(list)
    for entry in sorted(items, key=lambda e: (e.start, e.id)):
        by_area[told_in(entry)].append(entry)
    areas = sorted((a for a in by_area if a != other), key=lambda a: (phrases.order(a), a))
    stray = by_area.get(other, [])

    before = list(previous)
    before_target, _ = _fold(before, phrases, area_keywords or {})
    before_by_area: dict[str, int] = defaultdict(int)
    for entry in before:
        before_by_area[before_target.get(entry.id, entry.area_name)] += 1

    branches = list(expected) if roll_up else sorted({e.branch or e.unit for e in items})
    half = c.half

    # opening (its figures are recorded first: they come first in the text)
    c.trace.where = "开头"
    area_list = "、".join(areas) or "各项工作"
    reporting = {e.branch or e.unit for e in items} if roll_up else {e.reporter for e in items}
    not_reported = [name for name in expected if name not in reporting]
    opening_parts: list[str | Gap] = []
    if items:
        count = c.trace.count("全部 活动数", items)
        compare = c.compare("全部", items, len(before)) if before else ""
        people = ""
        if phrases.people_figure:
            attendance = [
                (e.id, m)
                for e in items
                for position, m in enumerate(e.metrics)
                if (keys[e.id][position] if e.id in keys else m.question_id)
                == phrases.people_figure
                and m.unit == "人次"
            ]
            if attendance:
                figure = sum_figures("参与人次", "人次", attendance)
                people = "，" + phrases.people_prose.format(c.trace.figure("全部 参与人次", figure))
        reached = sorted(paths, key=lambda n: paths[n])
        kind = _kind_word(list(expected) or reached)
        units_text = ""
        if roll_up:
            units_text = f"{len(reached)}个{kind}"
            c.trace.add(
                f"填报活动的{kind}数", units_text, Decimal(len(reached)), "计数",
                (e.id for e in items), "",
            )  # fmt: skip
        key = "opening_roll_up" if roll_up else "opening"
        opening_parts.append(
            phrases.say(
                key,
                period=period.chinese,
                unit=unit_name,
                kind=kind,
                units=units_text,
                areas=area_list,
                count=count,
                compare=compare,
                people=people,
            )
        )
    else:
        opening_parts.append(phrases.say("opening_empty", period=period.chinese, unit=unit_name))
    last = today or period.last_day
    if not_reported:
        opening_parts.append(
            phrases.say(
                "not_reported", date=f"{last.month}月{last.day}日", names="、".join(not_reported)
            )
        )
    if items:
        opening_parts.append(phrases.say("opening_end"))

    sections: list[Section] = []
    for area in areas:
        wording = phrases.area(area)
        sections.append(
            c.area_section(wording, by_area[area], before_by_area.get(area, 0), branches)
        )
    if stray:
        c.trace.where = (sections[-1].area or other) if sections else other
        also = c.also(stray)
        if sections:
            sections[-1] = dataclasses.replace(sections[-1], tail=(*sections[-1].tail, also))
        else:
            sections.append(Section(phrases.other_heading, also, (), other, ()))

    gaps: list[Gap] = []
    for name in not_reported:
        gaps.append(Gap(f"{period.chinese}的活动记录", name))
    if not items and not not_reported:
        gaps.append(Gap(f"{period.chinese}的活动记录", f"{unit_name}工作人员"))
    gaps.extend(c.details)

    owner = reflections.owner or f"{unit_name}负责人"
    next_half = "下半年" if period.half == 1 else f"{period.year + 1}年"

    def closing_gap(what: str) -> Gap:
        if roll_up and reflections.material:
            what = phrases.say("closing_gap_roll_up", what=what, count=reflections.material)
        return Gap(what, owner)

    shortcomings_heading = phrases.say("shortcomings_heading")
    shortcomings, gap = _closing(
        shortcomings_heading,
        phrases.say("shortcomings_lead", half=half, unit=unit_name, topic=phrases.topic),
        reflections.shortcomings,
        closing_gap(shortcomings_heading),
    )
    if gap:
        gaps.append(gap)
    plans_heading = phrases.say("plans_heading", next=next_half)
    plans, gap = _closing(
        plans_heading,
        phrases.say("plans_lead", next=next_half, unit=unit_name),
        reflections.plans,
        closing_gap(plans_heading),
    )
    if gap:
        gaps.append(gap)

    subtotals: tuple[Subtotal, ...] = ()
    own: tuple[int, ...] = ()
    note = ""
    if len(ledger_entries) > ledger_limit:
        told = [(a, by_area[a], s.figures) for a, s in zip(areas, sections, strict=False)]
        if stray:
            told.append((other, stray, tuple(_figures(stray, keys, c.asked.get(other, {})))))
        subtotals = _subtotals(told, c, roll_up, paths)
        if roll_up:
            own = tuple(sorted(rows[e.id] for e in items if (e.branch or e.unit) == unit_name))
        numbers = phrases.say("ledger_numbers") if c.trace.sources else ""
        kind = _kind_word(list(expected) or sorted(paths))
        key = "ledger_elsewhere_roll_up" if roll_up else "ledger_elsewhere"
        note = phrases.say(key, count=len(items), limit=ledger_limit, kind=kind, numbers=numbers)

    months: dict[tuple[str, str], int] = defaultdict(int)
    for entry in items:
        months[(f"{entry.start.year}-{entry.start.month:02d}", told_in(entry))] += 1
    order = {a: i for i, a in enumerate([*areas, other])}
    return Summary(
        title=f"{unit_name}{period.chinese}{phrases.topic}工作总结",
        unit=unit_name,
        period=period.key,
        period_text=period.chinese,
        opening=Paragraph(tuple(opening_parts)),
        sections=(*sections, shortcomings, plans),
        gaps=tuple(gaps),
        ledger=tuple(_ledger_row(e) for e in ledger_entries),
        months=tuple(
            MonthCount(m, a, n)
            for (m, a), n in sorted(
                months.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))
            )
        ),
        signature=unit_name,
        date_text=f"{last.year}年{last.month}月{last.day}日",
        entry_count=len(items),
        unit_count=unit_count,
        sources=tuple(c.trace.sources),
        basis=phrases.basis,
        issued=last,
        roll_up=roll_up,
        subtotals=subtotals,
        own=own,
        ledger_note=note,
        ledger_limit=ledger_limit,
    )


def _subtotals(
    told: Sequence[tuple[str, Sequence[EntryIn], Sequence[Figure]]],
    c: _Composer,
    roll_up: bool,
    paths: Mapping[str, str],
) -> tuple[Subtotal, ...]:
    """Per area as the text tells it: in a roll-up each unit below's activities and
    figures, then the area's 小计 (the figures the text states for it); then the 合计."""
    result: list[Subtotal] = []
    everything: list[int] = []
    for area, entries, figures in told:
        area_rows = sorted(c.trace.rows_of(e.id for e in entries))
        everything.extend(area_rows)
        if roll_up:
            by_branch: dict[str, list[EntryIn]] = defaultdict(list)
            for entry in entries:
                by_branch[entry.branch or entry.unit].append(entry)
            for branch in sorted(by_branch, key=lambda b: (paths.get(b, ""), b)):
                part = by_branch[branch]
                result.append(
                    Subtotal(
                        area,
                        branch,
                        len(part),
                        tuple(_figures(part, c.keys, c.asked.get(area, {}))),
                        tuple(sorted(c.trace.rows_of(e.id for e in part))),
                    )
                )
        result.append(Subtotal(area, "", len(entries), tuple(figures), tuple(area_rows)))
    result.append(Subtotal("", "", len(everything), (), tuple(sorted(everything))))
    return tuple(result)


def _plain(text: str | None) -> str:
    """Typed text as the ledger keeps it: trimmed, without its closing mark."""
    return text.strip().rstrip("。；;，,") if text else ""


def _ledger_row(entry: EntryIn) -> LedgerRow:
    figures = "；".join([f"{m.label} {m.text}" for m in entry.metrics])
    content, said = _plain(entry.content), _plain(entry.achievements)
    return LedgerRow(
        entry.id,
        entry.start,
        entry.end,
        entry.unit,
        entry.area_name,
        entry.title,
        entry.location or "",
        figures,
        f"{content}；{said}" if content and said else content or said,
        entry.reporter,
    )

"""Read tests/summary/street_ledger.yaml into what the composer takes (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from bot.core.parsing.counts import parse_count
from bot.core.periods import parse_period
from bot.core.questionnaire import Questionnaire, QuestionType, load_questionnaire
from bot.core.reflection import PLAN, SHORTCOMING, Row
from bot.shipped import templates_dir
from bot.summary.compose import Asked, EntryIn, MetricIn, Phrases, Reflections, compose
from bot.summary.model import LEDGER_LIMIT, Summary

DATA = Path(__file__).with_name("street_ledger.yaml")
H1 = parse_period("2026H1")
TODAY = date(2026, 6, 30)


@cache
def questionnaire() -> Questionnaire:
    return load_questionnaire(templates_dir() / "questionnaires" / "community_culture.yaml")


@cache
def phrases() -> Phrases:
    return Phrases.load(templates_dir() / "summary" / "phrases.yaml")


def asked(area_name: str) -> tuple[Asked, ...]:
    area = next(a for a in questionnaire().areas if a.name == area_name)
    return tuple(
        Asked(q.id, q.label, q.unit or "", q.optional)
        for q in area.questions
        if q.type is QuestionType.COUNT
    )


def keywords() -> dict[str, tuple[str, ...]]:
    return {a.name: a.keywords for a in questionnaire().areas}


@dataclass(frozen=True)
class Ledger:
    street: str
    communities: dict[str, list[str]]
    coordinators: dict[str, str]
    entries: list[EntryIn]
    previous: list[EntryIn]
    reflections: list[tuple[str, str, str, str]]  # unit, member, 不足/打算, text

    def of(self, unit: str) -> list[EntryIn]:
        return [e for e in self.entries if e.unit == unit]

    def previous_of(self, unit: str) -> list[EntryIn]:
        return [e for e in self.previous if e.unit == unit]

    def rows(self, unit: str | None = None) -> list[Row]:
        kinds = {"不足": SHORTCOMING, "打算": PLAN}
        return [
            Row(i, kinds[kind], text, who)
            for i, (who, _, kind, text) in enumerate(self.reflections, 1)
            if unit is None or who == unit
        ]


def _metrics(area_name: str, text: str) -> tuple[MetricIn, ...]:
    if not text:
        return ()
    by_label = {a.label: a for a in asked(area_name)}
    metrics = []
    for part in text.split("；"):
        label, value = part.split("=")
        question = by_label[label]
        count = parse_count(value)
        metrics.append(
            MetricIn(
                question.question_id,
                label,
                question.unit,
                count.low,
                str(count.approx),
                count.high,
            )
        )
    return tuple(metrics)


def _entries(block: str, first_id: int, paths: dict[str, str]) -> list[EntryIn]:
    areas = {a.name: a.key for a in questionnaire().areas}
    entries = []
    for number, line in enumerate(block.strip().splitlines()):
        fields = line.split("|")
        assert len(fields) == 11, line
        unit, reporter, area, title, start, end, place, figures, content, said, bright = fields
        begin = date.fromisoformat(start)
        entries.append(
            EntryIn(
                id=first_id + number,
                unit=unit,
                unit_path=paths[unit],
                area=areas[area],
                area_name=area,
                title=title,
                start=begin,
                end=date.fromisoformat(end) if end else begin,
                location=place or None,
                content=content or None,
                achievements=said or None,
                highlights=bright or None,
                reporter=reporter,
                metrics=_metrics(area, figures),
                asked=asked(area),
                branch=unit,
            )
        )
    return entries


@cache
def ledger() -> Ledger:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    communities = {str(k): [str(n) for n in v] for k, v in data["communities"].items()}
    paths = {name: f"/1/2/{i}/" for i, name in enumerate(communities, 3)}
    reflections = [tuple(line.split("|")) for line in data["reflections"].strip().splitlines()]
    return Ledger(
        street=str(data["street"]),
        communities=communities,
        coordinators={str(k): str(v) for k, v in data["coordinators"].items()},
        entries=_entries(data["entries"], 1, paths),
        previous=_entries(data["previous"], 10001, paths),
        reflections=[(a, b, c, d) for a, b, c, d in reflections],
    )


def community_summary(name: str = "新华社区", ledger_limit: int = LEDGER_LIMIT) -> Summary:
    """The community's summary, as the service composes it."""
    from bot.core.reflection import merge

    data = ledger()
    points = merge(data.rows(name))
    return compose(
        data.of(name),
        unit_name=name,
        period=H1,
        phrases=phrases(),
        reflections=Reflections(
            shortcomings=tuple(p.text for p in points if p.kind == SHORTCOMING),
            plans=tuple(p.text for p in points if p.kind == PLAN),
            owner=f"{name}负责人",
        ),
        today=TODAY,
        previous=data.previous_of(name),
        expected=data.communities[name],
        area_keywords=keywords(),
        ledger_limit=ledger_limit,
    )


def street_summary(
    entries: list[EntryIn] | None = None, ledger_limit: int = LEDGER_LIMIT
) -> Summary:
    """The street's roll-up: its coordinator's own review; the communities' as material."""
    from bot.core.reflection import merge

    data = ledger()
    own = merge(data.rows(data.street))
    material = merge([r for r in data.rows() if r.unit != data.street])
    return compose(
        data.entries if entries is None else entries,
        unit_name=data.street,
        period=H1,
        phrases=phrases(),
        reflections=Reflections(
            shortcomings=tuple(p.text for p in own if p.kind == SHORTCOMING),
            plans=tuple(p.text for p in own if p.kind == PLAN),
            owner=f"{data.street}负责人",
            material=len(material),
        ),
        roll_up=True,
        unit_count=len(data.communities),
        today=TODAY,
        previous=data.previous,
        expected=list(data.communities),
        area_keywords=keywords(),
        ledger_limit=ledger_limit,
    )

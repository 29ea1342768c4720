"""Read what a summary is composed from: entries of a unit's subtree in a period, fast.

Besides the entries: what each entry's questionnaire asked for its area (from the snapshot
of the questionnaire version it was collected with), the keywords of each area (to tell
where an activity filed under 其他 belongs), and who was expected to report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.periods import Period
from bot.summary.compose import Asked, EntryIn, MetricIn
from storage.models import (
    Entry,
    EntryMetric,
    Member,
    QuestionnaireVersion,
    RoleGrant,
    RoleName,
    Unit,
)

# Plain rows rather than ORM objects: a street-level summary reads 100,000 entries.
_CHUNK = 5000
# Which answers hold the texts, by the role the questionnaire gives the question.
_ROLES = ("content", "achievements", "highlights")


def _text(answers: dict[str, Any], key: str | None) -> str | None:
    value = answers.get(key) if key else None
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return str(value["text"])
    return None


@dataclass(frozen=True)
class _Form:
    """What one questionnaire version says about an area."""

    asked: Mapping[str, tuple[Asked, ...]]  # area key -> its count questions
    texts: Mapping[str, str]  # role -> question id
    keywords: Mapping[str, tuple[str, ...]]  # area name -> keywords


def _form(body: Mapping[str, Any]) -> _Form:
    """Read a questionnaire snapshot as stored (its JSON), tolerating older shapes."""
    asked: dict[str, tuple[Asked, ...]] = {}
    keywords: dict[str, tuple[str, ...]] = {}
    for area in body.get("areas", ()):
        asked[str(area.get("key"))] = tuple(
            Asked(str(q["id"]), str(q.get("label", q["id"])), str(q.get("unit") or ""),
                  bool(q.get("optional", False)))
            for q in area.get("questions", ())
            if q.get("type") == "count"
        )  # fmt: skip
        keywords[str(area.get("name"))] = tuple(str(k) for k in area.get("keywords", ()))
    texts = {role: role for role in _ROLES}
    for question in (*body.get("before", ()), *body.get("after", ())):
        role = question.get("role")
        if role in _ROLES:
            texts[str(role)] = str(question["id"])
    return _Form(asked, texts, keywords)


_DEFAULT_FORM = _Form({}, {role: role for role in _ROLES}, {})


@dataclass(frozen=True)
class Material:
    """Everything a summary is composed from."""

    entries: list[EntryIn]
    previous: list[EntryIn]  # the same half a year before
    expected: list[str]  # the units below (a roll-up) or the staff (a community)
    keywords: dict[str, tuple[str, ...]]  # area name -> the questionnaire's keywords
    roll_up: bool


def _children(session: Session, unit: Unit) -> list[tuple[str, str]]:
    """(name, path) of the units directly below `unit`, in path order."""
    rows = session.execute(
        select(Unit.name, Unit.path).where(Unit.parent_id == unit.id).order_by(Unit.path)
    ).all()
    return [(str(name), str(path)) for name, path in rows]


def _staff(session: Session, unit: Unit) -> list[str]:
    """Names of the unit's staff, in the order they joined."""
    rows = session.execute(
        select(Member.name)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .where(RoleGrant.unit_id == unit.id, RoleGrant.role == RoleName.STAFF)
        .order_by(RoleGrant.id)
    ).all()
    return list(dict.fromkeys(str(row[0]) for row in rows))


def load_entries(
    session: Session,
    unit: Unit,
    period: Period,
    *,
    with_metrics: bool = True,
    branches: list[tuple[str, str]] | None = None,
    forms: dict[int, _Form] | None = None,
) -> list[EntryIn]:
    """The live entries of `unit` and the units below it, in `period`.

    `branches` are the (name, path) of the units below `unit`: each entry is told as part of
    the one whose subtree holds it."""
    rows = session.execute(
        select(
            Entry.id,
            Unit.name,
            Unit.path,
            Entry.area,
            Entry.area_name,
            Entry.title,
            Entry.start_date,
            Entry.end_date,
            Entry.location,
            Entry.answers,
            Member.name,
            Entry.questionnaire_id,
        )
        .join(Unit, Unit.id == Entry.unit_id)
        .join(Member, Member.id == Entry.member_id)
        .where(
            Unit.path.startswith(unit.path),
            Entry.period == period.key,
            Entry.deleted_at.is_(None),
        )
        .order_by(Entry.start_date, Entry.id)
    ).all()
    forms = {} if forms is None else forms
    wanted = {row[11] for row in rows} - set(forms)
    if wanted:
        for form_id, body in session.execute(
            select(QuestionnaireVersion.id, QuestionnaireVersion.body).where(
                QuestionnaireVersion.id.in_(wanted)
            )
        ):
            forms[form_id] = _form(body or {})
    ids = [row[0] for row in rows]
    metrics: dict[int, list[MetricIn]] = defaultdict(list)
    for start in range(0, len(ids) if with_metrics else 0, _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for entry_id, qid, label, unit_text, low, high, approx in session.execute(
            select(
                EntryMetric.entry_id,
                EntryMetric.question_id,
                EntryMetric.label,
                EntryMetric.unit,
                EntryMetric.low,
                EntryMetric.high,
                EntryMetric.approx,
            )
            .where(EntryMetric.entry_id.in_(chunk))
            .order_by(EntryMetric.entry_id, EntryMetric.position)
        ):
            upper = None if high is None else Decimal(high)
            metrics[entry_id].append(MetricIn(qid, label, unit_text, Decimal(low), approx, upper))
    below = sorted(branches or [], key=lambda b: len(b[1]), reverse=True)

    def branch_of(path: str, name: str) -> str:
        return next((b for b, p in below if path.startswith(p)), name)

    result = []
    for row in rows:
        form = forms.get(row[11], _DEFAULT_FORM)
        answers = row[9] or {}
        result.append(
            EntryIn(
                id=row[0],
                unit=row[1],
                unit_path=row[2],
                area=row[3],
                area_name=row[4],
                title=row[5],
                start=row[6],
                end=row[7],
                location=row[8],
                content=_text(answers, form.texts.get("content")),
                achievements=_text(answers, form.texts.get("achievements")),
                highlights=_text(answers, form.texts.get("highlights")),
                reporter=row[10],
                metrics=tuple(metrics.get(row[0], ())),
                asked=form.asked.get(row[3], ()),
                branch=branch_of(row[2], row[1]),
            )
        )
    return result


def load(session: Session, unit: Unit, period: Period) -> Material:
    """The entries of the period and of the same half a year before, and who should report."""
    children = _children(session, unit)
    forms: dict[int, _Form] = {}
    entries = load_entries(session, unit, period, branches=children, forms=forms)
    before = Period(period.year - 1, period.half)
    previous = load_entries(
        session, unit, before, with_metrics=False, branches=children, forms=forms
    )
    keywords: dict[str, tuple[str, ...]] = {}
    for form in forms.values():
        for name, words in form.keywords.items():
            keywords[name] = tuple(dict.fromkeys((*keywords.get(name, ()), *words)))
    expected = [name for name, _ in children] if children else _staff(session, unit)
    return Material(entries, previous, expected, keywords, roll_up=bool(children))

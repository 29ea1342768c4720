"""Read what a summary is composed from: entries of a unit's subtree in a period, fast.

Besides the entries: what each entry's questionnaire asked for its area (from the snapshot
of the questionnaire version it was collected with), the keywords of each area (to tell
where an activity filed under 其他 belongs), and who was expected to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bot.core.periods import Period
from bot.summary.compose import Asked, EntryIn, MetricIn
from storage import entries as entry_store
from storage import members
from storage.models import (
    Unit,
)

# Plain rows rather than ORM objects: a street-level summary reads 100,000 entries.
_CHUNK = 5000
# Which answers hold the texts, by the role the questionnaire gives the question.
_ROLES = ("content", "achievements", "highlights")


def _said(texts: Mapping[str, Any], key: str | None) -> str | None:
    """The text answer to question `key` (the database read answers[key]["text"])."""
    value = texts.get(key) if key else None
    return value if isinstance(value, str) else None


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
    the one whose subtree holds it.

    Read as streams of plain rows (yield_per): each row becomes an `EntryIn` at once and its
    answers (a JSON document per entry) are dropped; holding all rows first made reading
    100,000 entries take 660 MiB more than the entries themselves (measured)."""
    forms = {} if forms is None else forms
    wanted = entry_store.questionnaires_in(session, unit.path, period.key) - set(forms)
    if wanted:
        for form_id, body in entry_store.questionnaire_bodies(session, wanted):
            forms[form_id] = _form(body or {})
    shared: dict[Any, Any] = {}  # one object per repeated value (unit, area, name …)
    share = shared.setdefault

    metrics: dict[int, tuple[MetricIn, ...]] = {}
    if with_metrics:
        current: list[MetricIn] = []
        last_id = None
        for entry_id, qid, label, unit_text, low, high, approx in entry_store.metric_stream(
            session, unit.path, period.key, _CHUNK
        ):
            if entry_id != last_id:
                if last_id is not None:
                    metrics[last_id] = tuple(current)
                current, last_id = [], entry_id
            upper = None if high is None else Decimal(high)
            current.append(
                MetricIn(share(qid, qid), share(label, label), share(unit_text, unit_text),
                         Decimal(low), share(approx, approx), upper)
            )  # fmt: skip
        if last_id is not None:
            metrics[last_id] = tuple(current)
    below = sorted(branches or [], key=lambda b: len(b[1]), reverse=True)

    def branch_of(path: str, name: str) -> str:
        return next((b for b, p in below if path.startswith(p)), name)

    keys = sorted({key for form in (*forms.values(), _DEFAULT_FORM) for key in form.texts.values()})
    # whether the content answer is the report message itself (interview: "whole")
    wholes = sorted(
        {f.texts["content"] for f in (*forms.values(), _DEFAULT_FORM) if "content" in f.texts}
    )
    result = []
    branch_by_path: dict[str, str] = {}
    for row in entry_store.summary_stream(
        session, unit.path, period.key, texts=keys, wholes=wholes, chunk=_CHUNK
    ):
        form = forms.get(row[10], _DEFAULT_FORM)
        said = dict(zip(keys, row[11 : 11 + len(keys)], strict=True))
        whole = dict(zip(wholes, row[11 + len(keys) :], strict=True))
        content_key = form.texts.get("content")
        path = share(row[2], row[2])
        branch = branch_by_path.get(path)
        if branch is None:
            branch = branch_by_path[path] = branch_of(path, row[1])
        result.append(
            EntryIn(
                id=row[0],
                unit=share(row[1], row[1]),
                unit_path=path,
                area=share(row[3], row[3]),
                area_name=share(row[4], row[4]),
                title=row[5],
                start=row[6],
                end=row[7],
                location=share(row[8], row[8]),
                content=_said(said, form.texts.get("content")),
                achievements=_said(said, form.texts.get("achievements")),
                highlights=_said(said, form.texts.get("highlights")),
                reporter=share(row[9], row[9]),
                metrics=metrics.pop(row[0], ()),
                asked=form.asked.get(row[3], ()),
                branch=branch,
                message=bool(content_key and whole.get(content_key)),
            )
        )
    return result


def load(session: Session, unit: Unit, period: Period) -> Material:
    """The entries of the period and of the same half a year before, and who should report."""
    children = members.child_units(session, unit.id)
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
    expected = [name for name, _ in children] if children else members.staff_names(session, unit.id)
    return Material(entries, previous, expected, keywords, roll_up=bool(children))

"""The half-year reflection round: what fell short, and plans for what comes next.

Staff and coordinators answer two questions (/reflect); their points are merged per unit,
duplicates removed, and become the summary's closing sections. A coordinator reviews and
edits the merged list (/closing) before the final document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.text import clean_text
from storage import repo
from storage.models import Unit

SHORTCOMING = "shortcoming"
PLAN = "plan"
MAX_POINT = 300
_SPLIT = re.compile(r"[\n；;]+|(?<=[。！？])")
_NUMBERING = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+是|[一二三四五六七八九十]+[、.．]|\d+[、.．)）]|[（(]\d+[)）])\s*"
)


def split_points(text: str) -> list[str]:
    """Split an answer into points: by line, semicolon or full stop; drop list numbering."""
    points = []
    for piece in _SPLIT.split(text):
        point = clean_text(_NUMBERING.sub("", piece)).rstrip("。；;，,").strip()
        if point and any(ch.isalnum() for ch in point):
            points.append(point[:MAX_POINT])
    return points


def _key(text: str) -> str:
    return re.sub(r"\W", "", text)


@dataclass(frozen=True)
class MergedPoint:
    """One point as the summary will say it, with the rows it stands for."""

    number: int
    kind: str
    text: str
    row_ids: tuple[int, ...]


def merged(session: Session, unit: Unit, period: str) -> list[MergedPoint]:
    """Shortcomings first, then plans; points saying the same thing once (first wording)."""
    rows = repo.reflections_in(session, unit, period)
    result: list[MergedPoint] = []
    for kind in (SHORTCOMING, PLAN):
        seen: dict[str, list[int]] = {}
        wording: dict[str, str] = {}
        for row in rows:
            if row.kind != kind:
                continue
            key = _key(row.text)
            seen.setdefault(key, []).append(row.id)
            wording.setdefault(key, row.text)
        for key, ids in seen.items():
            result.append(MergedPoint(len(result) + 1, kind, wording[key], tuple(ids)))
    return result

"""The half-year reflection round: what fell short, and plans for what comes next.

Staff and coordinators answer two questions (/reflect); their points are merged per unit
(near-duplicates once: "活动形式比较单一，年轻人参与少" and "年轻人参加的少，形式单一" are one
point) and become the summary's closing sections. A coordinator reviews the list (/closing)
before the final document. A unit's own review is what was said for that unit; a street's
communities' points are material its coordinator picks from, grouped by theme.

Every point keeps a stable number, the id of its first row: dropping one never renumbers
the others, so two quick "/closing drop N" hit what the coordinator saw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from bot.core.text import clean_text
from storage import members, reflections
from storage.models import Reflection, Unit

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


# --------------------------------------------------------------------------- similarity

# Words that say the same thing, mapped to one spelling before comparing.
_SYNONYMS: Final = (
    ("年轻人", "青年"), ("青年人", "青年"), ("年青人", "青年"), ("上班族", "青年"),
    ("中青年", "青年"), ("参加", "参与"), ("参与度", "参与"), ("参与率", "参与"),
    ("单调", "单一"), ("不多", "少"), ("偏少", "少"), ("较少", "少"), ("不高", "低"),
    ("偏低", "低"), ("不足", "少"), ("缺乏", "少"), ("欠缺", "少"), ("不够", "少"),
    ("人手", "人员"), ("人力", "人员"), ("工作人员", "人员"), ("经费", "资金"),
    ("场地", "阵地"), ("场所", "阵地"), ("台账", "记录"), ("资料", "记录"),
    ("开展", "组织"), ("举办", "组织"), ("居民", "群众"),
)  # fmt: skip
# Words that carry no meaning of their own in a point.
_FILLERS: Final = re.compile(
    r"比较|较为|有些|有点|一些|仍然|依然|还是|还|仍|的|了|得|都|也|很|太|较"
)
_CLAUSES: Final = re.compile(r"[，,、；;。！？!?\s和及与]+")
MERGE_AT: Final = 0.5  # Jaccard similarity of the character bigrams from which points merge


def _normalised(text: str) -> str:
    text = re.sub(r"[\W_]+", "，", text)
    for word, same in _SYNONYMS:
        text = text.replace(word, same)
    return _FILLERS.sub("", text)


def _bigrams(text: str) -> frozenset[str]:
    """The character bigrams of each clause (a one-character clause counts as itself)."""
    grams: set[str] = set()
    for clause in _CLAUSES.split(_normalised(text)):
        if len(clause) == 1:
            grams.add(clause)
        grams.update(clause[i : i + 2] for i in range(len(clause) - 1))
    return frozenset(grams)


def similarity(a: str, b: str) -> float:
    """How alike two points are, 0 to 1: the Jaccard similarity of their clauses' character
    bigrams after synonyms and fillers are normalised, so clause order does not matter; a
    point wholly contained in a longer one counts as its overlap with the shorter."""
    ga, gb = _bigrams(a), _bigrams(b)
    if not ga or not gb:
        return 1.0 if _normalised(a) == _normalised(b) else 0.0
    shared = len(ga & gb)
    jaccard = shared / len(ga | gb)
    smaller = min(len(ga), len(gb))
    contained = shared / smaller if smaller >= 4 else 0.0
    return max(jaccard, contained if contained >= 0.9 else 0.0)


def same_point(a: str, b: str) -> bool:
    """True when two points say the same thing ("形式单一/年轻人少" once)."""
    return similarity(a, b) >= MERGE_AT


# --------------------------------------------------------------------------- themes

# What a street coordinator sees the communities' points grouped by (first match wins).
THEMES: Final = (
    ("活动形式与参与", ("形式", "单一", "青年", "参与", "覆盖", "吸引", "新意", "创新", "同质")),
    ("队伍与人员", ("人员", "队伍", "骨干", "志愿者", "力量", "人手", "兼职", "培训")),
    ("阵地与设施", ("阵地", "场地", "场所", "设施", "设备", "活动室", "书屋", "器材")),
    ("经费保障", ("资金", "经费", "保障", "投入", "预算")),
    ("宣传与品牌", ("宣传", "品牌", "特色", "亮点", "影响", "媒体", "公众号")),
    ("台账与记录", ("记录", "台账", "报送", "资料", "照片", "填报", "统计", "归档")),
    ("理论学习", ("学习", "理论", "党课", "宣讲", "党员")),
    ("文体与节日", ("文体", "文艺", "演出", "节日", "电影", "比赛", "运动")),
    ("关爱服务", ("老人", "老年", "儿童", "青少年", "困难", "关爱", "帮扶", "服务")),
)
OTHER_THEME: Final = "其他方面"


def theme_of(text: str) -> str:
    """The theme a point belongs to, by the first keyword found."""
    normalised = _normalised(text)
    for name, words in THEMES:
        if any(word in text or word in normalised for word in words):
            return name
    return OTHER_THEME


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True)
class MergedPoint:
    """One point as the summary will say it, with the rows it stands for.

    `number` is the id of its first row: stable while other points come and go.
    """

    number: int
    kind: str
    text: str
    row_ids: tuple[int, ...]
    units: tuple[str, ...] = ()  # who said it, in order
    theme: str = OTHER_THEME


@dataclass(frozen=True)
class Row:
    """What merging needs of a stored point."""

    id: int
    kind: str
    text: str
    unit: str = ""


def merge(rows: Sequence[Row]) -> list[MergedPoint]:
    """Shortcomings first, then plans; near-duplicates once, in their fullest wording."""
    result: list[MergedPoint] = []
    for kind in (SHORTCOMING, PLAN):
        groups: list[list[Row]] = []
        for row in rows:
            if row.kind != kind or not row.text.strip():
                continue
            for group in groups:
                if any(same_point(row.text, other.text) for other in group):
                    group.append(row)
                    break
            else:
                groups.append([row])
        for group in groups:
            first = min(group, key=lambda r: r.id)
            fullest = max(group, key=lambda r: (len(_bigrams(r.text)), -r.id))
            units = tuple(dict.fromkeys(r.unit for r in group if r.unit))
            result.append(
                MergedPoint(
                    number=first.id,
                    kind=kind,
                    text=fullest.text,
                    row_ids=tuple(r.id for r in group),
                    units=units,
                    theme=theme_of(first.text),
                )
            )
    return result


def _rows(session: Session, unit: Unit, period: str) -> list[tuple[Reflection, str, bool]]:
    """(row, unit name, said for `unit` itself) for the live points of the subtree."""
    names = members.unit_names_under(session, unit.path)
    return [
        (row, str(names.get(row.unit_id, "")), row.unit_id == unit.id)
        for row in reflections.reflections_in(session, unit, period)
    ]


def merged(session: Session, unit: Unit, period: str) -> list[MergedPoint]:
    """Every point of the unit's subtree, merged (see `merge`)."""
    return merge([Row(r.id, r.kind, r.text, name) for r, name, _ in _rows(session, unit, period)])


@dataclass(frozen=True)
class Review:
    """What a coordinator reviews in /closing.

    `own` is the unit's own review: for a community, what its staff and coordinator said;
    for a street, what was said for the street itself (its coordinator, points picked with
    /closing use). `material` is what the units below said, merged, for a street
    coordinator to pick from, ordered by theme.
    """

    own: tuple[MergedPoint, ...]
    material: tuple[MergedPoint, ...]

    def find(self, number: int) -> MergedPoint | None:
        """The point shown with this number, own or material."""
        for point in (*self.own, *self.material):
            if point.number == number:
                return point
        return None

    def themes(self, kind: str) -> list[tuple[str, list[MergedPoint]]]:
        """The material of one kind, grouped by theme in the order of THEMES."""
        order = [name for name, _ in THEMES] + [OTHER_THEME]
        grouped: dict[str, list[MergedPoint]] = {}
        for point in self.material:
            if point.kind == kind:
                grouped.setdefault(point.theme, []).append(point)
        return [(name, grouped[name]) for name in order if name in grouped]


def review(session: Session, unit: Unit, period: str) -> Review:
    """The unit's own points and, below it, its units' points as material."""
    rows = _rows(session, unit, period)
    own = merge([Row(r.id, r.kind, r.text, name) for r, name, mine in rows if mine])
    others = merge([Row(r.id, r.kind, r.text, name) for r, name, mine in rows if not mine])
    order = {name: i for i, (name, _) in enumerate(THEMES)}
    material = sorted(others, key=lambda p: (p.kind != SHORTCOMING, order.get(p.theme, 99)))
    return Review(tuple(own), tuple(material))

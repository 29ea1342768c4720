"""What a composed summary is, before any format: typed values the renderers only lay out.

Every figure here was computed from stored entries (see compose.py); renderers never
compute or invent one. Text that is missing is a `Gap`, shown as 【待补充：…】.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

GAP_OPEN = "【待补充："
GAP_CLOSE = "】"
# A summary's documents list its entries one by one up to this many; a longer ledger is
# given whole as the .xlsx beside them, and the documents list subtotals per unit instead.
LEDGER_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Figure:
    """A total of one metric over some entries, written honestly.

    `text` is the figure as the summary writes it, unit included: "4350余人次" when any part
    was "more than", "3.9万元" when all parts were exact; `low` is the sum of lower bounds.
    """

    label: str  # 参与人次
    unit: str  # 人次
    low: Decimal
    approximate: bool  # True when some part was 多/余/约/a range: written with 余
    text: str
    entry_ids: tuple[int, ...]  # the entries behind it, for the ledger
    kind: str = "exact"  # how the sum is written: exact, more_than (余) or about (约)
    stored: tuple[str, ...] = ()  # the labels its parts were stored under, when not `label`


@dataclass(frozen=True, slots=True)
class Gap:
    """Something the summary needs and the entries do not give."""

    what: str  # e.g. "文体活动的参与人次"
    who: str  # who should supply it, e.g. "新华社区 李华" or "新华社区负责人"

    @property
    def marker(self) -> str:
        """The marker written in the text: 【待补充：文体活动的参与人次】."""
        return f"{GAP_OPEN}{self.what}{GAP_CLOSE}"


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of body text; `parts` are strings and Gaps in reading order."""

    parts: tuple[str | Gap, ...]

    @property
    def text(self) -> str:
        """The paragraph as plain text, gaps as their markers."""
        return "".join(p if isinstance(p, str) else p.marker for p in self.parts)


@dataclass(frozen=True, slots=True)
class Point:
    """A sub-point of a section, written "一是{heading}。{first paragraph}" (renderers number
    it 一是 … 十是、十一是); further paragraphs follow as paragraphs of their own."""

    heading: str  # e.g. "坚持每月一课" (without 一是 and without the full stop)
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True, slots=True)
class Section:
    """A numbered section: 一、二、三 … (renderers number them)."""

    heading: str  # e.g. "抓好理论学习，筑牢思想根基"
    lead: Paragraph | None  # the figures of the area in one sentence
    points: tuple[Point, ...]
    area: str | None = None  # the work area key, None for shortcomings and plans
    figures: tuple[Figure, ...] = ()
    tail: tuple[Paragraph, ...] = ()  # after the points: 此外…, figures some activities lack


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One entry behind the figures (the appendix 台账)."""

    entry_id: int
    start: date
    end: date
    unit: str
    area: str
    title: str
    location: str
    figures: str  # "学习场次 3场次；参与人次 4000余人次"
    content: str
    reporter: str


@dataclass(frozen=True, slots=True)
class Subtotal:
    """The activities of one unit below in one work area (a roll-up's appendix), or the
    area's 小计 over all of them (`unit` empty: the figures the text states for the area)."""

    area: str  # the area name, as the text tells it
    unit: str  # the unit below (社区) or the summarised unit itself; "" for the 小计
    count: int  # activities
    figures: tuple[Figure, ...]  # totals per (figure, unit), in the questionnaire's order
    rows: tuple[int, ...]  # the ledger's 序号

    @property
    def figures_text(self) -> str:
        """The figures as the ledger writes them: "学习场次 12场次；参与人次 400余人次"."""
        return "；".join(f"{f.label} {f.text}" for f in self.figures)


@dataclass(frozen=True, slots=True)
class Source:
    """Where one figure of the text comes from (the appendix 数据来源).

    `value` is the exact computed number behind `text` (the lower bound for 余, the stated
    sum for 约); `rows` are the ledger's 序号 it sums or counts.
    """

    number: int
    where: str  # the section it appears in: "一、理论学习", "开头"
    what: str  # "理论学习 参与人次"
    text: str  # as written: "1.5万余人次"
    value: Decimal
    method: str  # 合计, 计数, 单项, 占比, 比较
    rows: tuple[int, ...]
    detail: str = ""  # how a share or a comparison was worked out


@dataclass(frozen=True, slots=True)
class MonthCount:
    """Activities per month and work area, for the chart."""

    month: str  # "2026-03"
    area: str  # area name
    count: int


@dataclass(frozen=True, slots=True)
class Summary:
    """A whole half-year work summary."""

    title: str  # 新华社区2026年上半年文化工作总结
    unit: str
    period: str  # 2026H1
    period_text: str  # 2026年上半年
    opening: Paragraph
    sections: tuple[Section, ...]  # work areas, then 存在的不足, then 下半年工作打算
    gaps: tuple[Gap, ...]  # everything missing, in order of appearance, with who supplies it
    ledger: tuple[LedgerRow, ...]
    months: tuple[MonthCount, ...]
    signature: str  # the unit name for the sign-off
    date_text: str  # 2026年6月30日
    entry_count: int = 0
    unit_count: int = 1
    notes: tuple[str, ...] = field(default=())
    sources: tuple[Source, ...] = ()  # every figure of the text, traced to ledger rows
    basis: str = ""  # 统计口径: how 余/约/ranges are summed
    issued: date | None = None  # the day the summary is dated (document properties)
    roll_up: bool = False
    # when the ledger is longer than `ledger_limit`: per unit and area, for the appendix
    subtotals: tuple[Subtotal, ...] = ()
    own: tuple[int, ...] = ()  # a roll-up: the 序号 of the unit's own entries
    ledger_note: str = ""  # where the whole ledger is when the documents do not list it
    # the most entries the documents list one by one (compose sets LEDGER_LIMIT); None: all
    ledger_limit: int | None = None

    @property
    def ledger_listed(self) -> bool:
        """Whether the documents list every entry (else the .xlsx beside them holds them)."""
        return self.ledger_limit is None or len(self.ledger) <= self.ledger_limit

    @property
    def listed_own(self) -> tuple[int, ...]:
        """The 序号 of the unit's own entries the documents list beside the subtotals (none
        when they too are more than the documents list)."""
        listed = self.ledger_limit is None or len(self.own) <= self.ledger_limit
        return self.own if listed else ()

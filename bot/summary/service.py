"""Asking for a summary: who may, of which unit and period, and in which format."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from bot.core import reflection
from bot.core.periods import Period
from bot.summary import source
from bot.summary.compose import Phrases, Reflections, compose
from bot.summary.model import MonthCount, Summary
from bot.summary.templates import TemplateSet, chinese_numeral, render_markdown, render_text
from bot.summary.wording import ordinal
from storage.models import Unit


class Format(enum.StrEnum):
    """The formats a summary comes in."""

    DOCX = "docx"
    MD = "md"
    TXT = "txt"
    XLSX = "xlsx"


MIME = {
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Format.MD: "text/markdown; charset=utf-8",
    Format.TXT: "text/plain; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class SummaryKit:
    """What composing and rendering need, loaded once at start (errors found then)."""

    phrases: Phrases
    templates: TemplateSet

    @classmethod
    def load(cls, directory: Path) -> SummaryKit:
        """Load phrases and templates from a folder like templates/summary."""
        return cls(Phrases.load(directory / "phrases.yaml"), TemplateSet.load(directory))


def summarise(
    session: Session, kit: SummaryKit, unit: Unit, period: Period, today: date | None = None
) -> Summary:
    """Compose the summary of a unit (with the units below it) for a period."""
    material = source.load(session, unit, period)
    review = reflection.review(session, unit, period.key)
    reflections = Reflections(
        shortcomings=tuple(p.text for p in review.own if p.kind == reflection.SHORTCOMING),
        plans=tuple(p.text for p in review.own if p.kind == reflection.PLAN),
        owner=f"{unit.name}负责人",
        material=len(review.material),
    )
    last = min(today, period.last_day) if today else period.last_day
    return compose(
        material.entries,
        unit_name=unit.name,
        period=period,
        phrases=kit.phrases,
        reflections=reflections,
        roll_up=material.roll_up,
        unit_count=len(material.expected) if material.roll_up else 1,
        today=last,
        previous=material.previous,
        expected=material.expected,
        area_keywords=material.keywords,
    )


def chart_png(summary: Summary) -> bytes:
    """Activities by month and work area, as a PNG; the period is in its title.

    Drawn once per summary: the .docx and the picture sent in chat ask for the same chart,
    and the second asking gets the PNG already drawn (it depends only on these values)."""
    return _chart(summary.months, f"{summary.unit}{summary.period_text}各月活动数")


@lru_cache(maxsize=4)
def _chart(months: tuple[MonthCount, ...], title: str) -> bytes:
    from bot.summary.chart import activity_chart  # matplotlib: imported when a chart is drawn

    return activity_chart(months, title)


def render(summary: Summary, kit: SummaryKit, fmt: Format) -> bytes:
    """The summary in one format (the .docx with its chart)."""
    # python-docx and openpyxl: imported when a document is made, not at start
    from bot.summary.render import render_docx, render_ledger_xlsx

    if fmt is Format.DOCX:
        return render_docx(summary, chart_png(summary) if summary.months else None)
    if fmt is Format.MD:
        return render_markdown(summary, kit.templates).encode()
    if fmt is Format.TXT:
        return render_text(summary, kit.templates).encode()
    return render_ledger_xlsx(summary, numbered=True)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a summary."""

    name: str
    content: bytes
    mime: str


def attachments(summary: Summary, kit: SummaryKit) -> list[Attachment]:
    """The files a /summary sends: the .docx, and beside it the whole 台账 as .xlsx when
    the .docx lists subtotals instead of every entry (its appendix points to it)."""
    formats = [Format.DOCX] if summary.ledger_listed else [Format.DOCX, Format.XLSX]
    return [Attachment(filename(summary, f), render(summary, kit, f), MIME[f]) for f in formats]


def filename(summary: Summary, fmt: Format) -> str:
    """E.g. 新华社区2026年上半年文化工作总结.docx (台账 for the .xlsx)."""
    if fmt is Format.XLSX:
        return f"{summary.unit}{summary.period_text}活动台账.xlsx"
    return f"{summary.title}.{fmt.value}"


PREVIEW_LIMIT = 3500


def preview(summary: Summary) -> str:
    """A short text of the summary for chat: title, sections with their figures, gaps."""
    lines = [summary.title, "", summary.opening.text]
    for index, section in enumerate(summary.sections, 1):
        lines.append(f"\n{chinese_numeral(index)}、{section.heading}")
        if section.lead is not None:
            lines.append(section.lead.text)
        if section.area is None and section.points:  # 不足 and 打算: their points
            lines.append(
                "".join(f"{ordinal(i)}{p.heading}。" for i, p in enumerate(section.points, 1))
            )
    if summary.gaps:
        lines.append("\n待补充：")
        lines.extend(f"{i}. {g.what}（{g.who}）" for i, g in enumerate(summary.gaps, 1))
    text = "\n".join(lines)
    if len(text) > PREVIEW_LIMIT:
        text = text[: PREVIEW_LIMIT - 20].rstrip() + "……（全文见附件）"
    return text

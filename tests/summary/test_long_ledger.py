"""A ledger longer than the documents list: subtotals in the appendix, the whole 台账 beside.

The documents list every entry up to `LEDGER_LIMIT`; beyond it the .docx (and the Markdown
and text) list per area the activities and figures of each unit below with the area's 小计,
the unit's own entries, and say that the whole ledger is the .xlsx beside them. The tests
lower the limit on the realistic street ledger (153 entries) instead of composing thousands.
"""

from __future__ import annotations

import dataclasses
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook

from bot.summary import service
from bot.summary.chart import activity_chart
from bot.summary.model import LEDGER_LIMIT, Summary
from bot.summary.render import (
    LEDGER_COLUMNS,
    TemplateSet,
    default_templates_dir,
    ledger_date,
    render_docx,
    render_ledger_xlsx,
    render_markdown,
    render_text,
    row_ranges,
)
from tests.summary.ledger_data import community_summary, ledger, phrases, street_summary

LIMIT = 100  # the street's 153 entries are "long"; a community's 30-odd are not
XLSX_NOTE = "全部活动明细见附件台账（.xlsx）"


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return TemplateSet.load(default_templates_dir())


@pytest.fixture(scope="module")
def street() -> Summary:
    """The street's roll-up with one activity of the street itself (街道本级)."""
    data = ledger()
    first = data.entries[0]
    own = dataclasses.replace(
        first,
        id=10_000,
        unit=data.street,
        unit_path="/1/",
        branch=data.street,
        title="街道理论学习中心组学习",
        reporter="周主任",
    )
    return street_summary([*data.entries, own], ledger_limit=LIMIT)


@pytest.fixture(scope="module")
def street_docx(street: Summary) -> Any:
    chart = activity_chart(street.months, "和平街道2026年上半年各月活动数")
    return Document(io.BytesIO(render_docx(street, chart)))


def _area_count(summary: Summary, area: str) -> Decimal:
    """The activity count of an area as the text states it (its 数据来源 entry)."""
    return next(s.value for s in summary.sources if s.what == f"{area} 活动数")


def test_the_roll_up_appendix_has_subtotals_that_add_up_to_the_text(street: Summary) -> None:
    assert not street.ledger_listed and len(street.ledger) == 154
    by_area: dict[str, list[Any]] = defaultdict(list)
    for subtotal in street.subtotals[:-1]:
        by_area[subtotal.area].append(subtotal)
    sections = {s.area: s for s in street.sections if s.area}
    assert set(sections) <= set(by_area)
    for area, rows in by_area.items():
        *units, total = rows
        assert total.unit == "" and all(u.unit for u in units)
        # the units' activities add up to the area's 小计, which is the count in the text
        assert sum(u.count for u in units) == total.count
        if area in sections:
            assert total.count == _area_count(street, area)
            assert total.figures == sections[area].figures  # the figures the text states
            lead = sections[area].lead
            assert lead is not None
            for figure in total.figures:
                assert figure.text in lead.text
        # and so do their figures, per figure and measure word
        for figure in total.figures:
            parts = [
                f.low
                for u in units
                for f in u.figures
                if (f.label, f.unit) == (figure.label, figure.unit)
            ]
            assert sum(parts, Decimal(0)) == figure.low
        assert sorted(r for u in units for r in u.rows) == list(total.rows)
    everything = street.subtotals[-1]
    assert everything.area == "" and everything.count == street.entry_count == 154
    assert everything.count == _area_count(street, "全部")
    assert list(everything.rows) == list(range(1, 155))
    # the street's own activity is listed with its 序号 in the ledger
    [own] = street.own
    assert street.ledger[own - 1].title == "街道理论学习中心组学习"


def test_the_roll_up_docx_lists_subtotals_and_the_streets_own_entries(
    street_docx: Any, street: Summary
) -> None:
    texts = [p.text for p in street_docx.paragraphs]
    assert "附件：1．活动情况统计" in texts
    assert "　　　2．数据来源" in texts and "　　　3．活动台账（.xlsx）" in texts
    assert "活动情况统计" in texts and "活动台账" not in texts
    note = next(t for t in texts if XLSX_NOTE in t)
    assert note.startswith("本期共登记活动154项，超过100项，下表按类别列出各社区的小计")
    assert "“序号”即附件2所列“台账序号”" in note
    subtotals, own, sources = street_docx.tables
    header = [c.text for c in subtotals.rows[0].cells]
    assert header == ["类别", "单位", "活动数", "数量", "台账序号"]
    assert len(subtotals.rows) == 1 + len(street.subtotals)
    first = street.subtotals[0]
    assert [c.text for c in subtotals.rows[1].cells] == [
        first.area,
        first.unit,
        f"{first.count}项",
        first.figures_text,
        row_ranges(first.rows),
    ]
    assert [c.text for c in subtotals.rows[-1].cells][:3] == ["合计", "", "154项"]
    assert "和平街道本级登记的活动" in texts
    assert len(own.rows) == 2
    row = street.ledger[street.own[0] - 1]
    assert [c.text for c in own.rows[1].cells] == [
        str(street.own[0]),
        ledger_date(row),
        "和平街道",
        row.area,
        "街道理论学习中心组学习",
        row.figures,
        "周主任",
    ]
    assert len(sources.rows) == 1 + len(street.sources)
    assert not any(len(t.rows) == 1 + len(street.ledger) for t in street_docx.tables)


def test_the_markdown_and_text_follow_the_same_rule(street: Summary, templates) -> None:
    markdown = render_markdown(street, templates)
    assert "## 附件1：活动情况统计" in markdown and "## 附件1：活动台账" not in markdown
    assert XLSX_NOTE in markdown and "### 和平街道本级登记的活动" in markdown
    assert "| 合计 |  | 154项 |" in markdown
    assert "3. 活动台账（.xlsx）" in markdown
    text = render_text(street, templates)
    assert "附件1：活动情况统计" in text and XLSX_NOTE in text
    assert "合计｜154项｜台账序号 1—154" in text


def test_a_long_community_summary_points_to_the_xlsx(templates) -> None:
    short = community_summary("新华社区")
    assert short.ledger_listed and len(short.ledger) < LEDGER_LIMIT
    long = community_summary("新华社区", ledger_limit=10)
    count = len(long.ledger)
    assert not long.ledger_listed and count > 10
    assert long.ledger_note.startswith(f"本期共登记活动{count}项，超过10项，下表按类别列出小计")
    assert XLSX_NOTE in long.ledger_note
    doc = Document(io.BytesIO(render_docx(long)))
    texts = [p.text for p in doc.paragraphs]
    assert long.ledger_note in texts
    subtotals, _sources = doc.tables
    assert [c.text for c in subtotals.rows[0].cells] == ["类别", "活动数", "数量", "台账序号"]
    assert [c.text for c in subtotals.rows[-1].cells][:2] == ["合计", f"{count}项"]
    assert len(subtotals.rows) == 1 + len(long.subtotals) and long.own == ()
    # the body is the same text as when the ledger is listed
    body = render_markdown(short, templates).split("附件：")[0]
    assert render_markdown(long, templates).split("附件：")[0] == body
    # what a /summary sends: the .docx alone, or with the .xlsx when it is long
    kit = service.SummaryKit(phrases(), templates)
    assert [a.name for a in service.attachments(short, kit)] == [
        "新华社区2026年上半年文化工作总结.docx"
    ]
    files = service.attachments(long, kit)
    assert [a.name for a in files] == [
        "新华社区2026年上半年文化工作总结.docx",
        "新华社区2026年上半年活动台账.xlsx",
    ]
    assert files[1].mime == service.MIME[service.Format.XLSX]


def test_the_xlsx_beside_holds_every_entry_with_its_number(street: Summary) -> None:
    data = service.render(street, service.SummaryKit(phrases(), TemplateSet.load(
        default_templates_dir())), service.Format.XLSX)  # fmt: skip
    sheet = load_workbook(io.BytesIO(data))["台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("序号", *LEDGER_COLUMNS)
    assert len(rows) == 1 + len(street.ledger)
    for number, (values, entry) in enumerate(zip(rows[1:], street.ledger, strict=True), 1):
        assert values[0] == number
        assert values[1:4] == (entry.unit, entry.area, entry.title)
        assert (values[4].date(), values[5].date()) == (entry.start, entry.end)
        assert values[6:] == (entry.location, entry.figures, entry.content, entry.reporter)
    # the 序号 a subtotal cites are that unit's rows of the sheet
    for subtotal in street.subtotals:
        if subtotal.unit:
            assert {rows[n][1] for n in subtotal.rows} == {subtotal.unit}
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:J{len(rows)}"


def test_the_xlsx_of_many_entries_reads_back_whole() -> None:
    base = community_summary("新华社区")
    rows = tuple(
        dataclasses.replace(
            base.ledger[i % len(base.ledger)],
            entry_id=i + 1,
            title=f'=HYPERLINK("x")第{i + 1}期' if i == 7 else f"活动第{i + 1}期\x07",
        )
        for i in range(5_000)
    )
    sheet = load_workbook(io.BytesIO(render_ledger_xlsx(dataclasses.replace(base, ledger=rows),
                                                        numbered=True)))["台账"]  # fmt: skip
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 5_001
    assert [v[0] for v in values[1:]] == list(range(1, 5_001))
    assert values[5_000][3] == "活动第5000期"  # control characters dropped
    formula = sheet.cell(9, 4)
    assert formula.value == '=HYPERLINK("x")第8期' and formula.data_type == "s"
    assert formula.quotePrefix  # Excel keeps it text when the cell is edited


def test_the_chart_is_drawn_once_per_summary(street: Summary) -> None:
    first = service.chart_png(street)
    again = service.chart_png(street)
    assert again is first  # not drawn again for the chat's picture after the .docx's
    other = dataclasses.replace(street, months=street.months[1:])
    assert service.chart_png(other) is not first

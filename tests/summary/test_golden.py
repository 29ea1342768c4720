"""A community's and a street's summary from a realistic half-year (street_ledger.yaml):
the Markdown against reviewed texts, every figure traced to ledger rows, the .docx read back.

To accept a deliberate change of wording, regenerate the expected texts and read them again
as the clerk who files them:

    HUIBAO_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/summary/test_golden.py
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from bot.core.parsing.numerals import parse_number
from bot.summary.chart import activity_chart
from bot.summary.compose import EntryIn
from bot.summary.model import Summary
from bot.summary.render import (
    TemplateSet,
    default_templates_dir,
    render_docx,
    render_markdown,
)
from bot.summary.wording import readable, sentence
from tests.summary.ledger_data import community_summary, ledger, street_summary

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("HUIBAO_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return TemplateSet.load(default_templates_dir())


@pytest.fixture(scope="module")
def community() -> Summary:
    return community_summary("新华社区")


@pytest.fixture(scope="module")
def street() -> Summary:
    return street_summary()


def test_the_ledger_is_realistic() -> None:
    data = ledger()
    assert len(data.entries) >= 150
    assert {e.unit for e in data.entries} == {"新华社区", "朝阳社区", "光明社区", "东风社区"}
    assert sum(1 for e in data.entries if not e.metrics) >= 9  # imported, no figures
    assert sum(1 for e in data.entries if e.area_name == "其他") >= 5
    assert any(m.approx == "about" for e in data.entries for m in e.metrics)


# --------------------------------------------------------------------------- golden texts


@pytest.mark.parametrize("name", ["community", "street"])
def test_markdown_reads_as_reviewed(name: str, request: pytest.FixtureRequest, templates) -> None:
    summary = request.getfixturevalue(name)
    text = render_markdown(summary, templates)
    expected = GOLDEN / f"{name}.md"
    if UPDATE:
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- traced figures

_CN = "零〇一二两三四五六七八九十百千万"
_MEASURES = "项次场个名人户条份期支册幅处张件元位篇棵"
_DATES = re.compile(r"\d{4}年|\d{1,2}月\d{1,2}日|\d{1,2}月至\d{1,2}月|\d{1,2}月|至\d{1,2}日")
_QUOTED = re.compile(r"“[^“”]*”")
NUMBERS = re.compile(rf"\d+(?:\.\d+)?|[{_CN}]+(?=[余多]?[{_MEASURES}])")


def _table(markdown: str, heading: str) -> list[list[str]]:
    part = markdown.split(heading, 1)[1]
    rows = []
    for line in part.splitlines():
        if line.startswith("## ") and rows:
            break
        if line.startswith("| ") and not line.startswith("| ---") and not line.startswith("| 序号"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _ranges(text: str) -> list[int]:
    rows: list[int] = []
    for part in text.split("、"):
        if "—" in part:
            first, last = part.split("—")
            rows.extend(range(int(first), int(last) + 1))
        elif part:
            rows.append(int(part))
    return rows


def _stored_texts(summary: Summary) -> list[str]:
    """What staff typed that the text may quote: contents, 成效, 亮点, places, points."""
    data = ledger()
    texts: list[str] = []
    for e in data.entries:
        for value in (e.content, e.achievements, e.highlights, e.location):
            if value and sentence(value):
                texts.append(sentence(value))
    texts.extend(sentence(text) for *_, text in data.reflections)
    return sorted(set(texts), key=len, reverse=True)


def _kind(entries_metrics: list[tuple[Decimal, str]]) -> str:
    kinds = {a for _, a in entries_metrics}
    if "about" in kinds:
        return "about"
    return "more_than" if kinds & {"more_than", "range"} else "exact"


def check_traced(summary: Summary, markdown: str) -> list[str]:
    """Every number of the text is a stored value or a sum the 数据来源 table explains,
    recomputed here from the ledger data. Returns what does not add up."""
    data = ledger()
    problems: list[str] = []
    ledger_rows = _table(markdown, "## 附件1：活动台账")
    by_key = {(e.unit, e.title, f"{e.start.month}月{e.start.day}日"): e for e in data.entries}
    rows: dict[int, EntryIn] = {}
    for number, day, unit, _area, title, *_ in ledger_rows:
        rows[int(number)] = by_key[(unit, title.replace("\\|", "|"), day.split("—")[0])]
    sources = _table(markdown, "## 附件2：数据来源")
    assert sources, "no 数据来源 table"
    for number, _where, text, what, method, row_text in sources:
        entries = [rows[r] for r in _ranges(row_text)]
        if method.startswith("计数"):
            if what.endswith("数") and ("社区数" in what or "单位数" in what):
                value = len({e.unit for e in entries})
                ok = text == f"{value}个社区"
            else:
                ok = re.fullmatch(rf"{len(entries)}[项次]", text) is not None
        elif method in ("合计", "单项"):
            labels = what.rsplit(" ", 1)[1].split("、")
            found = [m for e in entries for m in e.metrics if m.label in labels]
            parts = [(m.low, m.approx, m.text) for m in found]
            total = sum((low for low, _, _ in parts), Decimal(0))
            kind = _kind([(low, approx) for low, approx, _ in parts])
            units = {m.unit for m in found}
            if len(parts) == 1 and parts[0][1] == "range":
                ok = text == parts[0][2]
            else:
                ok = len(units) == 1 and text == readable(total, kind, units.pop())
            ok = ok and len({id(e) for e in entries}) == len(
                {id(e) for e in entries if any(m.label in labels for m in e.metrics)}
            )
        elif method.startswith("占比"):
            part, whole = (int(x) for x in re.findall(r"\d+", method))
            ok = part == len(entries) and text == f"{round(Decimal(100 * part) / whole)}%"
        elif method.startswith("比较"):
            now, before = (int(x) for x in re.findall(r"\d+", method))
            ok = now == len(entries) and (text == "持平" or text == f"{abs(now - before)}项")
            area = what.split(" ")[0].split("·")[0]
            scope = [e for e in data.previous if summary.roll_up or e.unit == summary.unit]
            if area != "全部":
                scope = [e for e in scope if e.area_name == area]
            ok = ok and before == len(scope)
        else:
            ok = False
        if not ok:
            problems.append(f"source {number}: {text} ({what}, {method}) does not add up")

    body = markdown.split("## 待补充事项")[0]
    texts = {row[2] for row in sources}
    for text in texts:
        if text not in body and text != "持平":
            problems.append(f"source text {text} is not in the text")
    rest = body
    for stored in _stored_texts(summary):
        rest = rest.replace(stored, "")
    rest = _QUOTED.sub("", rest)
    rest = _DATES.sub("", rest)
    for text in sorted(texts, key=len, reverse=True):
        rest = re.sub(rf"(?<![\d.]){re.escape(text)}", "", rest)
    for match in NUMBERS.finditer(rest):
        token = match.group()
        if token.isdigit() or "." in token:
            problems.append(
                f"untraced number {token}: …{rest[max(0, match.start() - 20) : match.end() + 10]}…"
            )
        else:
            problems.append(f"untraced Chinese number {token} ({parse_number(token)})")
    return problems


@pytest.mark.parametrize("name", ["community", "street"])
def test_every_figure_is_traced(name: str, request: pytest.FixtureRequest, templates) -> None:
    summary = request.getfixturevalue(name)
    markdown = render_markdown(summary, templates)
    assert check_traced(summary, markdown) == []
    basis = markdown.split("## 附件2：数据来源")[1].strip().splitlines()[0]
    assert basis.startswith("统计口径：")  # how 余/约/ranges are summed
    for rule in ("按所报下限相加", "合计写作“余”", "合计写作“约”", "范围"):
        assert rule in basis


def test_the_check_finds_a_figure_nobody_computed(community: Summary, templates) -> None:
    markdown = render_markdown(community, templates)
    assert "组织学习24场次" in markdown
    tampered = markdown.replace("组织学习24场次", "组织学习26场次", 1)
    assert any("26" in p for p in check_traced(community, tampered))
    invented = markdown.replace("现将有关情况总结如下", "另有三场活动。现将有关情况总结如下", 1)
    assert any("三" in p for p in check_traced(community, invented))


def test_street_totals_are_the_sums_of_its_communities(street: Summary) -> None:
    communities = [
        community_summary(name) for name in ("新华社区", "朝阳社区", "光明社区", "东风社区")
    ]

    def totals(summary: Summary) -> dict[tuple[str | None, str, str], Decimal]:
        result: dict[tuple[str | None, str, str], Decimal] = {}
        for section in summary.sections:
            for figure in section.figures:
                key = (section.area, figure.label, figure.unit)
                result[key] = result.get(key, Decimal(0)) + figure.low
        return result

    combined: dict[tuple[str | None, str, str], Decimal] = {}
    for part in communities:
        for key, value in totals(part).items():
            combined[key] = combined.get(key, Decimal(0)) + value
    assert totals(street) == combined
    assert street.entry_count == sum(c.entry_count for c in communities)


# --------------------------------------------------------------------------- the .docx


@pytest.fixture(scope="module")
def street_docx(street: Summary) -> Any:
    chart = activity_chart(street.months, f"{street.unit}{street.period_text}各月活动数")
    return Document(io.BytesIO(render_docx(street, chart)))


def _runs(doc: Any) -> Iterator[Any]:
    for part in doc.part.package.iter_parts():
        name = str(part.partname)
        if name == "/word/document.xml" or name.startswith(("/word/header", "/word/footer")):
            yield from part.element.iter(qn("w:r"))


def test_docx_text_is_the_markdowns(street_docx: Any, street: Summary, templates) -> None:
    paragraphs = [p.text for p in street_docx.paragraphs if p.text]
    assert paragraphs[0] == street.title
    markdown = render_markdown(street, templates)
    for text in paragraphs[1:40]:
        if text.startswith(("一、", "二、", "三、")):
            assert f"## {text}" in markdown
        elif not text.startswith("附件"):
            assert text.replace("【待补充：", "**【待补充：").replace("】", "】**") in markdown or (
                text in markdown
            )
    assert sum(p.text.count("【待补充：") for p in street_docx.paragraphs) >= 7


def test_docx_styles_and_fonts(street_docx: Any) -> None:
    for run in _runs(street_docx):
        rpr = run.find(qn("w:rPr"))
        rfonts = None if rpr is None else rpr.find(qn("w:rFonts"))
        assert rfonts is not None and rfonts.get(qn("w:eastAsia")), "a run without a CJK font"
    body = street_docx.styles["Huibao Body"]
    assert body.font.size == Pt(16)
    headings = [p for p in street_docx.paragraphs if p.style.name == "Huibao Heading 1"]
    assert [p.text[:2] for p in headings[:3]] == ["一、", "二、", "三、"]
    points = [p.text for p in street_docx.paragraphs if p.style.name == "Huibao Body"]
    assert any(t.startswith("一是新华社区开展理论学习活动") for t in points)


def test_docx_sections_signature_and_properties(street_docx: Any, street: Summary) -> None:
    portrait, landscape = street_docx.sections
    assert portrait.orientation == WD_ORIENT.PORTRAIT
    assert (round(portrait.page_width.mm), round(portrait.page_height.mm)) == (210, 297)
    # the ledger appendix is landscape, and 宣传教育 fits its 类别 column on one line
    assert landscape.orientation == WD_ORIENT.LANDSCAPE
    assert (round(landscape.page_width.mm), round(landscape.page_height.mm)) == (297, 210)
    ledger_table, sources_table = street_docx.tables
    category = ledger_table.rows[0].cells[3]
    assert category.text == "类别"
    width_mm = int(category._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) / 56.7
    assert width_mm - 2 >= 4 * 10.5 * 0.3528  # four 五号 characters and the cell margins
    assert len(ledger_table.rows) == 1 + len(street.ledger)
    assert [c.text for c in sources_table.rows[0].cells] == [
        "序号", "部分", "数字", "所指", "算法", "台账序号",
    ]  # fmt: skip
    assert len(sources_table.rows) == 1 + len(street.sources)
    texts = [p.text for p in street_docx.paragraphs]
    assert texts.index("附件1") < texts.index("附件2")
    assert "附件：1．活动台账" in texts and "　　　2．数据来源" in texts
    # the signature is kept with its date on one page
    name = next(p for p in street_docx.paragraphs if p.text == street.signature)
    assert name.paragraph_format.keep_with_next
    assert name.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    # page numbers: PAGE fields, odd pages at the right, even at the left; the appendix
    # continues the body's numbering
    assert street_docx.settings.odd_and_even_pages_header_footer
    for footer, align in (
        (portrait.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (portrait.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment == align
        fields = [t.text.strip() for t in paragraph._element.iter(qn("w:instrText"))]
        assert fields == ["PAGE"] and paragraph.text.startswith("— ")
    assert landscape.footer.is_linked_to_previous
    # today's properties, not python-docx's template of 2013
    props = street_docx.core_properties
    assert props.title == street.title
    assert props.author == "和平街道"
    assert props.created == datetime(2026, 6, 30, tzinfo=UTC)
    assert props.modified == datetime(2026, 6, 30, tzinfo=UTC)

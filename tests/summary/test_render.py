"""Tests for bot.summary.render and bot.summary.chart: reopen what was written and check it."""

from __future__ import annotations

import dataclasses
import io
import time
import warnings
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt
from matplotlib.font_manager import findfont
from matplotlib.ft2font import FT2Font
from openpyxl import load_workbook

from bot.summary.chart import Y_LABEL, activity_chart, cjk_font, cjk_font_path
from bot.summary.model import LedgerRow, MonthCount, Paragraph, Summary
from bot.summary.render import (
    LEDGER_COLUMNS,
    TemplateError,
    TemplateSet,
    chinese_numeral,
    default_templates_dir,
    ledger_date,
    point_number,
    render_docx,
    render_ledger_xlsx,
    render_markdown,
    render_text,
    section_number,
)
from bot.summary.wording import ordinal
from tests.summary.sample import ALL_FIGURES, LEDGER, PARTICIPANTS_GAP, big_summary, sample_summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DOCX_HEADER = ("序号", "日期", "单位", "类别", "活动名称", "数量", "填报人")
BODY_STYLES = {"Huibao Body", "Huibao Gap List"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def summary():
    return sample_summary()


@pytest.fixture(scope="module")
def chart_png(summary):
    return activity_chart(summary.months, f"{summary.period_text}各月活动场次")


@pytest.fixture(scope="module")
def doc(summary, chart_png):
    return Document(io.BytesIO(render_docx(summary, chart_png)))


@pytest.fixture(scope="module")
def templates():
    return TemplateSet.load(default_templates_dir())


def _paragraphs(doc: Any, style: str) -> list[Any]:
    return [p for p in doc.paragraphs if p.style.name == style]


def _fonts(element: Any) -> tuple[str | None, str | None]:
    """(ascii, eastAsia) of a run's or a style's w:rFonts."""
    rpr = element.find(qn("w:rPr"))
    rfonts = None if rpr is None else rpr.find(qn("w:rFonts"))
    if rfonts is None:
        return None, None
    return rfonts.get(qn("w:ascii")), rfonts.get(qn("w:eastAsia"))


def _run_elements(doc: Any) -> Iterator[Any]:
    """Every w:r in the main document, its tables, headers and footers."""
    for part in doc.part.package.iter_parts():
        name = str(part.partname)
        if name == "/word/document.xml" or name.startswith(("/word/header", "/word/footer")):
            yield from part.element.iter(qn("w:r"))


# --------------------------------------------------------------------------- numbering


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "一"),
        (9, "九"),
        (10, "十"),
        (11, "十一"),
        (19, "十九"),
        (20, "二十"),
        (21, "二十一"),
        (99, "九十九"),
        (100, "一百"),
        (101, "一百零一"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (1010, "一千零一十"),
    ],
)
def test_chinese_numerals(n, text):
    assert chinese_numeral(n) == text


def test_section_and_point_numbers():
    assert [section_number(i) for i in (1, 2, 3)] == ["一", "二", "三"]
    assert point_number(1) == "（一）"
    assert point_number(12) == "（十二）"
    assert point_number(23) == "（二十三）"
    with pytest.raises(ValueError):
        section_number(0)


def test_ledger_date():
    row = LEDGER[4]
    assert ledger_date(row) == "6月1日—6月3日"
    assert ledger_date(dataclasses.replace(row, end=row.start)) == "6月1日"
    across = dataclasses.replace(row, start=date(2025, 12, 30), end=date(2026, 1, 2))
    assert ledger_date(across) == "2025年12月30日—2026年1月2日"


# --------------------------------------------------------------------------- .docx


def test_docx_page_is_a4_with_gb_margins(doc):
    section = doc.sections[0]
    for value, mm in (
        (section.page_width, 210),
        (section.page_height, 297),
        (section.top_margin, 37),
        (section.bottom_margin, 35),
        (section.left_margin, 28),
        (section.right_margin, 26),
    ):
        assert value.mm == pytest.approx(mm, abs=0.1)


def test_docx_title(doc, summary):
    title = doc.paragraphs[0]
    assert title.style.name == "Huibao Title"
    assert title.text == summary.title
    assert (title.alignment or title.style.paragraph_format.alignment) == WD_ALIGN_PARAGRAPH.CENTER
    assert title.style.font.size == Pt(22)
    assert _fonts(title.style.element) == ("方正小标宋简体", "方正小标宋简体")
    for run in title.runs:
        assert run.font.size == Pt(22)
        assert _fonts(run._element) == ("方正小标宋简体", "方正小标宋简体")


def test_docx_long_title_breaks_after_the_unit():
    long = dataclasses.replace(
        sample_summary(),
        unit="胜利街道新华社区居民委员会",
        title="胜利街道新华社区居民委员会2026年上半年文化工作总结",
    )
    title = Document(io.BytesIO(render_docx(long))).paragraphs[0]
    assert len(title._element.findall(".//" + qn("w:br"))) == 1
    assert title.text == "胜利街道新华社区居民委员会\n2026年上半年文化工作总结"


def test_docx_every_run_sets_the_east_asian_font(doc):
    runs = list(_run_elements(doc))
    assert len(runs) > 40
    missing = [r for r in runs if not _fonts(r)[1]]
    assert missing == []
    # and the styles the text uses set it too
    for name in ("Normal", "Huibao Body", "Huibao Heading 1", "Huibao Heading 2", "Huibao Table"):
        assert _fonts(doc.styles[name].element)[1], name


def test_docx_body_paragraphs(doc):
    body = [p for p in doc.paragraphs if p.style.name in BODY_STYLES and p.text]
    assert len(body) >= 12
    for name in BODY_STYLES:
        style = doc.styles[name]
        assert style.font.size == Pt(16)
        assert _fonts(style.element) == ("仿宋_GB2312", "仿宋_GB2312")
        pf = style.paragraph_format
        assert pf.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert pf.line_spacing == Pt(28)
        assert pf.first_line_indent == Pt(32)
        ind = style.element.pPr.find(qn("w:ind"))
        assert ind.get(qn("w:firstLineChars")) == "200"
    for paragraph in body:
        for run in paragraph.runs:
            assert run.font.size in (None, Pt(16))
            assert _fonts(run._element)[1] == "仿宋_GB2312"


def test_docx_heading_levels(doc, summary):
    h1 = _paragraphs(doc, "Huibao Heading 1")
    numbered = [p.text for p in h1 if p.text != "待补充事项"]
    assert numbered == [
        f"{section_number(i)}、{s.heading}" for i, s in enumerate(summary.sections, 1)
    ]
    assert numbered[0].startswith("一、") and numbered[1].startswith("二、")
    # sub-points are body paragraphs "一是…。二是…", numbered again in each section
    texts = [p.text for p in _paragraphs(doc, "Huibao Body")]
    assert any(t.startswith("一是党员学习做到常态化。每月固定一天") for t in texts)
    assert any(t.startswith("二是理论宣讲走进居民小区。组建社区宣讲小分队") for t in texts)
    assert any(t.startswith("一是拓展活动形式。结合暑期和国庆节") for t in texts)
    for name, font, level in (("Huibao Heading 1", "黑体", "0"),):
        style = doc.styles[name]
        assert _fonts(style.element) == (font, font)
        assert style.font.size == Pt(16)
        assert style.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert style.paragraph_format.line_spacing == Pt(28)
        assert style.element.pPr.find(qn("w:outlineLvl")).get(qn("w:val")) == level
        for paragraph in _paragraphs(doc, name):
            for run in paragraph.runs:
                assert _fonts(run._element) == (font, font)
    assert not any(p.style.name.startswith("Heading") for p in doc.paragraphs)


def test_docx_content_order(doc, summary):
    texts = [p.text for p in doc.paragraphs if p.text]
    order = [
        summary.title,
        summary.opening.text,
        "一、抓实理论学习，夯实思想基础",
        "五、下半年工作打算",
        "待补充事项",
        "1. 文体活动的参与人次（请新华社区 李华补充）",
        "附件：1．活动台账",
        summary.signature,
        summary.date_text,
        "附件1",
        "活动台账",
    ]
    positions = [texts.index(t) for t in order]
    assert positions == sorted(positions)
    gap_item = next(p for p in doc.paragraphs if p.text.startswith("1. "))
    assert gap_item.style.name == "Huibao Gap List"
    sign_off = [p for p in doc.paragraphs if p.text in (summary.signature, summary.date_text)]
    assert [p.alignment for p in sign_off] == [WD_ALIGN_PARAGRAPH.RIGHT] * 2
    appendix = next(p for p in doc.paragraphs if p.text == "附件1")
    assert appendix.style.name == "Huibao Appendix"


def test_docx_gap_marker_is_highlighted(doc):
    runs = [r for p in doc.paragraphs for r in p.runs if r.text == PARTICIPANTS_GAP.marker]
    assert len(runs) == 1
    assert runs[0].font.highlight_color == WD_COLOR_INDEX.YELLOW
    assert runs[0].bold


def _footer_tokens(paragraph: Any) -> list[str]:
    tokens = []
    for run in paragraph._element.iter(qn("w:r")):
        for child in run:
            if child.tag == qn("w:t"):
                tokens.append(child.text)
            elif child.tag == qn("w:fldChar"):
                tokens.append(child.get(qn("w:fldCharType")))
            elif child.tag == qn("w:instrText"):
                tokens.append(f"instr:{child.text.strip()}")
        assert _fonts(run) == ("宋体", "宋体")
        assert run.find(qn("w:rPr")).find(qn("w:sz")).get(qn("w:val")) == "28"  # 14 pt
    return tokens


def test_docx_page_numbers_odd_right_even_left(doc):
    # GB/T 9704 7.5: 4号 半角宋体 Arabic numerals between two 一字线, odd pages at the right
    # and even pages at the left, one character in; was: every page number centred
    assert doc.settings.odd_and_even_pages_header_footer
    section = doc.sections[0]
    for footer, align, side in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "w:rightChars"),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "w:leftChars"),
    ):
        assert not footer.is_linked_to_previous
        paragraph = footer.paragraphs[0]
        tokens = _footer_tokens(paragraph)
        assert tokens[0] == "— " and tokens[-1] == " —"
        inner = tokens[1:-1]
        assert inner[0] == "begin" and inner[1] == "instr:PAGE" and inner[-1] == "end"
        assert paragraph.alignment == align
        ind = paragraph._element.pPr.find(qn("w:ind"))
        assert ind.get(qn(side)) == "100"  # one character
        indent = paragraph.paragraph_format
        assert (indent.right_indent if side == "w:rightChars" else indent.left_indent) == Pt(14)


def test_docx_ledger_table(doc, summary):
    assert len(doc.tables) == 1
    table = doc.tables[0]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert tuple(rows[0]) == DOCX_HEADER
    assert len(rows) == 1 + len(summary.ledger)
    for number, (cells, entry) in enumerate(zip(rows[1:], summary.ledger, strict=True), 1):
        assert cells == [
            str(number),
            ledger_date(entry),
            entry.unit,
            entry.area,
            entry.title,
            entry.figures,
            entry.reporter,
        ]
    assert rows[5][1] == "6月1日—6月3日"
    assert rows[2][1] == "3月18日"
    header_tr = table.rows[0]._tr
    assert header_tr.trPr.find(qn("w:tblHeader")) is not None  # repeats on every page


def test_docx_chart_embedded_only_when_given(doc, summary):
    assert len(doc.inline_shapes) == 1
    assert any(p.text.startswith("图1") for p in doc.paragraphs)
    without = Document(io.BytesIO(render_docx(summary)))
    assert len(without.inline_shapes) == 0


def test_docx_without_ledger_gaps_or_chart(summary):
    bare = dataclasses.replace(summary, ledger=(), gaps=())
    doc = Document(io.BytesIO(render_docx(bare)))
    texts = [p.text for p in doc.paragraphs]
    assert "待补充事项" not in texts
    assert "附件" not in texts and "附件：活动台账" not in texts
    assert texts[-1] == summary.date_text
    assert doc.tables == []


def test_docx_survives_control_characters(summary):
    row = dataclasses.replace(LEDGER[0], title="宣讲\x07活动\x00", content="a\x1bb")
    odd = dataclasses.replace(summary, ledger=(row,))
    doc = Document(io.BytesIO(render_docx(odd)))
    assert doc.tables[0].rows[1].cells[4].text == "宣讲活动"


def test_docx_big_ledger(capsys):
    big = big_summary(10_000)
    started = time.perf_counter()
    data = render_docx(big)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nrender_docx with 10,000 ledger rows: {elapsed:.2f} s, {len(data) / 1e6:.1f} MB")
    doc = Document(io.BytesIO(data))
    tbl = doc.tables[0]._tbl
    trs = tbl.tr_lst
    assert len(trs) == 10_001
    last = [t.text or "" for t in trs[-1].iter(qn("w:t"))]
    entry = big.ledger[-1]
    assert last == [
        "10000",
        ledger_date(entry),
        entry.unit,
        entry.area,
        entry.title,
        entry.figures,
        entry.reporter,
    ]
    assert all(_fonts(r)[1] for r in trs[-1].iter(qn("w:r")))


# --------------------------------------------------------------------------- Markdown and text


def _expected_headings(summary: Summary) -> list[str]:
    out = []
    for i, section in enumerate(summary.sections, 1):
        out.append(f"{section_number(i)}、{section.heading}")
        numbered = [p for p in section.points if p.heading]
        out.extend(f"{ordinal(j)}{p.heading}。" for j, p in enumerate(numbered, 1))
    return out


@pytest.mark.parametrize("render", [render_markdown, render_text])
def test_markdown_and_text_content(render, summary, templates):
    out = render(summary, templates)
    for heading in _expected_headings(summary):
        assert heading in out
    for figure in ALL_FIGURES:
        assert figure.text in out
    assert PARTICIPANTS_GAP.marker in out
    assert "待补充事项" in out
    assert "1. 文体活动的参与人次（请新华社区 李华补充）" in out
    assert summary.signature in out and summary.date_text in out
    for entry in summary.ledger:
        assert entry.title in out and ledger_date(entry) in out
    # headings come in order
    positions = [out.index(h) for h in _expected_headings(summary)]
    assert "附件：1. 活动台账" in out
    assert positions == sorted(positions)
    assert "\n\n\n" not in out and out.endswith("\n")


def test_markdown_structure(summary, templates):
    md = render_markdown(summary, templates)
    lines = md.splitlines()
    assert lines[0] == f"# {summary.title}"
    assert "## 一、抓实理论学习，夯实思想基础" in lines
    assert any(line.startswith("一是党员学习做到常态化。每月固定一天") for line in lines)
    assert f"**{PARTICIPANTS_GAP.marker}**" in md
    assert "| 序号 | 日期 | 单位 | 类别 | 活动名称 | 数量 | 填报人 |" in lines
    assert "| 5 | 6月1日—6月3日 | 新华社区 | 志愿服务 |" in md


def test_markdown_escapes_user_text(summary, templates):
    row = dataclasses.replace(LEDGER[0], title="A|B *重要*")
    md = render_markdown(dataclasses.replace(summary, ledger=(row,)), templates)
    table_row = next(line for line in md.splitlines() if line.startswith("| 1 |"))
    assert "A\\|B \\*重要\\*" in table_row
    assert table_row.count(" | ") == 6  # still seven cells
    opening = Paragraph(("1. 第一条", PARTICIPANTS_GAP, "# 不是标题"))
    md = render_markdown(dataclasses.replace(summary, opening=opening), templates)
    # "\\#" mid-line is harmless: Markdown shows it as "#"
    assert f"1\\. 第一条**{PARTICIPANTS_GAP.marker}**\\# 不是标题" in md


def test_text_ledger_is_aligned(summary, templates):
    text = render_text(summary, templates)
    lines = text.splitlines()
    start = lines.index("附件1：活动台账")
    table = [line for line in lines[start + 1 :] if line]
    assert table[0].startswith("序号")
    assert len(table) == 1 + len(summary.ledger)
    # every row puts its reporter at the same display column
    from bot.summary.render import display_width

    columns = {display_width(line[: line.rindex(" ") + 1]) for line in table}
    assert len(columns) == 1
    assert "　　上半年共组织理论学习和宣讲活动12场次" in text


def _template_dir(tmp_path: Path, md: str | None = None, txt: str | None = None) -> Path:
    shipped = default_templates_dir()
    for name, text in (("summary.md.j2", md), ("summary.txt.j2", txt)):
        content = text if text is not None else (shipped / name).read_text("utf-8")
        (tmp_path / name).write_text(content, "utf-8")
    return tmp_path


def test_template_syntax_error_names_file_and_line(tmp_path):
    broken = "# {{ summary.title }}\n\n{% for s in summary.sections %}\n{{ s.heading }\n"
    with pytest.raises(TemplateError) as info:
        TemplateSet.load(_template_dir(tmp_path, md=broken))
    message = str(info.value)
    assert message.startswith("summary.md.j2, line 4: ")
    assert "'}'" in message


def test_template_undefined_name_fails_at_render(tmp_path, summary):
    txt = "{{ summary.title }}\n{{ summary.no_such_field }}\n"
    templates = TemplateSet.load(_template_dir(tmp_path, txt=txt))
    with pytest.raises(TemplateError) as info:
        render_text(summary, templates)
    assert str(info.value).startswith("summary.txt.j2, line 2: ")
    assert "no_such_field" in str(info.value)
    (tmp_path / "summary.md.j2").write_text("{{ title }}\n", "utf-8")
    with pytest.raises(TemplateError, match=r"summary\.md\.j2, line 1: 'title' is undefined"):
        render_markdown(summary, TemplateSet.load(tmp_path))


def test_template_missing_file(tmp_path):
    (tmp_path / "summary.md.j2").write_text("x", "utf-8")
    with pytest.raises(TemplateError, match=r"summary\.txt\.j2"):
        TemplateSet.load(tmp_path)


# --------------------------------------------------------------------------- .xlsx


def test_ledger_xlsx(summary):
    wb = load_workbook(io.BytesIO(render_ledger_xlsx(summary)))
    assert wb.sheetnames == ["台账"]
    ws = wb["台账"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == LEDGER_COLUMNS
    assert LEDGER_COLUMNS == (
        "单位", "类别", "活动名称", "开始日期", "结束日期", "地点", "数量", "内容与成效", "填报人",
    )  # fmt: skip
    assert len(rows) == 1 + len(summary.ledger)
    for values, entry in zip(rows[1:], summary.ledger, strict=True):
        assert values == (
            entry.unit,
            entry.area,
            entry.title,
            datetime.combine(entry.start, datetime.min.time()),
            datetime.combine(entry.end, datetime.min.time()),
            entry.location,
            entry.figures,
            entry.content,
            entry.reporter,
        )
    for cell in (ws["D2"], ws["E2"]):
        assert cell.is_date
        assert cell.number_format == "yyyy-mm-dd"
    assert all(cell.font.b for cell in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["H"].width > ws.column_dimensions["I"].width


def test_ledger_xlsx_keeps_formulas_as_text(summary):
    row = dataclasses.replace(LEDGER[0], title="=HYPERLINK(1)", content="\x07ok")
    ws = load_workbook(io.BytesIO(render_ledger_xlsx(dataclasses.replace(summary, ledger=(row,)))))[
        "台账"
    ]
    assert ws["C2"].value == "=HYPERLINK(1)"
    assert ws["C2"].data_type == "s"
    assert ws["H2"].value == "ok"


# --------------------------------------------------------------------------- chart


def test_chart_png(chart_png):
    assert chart_png.startswith(PNG_MAGIC)
    width = int.from_bytes(chart_png[16:20], "big")
    height = int.from_bytes(chart_png[20:24], "big")
    assert (width, height) == (int(16 / 2.54 * 150), int(9 / 2.54 * 150))  # 944 x 531


def test_chart_font_comes_from_mplfonts_and_has_the_glyphs(summary):
    path = cjk_font_path()
    assert path.parent.parent.name == "mplfonts"
    assert Path(findfont(cjk_font())) == path
    font = FT2Font(str(path))
    text = "".join(m.area for m in summary.months) + Y_LABEL + "月年上半各暂无记录活动数"
    missing = [c for c in set(text) if font.get_char_index(ord(c)) == 0]
    assert missing == []


def test_chart_draws_without_missing_glyphs(summary):
    months = (*summary.months, MonthCount("2026-08", "平安建设", 3))  # a gap month, a new area
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would fail here
        png = activity_chart(months, "2026年各月活动场次")
        empty = activity_chart((), "暂无数据")
    assert png.startswith(PNG_MAGIC) and empty.startswith(PNG_MAGIC)


def test_sample_is_consistent(summary):
    # the sample's lead sentences carry its figures, as compose.py's would
    leads = "".join(s.lead.text for s in summary.sections if s.lead)
    assert all(f.text in leads for f in ALL_FIGURES)
    assert isinstance(summary.ledger[0], LedgerRow)


def _hue_family(colour: str) -> int | None:
    """The 30° sector of the colour wheel a saturated colour is in; None for greys."""
    import colorsys

    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
    if saturation < 0.3 or not 0.15 < lightness < 0.9:
        return None
    return int(hue * 360 // 30)


def test_chart_counts_activities_and_says_so_with_distinct_colours():
    # was: the axis said 活动场次 but counted entries (送电影 with 12场 counted 1), and
    # 其他 and 阵地建设 were near-identical blues
    from bot.summary.chart import activity_figure, area_colours

    areas = ["理论学习", "宣传教育", "文明创建", "文体活动", "志愿服务", "全民阅读",
             "非遗保护", "阵地建设", "其他"]  # fmt: skip
    months = tuple(MonthCount("2026-03", area, i + 1) for i, area in enumerate(areas))
    figure = activity_figure(months, "和平街道2026年上半年各月活动数")
    axes = figure.axes[0]
    assert axes.get_ylabel() == "活动数（项）"
    assert "2026年上半年" in axes.get_title()
    colours = area_colours(areas)
    families = [_hue_family(colours[a]) for a in areas[:-1]]
    assert None not in families and len(set(families)) == len(families)  # no two blues
    assert _hue_family(colours["其他"]) is None  # the catch-all area is grey
    drawn = {patch.get_facecolor()[:3] for patch in axes.patches}
    assert len(drawn) == len(areas)
    # the stack of March is the number of activities, not of sessions
    assert max(patch.get_y() + patch.get_height() for patch in axes.patches) == sum(
        range(1, len(areas) + 1)
    )


def test_docx_properties_are_the_days_not_the_templates():
    # was: the document's created date was 2013 (python-docx's template)
    dated = dataclasses.replace(sample_summary(), issued=date(2026, 6, 30))
    props = Document(io.BytesIO(render_docx(dated))).core_properties
    assert props.created.date() == date(2026, 6, 30)
    assert props.modified.date() == date(2026, 6, 30)
    assert props.author == "新华社区" and props.last_modified_by == "新华社区"
    assert props.title == "新华社区2026年上半年文化工作总结"


def test_docx_signature_is_kept_with_its_date(doc, summary):
    # was: the signature block split from its date across pages
    paragraphs = doc.paragraphs
    name = next(i for i, p in enumerate(paragraphs) if p.text == summary.signature)
    assert paragraphs[name + 1].text == summary.date_text
    assert paragraphs[name].paragraph_format.keep_with_next
    # the 附件说明 lines above it go with it too
    note = paragraphs[name - 1]
    assert note.text.startswith("附件：") and note.paragraph_format.keep_with_next


def test_docx_ledger_appendix_is_landscape(doc):
    # was: the 7-column ledger appendix was portrait and wrapped "宣传教育"
    from docx.enum.section import WD_ORIENT

    body, appendix = doc.sections
    assert body.orientation == WD_ORIENT.PORTRAIT
    assert appendix.orientation == WD_ORIENT.LANDSCAPE
    assert appendix.page_width > appendix.page_height
    table = doc.tables[0]
    widths = [int(c._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) for c in table.rows[0].cells]
    assert sum(widths) / 56.7 == pytest.approx(225, abs=1)  # the landscape text block
    # 类别 holds four 五号 characters and the cell's margins on one line
    assert widths[3] / 56.7 >= 4 * 10.5 * 25.4 / 72 + 2

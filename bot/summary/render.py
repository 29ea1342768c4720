"""Lay out a composed `Summary`: .docx (GB/T 9704 conventions), Markdown, text, .xlsx ledger.

Renderers only format. Every figure and every sentence comes from the `Summary`; what is
missing is a `Gap`, written as its 【待补充：…】 marker (highlighted in the .docx) and listed
in a 待补充事项 section for the coordinator.

The .docx follows the conventions of GB/T 9704-2012 (党政机关公文格式): A4, a 156 x 225 mm
text block (22 lines of 28 characters), a 2号 方正小标宋简体 title, 3号 仿宋_GB2312 body at an
exact 28 pt line pitch, 一、 headings in 黑体 and （一） headings in 楷体_GB2312, the sign-off
placed as for a document without a seal, "— 1 —" page numbers in 4号 宋体, and the ledger
appendix on a new page. Word picks East-Asian text's font from `w:eastAsia`, which
python-docx never sets, so every style and every run here sets it explicitly.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any, Final
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Length, Mm, Pt
from docx.text.paragraph import Paragraph as DocxParagraph
from docx.text.run import Run

from bot.summary.batch import batch
from bot.summary.model import Gap, LedgerRow, Paragraph, Source, Subtotal, Summary
from bot.summary.sheet import Column as SheetColumn
from bot.summary.sheet import write_sheet
from bot.summary.templates import (
    CHINESE_NUMERALS,
    TemplateError,
    TemplateSet,
    chinese_numeral,
    default_templates_dir,
    display_width,
    ledger_date,
    point_number,
    render_markdown,
    render_text,
    row_ranges,
    section_number,
)
from bot.summary.wording import ordinal

__all__ = [
    "CHINESE_NUMERALS",
    "DOCX_COLUMNS",
    "LEDGER_COLUMNS",
    "STYLE_APPENDIX",
    "STYLE_APPENDIX_TITLE",
    "STYLE_BODY",
    "STYLE_CAPTION",
    "STYLE_FIGURE",
    "STYLE_GAP_LIST",
    "STYLE_HEADING_1",
    "STYLE_HEADING_2",
    "STYLE_TABLE",
    "STYLE_TITLE",
    "TemplateError",
    "TemplateSet",
    "chinese_numeral",
    "default_templates_dir",
    "display_width",
    "ledger_date",
    "point_number",
    "render_docx",
    "render_ledger_xlsx",
    "render_markdown",
    "render_text",
    "row_ranges",
    "section_number",
]

# --------------------------------------------------------------------------- XML text

# Characters XML 1.0 (and so Word and Excel) cannot hold; user text may contain them.
_ILLEGAL_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(text: str) -> str:
    """Text safe for an XML document: characters XML cannot hold are dropped."""
    return _ILLEGAL_XML.sub("", text)


# --------------------------------------------------------------------------- .docx

FONT_TITLE: Final = "方正小标宋简体"
FONT_BODY: Final = "仿宋_GB2312"
FONT_HEADING_1: Final = "黑体"
FONT_HEADING_2: Final = "楷体_GB2312"
FONT_PAGE_NUMBER: Final = "宋体"

SIZE_2: Final = Pt(22)  # 二号
SIZE_3: Final = Pt(16)  # 三号
SIZE_4: Final = Pt(14)  # 四号
SIZE_5: Final = Pt(10.5)  # 五号
LINE: Final = Pt(28)  # 22 lines on the 225 mm text block
CHARS_PER_LINE: Final = 28  # 3号 characters on the 156 mm text block
TITLE_CHARS_PER_LINE: Final = 20  # 2号 characters on 156 mm

STYLE_TITLE: Final = "Huibao Title"
STYLE_HEADING_1: Final = "Huibao Heading 1"
STYLE_HEADING_2: Final = "Huibao Heading 2"
STYLE_BODY: Final = "Huibao Body"
STYLE_GAP_LIST: Final = "Huibao Gap List"
STYLE_APPENDIX: Final = "Huibao Appendix"
STYLE_APPENDIX_TITLE: Final = "Huibao Appendix Title"
STYLE_FIGURE: Final = "Huibao Figure"
STYLE_CAPTION: Final = "Huibao Caption"
STYLE_TABLE: Final = "Huibao Table"

GAPS_HEADING: Final = "待补充事项"
APPENDIX_LABEL: Final = "附件"
APPENDIX_TITLE: Final = "活动台账"
SOURCES_TITLE: Final = "数据来源"
# a ledger longer than the documents list (Summary.ledger_listed): its subtotals instead,
# the unit's own entries, and the whole ledger as the .xlsx beside the document
SUBTOTALS_TITLE: Final = "活动情况统计"
XLSX_TITLE: Final = "活动台账（.xlsx）"
OWN_TITLE: Final = "{unit}本级登记的活动"
SUBTOTAL_WORD: Final = "小计"
TOTAL_WORD: Final = "合计"

# The appendices are landscape pages: A4 turned, a 225 x 156 mm text block.
LANDSCAPE_MARGINS: Final = (Mm(28), Mm(26), Mm(37), Mm(35))  # top, bottom, left, right
LANDSCAPE_WIDTH_MM: Final = 225

# The ledger table: (header, width in mm, centred); the widths fill the landscape text block,
# and 类别 holds four characters of 五号 on one line (宣传教育).
DOCX_COLUMNS: Final = (
    ("序号", 12, True),
    ("日期", 30, True),
    ("单位", 24, False),
    ("类别", 22, False),
    ("活动名称", 62, False),
    ("数量", 57, False),
    ("填报人", 18, True),
)
# The 数据来源 table.
SOURCE_COLUMNS: Final = (
    ("序号", 12, True),
    ("部分", 22, False),
    ("数字", 28, False),
    ("所指", 60, False),
    ("算法", 40, False),
    ("台账序号", 63, False),
)
# The subtotals table of a roll-up (单位 the units below) and of a single unit.
SUBTOTAL_COLUMNS: Final = (
    ("类别", 24, False),
    ("单位", 36, False),
    ("活动数", 18, True),
    ("数量", 92, False),
    ("台账序号", 55, False),
)
SUBTOTAL_COLUMNS_SINGLE: Final = (
    ("类别", 28, False),
    ("活动数", 18, True),
    ("数量", 120, False),
    ("台账序号", 59, False),
)
_FONT_ATTRS: Final = tuple(qn(f"w:{a}") for a in ("ascii", "hAnsi", "eastAsia", "cs"))
_THEME_ATTRS: Final = tuple(
    qn(f"w:{a}") for a in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme")
)


def _twips(length: Length) -> str:
    return str(round(length.twips))


def _set_fonts(element: Any, name: str) -> None:
    """Set `name` as the Latin, East-Asian and complex-script font of a run or style."""
    rfonts = element.get_or_add_rPr().get_or_add_rFonts()
    for attr in _THEME_ATTRS:  # a theme font would override the named one
        rfonts.attrib.pop(attr, None)
    for attr in _FONT_ATTRS:
        rfonts.set(attr, name)


def _indent(pf: Any, element: Any, *, first_chars: int = 0, right_chars: float = 0) -> None:
    """Indents in characters (w:firstLineChars / w:rightChars, in hundredths of a character),
    with the same lengths for 3号 text as a fallback for readers that ignore the character
    units."""
    pf.first_line_indent = Pt(16 * first_chars)
    if right_chars:
        pf.right_indent = Pt(round(16 * right_chars))
    ind = element.get_or_add_pPr().find(qn("w:ind"))
    ind.set(qn("w:firstLineChars"), str(first_chars * 100))
    if right_chars:
        ind.set(qn("w:rightChars"), str(round(right_chars * 100)))


# The schema order of a w:pPr's children (python-docx knows it but not every element).
_PPR_ORDER: Final = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr",
    "w:widowControl", "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs",
    "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
    "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap",
    "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
    "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip


def _set_ppr(element: Any, tag: str, value: str) -> None:
    """Set a w:pPr property python-docx has no API for (w:snapToGrid, w:outlineLvl) on a
    paragraph or a style, in schema order."""
    ppr = element.get_or_add_pPr()
    for old in ppr.findall(qn(tag)):
        ppr.remove(old)
    prop = OxmlElement(tag)
    prop.set(qn("w:val"), value)
    ppr.insert_element_before(prop, *_PPR_ORDER[_PPR_ORDER.index(tag) + 1 :])


def _paragraph_style(
    doc: Any,
    name: str,
    font: str,
    size: Length,
    *,
    base: str = "Normal",
    align: Any = WD_ALIGN_PARAGRAPH.JUSTIFY,
    first_chars: int = 0,
    exact: bool = True,
    snap: bool = True,
    outline: int | None = None,
    keep_with_next: bool = False,
    space_after: Length | None = None,
) -> Any:
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    assert style.style_id == _style_id(name)  # paragraphs refer to it by this id
    style.base_style = doc.styles[base]
    style.quick_style = True
    style.font.size = size
    _set_fonts(style.element, font)
    pf = style.paragraph_format
    pf.alignment = align
    pf.space_before = Pt(0)
    pf.space_after = space_after or Pt(0)
    if exact:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = LINE
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    pf.keep_with_next = keep_with_next
    _indent(pf, style.element, first_chars=first_chars)
    if not snap:  # text not in 3号 must not snap to the 3号 character grid
        _set_ppr(style.element, "w:snapToGrid", "0")
    if outline is not None:
        _set_ppr(style.element, "w:outlineLvl", str(outline))
    return style


def _setup_document(doc: Any, summary: Summary) -> None:
    """Page, grid, defaults and the Huibao styles."""
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance = Mm(15)
    section.footer_distance = Mm(25)  # puts the "— 1 —" line about 7 mm below the text block
    section.gutter = Mm(0)
    # 22 lines a page on a 28 pt line grid. No character grid: 156 mm holds 27.6 characters
    # of 3号 by itself, and a w:charSpace grid was laid out with wide gaps (about 15
    # characters a line) by LibreOffice, seen when checking the rendered pages.
    grid = section._sectPr.find(qn("w:docGrid"))
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), _twips(LINE))
    grid.attrib.pop(qn("w:charSpace"), None)

    # Document defaults: named fonts (no theme fonts), 3号, Chinese, no paragraph spacing.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    rfonts = rpr.find(qn("w:rFonts"))
    for attr in _THEME_ATTRS:
        rfonts.attrib.pop(attr, None)
    for attr in _FONT_ATTRS:
        rfonts.set(attr, FONT_BODY)
    for tag in ("w:sz", "w:szCs"):
        rpr.find(qn(tag)).set(qn("w:val"), "32")
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), "240")
    theme_lang = doc.settings.element.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:eastAsia"), "zh-CN")

    normal = doc.styles["Normal"]
    normal.font.size = SIZE_3
    _set_fonts(normal.element, FONT_BODY)
    _set_fonts(doc.styles["Table Grid"].element, FONT_BODY)

    body = _paragraph_style(doc, STYLE_BODY, FONT_BODY, SIZE_3, first_chars=2)
    body.paragraph_format.widow_control = False
    _paragraph_style(
        doc,
        STYLE_TITLE,
        FONT_TITLE,
        SIZE_2,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        snap=False,
        keep_with_next=True,
        space_after=LINE,  # 标题下空一行
    )
    for name, font, level in (
        (STYLE_HEADING_1, FONT_HEADING_1, 0),
        (STYLE_HEADING_2, FONT_HEADING_2, 1),
    ):
        heading = _paragraph_style(
            doc, name, font, SIZE_3, first_chars=2, outline=level, keep_with_next=True
        )
        heading.next_paragraph_style = body
    _paragraph_style(doc, STYLE_GAP_LIST, FONT_BODY, SIZE_3, base=STYLE_BODY, first_chars=2)
    _paragraph_style(
        doc,
        STYLE_APPENDIX,
        FONT_HEADING_1,
        SIZE_3,
        align=WD_ALIGN_PARAGRAPH.LEFT,
        outline=0,
        keep_with_next=True,
    )
    _paragraph_style(
        doc,
        STYLE_APPENDIX_TITLE,
        FONT_TITLE,
        SIZE_2,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        snap=False,
        keep_with_next=True,
        space_after=LINE,
    )
    _paragraph_style(
        doc,
        STYLE_FIGURE,
        FONT_BODY,
        SIZE_3,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        exact=False,  # an exact line height would crop the picture
        snap=False,
        keep_with_next=True,
    )
    _paragraph_style(
        doc,
        STYLE_CAPTION,
        FONT_BODY,
        SIZE_4,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        snap=False,
        space_after=Pt(14),
    )
    _paragraph_style(
        doc,
        STYLE_TABLE,
        FONT_BODY,
        SIZE_5,
        align=WD_ALIGN_PARAGRAPH.LEFT,
        exact=False,
        snap=False,
    )


def _run_xml(
    text: str, font: str, size: Length, *, bold: bool = False, highlight: bool = False
) -> str:
    """A <w:r> with its fonts (East-Asian included), size, bold and highlight in schema order.

    Runs and paragraphs are written as XML: python-docx's property setters cost ~0.7 ms a
    run, and a street's list of missing figures has a thousand paragraphs."""
    half_points = round(size.pt * 2)
    fonts = " ".join(f'w:{a}="{font}"' for a in ("ascii", "hAnsi", "eastAsia", "cs"))
    props = (
        f"<w:rFonts {fonts}/>"
        + ("<w:b/>" if bold else "")
        + f'<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/>'
        + ('<w:highlight w:val="yellow"/>' if highlight else "")
    )
    body = f'<w:t xml:space="preserve">{xml_escape(_clean(text))}</w:t>' if text else ""
    return f"<w:r><w:rPr>{props}</w:rPr>{body}</w:r>"


def _add_run(
    paragraph: Any,
    text: str,
    font: str,
    size: Length,
    *,
    bold: bool = False,
    highlight: bool = False,
) -> Any:
    """A run at the end of `paragraph` (see `_run_xml`)."""
    xml = _run_xml(text, font, size, bold=bold, highlight=highlight)
    element = parse_xml(xml.replace("<w:r>", f"<w:r {nsdecls('w')}>", 1))
    paragraph._p.append(element)
    return Run(element, paragraph)


_SECT_PR: Final = qn("w:sectPr")


def _append_paragraph(doc: Any, style: str, runs: str) -> Any:
    """A paragraph in `style` holding the runs' XML, at the end of the body."""
    p = parse_xml(
        f'<w:p {nsdecls("w")}><w:pPr><w:pStyle w:val="{_style_id(style)}"/></w:pPr>{runs}</w:p>'
    )
    body = doc.element.body
    last = next(body.iterchildren(reversed=True), None)  # (len() of an element counts)
    if last is not None and last.tag == _SECT_PR:  # before the body's w:sectPr, found at once
        last.addprevious(p)  # (python-docx's _insert_p looks for it among all children:
    else:  # a street's thousand-item list of gaps made that quadratic, 8 of 13 s)
        body.append(p)
    return DocxParagraph(p, doc._body)


def _add_text_paragraph(doc: Any, style: str, text: str, font: str, size: Length = SIZE_3) -> Any:
    return _append_paragraph(doc, style, _run_xml(text, font, size) if text else "")


def _add_body(doc: Any, paragraph: Paragraph, style: str = STYLE_BODY) -> Any:
    """A body paragraph; gap markers bold on yellow so the coordinator sees them."""
    runs = "".join(
        _run_xml(part.marker, FONT_BODY, SIZE_3, bold=True, highlight=True)
        if isinstance(part, Gap)
        else _run_xml(part, FONT_BODY, SIZE_3)
        for part in paragraph.parts
        if part
    )
    return _append_paragraph(doc, style, runs)


def _text_width(text: str) -> float:
    """Width in full-width characters: Latin letters and digits count one half."""
    return sum(0.5 if ord(c) < 0x2000 else 1.0 for c in text)


def _title_lines(summary: Summary) -> list[str]:
    """The title, broken after the unit's name when it does not fit on one line and the
    rest does (GB/T 9704: a long title breaks where the sense allows)."""
    title = summary.title
    if _text_width(title) <= TITLE_CHARS_PER_LINE:
        return [title]
    unit = summary.unit
    rest = title[len(unit) :]
    if unit and title.startswith(unit) and rest and _text_width(rest) <= TITLE_CHARS_PER_LINE:
        return [unit, rest]
    return [title]  # Word wraps it


def _add_title(doc: Any, summary: Summary) -> None:
    paragraph = _new_paragraph(doc, STYLE_TITLE)
    for i, line in enumerate(_title_lines(summary)):
        run = _add_run(paragraph, line, FONT_TITLE, SIZE_2)
        if i:
            run._element.insert(1, OxmlElement("w:br"))  # after rPr, before the text


def _add_sign_off(doc: Any, summary: Summary, *, space_before: bool) -> None:
    """署名 and 成文日期 for a document without a seal (GB/T 9704-2012, 7.3.5.2): the name
    two characters from the right, the date on the next line starting two characters right
    of the name's start; when the date is longer, the date keeps its two characters and
    the name moves left. The name is kept on the date's page (keep with next)."""
    name, when = summary.signature, summary.date_text
    name_w, date_w = _text_width(name), _text_width(when)
    date_right = max(2.0, name_w - date_w)
    name_right = date_right + date_w + 2 - name_w
    for i, (text, right) in enumerate(((name, name_right), (when, date_right))):
        paragraph = _add_text_paragraph(doc, STYLE_BODY, text, FONT_BODY)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _indent(paragraph.paragraph_format, paragraph._element, right_chars=right)
        if i == 0:
            paragraph.paragraph_format.keep_with_next = True
            paragraph.paragraph_format.keep_together = True
            if space_before:
                paragraph.paragraph_format.space_before = LINE


def _page_number(footer: Any, align: Any, *, side: str) -> None:
    """ "— 1 —" in 4号 宋体 (the number a PAGE field), one character in from `side`."""
    footer.is_linked_to_previous = False
    paragraph = footer.paragraphs[0]
    paragraph.style = None
    paragraph.alignment = align
    pf = paragraph.paragraph_format
    pf.first_line_indent = Pt(0)
    pf.space_after = Pt(0)
    if side == "right":
        pf.right_indent = SIZE_4
    else:
        pf.left_indent = SIZE_4
    ind = paragraph._element.get_or_add_pPr().find(qn("w:ind"))
    ind.set(qn("w:firstLineChars"), "0")
    ind.set(qn("w:rightChars" if side == "right" else "w:leftChars"), "100")
    _set_ppr(paragraph._element, "w:snapToGrid", "0")

    def run(text: str = "") -> Any:
        return _add_run(paragraph, text, FONT_PAGE_NUMBER, SIZE_4)

    def field_char(kind: str) -> None:
        char = OxmlElement("w:fldChar")
        char.set(qn("w:fldCharType"), kind)
        run()._element.append(char)

    run("— ")
    field_char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    run()._element.append(instr)
    field_char("separate")
    run("1")  # shown until the reader updates the field
    field_char("end")
    run(" —")


def _add_footers(doc: Any, section: Any) -> None:
    """Page numbers after GB/T 9704 (7.5): odd pages at the right, even pages at the left,
    each one character in from the edge of the text block."""
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer, WD_ALIGN_PARAGRAPH.RIGHT, side="right")
    _page_number(section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, side="left")


def _style_id(name: str) -> str:
    """The id python-docx gives a style it adds: its name without spaces."""
    return name.replace(" ", "")


def _new_paragraph(parent: Any, style: str) -> Any:
    """An empty paragraph in `style`, set by id (python-docx's lookup by name is slow)."""
    return _append_paragraph(parent, style, "")


Column = tuple[str, int, bool]


def _table_row_xml(columns: Sequence[Column], texts: Sequence[str], *, header: bool) -> str:
    """One <w:tr> of an appendix table. Data rows are kept lean (10,000 rows make a 15 MB
    document.xml): the Huibao Table style carries size and Latin font, and each run sets
    only the East-Asian font; the header row repeats on every page."""
    style = _style_id(STYLE_TABLE)
    cells = []
    for (_, width_mm, centred), text in zip(columns, texts, strict=True):
        if header:
            fonts = "".join(f'w:{a}="{FONT_HEADING_1}" ' for a in ("ascii", "hAnsi", "eastAsia"))
            v_align = '<w:vAlign w:val="center"/>'
        else:
            fonts, v_align = f'w:eastAsia="{FONT_BODY}"', ""
        jc = '<w:jc w:val="center"/>' if header or centred else ""
        # a data cell leaves its width to the table's grid (fixed layout): 40 bytes less a
        # cell, 2.8 MB less XML for 10,000 rows
        width = f'<w:tcW w:w="{_twips(Mm(width_mm))}" w:type="dxa"/>' if header else ""
        cells.append(
            f"<w:tc><w:tcPr>{width}{v_align}</w:tcPr>"
            f'<w:p><w:pPr><w:pStyle w:val="{style}"/>{jc}</w:pPr>'
            f"<w:r><w:rPr><w:rFonts {fonts}/></w:rPr>"
            f'<w:t xml:space="preserve">{xml_escape(_clean(text))}</w:t></w:r></w:p></w:tc>'
        )
    tr_pr = "<w:cantSplit/><w:tblHeader/>" if header else "<w:cantSplit/>"
    return f"<w:tr {nsdecls('w')}><w:trPr>{tr_pr}</w:trPr>{''.join(cells)}</w:tr>"


def _ledger_row_xml(texts: Sequence[str], *, header: bool) -> str:
    """One <w:tr> of the ledger table."""
    return _table_row_xml(DOCX_COLUMNS, texts, header=header)


def _add_table(doc: Any, columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> Any:
    """An appendix table, fixed layout across the landscape text block.

    Rows are deep copies of one prepared <w:tr> whose w:t texts are set directly:
    python-docx's cell-by-cell API takes ~30 times as long for thousands of rows."""
    table = doc.add_table(rows=0, cols=len(columns))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False  # w:tblLayout fixed: Word need not measure 10,000 rows
    for column, (_, width_mm, _) in zip(table.columns, columns, strict=True):
        column.width = Mm(width_mm)
    tbl = table._tbl
    tbl_pr = tbl.tblPr
    width = tbl_pr.find(qn("w:tblW"))
    width.set(qn("w:w"), _twips(Mm(sum(w for _, w, _ in columns))))
    width.set(qn("w:type"), "dxa")
    margins = parse_xml(
        f"<w:tblCellMar {nsdecls('w')}>"
        f'<w:left w:w="{_twips(Mm(1))}" w:type="dxa"/>'
        f'<w:right w:w="{_twips(Mm(1))}" w:type="dxa"/></w:tblCellMar>'
    )
    tbl_pr.insert_element_before(
        margins, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange"
    )

    tbl.append(parse_xml(_table_row_xml(columns, [name for name, _, _ in columns], header=True)))
    prototype = parse_xml(_table_row_xml(columns, [""] * len(columns), header=False))
    # lxml's own __deepcopy__, without copy.deepcopy's memo bookkeeping per row
    append, clone, clean, t_tag = tbl.append, prototype.__deepcopy__, _clean, qn("w:t")
    for texts in rows:
        tr = clone(None)
        for t, text in zip(tr.iter(t_tag), texts, strict=True):
            t.text = clean(text)
        append(tr)
    return table


def _add_ledger_table(
    doc: Any, rows: Sequence[LedgerRow], numbers: Iterable[int] | None = None
) -> Any:
    """The 台账 table: all rows, or those of `numbers` (序号, 1-based)."""
    chosen = enumerate(rows, 1) if numbers is None else ((n, rows[n - 1]) for n in numbers)
    return _add_table(
        doc,
        DOCX_COLUMNS,
        (
            (
                str(number),
                ledger_date(row),
                row.unit,
                row.area,
                row.title,
                row.figures,
                row.reporter,
            )
            for number, row in chosen
        ),
    )


def subtotal_texts(subtotal: Subtotal, *, roll_up: bool) -> tuple[str, ...]:
    """One row of the subtotals table: 类别, (单位,) 活动数, 数量, 台账序号."""
    if not subtotal.area:
        area, unit = TOTAL_WORD, ""
    else:
        area, unit = subtotal.area, subtotal.unit or SUBTOTAL_WORD
    texts = (area, unit) if roll_up else (area,)
    return (*texts, f"{subtotal.count}项", subtotal.figures_text, row_ranges(subtotal.rows))


def attachment_titles(summary: Summary) -> list[str]:
    """The 附件说明 under the text: what is attached, in order."""
    if summary.ledger_listed:
        return [APPENDIX_TITLE] + ([SOURCES_TITLE] if summary.sources else [])
    return [SUBTOTALS_TITLE] + ([SOURCES_TITLE] if summary.sources else []) + [XLSX_TITLE]


def _source_texts(source: Source) -> tuple[str, ...]:
    method = f"{source.method}（{source.detail}）" if source.detail else source.method
    return (
        str(source.number),
        source.where,
        source.text,
        source.what,
        method,
        row_ranges(source.rows),
    )


def _landscape_section(doc: Any) -> Any:
    """A new section on a new page, A4 landscape, numbered on as the body."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    top, bottom, left, right = LANDSCAPE_MARGINS
    section.top_margin, section.bottom_margin = top, bottom
    section.left_margin, section.right_margin = left, right
    section.header_distance = Mm(12)
    section.footer_distance = Mm(12)
    for footer in (section.footer, section.even_page_footer):
        footer.is_linked_to_previous = True  # the same "— 7 —" numbering
    return section


def _appendix_label(doc: Any, number: int, title: str) -> None:
    _add_text_paragraph(doc, STYLE_APPENDIX, f"{APPENDIX_LABEL}{number}", FONT_HEADING_1)
    _add_text_paragraph(doc, STYLE_APPENDIX_TITLE, title, FONT_TITLE, SIZE_2)


def _add_appendices(doc: Any, summary: Summary, chart_png: bytes | None) -> None:
    """附件1 活动台账 (with the chart) and 附件2 数据来源, on landscape pages; a ledger
    longer than the documents list is given as its subtotals (and the unit's own entries)."""
    _landscape_section(doc)
    listed = summary.ledger_listed
    _appendix_label(doc, 1, APPENDIX_TITLE if listed else SUBTOTALS_TITLE)
    if chart_png is not None:
        figure = _new_paragraph(doc, STYLE_FIGURE)
        run = _add_run(figure, "", FONT_BODY, SIZE_3)
        run.add_picture(io.BytesIO(chart_png), width=Mm(150))
        caption = f"图1　{summary.period_text}各月活动数（按工作类别）"
        _add_text_paragraph(doc, STYLE_CAPTION, caption, FONT_BODY, SIZE_4)
    if listed and summary.ledger:
        _add_ledger_table(doc, summary.ledger)
    elif not listed:
        if summary.ledger_note:
            _add_text_paragraph(doc, STYLE_BODY, summary.ledger_note, FONT_BODY)
        columns = SUBTOTAL_COLUMNS if summary.roll_up else SUBTOTAL_COLUMNS_SINGLE
        texts = (subtotal_texts(s, roll_up=summary.roll_up) for s in summary.subtotals)
        _add_table(doc, columns, texts)
        own = summary.listed_own
        if own:
            title = OWN_TITLE.format(unit=summary.unit)
            heading = _add_text_paragraph(doc, STYLE_APPENDIX, title, FONT_HEADING_1)
            heading.paragraph_format.space_before = LINE
            _add_ledger_table(doc, summary.ledger, own)
    if summary.sources:
        label = _add_text_paragraph(doc, STYLE_APPENDIX, f"{APPENDIX_LABEL}2", FONT_HEADING_1)
        label.paragraph_format.page_break_before = True
        _add_text_paragraph(doc, STYLE_APPENDIX_TITLE, SOURCES_TITLE, FONT_TITLE, SIZE_2)
        if summary.basis:
            _add_text_paragraph(doc, STYLE_BODY, summary.basis, FONT_BODY)
        _add_table(doc, SOURCE_COLUMNS, (_source_texts(s) for s in summary.sources))


def _add_points(doc: Any, section: Any) -> None:
    """A section's sub-points: "一是{heading}。{text}" … "十一是" as body paragraphs."""
    number = 0
    for point in section.points:
        paragraphs = list(point.paragraphs)
        if point.heading.strip():
            number += 1
            first = paragraphs.pop(0) if paragraphs else Paragraph(())
            opening = f"{ordinal(number)}{point.heading}。"
            _add_body(doc, Paragraph((opening, *first.parts)))
        for paragraph in paragraphs:
            _add_body(doc, paragraph)
    for paragraph in section.tail:
        _add_body(doc, paragraph)


def _set_properties(doc: Any, summary: Summary) -> None:
    """Title, author (the unit) and dates of the document as of the day it is dated."""
    props = doc.core_properties
    props.title = summary.title
    props.subject = f"{summary.unit}{summary.period_text}工作总结"
    props.author = summary.signature
    props.last_modified_by = summary.signature
    props.language = "zh-CN"
    props.comments = ""
    props.keywords = summary.period
    props.revision = 1
    if summary.issued is not None:
        moment = datetime.combine(summary.issued, time(0, 0))
        props.created = moment
        props.modified = moment
        props.last_printed = moment


@batch
def render_docx(summary: Summary, chart_png: bytes | None = None) -> bytes:
    """The summary as a .docx laid out after GB/T 9704; `chart_png` goes into the appendix."""
    doc = Document()
    _setup_document(doc, summary)
    _set_properties(doc, summary)
    body = doc.element.body
    for paragraph in body.findall(qn("w:p")):  # the template's empty paragraph, if any
        body.remove(paragraph)

    _add_title(doc, summary)
    _add_body(doc, summary.opening)
    for i, section in enumerate(summary.sections, 1):
        _add_text_paragraph(
            doc, STYLE_HEADING_1, f"{section_number(i)}、{section.heading}", FONT_HEADING_1
        )
        if section.lead is not None:
            _add_body(doc, section.lead)
        _add_points(doc, section)

    if summary.gaps:
        _add_text_paragraph(doc, STYLE_HEADING_1, GAPS_HEADING, FONT_HEADING_1)
        for i, gap in enumerate(summary.gaps, 1):
            text = f"{i}. {gap.what}（请{gap.who}补充）"
            _add_text_paragraph(doc, STYLE_GAP_LIST, text, FONT_BODY)

    has_appendix = bool(summary.ledger) or chart_png is not None
    if has_appendix:  # 附件说明: 正文下空一行左空二字, 多个附件标顺序号
        for i, title in enumerate(attachment_titles(summary), 1):
            text = f"{APPENDIX_LABEL}：{i}．{title}" if i == 1 else f"　　　{i}．{title}"
            note = _add_text_paragraph(doc, STYLE_BODY, text, FONT_BODY)
            note.paragraph_format.keep_with_next = True
            if i == 1:
                note.paragraph_format.space_before = LINE
    _add_sign_off(doc, summary, space_before=True)
    _add_footers(doc, doc.sections[0])
    if has_appendix:
        _add_appendices(doc, summary, chart_png)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- .xlsx ledger

# Another part of the system imports ledgers with exactly these columns, in this order.
LEDGER_COLUMNS: Final = (
    "单位",
    "类别",
    "活动名称",
    "开始日期",
    "结束日期",
    "地点",
    "数量",
    "内容与成效",
    "填报人",
)
_LEDGER_WIDTHS: Final = (16, 12, 30, 12, 12, 20, 34, 60, 10)
DATE_FORMAT: Final = "yyyy-mm-dd"
LEDGER_SHEET: Final = "台账"
NUMBER_COLUMN: Final = "序号"


def render_ledger_xlsx(summary: Summary, *, numbered: bool = False) -> bytes:
    """The ledger as an .xlsx: sheet 台账, one row per entry, dates as date cells.

    `numbered` puts 序号 first: the numbers the 数据来源 appendix and the subtotals cite
    (the import reads the sheet either way: it finds its columns by name). Written as a
    stream (bot.summary.sheet), so 100,000 rows take seconds and little memory."""
    columns = [SheetColumn(n, w) for n, w in zip(LEDGER_COLUMNS, _LEDGER_WIDTHS, strict=True)]
    rows: Iterable[Sequence[str | date | int]] = (
        (
            row.unit,
            row.area,
            row.title,
            row.start,
            row.end,
            row.location,
            row.figures,
            row.content,
            row.reporter,
        )
        for row in summary.ledger
    )
    if numbered:
        columns.insert(0, SheetColumn(NUMBER_COLUMN, 8))
        rows = ((number, *row) for number, row in enumerate(rows, 1))
    return write_sheet(LEDGER_SHEET, columns, rows)

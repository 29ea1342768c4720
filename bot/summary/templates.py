"""The summary's numbering (一、 （一）), its Markdown and text templates, and their helpers.

Light on purpose: Jinja, and no python-docx or openpyxl, so that loading the templates at
start (bot.summary.service.SummaryKit) costs little; bot.summary.render lays out the .docx
and the .xlsx, and imports these names from here.
"""

from __future__ import annotations

import re
import traceback
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import jinja2

from bot.shipped import templates_dir
from bot.summary.model import Gap, LedgerRow, Summary
from bot.summary.wording import ordinal

# --------------------------------------------------------------------------- numbering

CHINESE_NUMERALS: Final = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
_DIGITS: Final = ("零", *CHINESE_NUMERALS[:9])


def chinese_numeral(n: int) -> str:
    """1 -> 一, 10 -> 十, 11 -> 十一, 20 -> 二十, 105 -> 一百零五 (1 to 9999)."""
    if not 1 <= n <= 9999:
        raise ValueError(f"cannot number {n} in Chinese numerals (1-9999)")
    if n < 20:  # 十一, not 一十一, when it stands alone
        return CHINESE_NUMERALS[n - 1] if n <= 10 else "十" + _DIGITS[n - 10]
    out: list[str] = []
    zero = False
    for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            if zero and out:
                out.append("零")
            out.append(_DIGITS[digit] + name)
            zero = False
        else:
            zero = True
    return "".join(out)


def section_number(i: int) -> str:
    """The number of the i-th section (1-based), without its 、: 1 -> 一."""
    return chinese_numeral(i)


def point_number(i: int) -> str:
    """The number of the i-th sub-point (1-based), with its brackets: 1 -> （一）."""
    return f"（{chinese_numeral(i)}）"


def row_ranges(rows: Sequence[int]) -> str:
    """Ledger 序号 as runs: (1, 2, 3, 5, 7, 8) -> "1—3、5、7—8"."""
    runs: list[str] = []
    start = previous = None
    for row in sorted(set(rows)):
        if start is None:
            start = previous = row
        elif previous is not None and row == previous + 1:
            previous = row
        else:
            runs.append(str(start) if start == previous else f"{start}—{previous}")
            start = previous = row
    if start is not None:
        runs.append(str(start) if start == previous else f"{start}—{previous}")
    return "、".join(runs)


# --------------------------------------------------------------------------- shared text helpers


def ledger_date(row: LedgerRow) -> str:
    """The ledger's date column: "6月1日", "6月1日—6月3日", years shown only across a year end."""
    start, end = row.start, row.end
    if start.year != end.year:
        return f"{start.year}年{start.month}月{start.day}日—{end.year}年{end.month}月{end.day}日"
    text = f"{start.month}月{start.day}日"
    if end != start:
        text += f"—{end.month}月{end.day}日"
    return text


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal or a monospaced CJK font (wide = 2, as wcwidth counts)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))


def _pad(value: Any, width: int, align: str = "left") -> str:
    """Pad `value` with spaces to `width` display columns (align "left" or "right")."""
    text = str(value)
    fill = " " * max(0, width - display_width(text))
    return fill + text if align == "right" else text + fill


_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>|~])")
_MD_BLOCK_MARK: Final = re.compile(r"^(\s*)(#|>|[-+=](?=\s|$))", re.MULTILINE)
_MD_LIST_NUMBER: Final = re.compile(r"^(\s*\d+)([.)])(?=\s|$)", re.MULTILINE)


def _md_escape(text: Any) -> str:
    """Text that Markdown shows literally: emphasis, links, table bars and the marks that
    start a heading, quote or list at the start of a line are backslash-escaped."""
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text))
    escaped = _MD_BLOCK_MARK.sub(r"\1\\\2", escaped)
    return _MD_LIST_NUMBER.sub(r"\1\\\2", escaped)


def _md_cell(text: Any) -> str:
    """Text for one Markdown table cell: escaped, on one line."""
    return " ".join(_md_escape(text).split("\n"))


def _tidy(text: str) -> str:
    """At most one blank line in a row, no trailing spaces, one final newline."""
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


# --------------------------------------------------------------------------- templates

TEMPLATE_NAMES: Final = ("summary.md.j2", "summary.txt.j2")


class TemplateError(Exception):
    """A summary template that does not compile or render; the message names file and line."""


def default_templates_dir() -> Path:
    """The shipped summary templates: templates/summary/."""
    return templates_dir() / "summary"


def _environment(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    helpers: dict[str, Any] = {
        "section_number": section_number,
        "point_number": point_number,
        "ordinal": ordinal,
        "row_ranges": row_ranges,
        "chinese_numeral": chinese_numeral,
        "date_range": ledger_date,
        "display_width": display_width,
        "pad": _pad,
        "md": _md_escape,
        "md_cell": _md_cell,
    }
    env.globals.update(helpers)
    env.filters.update(helpers)
    env.tests["gap"] = lambda value: isinstance(value, Gap)
    return env


def _where(exc: BaseException, fallback: str) -> str:
    """Where in a template `exc` arose, as "summary.md.j2, line 7": the innermost template
    frame of its traceback (Jinja rewrites those frames to carry the template's file and
    line, and marks them with `__jinja_exception__` in their globals)."""
    found = fallback
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if "__jinja_exception__" in frame.f_globals:
            found = f"{Path(frame.f_code.co_filename).name}, line {lineno}"
    return found


def _syntax_error(exc: jinja2.TemplateSyntaxError, fallback: str) -> TemplateError:
    name = Path(exc.filename or exc.name or fallback).name
    return TemplateError(f"{name}, line {exc.lineno}: {exc.message}")


class TemplateSet:
    """The summary's Markdown and text templates, compiled from one directory."""

    def __init__(self, directory: Path, env: jinja2.Environment) -> None:
        self.directory = directory
        self._env = env
        self._templates: dict[str, jinja2.Template] = {}

    @classmethod
    def load(cls, directory: Path) -> TemplateSet:
        """Compile summary.md.j2 and summary.txt.j2 from `directory`, or raise TemplateError."""
        directory = Path(directory)
        templates = cls(directory, _environment(directory))
        for name in TEMPLATE_NAMES:
            templates._get(name)
        return templates

    def _get(self, name: str) -> jinja2.Template:
        template = self._templates.get(name)
        if template is None:
            try:
                template = self._env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise _syntax_error(exc, name) from exc
            except jinja2.TemplateNotFound as exc:
                raise TemplateError(f"{name}: no such template in {self.directory}") from exc
            self._templates[name] = template
        return template

    def render(self, name: str, **context: Any) -> str:
        """Render template `name`; any error becomes a TemplateError naming file and line."""
        template = self._get(name)
        try:
            return template.render(**context)
        except jinja2.TemplateSyntaxError as exc:  # in an included template, compiled late
            raise _syntax_error(exc, name) from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"{_where(exc, name)}: no such template {exc.name!r}") from exc
        except Exception as exc:
            raise TemplateError(f"{_where(exc, name)}: {exc}") from exc


def render_markdown(summary: Summary, templates: TemplateSet) -> str:
    """The summary as Markdown, through summary.md.j2."""
    return _tidy(templates.render("summary.md.j2", summary=summary))


def render_text(summary: Summary, templates: TemplateSet) -> str:
    """The summary as plain text, through summary.txt.j2."""
    return _tidy(templates.render("summary.txt.j2", summary=summary))

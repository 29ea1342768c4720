"""China's working-day calendar: public holidays, make-up working days (调休), an office's own.

The public calendar comes from the `chinesecalendar` package (module `chinese_calendar`),
which carries the State Council's notices day by day: every holiday and every weekend day
worked in exchange. It knows the years it was released for (1.11.0: 2004-2026); the next
year's notice comes out each November, so on 2 December a year ahead may be missing. For a
day in a year nobody knows, only Saturday and Sunday are days off, and `huibao status` says
so (`Calendar.unknown_years`).

An office adds its own days in a file (HUIBAO_REMINDERS__HOLIDAYS_FILE), YAML or CSV:

    # holidays.yaml
    covers: [2027]            # optional: years this file gives in full (no warning for them)
    off:                      # days off: a date, or a range, with an optional name
      2027-01-01: 元旦
      2027-02-06..2027-02-13: 春节
      2027-04-30: 单位调休
    work:                     # extra working days (a Saturday worked in exchange)
      2027-02-14: 春节调休

    # holidays.csv: date,kind,name (kind: off / work, or 休 / 班)
    2027-01-01,off,元旦
    2027-02-14,work,春节调休

The office's days win over the package's. A date that is not one, a day both off and
worked, or anything else the reader cannot use stops the start with the file and line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import metadata
from pathlib import Path

import chinese_calendar
import yaml

PACKAGE = "chinesecalendar"
YEARS = range(2000, 2101)
MAX_RANGE_DAYS = 60  # a longer range of days off is surely a typo
OFF_WORDS = frozenset({"off", "holiday", "rest", "休", "休息", "放假", "假"})
WORK_WORDS = frozenset({"work", "workday", "班", "上班", "补班", "调休上班"})
_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_ENTRY = re.compile(rf"^{_DATE}(?:\s*(?:\.\.|~|～|至|到|—|--)\s*{_DATE})?(?:\s+(.+))?$")


class HolidaysError(Exception):
    """The office's holiday file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Calendar:
    """Which days are working days, as a clerk counts them."""

    office_off: dict[date, str] = field(default_factory=dict)
    office_work: dict[date, str] = field(default_factory=dict)
    covers: frozenset[int] = frozenset()  # years the office's file gives in full
    source: str | None = None  # the office's file, for messages

    # -- what the package knows --------------------------------------------------------

    @staticmethod
    def package_years() -> range:
        """The years the installed package has the State Council's notices for."""
        return _package_years()

    @staticmethod
    def package_version() -> str:
        """The installed package's version."""
        try:
            return metadata.version(PACKAGE)
        except metadata.PackageNotFoundError:  # pragma: no cover - installed as a dependency
            return str(getattr(chinese_calendar, "__version__", "?"))

    def knows(self, day: date) -> bool:
        """Whether the public holidays of the day's year are known (package or office file)."""
        return day.year in self.package_years() or day.year in self.covers

    def unknown_years(self, days: Iterable[date]) -> list[int]:
        """The years among these days whose public holidays nobody told us."""
        return sorted({d.year for d in days if not self.knows(d)})

    # -- the days ------------------------------------------------------------------------

    def is_workday(self, day: date) -> bool:
        """A working day: a weekday that is no holiday, or a weekend day worked in exchange."""
        if day in self.office_work:
            return True
        if day in self.office_off:
            return False
        if day.year in self.package_years():
            return day in chinese_calendar.workdays or (
                day.weekday() < 5 and day not in chinese_calendar.holidays
            )
        return day.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        """The holiday the day belongs to (元旦, 春节, 国庆节, an office's own), else None.

        A weekend day inside a holiday's days off counts; an ordinary weekend does not.
        """
        if day in self.office_work:
            return None
        if day in self.office_off:
            return self.office_off[day]
        if day.year in self.package_years() and day in chinese_calendar.holidays:
            return _chinese_name(chinese_calendar.holidays[day])
        return None

    def is_holiday(self, day: date) -> bool:
        """A public holiday (or an office's own day off): no reminder goes out on it."""
        return self.holiday_name(day) is not None

    def next_workday(self, day: date) -> date:
        """The day itself if it is a working day, else the first working day after it."""
        for _ in range(400):
            if self.is_workday(day):
                return day
            day += timedelta(days=1)
        raise AssertionError("no working day within a year")  # pragma: no cover

    def add_workdays(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` ('5 个工作日内': the day after is day 1)."""
        if count < 1:
            raise ValueError("count working days from 1")
        found = 0
        while found < count:
            day += timedelta(days=1)
            if self.is_workday(day):
                found += 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in [start, end)."""
        return sum(1 for n in range((end - start).days) if self.is_workday(start + timedelta(n)))


@cache
def _package_years() -> range:
    years = {d.year for d in chinese_calendar.holidays}
    return range(min(years), max(years) + 1)


_NAMES = {holiday.value: holiday.chinese for holiday in chinese_calendar.Holiday}


def _chinese_name(english: str) -> str:
    return str(_NAMES.get(english, english))


@cache
def public() -> Calendar:
    """The public calendar alone (no office file)."""
    return Calendar()


# --- the office's file -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    """One entry of the file: the text of a day or range, its kind and name, where it was."""

    line: int
    text: str
    kind: str
    name: str | None


def load_calendar(path: Path | None) -> Calendar:
    """The public calendar with an office's own days from a YAML or CSV file."""
    if path is None:
        return public()
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise HolidaysError(f"{path}: cannot read the holiday file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HolidaysError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    if path.suffix.lower() == ".csv":
        lines = list(_csv_lines(path, raw))
        covers: set[int] = set()
    elif path.suffix.lower() in (".yaml", ".yml"):
        lines, covers = _yaml_lines(path, raw)
    else:
        raise HolidaysError(f"{path}: a holiday file ends in .yaml, .yml or .csv")
    off: dict[date, str] = {}
    work: dict[date, str] = {}
    seen: dict[date, int] = {}
    for item in lines:
        for day in _days(path, item):
            if day in seen:
                raise HolidaysError(
                    f"{path}:{item.line}: {day.isoformat()} is already given on line {seen[day]}"
                )
            seen[day] = item.line
            default = "单位休息日" if item.kind == "off" else "单位工作日"
            (off if item.kind == "off" else work)[day] = item.name or default
    return Calendar(off, work, frozenset(covers), str(path))


def _days(path: Path, item: _Line) -> list[date]:
    match = _ENTRY.match(item.text)
    if match is None:
        raise HolidaysError(
            f"{path}:{item.line}: {item.text[:40]!r} is not a date: write 2027-02-06, "
            "or a range 2027-02-06..2027-02-13"
        )
    first = _date(path, item.line, match.group(1), match.group(2), match.group(3))
    last = first
    if match.group(4) is not None:
        last = _date(path, item.line, match.group(4), match.group(5), match.group(6))
        if last < first:
            raise HolidaysError(f"{path}:{item.line}: the range ends before it begins")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise HolidaysError(
                f"{path}:{item.line}: a range of {(last - first).days + 1} days; "
                f"at most {MAX_RANGE_DAYS}"
            )
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _date(path: Path, line: int, year: str, month: str, day: str) -> date:
    try:
        found = date(int(year), int(month), int(day))
    except ValueError:
        raise HolidaysError(
            f"{path}:{line}: {year}-{month}-{day} is not a date in the calendar"
        ) from None
    if found.year not in YEARS:
        raise HolidaysError(f"{path}:{line}: the year {found.year} is surely a typo")
    return found


def _kind(path: Path, line: int, word: str) -> str:
    cleaned = word.strip().lower()
    if cleaned in OFF_WORDS:
        return "off"
    if cleaned in WORK_WORDS:
        return "work"
    raise HolidaysError(
        f"{path}:{line}: {word.strip()[:20]!r} is neither a day off (off, 休) "
        "nor a working day (work, 班)"
    )


def _csv_lines(path: Path, raw: str) -> Iterator[_Line]:
    reader = csv.reader(io.StringIO(raw))
    for row in reader:
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if cells[0].lower() in ("date", "日期"):
            continue  # the header
        line = reader.line_num
        if len(cells) < 2:
            raise HolidaysError(f"{path}:{line}: write date,kind[,name], e.g. 2027-01-01,off,元旦")
        name = cells[2] if len(cells) > 2 and cells[2] else None
        yield _Line(line, cells[0], _kind(path, line, cells[1]), name)


def _yaml_lines(path: Path, raw: str) -> tuple[list[_Line], set[int]]:
    try:
        root = yaml.compose(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise HolidaysError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        return [], set()
    if not isinstance(root, yaml.MappingNode):
        raise HolidaysError(f"{path}:{root.start_mark.line + 1}: expected off: and work: lists")
    lines: list[_Line] = []
    covers: set[int] = set()
    for key_node, value in root.value:
        key = str(key_node.value).strip().lower()
        line = key_node.start_mark.line + 1
        if key in ("covers", "years"):
            covers |= _years(path, value)
            continue
        kind = _kind(path, line, key) if key not in ("days_off", "working_days") else key
        kind = {"days_off": "off", "working_days": "work"}.get(kind, kind)
        lines.extend(_yaml_entries(path, value, kind))
    return lines, covers


def _years(path: Path, node: yaml.Node) -> set[int]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    years = set()
    for item in items:
        text = str(getattr(item, "value", "")).strip()
        if not (text.isascii() and text.isdigit()) or int(text) not in YEARS:
            raise HolidaysError(
                f"{path}:{item.start_mark.line + 1}: covers: lists years, e.g. 2027"
            )
        years.add(int(text))
    return years


def _yaml_entries(path: Path, node: yaml.Node, kind: str) -> Iterator[_Line]:
    if isinstance(node, yaml.ScalarNode) and not node.value:
        return
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = value.value.strip() if isinstance(value, yaml.ScalarNode) else None
            yield _Line(key.start_mark.line + 1, str(key.value).strip(), kind, name or None)
        return
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode):
                raise HolidaysError(
                    f"{path}:{item.start_mark.line + 1}: write one date (or range) a line"
                )
            text = str(item.value).strip()
            yield _Line(item.start_mark.line + 1, text, kind, None)
        return
    raise HolidaysError(f"{path}:{node.start_mark.line + 1}: list the dates under off: and work:")


def describe_unknown(calendar: Calendar, years: Iterable[int], locale: str = "en") -> str:
    """Why only weekends count as days off in these years, and what to do."""
    known = calendar.package_years()
    listed = ", ".join(str(y) for y in years)
    if locale == "en":
        return (
            f"holiday calendar: {PACKAGE} {calendar.package_version()} knows public holidays "
            f"{known.start}-{known.stop - 1}; for {listed} only Saturdays and Sundays count as "
            "days off (add the year's days to HUIBAO_REMINDERS__HOLIDAYS_FILE with covers: "
            f"[{listed}], or upgrade {PACKAGE} once it has them)"
        )
    return (
        f"节假日日历：{PACKAGE} {calendar.package_version()} 只收录了 {known.start}—"
        f"{known.stop - 1} 年的法定节假日和调休；{listed} 年暂时只把周六、周日当作休息日"
        "（可在 HUIBAO_REMINDERS__HOLIDAYS_FILE 里补上当年的安排，或升级该软件包）"
    )

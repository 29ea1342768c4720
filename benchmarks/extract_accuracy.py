"""How well the one-message extractor reads the report corpus, and what it costs.

Runs :func:`bot.core.parsing.extract.extract` over ``benchmarks/report_corpus.yaml`` with the
corpus's fixed clock and prints, per field, the share read right (area, date, future flag,
place, each figure, title, "two activities", "nothing to extract"), then the misses, then the
CPU per message.

Scoring (the corpus header describes the expected fields):

* area: the best guess equals the expected key; a report expected under 其他 is also right
  when no area is guessed (no word can tell 其他, the bot then asks).
* date, place, title: equal, or both absent. future: only where a date is expected.
* figures: read for the expected area (the area is scored on its own; when the guess is
  wrong the person picks the right one and the bot assigns the figures again with
  ``assign_figures``). Every expected figure is one field (right when the same question gets
  the same low, high and approximation, or the same issue); every figure read that was not
  expected is one more field, wrong. Not scored for a report expected to hold several
  activities.

Usage: ``python benchmarks/extract_accuracy.py [--quiet] [--runs N] [--min SHARE]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.parsing.counts import Approx  # noqa: E402
from bot.core.parsing.extract import Extraction, FigureIssue, assign_figures, extract  # noqa: E402
from bot.core.questionnaire import Questionnaire, load_questionnaire  # noqa: E402

CORPUS = ROOT / "benchmarks" / "report_corpus.yaml"
FIELDS = ("area", "date", "future", "place", "figures", "title", "several", "empty")


@dataclass(frozen=True)
class Expected:
    low: Decimal | None
    high: Decimal | None
    approx: Approx | None
    issue: FigureIssue | None


def parse_figure(text: str) -> Expected:
    """ "3", "300+", "~40", "30-40", "!vague"."""
    if text.startswith("!"):
        return Expected(None, None, None, FigureIssue(text[1:]))
    if text.endswith("+"):
        return Expected(Decimal(text[:-1]), None, Approx.MORE_THAN, None)
    if text.startswith("~"):
        return Expected(Decimal(text[1:]), None, Approx.ABOUT, None)
    if "-" in text:
        low, high = text.split("-")
        return Expected(Decimal(low), Decimal(high), Approx.RANGE, None)
    return Expected(Decimal(text), None, Approx.EXACT, None)


def parse_dates(text: str | None) -> tuple[date, date] | None:
    if text is None:
        return None
    first, _, last = text.partition("..")
    return date.fromisoformat(first), date.fromisoformat(last or first)


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    def share(self) -> str:
        if not self.total:
            return "   -  "
        return f"{100 * self.right / self.total:5.1f}%"


def score(
    report: dict[str, Any],
    got: Extraction,
    questionnaire: Questionnaire,
    tallies: dict[str, Tally],
    misses: list[str],
) -> None:
    text = report["text"]

    def check(name: str, ok: bool, expected: object, found: object) -> None:
        tallies[name].add(ok)
        if not ok:
            misses.append(f"{name:8} {text}\n         expected {expected!r}, got {found!r}")

    area = report.get("area")
    check(
        "area",
        got.area == area or (area == "other" and got.area is None),
        area,
        [g.key for g in got.areas],
    )
    expected_dates = parse_dates(report.get("date"))
    found_dates = None if got.dates is None else (got.dates.start, got.dates.end)
    check(
        "date",
        expected_dates == found_dates,
        report.get("date"),
        None if got.dates is None else f"{found_dates} from {got.dates.source.text!r}",
    )
    if expected_dates is not None:
        check("future", got.future == report.get("future", False), report.get("future"), got.future)
    place = report.get("place")
    check("place", (got.place.text if got.place else None) == place, place, got.place)
    if "title" in report:
        found_title = got.title.text if got.title else None
        check("title", found_title == report["title"], report["title"], found_title)
    several = report.get("several", False)
    check("several", bool(got.several) == several, several, got.several)
    empty = report.get("empty", False)
    check("empty", got.empty == empty, empty, got.empty)
    if several:
        return
    expected_figures = {k: parse_figure(v) for k, v in (report.get("figures") or {}).items()}
    figures = got.figures
    if area is not None and area != got.area:
        figures = assign_figures(got, questionnaire, area)
    found = {f.question_id: f for f in figures}
    for qid, want in expected_figures.items():
        figure = found.get(qid)
        if figure is None:
            ok = False
        elif want.issue is not None:
            ok = figure.issue is want.issue
        else:
            count = figure.count
            ok = (
                count is not None
                and count.low == want.low
                and count.high == want.high
                and count.approx is want.approx
            )
        shown = None
        if figure is not None:
            shown = figure.issue or (figure.count and (str(figure.count.low), figure.count.approx))
        check("figures", ok, f"{qid}={report['figures'][qid]}", shown)
    for qid, figure in found.items():
        if qid not in expected_figures:
            check("figures", False, f"no {qid}", f"{qid} from {figure.source.text!r}")


def run(runs: int, quiet: bool, minimum: float | None) -> int:
    corpus = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    zone = ZoneInfo(corpus["zone"])
    now = datetime.fromisoformat(corpus["now"])
    questionnaire: Questionnaire = load_questionnaire(
        ROOT / "templates" / "questionnaires" / f"{corpus['questionnaire']}.yaml"
    )
    reports: list[dict[str, Any]] = corpus["reports"]
    held_out: list[dict[str, Any]] = corpus.get("held_out") or []

    results: list[tuple[str, int, dict[str, Tally]]] = []
    misses: list[str] = []
    for name, group in (("tuned on", reports), ("held out", held_out)):
        tallies: dict[str, Tally] = defaultdict(Tally)
        for report in group:
            got = extract(report["text"], questionnaire, now, zone)
            score(report, got, questionnaire, tallies, misses)
        results.append((name, len(group), tallies))

    texts = [r["text"] for r in reports + held_out]
    extract(texts[0], questionnaire, now, zone)  # warm the per-questionnaire caches
    means: list[float] = []
    for _ in range(runs):
        started = time.process_time()
        for text in texts:
            extract(text, questionnaire, now, zone)
        means.append((time.process_time() - started) / len(texts))
    means.sort()

    if not quiet and misses:
        print("misses:")
        for miss in misses:
            print("  " + miss)
        print()
    print(f"now {corpus['now']}; share of fields read right:")
    print(f"  {'':8} " + "".join(f"{name:>22}" for name, _, _ in results))
    totals = [Tally() for _ in results]
    for field in FIELDS:
        cells = []
        for (_, _, tallies), total in zip(results, totals, strict=True):
            tally = tallies[field]
            cells.append(f"{tally.share()} {f'({tally.right}/{tally.total})':>13}")
            if field != "title":
                total.right += tally.right
                total.total += tally.total
        print(f"  {field:8} " + "".join(f"{cell:>22}" for cell in cells))
    cells = [f"{t.share()} {f'({t.right}/{t.total})':>13}" for t in totals]
    print(f"  {'all':8} " + "".join(f"{cell:>22}" for cell in cells) + "  (title not counted)")
    print("  reports  " + "".join(f"{count:>22}" for _, count, _ in results))
    print(
        f"CPU per message: {means[0] * 1e6:.0f} µs best, {means[len(means) // 2] * 1e6:.0f} µs "
        f"median of {runs} runs over the {len(texts)} messages (a busy machine inflates both)"
    )
    total = Tally(sum(t.right for t in totals), sum(t.total for t in totals))
    if minimum is not None and total.right < minimum * total.total:
        print(f"below the minimum share of {minimum:.0%}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="do not list the misses")
    parser.add_argument("--runs", type=int, default=20, help="timing runs over the corpus")
    parser.add_argument("--min", type=float, default=None, help="fail below this share (0-1)")
    args = parser.parse_args()
    return run(args.runs, args.quiet, args.min)


if __name__ == "__main__":
    sys.exit(main())

"""Reports in one message, replayed through the real shell (issue 12, must-have 1).

Each message of ``benchmarks/report_corpus.yaml`` is typed into :class:`bot.channels.shell.Shell`
(the same `Conversation` every adapter ends in, on a fresh SQLite file) by a simulated person
of the demo organisation, who then answers the bot like a person would, from the report's
expected fields:

* the area question: the first suggested area if it is the expected one (typing "1"), else
  the expected area's name;
* a question: the expected value (the date "2026年11月8日", the place, a figure as "300多",
  "约40", "30-40"); a figure the message left vague, or a required one it did not name, gets
  a plain number; the result question a short sentence; anything else "跳过";
* a yes/no about a value (a figure of 0, a date in another half-year): "是" when the value
  is the expected one, else "不是" and the value;
* "which activity first?": the first one ("1");
* the card: each wrong area, date, place or figure is changed with "改N" and the right value
  ("跳过" for a figure or place that should not be there), then "确认".

Printed: the share of fields right after the first message (area, date, place, each
expected figure, and each figure read that was not expected, wrong; scored as
``extract_accuracy.py`` scores them, the figures once the area is settled), the messages per
saved report (the first message and the confirmation included), how the messages without a
report and those with a future date were answered, the values stored that the card did not
show (each saved entry compared with the last card shown before saving: must be 0), and the
CPU per message: the extraction alone (``extract`` over the corpus) and the whole step
(`Shell.say`: claim, state, extraction where it runs, replies), for the first message and for
the follow-ups.

Usage: ``python benchmarks/report_turns.py [--quiet] [--only N]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.admin.org import demo_org, load_org  # noqa: E402
from bot.channels.shell import Shell  # noqa: E402
from bot.core.conversation import Conversation  # noqa: E402
from bot.core.figures import metric_text, plain  # noqa: E402
from bot.core.interview import AREA, CONFIRM, PICK, UNIT, InterviewState  # noqa: E402
from bot.core.parsing.extract import extract  # noqa: E402
from bot.core.questionnaire import Questionnaire, QuestionType, Role, load_questionnaires  # noqa: E402
from bot.core.types import Reply  # noqa: E402
from bot.shipped import templates_dir  # noqa: E402
from storage import members as member_store  # noqa: E402
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade  # noqa: E402
from storage.models import ConversationState, Entry, RoleName  # noqa: E402

CORPUS = ROOT / "benchmarks" / "report_corpus.yaml"
MAX_MESSAGES = 30


@dataclass(frozen=True)
class Figure:
    low: Decimal | None
    high: Decimal | None
    approx: str | None
    issue: str | None

    @classmethod
    def parse(cls, text: str) -> Figure:
        """ "3", "300+", "~40", "30-40", "!vague"."""
        if text.startswith("!"):
            return cls(None, None, None, text[1:])
        if text.endswith("+"):
            return cls(Decimal(text[:-1]), None, "more_than", None)
        if text.startswith("~"):
            return cls(Decimal(text[1:]), None, "about", None)
        if "-" in text:
            low, high = text.split("-")
            return cls(Decimal(low), Decimal(high), "range", None)
        return cls(Decimal(text), None, "exact", None)

    def typed(self) -> str:
        """How the person types it."""
        if self.low is None:
            return "50"  # the message said "很多": the person gives a number
        if self.approx == "more_than":
            return f"{plain(self.low)}多"
        if self.approx == "about":
            return f"约{plain(self.low)}"
        if self.approx == "range":
            return f"{plain(self.low)}-{plain(self.high or self.low)}"
        return plain(self.low)

    def matches(self, value: dict[str, Any]) -> bool:
        if self.low is None or "low" not in value:
            return False
        high = None if value["high"] is None else Decimal(value["high"])
        return (Decimal(value["low"]), high, value["approx"]) == (self.low, self.high, self.approx)


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    def share(self) -> str:
        return (
            f"{100 * self.right / self.total:5.1f}% ({self.right}/{self.total})"
            if self.total
            else "-"
        )


@dataclass
class Results:
    fields: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in FIELDS})
    messages: list[int] = field(default_factory=list)  # per saved one-activity report
    several_messages: list[tuple[int, int]] = field(default_factory=list)  # (messages, saved)
    not_saved: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)  # stored values the card did not show
    idle_right: Tally = field(default_factory=Tally)
    future_right: Tally = field(default_factory=Tally)
    several_asked: Tally = field(default_factory=Tally)
    first_cpu: list[float] = field(default_factory=list)
    later_cpu: list[float] = field(default_factory=list)  # follow-ups that store nothing
    saving_cpu: list[float] = field(default_factory=list)  # the confirmation: the entry stored
    misses: list[str] = field(default_factory=list)
    corrections: int = 0
    assumed: int = 0
    asked: dict[str, int] = field(default_factory=dict)  # what the follow-ups answered


FIELDS = ("area", "date", "place", "figures")


class Replay:
    """One simulated person reporting one message."""

    def __init__(
        self,
        report: dict[str, Any],
        shell: Shell,
        state: Callable[[], tuple[str, InterviewState | None]],
        questionnaire: Questionnaire,
        results: Results,
        today: date,
        together: bool,
    ) -> None:
        self.report = report
        self.shell = shell
        self.state = state
        self.q = questionnaire
        self.results = results
        self.today = today
        self.expected_area: str = report.get("area") or "other"
        self.figures = {k: Figure.parse(v) for k, v in (report.get("figures") or {}).items()}
        self.messages = 0
        self.card = ""
        self.cards: list[str] = []  # the last card before each save
        self.fixed: set[str] = set()  # what was corrected on the card already
        self.together = together  # answer "可以一条消息说完" in one message
        self.last = ""

    def say(self, line: str) -> list[Reply]:
        self.messages += 1
        started = time.process_time()
        replies = self.shell.say(line)
        spent = time.process_time() - started
        text = "\n".join(r.text for r in replies)
        if self.messages == 1:
            self.results.first_cpu.append(spent)
        elif "已保存" in text:
            self.results.saving_cpu.append(spent)
        else:
            self.results.later_cpu.append(spent)
        self.last = text
        if "已保存" in text:
            self.cards.append(self.card)
        if "请核对" in text:
            self.card = text[text.index("请核对") :]
        return replies

    def run(self) -> None:
        report, results = self.report, self.results
        replies = self.say(report["text"])
        kind, current = self.state()
        if report.get("empty"):
            results.idle_right.add(kind == "" and not any("请核对" in r.text for r in replies))
            return
        if report.get("future"):
            results.future_right.add(kind == "" and "还没到" in replies[0].text)
            return
        several = bool(report.get("several"))
        if several:
            results.several_asked.add(
                current is not None and (current.pending or {}).get("kind") == "several"
            )
        else:
            self.score_first(current)
        saved = self.finish(current, several)
        if several:
            results.several_messages.append((self.messages, saved))
        elif saved:
            results.messages.append(self.messages)
        else:
            results.not_saved.append(report["text"])

    # -- scoring the first message -------------------------------------------------------

    def score_first(self, state: InterviewState | None) -> None:
        tallies, text = self.results.fields, self.report["text"]

        def check(name: str, ok: bool, expected: object, found: object) -> None:
            tallies[name].add(ok)
            if not ok:
                self.results.misses.append(
                    f"{name:8} {text}\n         expected {expected!r}, got {found!r}"
                )

        if state is None:
            check("area", False, self.expected_area, "no report started")
            return
        guess = state.area or (state.guesses[0] if state.guesses else None)
        area_ok = guess == self.expected_area or (self.expected_area == "other" and guess is None)
        check("area", area_ok, self.expected_area, guess)
        want = self.report.get("date")
        check("date", self.dates(state) == want, want, self.dates(state))
        place = state.answers.get("location", {}).get("text")
        check("place", place == self.report.get("place"), self.report.get("place"), place)

    def dates(self, state: InterviewState) -> str | None:
        value = state.answers.get("dates") or (state.flags.get("dates") or {}).get("value")
        if not value or "start" not in value:
            return None
        if value["start"] == value["end"]:
            return str(value["start"])
        return f"{value['start']}..{value['end']}"

    def score_figures(self, state: InterviewState) -> None:
        tallies, text = self.results.fields, self.report["text"]
        counts = {
            q.id for q in self.q.area(self.expected_area).questions if q.type is QuestionType.COUNT
        }
        for qid, want in self.figures.items():
            value = state.answers.get(qid)
            flag = state.flags.get(qid) or {}
            ok = (want.issue is not None and flag.get("issue") == want.issue) or (
                value is not None and want.matches(value)
            )
            tallies["figures"].add(ok)
            if not ok:
                self.results.misses.append(
                    f"figures  {text}\n         expected {qid}={want}, got {value or flag}"
                )
        for qid in counts - set(self.figures):
            if qid in state.made:  # not read: assumed (one session), and shown so on the card
                self.results.assumed += 1
            elif qid in state.sources or qid in state.flags:
                tallies["figures"].add(False)
                got = state.answers.get(qid) or state.flags.get(qid)
                self.results.misses.append(
                    f"figures  {text}\n         expected no {qid}, got {got}"
                )

    # -- answering like a person ------------------------------------------------------------

    def finish(self, state: InterviewState | None, several: bool) -> int:
        saved = 0
        figures_scored = several
        for _ in range(MAX_MESSAGES):
            if state is None:
                return saved
            if not figures_scored and state.area == self.expected_area:
                self.score_figures(state)
                figures_scored = True
            line = self.answer(state, several)
            what = (state.pending or {}).get("kind") or state.cursor
            self.results.asked[what] = self.results.asked.get(what, 0) + 1
            replies = self.say(line)
            saved += sum("已保存" in r.text for r in replies)
            _, state = self.state()
            if saved and (not several or state is None):
                return saved
        return saved

    def answer(self, state: InterviewState, several: bool) -> str:
        pending = state.pending or {}
        if pending.get("kind") == "several":
            return "1"
        if pending.get("kind") == "value":
            value = pending["value"]
            question = pending["question"]
            good = self.right_value(question, value)
            return "是" if good or several else "不是"
        if pending.get("kind") == "choice":
            return self.q.area(self.expected_area).name
        cursor = state.cursor
        if cursor == UNIT:
            return "1"
        if cursor == AREA:
            if several:
                return "1"
            if state.guesses and state.guesses[0] == self.expected_area:
                return "1"
            return self.q.area(self.expected_area).name
        if cursor == PICK:
            return "取消"
        if cursor == CONFIRM:
            return self.at_card(state, several)
        if self.together and "可以一条消息说完" in self.last and state.area is not None:
            flow = [q.id for q in self.q.flow(state.area)]
            rest = flow[flow.index(cursor) :]
            asked = [
                qid
                for qid in rest
                if qid not in state.answers and not self.q.question(state.area, qid).optional
            ]
            return "，".join(self.value_for(state, qid, several, unit=True) for qid in asked)
        return self.value_for(state, cursor, several)

    def right_value(self, qid: str, value: dict[str, Any]) -> bool:
        if "start" in value:
            want = self.report.get("date")
            got = (
                value["start"]
                if value["start"] == value["end"]
                else f"{value['start']}..{value['end']}"
            )
            return want == got
        want_figure = self.figures.get(qid)
        return want_figure is not None and want_figure.issue == "zero"

    def value_for(self, state: InterviewState, qid: str, several: bool, unit: bool = False) -> str:
        """The answer to one question; `unit`: a figure with its measure word ("20人次"), as
        the bot's example shows when it asks for several at once."""
        assert state.area is not None
        question = self.q.question(state.area, qid)
        if question.role is Role.DATES:
            want = None if several else self.report.get("date")
            if want is None:
                return "11月18日"
            first, _, last = want.partition("..")
            words = [
                f"{d.year}年{d.month}月{d.day}日"
                for d in map(date.fromisoformat, (first, last or first))
            ]
            return words[0] if not last else f"{words[0]}至{words[1]}"
        if question.role is Role.TITLE:
            return self.report.get("title") or "社区活动"
        if question.role is Role.LOCATION:
            return self.report.get("place") or "跳过"
        if question.role is Role.ACHIEVEMENTS:
            return "居民反响很好。"
        if question.role is Role.CONTENT:
            return "开展了活动。"
        if question.type is QuestionType.COUNT:
            want = None if several else self.figures.get(qid)
            if want is not None:
                return want.typed() + (question.unit or "" if unit else "")
            return "跳过" if question.optional else "20" + (question.unit or "" if unit else "")
        return "跳过"

    def at_card(self, state: InterviewState, several: bool) -> str:
        if several:
            return "确认"
        assert state.area is not None
        items = [UNIT] if len(state.units) > 1 else []
        items += [AREA, *(q.id for q in self.q.flow(state.area))]
        wrong: str | None = None
        if state.area != self.expected_area:
            wrong = AREA
        elif (
            self.report.get("date") is not None  # no date in the message: the one given is right
            and self.dates(state) != self.report.get("date")
            and "dates" not in self.fixed
        ):
            wrong = "dates"
        elif (
            state.answers.get("location", {}).get("text") != self.report.get("place")
            and "location" not in self.fixed
        ):
            wrong = "location"
        else:
            for question in self.q.area(state.area).questions:
                want = self.figures.get(question.id)
                value = state.answers.get(question.id)
                if question.id in self.fixed:
                    continue
                if (
                    want is not None
                    and want.low is not None
                    and not (value and want.matches(value))
                ) or (want is None and value and not value.get("skipped") and question.optional):
                    wrong = question.id
                if wrong:
                    break
        if wrong is None:
            return "确认"
        self.fixed.add(wrong)
        self.results.corrections += 1
        return f"改{items.index(wrong) + 1}"


def shown_on_card(card: str, entry: Entry) -> list[str]:
    """The stored values the card did not show, each compared whole (a value, then at most
    the card's mark: ' ←“…”' or '（…）')."""
    lines = card.splitlines()

    def shown(label: str, value: str) -> bool:
        found = [line.partition("：")[2] for line in lines if f"{label}：" in line]
        return any(text == value or text.startswith((value + " ", value + "（")) for text in found)

    problems: list[str] = []
    if not shown("工作类别", entry.area_name):
        problems.append(f"area {entry.area_name}")
    if not shown("活动名称", entry.title):
        problems.append(f"title {entry.title}")
    dates = [line for line in lines if "活动日期：" in line]
    for day in {entry.start_date, entry.end_date}:
        if not any(f"{day.year}年{day.month}月{day.day}日（" in line for line in dates):
            problems.append(f"date {day}")
    if entry.location and not shown("地点", entry.location):
        problems.append(f"place {entry.location}")
    for metric in entry.metrics:
        figure = metric_text(metric.low, metric.high, metric.approx, metric.unit)
        if not shown(metric.label, figure):
            problems.append(f"{metric.label} {figure}")
    return problems


def run(quiet: bool, only: int | None, show: int | None = None, together: bool = True) -> int:
    corpus = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    zone = ZoneInfo(corpus["zone"])
    now = datetime.fromisoformat(corpus["now"])
    reports: list[dict[str, Any]] = corpus["reports"] + (corpus.get("held_out") or [])
    if only is not None:
        reports = reports[:only]
    questionnaires = load_questionnaires(templates_dir() / "questionnaires")
    questionnaire = questionnaires[corpus["questionnaire"]]
    results = Results()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_db_engine(f"sqlite:///{Path(folder) / 'turns.sqlite3'}")
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        members = add_people(sessions, len(reports))
        core = Conversation(sessions, questionnaires, corpus["questionnaire"], zone, lambda: now)
        for number, (report, member_id) in enumerate(zip(reports, members, strict=True)):
            user = f"p{number}"
            output = io.StringIO()
            shell = Shell(core, user, output, lambda: now)
            replay = Replay(
                report,
                shell,
                state_of(sessions, member_id),
                questionnaire,
                results,
                now.date(),
                together,
            )
            replay.run()
            if show is not None and replay.messages >= show:
                print(f"--- {report['text']} ({replay.messages} messages)")
                print(output.getvalue())
            saved = entries_of(sessions, member_id)
            for card, entry in zip(replay.cards, saved, strict=False):
                for problem in shown_on_card(card, entry):
                    results.unseen.append(f"{report['text']}: {problem}")
            if len(replay.cards) < len(saved):
                results.unseen.append(f"{report['text']}: saved without a card")
        engine.dispose()

    texts = [r["text"] for r in reports]
    extract(texts[0], questionnaire, now, zone)
    best = []
    for _ in range(5):
        started = time.process_time()
        for text in texts:
            extract(text, questionnaire, now, zone)
        best.append((time.process_time() - started) / len(texts))
    print_results(results, quiet, min(best), len(reports))
    return 0 if not results.unseen else 1


def add_people(sessions: sessionmaker[Session], count: int) -> list[int]:
    with transaction(sessions) as session:
        load_org(session, demo_org())
        unit = member_store.unit_by_key(session, "demo-xinhua")
        assert unit is not None
        ids = []
        for number in range(count):
            member = member_store.join(
                session,
                f"用户{number}",
                platform="shell",
                external_id=f"p{number}",
                unit_id=unit.id,
                roles=(RoleName.STAFF,),
            )
            ids.append(member.id)
        return ids


def state_of(
    sessions: sessionmaker[Session], member_id: int
) -> Callable[[], tuple[str, InterviewState | None]]:
    def read() -> tuple[str, InterviewState | None]:
        with transaction(sessions) as session:
            row = session.scalars(
                select(ConversationState).where(ConversationState.member_id == member_id)
            ).first()
            if row is None:
                return "", None
            if row.kind != "interview":
                return row.kind, None
            return row.kind, InterviewState.from_json(row.data)

    return read


def entries_of(sessions: sessionmaker[Session], member_id: int) -> list[Entry]:
    with transaction(sessions) as session:
        found = list(
            session.scalars(select(Entry).where(Entry.member_id == member_id).order_by(Entry.id))
        )
        for entry in found:
            _ = entry.metrics
        return found


def print_results(results: Results, quiet: bool, extract_cpu: float, count: int) -> None:
    if not quiet and results.misses:
        print("read wrong from the first message:")
        for miss in results.misses:
            print("  " + miss)
        print()
    print(f"{count} messages replayed through the shell (SQLite file)")
    print("fields right after the first message:")
    total = Tally()
    for name, tally in results.fields.items():
        print(f"  {name:8} {tally.share()}")
        total.right += tally.right
        total.total += tally.total
    print(f"  {'all':8} {total.share()}")
    print(f"  (not read but assumed, and marked so on the card: one session, {results.assumed}×)")
    messages = sorted(results.messages)
    if messages:
        print(
            f"messages per saved report (one activity, {len(messages)} reports): median "
            f"{statistics.median(messages):g}, worst {messages[-1]}, mean "
            f"{statistics.mean(messages):.2f}; corrections made on the card: {results.corrections}"
        )
        spread = {n: messages.count(n) for n in sorted(set(messages))}
        print("  " + ", ".join(f"{n} messages: {k}" for n, k in spread.items()))
    asked = sorted(results.asked.items(), key=lambda item: -item[1])
    print("  the follow-ups answered: " + ", ".join(f"{k} {n}" for k, n in asked))
    if results.several_messages:
        sent = sum(m for m, _ in results.several_messages)
        saved = sum(s for _, s in results.several_messages)
        print(
            f"two activities in one message: asked which first {results.several_asked.share()}; "
            f"{sent} messages for {saved} entries"
        )
    print(f"no report in the message, idle answer kept: {results.idle_right.share()}")
    print(f"a date still ahead, explained and nothing kept: {results.future_right.share()}")
    if results.not_saved:
        print(f"not saved within {MAX_MESSAGES} messages: {len(results.not_saved)}")
        for text in results.not_saved:
            print("  " + text)
    print(f"values stored that the card did not show: {len(results.unseen)}")
    for problem in results.unseen:
        print("  " + problem)
    first, later, saving = (
        statistics.median(cpu) * 1e3
        for cpu in (results.first_cpu, results.later_cpu, results.saving_cpu)
    )
    print(
        f"CPU per message: the extraction alone {extract_cpu * 1e6:.0f} µs (best of 5 runs over "
        f"the corpus); a whole step through the shell (Shell.say: one transaction, and one more "
        f"to mark the replies sent), median: {first:.2f} ms for the first message (extraction "
        f"and prefill included), {later:.2f} ms for a follow-up, {saving:.2f} ms for the "
        f"confirmation that stores the entry"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="do not list the misreadings")
    parser.add_argument("--only", type=int, default=None, help="replay only the first N")
    parser.add_argument(
        "--show",
        type=int,
        default=None,
        metavar="N",
        help="print the conversations of N messages or more",
    )
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="answer one question per message even when the bot offers to take several",
    )
    args = parser.parse_args()
    return run(args.quiet, args.only, args.show, not args.one_at_a_time)


if __name__ == "__main__":
    sys.exit(main())

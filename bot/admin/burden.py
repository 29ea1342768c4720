"""The burden a deployment puts on people, measured (`huibao burden --period 2026H1`).

The 基层减负 rules ask apps to demand as little as will do; an office that can show the
figures can show it asks little. Per person, for a period:

- the messages the bot started: reminders, coordinators' digests, entries sent back for
  correction and their corrected versions (a document someone asked for is not counted);
  counted from the outbox, and from its tally once old rows are pruned;
- the reports asked for: each deadline due in the period that holds the person (a monthly
  entry per month, the half-year reflection);
- the reports made, and the questions answered or skipped per report.

People are listed by unit and name, never by any figure: a burden list sorted by count would
be a ranking of people.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.reminders import deadlines
from bot.reminders.deadlines import DayRules, Span
from bot.reminders.ladder import coverage_of
from storage import deadlines as deadline_store
from storage import entries, members, outbox
from storage.models import (
    RoleName,
)

# Outbox kinds the bot starts on its own, by the column they count in.
STARTED = {
    "reminder": "reminders",
    "digest": "digests",
    "returned": "returns",
    "revised": "returns",
}


@dataclass(frozen=True)
class Burden:
    """What the bot asked of one person in a period."""

    member_id: int
    name: str
    units: str
    reminders: int
    digests: int
    returns: int
    asked: int  # reports asked for (deadlines held to)
    reports: int  # reports made (entries of the period)
    questions: float | None  # questions answered or skipped per report, on average

    @property
    def started(self) -> int:
        """Messages the bot started."""
        return self.reminders + self.digests + self.returns


def months_of(span: Span) -> list[str]:
    """The months of a period, 2026-01 ... 2026-06."""
    months = []
    year, month = span.first_day.year, span.first_day.month
    while (year, month) < (span.end_day.year, span.end_day.month):
        months.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def measure(session: Session, span: Span, zone: ZoneInfo, rules: DayRules) -> list[Burden]:
    """Per person holding a role, or messaged in the period: the figures, by unit and name."""
    since = datetime.combine(span.first_day, time(0), zone).astimezone(UTC)
    until = datetime.combine(span.end_day, time(0), zone).astimezone(UTC)
    sent: dict[int, Counter[str]] = defaultdict(Counter)
    rows = outbox.sent_counts(session, list(STARTED), since, until)
    tallied = outbox.tallied_counts(session, list(STARTED), months_of(span))
    for member_id, kind, count in [*rows, *tallied]:
        sent[int(member_id)][STARTED[str(kind)]] += int(count)
    asked: Counter[int] = Counter()
    for deadline in deadlines.within_span(session, span, zone, rules):
        for member_id in deadline_store.held_members(session, coverage_of(deadline)):
            asked[member_id] += 1
    reports: Counter[int] = Counter()
    questions: Counter[int] = Counter()
    for member_id, answers in entries.answers_by_member(session, span.first_day, span.end_day):
        reports[member_id] += 1
        questions[member_id] += len(answers or {})
    people = members.role_holders(session, (RoleName.STAFF, RoleName.COORDINATOR))
    known = {int(r[0]): (r[1], r[2] or "", r[3] or "") for r in people}
    for member_id in (set(sent) | set(reports)) - set(known):  # no role any more
        member = members.member_by_id(session, member_id)
        known[member_id] = (member.name if member else f"#{member_id}", "~", "")
    found = []
    for member_id, (name, _path, unit) in sorted(known.items(), key=lambda p: (p[1][1], p[1][0])):
        counted = sent.get(member_id, Counter())
        made = reports.get(member_id, 0)
        found.append(
            Burden(
                member_id,
                name,
                unit,
                counted["reminders"],
                counted["digests"],
                counted["returns"],
                asked.get(member_id, 0),
                made,
                round(questions[member_id] / made, 1) if made else None,
            )
        )
    return found

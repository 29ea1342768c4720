"""The report dialog: the pure interview (`bot.interview`) with its storage around it.

`bot.interview` decides what to ask and what an answer means; this module gives it the
person's units, stores the entry a confirmed report makes, and keeps a dropped report for
the rest of the day (恢复).
"""

from __future__ import annotations

import re

from bot import interview, schedule_chat
from bot.dialogs.base import Next, Turn
from bot.dialogs.state import Discarded
from bot.interview import Context, Draft, InterviewState, Step
from bot.parsing.extract import Extraction
from bot.parsing.numerals import parse_id
from bot.periods import Span, period_of
from bot.text import clean_text
from bot.types import Reply
from storage import repo
from storage.models import Entry

REPORT_WORDS = frozenset({"上报", "新建", "填报", "汇报", "报告", "报活动", "上报活动", "report"})
# "上报 11月8日在文化广场…", "上报：…": a report word, a separator, the report itself.
REPORT_PREFIX = re.compile(
    r"^\s*(?:" + "|".join(sorted(REPORT_WORDS, key=len, reverse=True)) + r")(?:\s*[:：,，]\s*|\s+)",
    re.IGNORECASE,
)


def running(turn: Turn) -> InterviewState | None:
    """The report being filled in, if any."""
    return turn.dialog if isinstance(turn.dialog, InterviewState) else None


def resume(turn: Turn) -> list[Reply]:
    """The current question again, after a command that interrupted the report."""
    current = running(turn)
    if current is None:
        return []
    return [interview.resume(turn.context(current.questionnaire), current)]


def busy(turn: Turn) -> Next:
    """Refuse what cannot start in the middle of a report, and ask its question again."""
    return Next([Reply(turn.t("busy_reporting")), *resume(turn)])


def start(turn: Turn, text: str = "", found: Extraction | None = None) -> Next:
    """Start a report; with the report as a message (/report TEXT), prefilled from it."""
    if running(turn) is not None:
        return busy(turn)
    units = repo.reporting_units(turn.session, turn.member_id)
    if not units:
        return Next([Reply(turn.t("no_unit"))])
    ctx = turn.context()
    if found is None and clean_text(text):
        found = interview.read(ctx, text)
    step = interview.start(ctx, units, found)
    if step.state is None:  # nothing to start (a date still ahead): nothing to keep
        return Next(list(step.replies))
    return _stepped(turn, ctx, step)


def maybe(turn: Turn) -> Next | None:
    """A plain message outside a report: one that reads like a report starts one."""
    text = turn.incoming.text
    prefixed = REPORT_PREFIX.match(text)
    if prefixed is not None and text[prefixed.end() :].strip():  # 上报 11月8日…
        return start(turn, text[prefixed.end() :])
    found = interview.read(turn.context(), text)
    if found.report_like:
        return start(turn, found=found)
    return None


def answer(turn: Turn, current: InterviewState) -> Next:
    """An answer to the current question (or a plain word that steers the report)."""
    ctx = turn.context(current.questionnaire)
    return _stepped(turn, ctx, interview.answer(ctx, current, turn.incoming))


def cancel(turn: Turn, current: InterviewState) -> Next:
    """Drop the report (asking first when it holds answers)."""
    ctx = turn.context(current.questionnaire)
    return _stepped(turn, ctx, interview.cancel(ctx, current))


def skip(turn: Turn, current: InterviewState) -> Next:
    """Skip the current question if it is optional."""
    ctx = turn.context(current.questionnaire)
    return _stepped(turn, ctx, interview.skip(ctx, current))


def back(turn: Turn, current: InterviewState) -> Next:
    """Go back one question."""
    ctx = turn.context(current.questionnaire)
    return _stepped(turn, ctx, interview.back(ctx, current))


def restore(turn: Turn) -> Next:
    """恢复 or /back after dropping a report: take it up again, the same day only."""
    dropped = turn.dialog
    if isinstance(dropped, InterviewState):
        return busy(turn)
    if not isinstance(dropped, Discarded):
        return Next([Reply(turn.t("nothing_to_restore"))])
    zone = turn.kit.zone
    if dropped.at.astimezone(zone).date() != turn.kit.clock().astimezone(zone).date():
        return Next([Reply(turn.t("restore_expired"))], None)
    ctx = turn.context(dropped.interview.questionnaire)
    return _stepped(turn, ctx, interview.restore(ctx, dropped.interview))


def edit(turn: Turn, argument: str) -> Next:
    """/edit N: the interview again, on one of the person's entries."""
    entry = _own_entry(turn, argument, "/edit")
    if not isinstance(entry, Entry):
        return entry
    units = repo.reporting_units(turn.session, turn.member_id)
    if entry.unit_id not in dict(units):
        units.append((entry.unit_id, entry.unit.name))
    ctx = turn.context()
    step = interview.start_edit(ctx, units, entry.id, entry.unit_id, dict(entry.answers))
    return _stepped(turn, ctx, step)


def _own_entry(turn: Turn, argument: str, command: str) -> Entry | Next:
    number = parse_id(argument)
    if number is None:
        return Next([Reply(turn.t("entry_number_missing", command=command))])
    entry = repo.live_entry(turn.session, number)
    if entry is None or entry.member_id != turn.member_id:
        return Next([Reply(turn.t("entry_not_found", id=number))])
    return entry


def _stepped(turn: Turn, ctx: Context, step: Step) -> Next:
    """Store what the interview made of the message; the next state goes to the caller."""
    replies = list(step.replies)
    if step.draft is not None:  # "已保存" first, then what comes next (another activity)
        replies.insert(0, store(turn, ctx, step.draft))
    if step.state is None and step.discarded is not None:
        return Next(replies, Discarded(step.discarded, turn.kit.clock()))
    return Next(replies, step.state)


def store(turn: Turn, ctx: Context, draft: Draft) -> Reply:
    """Save a confirmed report as an entry (or a new revision of one) and say so."""
    session, member, now = turn.session, turn.member, turn.kit.clock()
    assert member is not None
    q = ctx.questionnaire
    # Looked up every time: an id remembered from a transaction that was rolled back
    # afterwards would point at nothing.
    questionnaire_id = repo.questionnaire_row(
        session, q.id, q.version, q.title, lambda: q.model_dump(mode="json")
    )
    existing: Entry | None = None
    if draft.entry_id is not None:
        existing = repo.live_entry(session, draft.entry_id)
        if existing is None or existing.member_id != member.id:
            return Reply(turn.t("entry_not_found", id=draft.entry_id))
    entry = repo.write_entry(
        session,
        existing,
        member_id=member.id,
        editor_id=member.id,
        questionnaire_id=questionnaire_id,
        platform=turn.incoming.platform,
        fields={
            "unit_id": draft.unit_id,
            "area": draft.area,
            "area_name": draft.area_name,
            "title": draft.title,
            "start_date": draft.start_date,
            "end_date": draft.end_date,
            "period": period_of(draft.start_date).key,
            "location": draft.location,
            "answers": draft.answers,
        },
        metrics=[
            {
                "question_id": m.question_id,
                "label": m.label,
                "unit": m.unit,
                "low": m.low,
                "high": m.high,
                "approx": m.approx,
                "raw": m.raw,
            }
            for m in draft.metrics
        ],
        photos=draft.photos,
        now=now,
    )
    if existing is not None:
        saved = turn.t("saved_edit", id=entry.id, revision=entry.revision)
        note = schedule_chat.after_edit(session, entry, member, now, turn.incoming.platform)
        return Reply(saved if note is None else f"{saved}\n{note}")
    saved = turn.t("saved", id=entry.id)
    period = period_of(draft.start_date)
    if period != period_of(ctx.today):  # a backfill: say where /mine shows it
        span = Span("half", period.year, period.half)
        note = turn.t("saved_other_period", period=span.label(turn.locale), span=span.key)
        saved = f"{saved}\n{note}"
    return Reply(saved)

"""The report dialog: the pure interview (`bot.core.interview`) with its storage around it.

`bot.core.interview` decides what to ask and what an answer means; this module gives it the
person's units, stores the entry a confirmed report makes, and keeps a dropped report for
the rest of the day (恢复).

A new report asked for while one holds answers (/report, 上报, 上报 TEXT), or typed as the
answer to one of its questions when it tells of another activity, is asked about once: finish
this one first, or drop it for the new one (`Reporting.asked`). Dropped so, it waits beside
the new one (`Reporting.dropped`) and is kept for 恢复 when the new one ends.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.core import interview, oversight
from bot.core.dialogs.base import KEEP, Next, Turn
from bot.core.dialogs.state import Discarded, Reporting
from bot.core.interview import Context, InterviewState, Step
from bot.core.messages import questionnaire_text
from bot.core.parsing.extract import Extraction
from bot.core.parsing.numerals import parse_id
from bot.core.periods import Span, period_of
from bot.core.questionnaire import Role
from bot.core.text import clean_text
from bot.core.types import Choice, Kind, Reply
from storage import entries, members
from storage.models import Entry

REPORT_WORDS = frozenset({"上报", "新建", "填报", "汇报", "报告", "报活动", "上报活动", "report"})


def _prefix(words: frozenset[str]) -> re.Pattern[str]:
    # "上报 11月8日在文化广场…", "上报：…": a report word, a separator, the report itself.
    alternatives = "|".join(sorted(words, key=len, reverse=True))
    return re.compile(rf"^\s*(?:{alternatives})(?:\s*[:：,，]\s*|\s+)", re.IGNORECASE)


REPORT_PREFIX = _prefix(REPORT_WORDS)
# Inside a report, "新建：社区书屋一处" or "报告：…" may be an answer; these never are.
ANSWER_PREFIX = _prefix(REPORT_WORDS - {"新建", "报告"})

# The answers to "finish this one first, or report the new one?" (the buttons' labels too).
SWITCH_KEEP = "switch:keep"
SWITCH_NEW = "switch:new"
KEEP_WORDS = frozenset(
    {"继续", "继续填", "继续填写", "接着填", "先报完", "先报完这一条", "continue", "go on", "keep"}
)
NEW_WORDS = frozenset(
    {"报新的", "新的", "改报新的", "放弃", "放弃它", "new", "new one", "report the new one", "drop"}
)
# "好" or "不" to a question of two choices says neither: the question is asked again.
UNCLEAR_WORDS = interview.YES_WORDS | interview.NO_WORDS | interview.SAVE_WORDS


def reads(text: str, word: str) -> str | None:
    """上报 alone, or 上报 with the report (上报 11月8日…, 上报：…): the /report it stands for."""
    if word in REPORT_WORDS:
        return ""
    if word in NEW_WORDS:  # "Report the new one" typed out: the answer to `ask_first`
        return None
    prefixed = ANSWER_PREFIX.match(text)
    if prefixed is not None and text[prefixed.end() :].strip():
        return text[prefixed.end() :]
    return None


def running(turn: Turn) -> InterviewState | None:
    """The report being filled in, if any."""
    dialog = turn.dialog
    if isinstance(dialog, Reporting):
        return dialog.interview
    return dialog if isinstance(dialog, InterviewState) else None


def _dropped(turn: Turn) -> Discarded | None:
    """The report dropped for the one in progress, if any."""
    return turn.dialog.dropped if isinstance(turn.dialog, Reporting) else None


def resume(turn: Turn) -> list[Reply]:
    """The current question again, after a command that interrupted the report."""
    dialog = turn.dialog
    if isinstance(dialog, Reporting) and dialog.asked is not None:
        return [_switch_question(turn, dialog.interview)]
    current = running(turn)
    if current is None:
        return []
    return [interview.resume(turn.context(current.questionnaire), current)]


def busy(turn: Turn) -> Next:
    """Refuse what cannot start in the middle of a report, and ask its question again."""
    return Next([Reply(turn.t("busy_reporting")), *resume(turn)])


def start(
    turn: Turn, text: str = "", found: Extraction | None = None, dropped: Discarded | None = None
) -> Next:
    """Start a report; with the report as a message (/report TEXT), prefilled from it.

    A report in progress without answers is simply replaced (one with answers was asked
    about first: `ask_first`); `dropped` is a report dropped for this one, kept for 恢复.
    """
    # Nothing started: what was in progress stays, or, dropped for this one, is kept for 恢复.
    unchanged = KEEP if dropped is None else dropped
    units = members.reporting_units(turn.session, turn.member_id)
    if not units:
        return Next([Reply(turn.t("no_unit"))], unchanged)
    ctx = turn.context()
    if found is None and clean_text(text):
        found = interview.read(ctx, text)
    step = interview.start(ctx, units, found)
    if step.state is None:  # nothing to start (a date still ahead): nothing to keep
        return Next(list(step.replies), unchanged)
    return _stepped(turn, ctx, step, dropped)


def ask_first(turn: Turn, text: str) -> Next | None:
    """A new report asked for during one: asked about once if it holds answers, else None.

    "你正在填写“夏夜汇演”（还差 1 项）。先报完这一条，还是放弃它、改报新的？" The new report's
    text waits in the state until the person chooses.
    """
    current = running(turn)
    if current is None or not _holds_answers(current):
        return None
    return Next([_switch_question(turn, current)], Reporting(current, text, _dropped(turn)))


def _holds_answers(state: InterviewState) -> bool:
    """As for 取消: a report with an answer, or an edit, is not dropped without asking."""
    answered = any(not value.get("skipped") for value in state.answers.values())
    return answered or state.entry_id is not None


def _switch_question(turn: Turn, current: InterviewState) -> Reply:
    ctx = turn.context(current.questionnaire)
    choices = _switch_choices(turn)
    if current.entry_id is not None:
        return Reply(turn.t("switch_edit", id=current.entry_id), choices)
    return Reply(
        turn.t("switch_question", report=_named(ctx, current), left=_left(ctx, current)), choices
    )


def _switch_choices(turn: Turn) -> tuple[Choice, ...]:
    return (
        Choice(turn.t("switch_keep"), SWITCH_KEEP, "1"),
        Choice(turn.t("switch_new"), SWITCH_NEW, "2"),
    )


def _named(ctx: Context, state: InterviewState) -> str:
    """How the person will know a report: its title, else its area ("“夏夜汇演”", "一条上报")."""
    q = ctx.questionnaire
    for question in q.before:
        if question.role is Role.TITLE:
            title = (state.answers.get(question.id) or {}).get("text")
            if title:
                return ctx.t("switch_titled", title=title)
    if state.area is not None:
        name = q.area(state.area).name
        key = f"{q.id}:area:{state.area}"
        name = questionnaire_text(ctx.locale, (key,), name)
        return ctx.t("switch_area", area=name)
    return ctx.t("switch_untitled")


def _left(ctx: Context, state: InterviewState) -> str:
    """'（还差 2 项）', or '（就差确认保存了）' at the card; '' before the area is known."""
    if state.cursor == interview.CONFIRM:
        return ctx.t("switch_left_card")
    if state.area is None:
        return ""
    left = sum(
        1
        for question in ctx.questionnaire.flow(state.area)
        if question.id not in state.answers
        and not (state.message is not None and question.optional and question.id not in state.flags)
    )
    return ctx.t("switch_left", left=left) if left else ""


def switching(turn: Turn, current: Reporting) -> Next:
    """The answer to a report in progress that has something beside it (`Reporting`)."""
    if current.asked is None:
        return answer(turn, current.interview)
    incoming = turn.incoming
    pressed = incoming.text if incoming.kind is Kind.BUTTON else ""
    word = interview.control_word(incoming.text) if not pressed else ""
    typed = {interview.control_word(c.label): c.value for c in _switch_choices(turn)}
    typed |= {c.shortcut: c.value for c in _switch_choices(turn) if c.shortcut}
    choice = pressed or typed.get(word, "")
    if choice == SWITCH_KEEP or word in KEEP_WORDS:
        ctx = turn.context(current.interview.questionnaire)
        kept = Reply(turn.t("switch_kept"))
        return Next([kept, interview.resume(ctx, current.interview)], _beside(current))
    if choice == SWITCH_NEW or word in NEW_WORDS:
        return _switch(turn, current, current.asked)
    if word in UNCLEAR_WORDS:
        return Next([Reply(turn.t("switch_unclear")), _switch_question(turn, current.interview)])
    # Neither: the person went on with the report; the message is its answer.
    return answer(turn, current.interview)


def _beside(current: Reporting) -> InterviewState | Reporting:
    """The report without the question, with what was dropped for it."""
    if current.dropped is None:
        return current.interview
    return Reporting(current.interview, None, current.dropped)


def _switch(turn: Turn, current: Reporting, text: str) -> Next:
    """报新的: the report in progress is dropped as 放弃 drops it, and the new one starts."""
    old = current.interview
    if old.entry_id is not None:  # an edit: the entry stays as it was
        said = Reply(turn.t("edit_cancelled", id=old.entry_id))
        dropped = current.dropped
    else:
        ctx = turn.context(old.questionnaire)
        said = Reply(turn.t("switch_dropped", report=_named(ctx, old)))
        dropped = Discarded(old, turn.kit.clock())
    started = start(turn, text, dropped=dropped)
    # Nothing started (a date still ahead): the question is settled all the same.
    state = dropped if started.state is KEEP else started.state
    return Next([said, *started.replies], state)


def maybe(turn: Turn) -> Next | None:
    """A plain message outside a report: one that reads like a report starts one."""
    text = turn.incoming.text
    prefixed = REPORT_PREFIX.match(text)
    if prefixed is not None and text[prefixed.end() :].strip():  # 新建：11月8日…
        return start(turn, text[prefixed.end() :])
    found = interview.read(turn.context(), text)
    if found.report_like:
        return start(turn, found=found)
    return None


def answer(turn: Turn, current: InterviewState) -> Next:
    """An answer to the current question (or a plain word that steers the report).

    One that reads as a report of another activity (its own title, date or place) is not
    merged into this one: it is asked about as 上报 TEXT is (`ask_first`).
    """
    ctx = turn.context(current.questionnaire)
    step = interview.answer(ctx, current, turn.incoming)
    if step.another:
        asked = Reporting(current, turn.incoming.text, _dropped(turn))
        return Next([_switch_question(turn, current)], asked)
    return _stepped(turn, ctx, step)


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
    if running(turn) is not None:
        return busy(turn)
    if not isinstance(dropped, Discarded):
        return Next([Reply(turn.t("nothing_to_restore"))])
    if not _today(turn, dropped):
        return Next([Reply(turn.t("restore_expired"))], None)
    ctx = turn.context(dropped.interview.questionnaire)
    return _stepped(turn, ctx, interview.restore(ctx, dropped.interview))


def _today(turn: Turn, dropped: Discarded) -> bool:
    """Whether a report was dropped today (恢复 takes it up the same day only)."""
    zone = turn.kit.zone
    return dropped.at.astimezone(zone).date() == turn.kit.clock().astimezone(zone).date()


def edit(turn: Turn, argument: str) -> Next:
    """/edit N: the interview again, on one of the person's entries."""
    entry = _own_entry(turn, argument, "/edit")
    if not isinstance(entry, Entry):
        return entry
    units = members.reporting_units(turn.session, turn.member_id)
    if entry.unit_id not in dict(units):
        units.append((entry.unit_id, entry.unit.name))
    ctx = turn.context()
    step = interview.start_edit(ctx, units, entry.id, entry.unit_id, dict(entry.answers))
    return _stepped(turn, ctx, step)


def _own_entry(turn: Turn, argument: str, command: str) -> Entry | Next:
    number = parse_id(argument)
    if number is None:
        return Next([Reply(turn.t("entry_number_missing", command=command))])
    entry = entries.live_entry(turn.session, number)
    if entry is None or entry.member_id != turn.member_id:
        return Next([Reply(turn.t("entry_not_found", id=number))])
    return entry


def _stepped(turn: Turn, ctx: Context, step: Step, dropped: Discarded | None = None) -> Next:
    """Store what the interview made of the message; the next state goes to the caller.

    A report dropped for this one (`dropped`, else the one the turn's state holds) stays
    beside it, and is kept for 恢复 once this one is saved or cancelled.
    """
    dropped = dropped or _dropped(turn)
    if dropped is not None and not _today(turn, dropped):
        dropped = None  # 恢复 would not take it up any more
    replies = list(step.replies)
    if step.state is not None and step.state.cursor == interview.CONFIRM:
        replies = _warn_repeat(turn, ctx, step.state, replies)
    if step.draft is not None:  # "已保存" first, then what comes next (another activity)
        replies.insert(0, store(turn, ctx, step.draft))
    if step.state is None and step.discarded is not None:
        return Next(replies, Discarded(step.discarded, turn.kit.clock()))
    if step.state is None and dropped is not None:
        old = turn.context(dropped.interview.questionnaire)
        replies.append(Reply(turn.t("restore_waiting", report=_named(old, dropped.interview))))
        return Next(replies, dropped)
    if step.state is not None and dropped is not None:
        return Next(replies, Reporting(step.state, None, dropped))
    return Next(replies, step.state)


def _warn_repeat(
    turn: Turn, ctx: Context, state: InterviewState, replies: list[Reply]
) -> list[Reply]:
    """The card of a new report, with a line if the person reported the activity already.

    Re-typing a report sent yesterday, or one restored after a restart, would count its
    people twice in the summary. The same activity is the same unit, the same days and the
    same title however written ("夏夜汇演" and "社区夏夜汇演"); saving is not refused (it may
    be a second performance). Looked up only when the card is shown, not at every step.
    """
    if state.entry_id is not None or state.pending is not None or state.area is None:
        return replies  # an edit, or a question asked before the card
    if not replies:
        return replies
    at = len(replies) - 1  # an interview step asks its question (here: the card) last
    draft = interview.build_draft(ctx, state)
    title = _plain(draft.title)
    dated = any(
        question.role is Role.DATES
        and not draft.answers.get(question.id, {"skipped": True}).get("skipped")
        for question in ctx.questionnaire.flow(state.area)
    )
    if not title or not dated:
        return replies
    found = entries.same_days_of_member(
        turn.session, turn.member_id, draft.unit_id, draft.start_date, draft.end_date
    )
    for entry_id, stored in found:
        other = _plain(stored)
        if other and (title in other or other in title):
            day = draft.start_date
            note = turn.t("confirm_repeat", month=day.month, day=day.day, title=stored, id=entry_id)
            shown = replace(replies[at], text=f"{replies[at].text}\n{note}")
            return [*replies[:at], shown, *replies[at + 1 :]]
    return replies


def _plain(title: str) -> str:
    """A title without spaces and punctuation, to compare as people retype it."""
    return "".join(c for c in title if c.isalnum()).casefold()


def store(turn: Turn, ctx: Context, draft: entries.Draft) -> Reply:
    """Save a confirmed report as an entry (or a new revision of one) and say so."""
    session, member, now = turn.session, turn.member, turn.kit.clock()
    assert member is not None
    q = ctx.questionnaire
    # Looked up every time: an id remembered from a transaction that was rolled back
    # afterwards would point at nothing.
    questionnaire_id = entries.questionnaire_row(
        session, q.id, q.version, q.title, lambda: q.model_dump(mode="json")
    )
    existing: Entry | None = None
    if draft.entry_id is not None:
        existing = entries.live_entry(session, draft.entry_id)
        if existing is None or existing.member_id != member.id:
            return Reply(turn.t("entry_not_found", id=draft.entry_id))
    if existing is None and not draft.photos:
        # two INSERTs, not the ORM's unit of work: through it, the end of a report cost as
        # much CPU as its eleven other steps together (issue 16 §5)
        (entry_id,) = entries.save_new(
            session, [(member.id, draft)], questionnaire_id=questionnaire_id, now=now
        )
    else:
        entry = entries.save(
            session,
            draft,
            member_id=member.id,
            questionnaire_id=questionnaire_id,
            platform=turn.incoming.platform,
            now=now,
            replacing=existing,
        )
        if existing is not None:
            saved = turn.t("saved_edit", id=entry.id, revision=entry.revision)
            note = oversight.after_edit(session, entry, member, now, turn.incoming.platform)
            return Reply(saved if note is None else f"{saved}\n{note}")
        entry_id = entry.id
    saved = turn.t("saved", id=entry_id)
    period = period_of(draft.start_date)
    if period != period_of(ctx.today):  # a backfill: say where /mine shows it
        span = Span("half", period.year, period.half)
        note = turn.t("saved_other_period", period=span.label(turn.locale), span=span.key)
        saved = f"{saved}\n{note}"
    return Reply(saved)

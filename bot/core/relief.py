"""What the 基层减负 rules ask of a reporting app, on the chat side.

整治形式主义为基层减负若干规定 (2024) and the 2026 State Council notice on government apps ask
every such app for a complaint and feedback channel, no rankings, no 打卡, no compulsory
photo or location uploads, and as few demands on staff as will do. Here:

- `/feedback TEXT` (or a message starting 意见 / 投诉 / 反馈): stored and acknowledged; read
  by admins only (`huibao feedback list`), never shown to the person's coordinator unless an
  admin forwards it (`huibao feedback forward N --to MEMBER`, without the name by default);
- `/todo` (待办, 我还欠什么): what the person still owes, for which deadline, by when, and
  the entries sent back to them for correction;
- `/remind off` (少提醒): no more reminders for the nearest deadline the person owes;
  `/remind off 2026-07-01`: none at all before that day; `/remind on`: back on; `/remind`:
  what is muted. Coordinators see who muted in /status.

The conversation calls these inside the message's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core.interview import control_word
from bot.core.messages import text as msg
from bot.core.text import clean_text
from bot.reminders import deadlines
from bot.reminders.deadlines import DayRules
from bot.reminders.ladder import HORIZON, coverage_of, time_left
from storage import deadlines as deadline_store
from storage import feedback as feedback_store
from storage import members, returns
from storage.models import Requirement

FEEDBACK_MAX = 4000  # the longest message the conversation takes at all
FEEDBACK_WORDS = ("我要投诉", "我有意见", "提意见", "意见", "投诉", "反馈", "feedback")
_FEEDBACK_SEPARATORS = " ：:，,、。-—"
OWED_WORDS = frozenset({"待办", "我的待办", "待办事项", "我还欠什么", "还欠什么", "todo", "to do"})
MUTE_WORDS = ("少提醒", "别提醒了", "别提醒", "不要提醒", "暂停提醒", "关闭提醒", "不用提醒")
UNMUTE_WORDS = frozenset({"恢复提醒", "打开提醒", "开启提醒"})
MUTE_LONGEST = timedelta(days=366)
_DAY = re.compile(r"^(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")


@dataclass(frozen=True, slots=True)
class Said:
    """A plain message that stands for one of these commands."""

    name: str  # feedback, todo, remind
    argument: str


def plain_words(text: str) -> Said | None:
    """Read 意见 …, 投诉 …, 待办, 我还欠什么, 少提醒 [日期], 恢复提醒; None for anything else."""
    stripped = text.strip()
    for word in FEEDBACK_WORDS:
        if stripped.lower().startswith(word):
            rest = stripped[len(word) :]
            if not rest or rest[0] in _FEEDBACK_SEPARATORS:
                return Said("feedback", rest.lstrip(_FEEDBACK_SEPARATORS))
    word = control_word(text)
    if word in OWED_WORDS:
        return Said("todo", "")
    if word in UNMUTE_WORDS:
        return Said("remind", "on")
    for mute in MUTE_WORDS:
        if word == mute or word.startswith(mute + " "):
            return Said("remind", ("off " + word[len(mute) :].strip()).strip())
    return None


# --- /feedback ---------------------------------------------------------------------------


def feedback(
    session: Session, member_id: int, argument: str, platform: str, now: datetime, locale: str
) -> str:
    """Store a complaint or suggestion and say who will read it."""
    said = clean_text(argument)
    if not said:
        return msg(locale, "feedback_usage")
    if not any(ch.isalnum() for ch in said):  # only emoji or punctuation
        return msg(locale, "feedback_words_please")
    if len(said) > FEEDBACK_MAX:
        return msg(locale, "too_long_message", length=len(said), limit=FEEDBACK_MAX)
    number = feedback_store.add(session, member_id, platform, said, now)
    return msg(locale, "feedback_thanks", id=number)


# --- /todo -------------------------------------------------------------------------------


def todo(
    session: Session,
    member_id: int,
    name: str,
    now: datetime,
    zone: ZoneInfo,
    rules: DayRules,
    locale: str,
) -> str:
    """What the member still owes: per current deadline the units, due time and time left;
    the entries sent back for correction; the reminders they muted."""
    lines: list[str] = []
    for deadline in deadlines.current(session, now, zone, rules):
        units = deadline_store.owing_units(session, coverage_of(deadline), member_id)
        if not units:
            continue
        left = (
            time_left(deadline.due_at, now, locale)
            if deadline.due_at > now
            else msg(locale, "todo_overdue")
        )
        lines.append(
            msg(
                locale,
                "todo_deadline",
                what=deadline.describe(locale),
                units=("、" if locale != "en" else ", ").join(units),
                due=deadlines.format_due(deadline.due_at, zone, locale),
                left=left,
                command="/reflect" if deadline.requirement is Requirement.REFLECTION else "/report",
            )
        )
    for returned in returns.open_returns_of(session, member_id):
        lines.append(
            msg(
                locale,
                "todo_returned",
                id=returned.entry_id,
                title=returned.title,
                comment=returned.comment,
            )
        )
    if not lines:
        return msg(locale, "todo_none", name=name)
    today = now.astimezone(zone).date()
    for mute in members.mutes_of(session, member_id, today):
        if mute.deadline_ref is None and mute.until is not None:
            lines.append(msg(locale, "todo_muted", month=mute.until.month, day=mute.until.day))
    return "\n".join([msg(locale, "todo_header", name=name, count=len(lines)), *lines])


# --- /remind -----------------------------------------------------------------------------


def read_day(text: str, today: date) -> date | None:
    """2026-07-01, 2026年7月1日, 7月1日 (the next such day), 7/1; None if not a day."""
    match = _DAY.match(text.strip())
    if match is None:
        return None
    month, day = int(match.group(2)), int(match.group(3))
    try:
        if match.group(1) is not None:
            return date(int(match.group(1)), month, day)
        found = date(today.year, month, day)
        return found if found > today else date(today.year + 1, month, day)
    except ValueError:
        return None


def remind(
    session: Session,
    member_id: int,
    argument: str,
    now: datetime,
    zone: ZoneInfo,
    rules: DayRules,
    locale: str,
) -> str:
    """/remind [off [DATE] | on]: fewer reminders, or all of them again."""
    words = argument.split()
    action = words[0].lower() if words else ""
    today = now.astimezone(zone).date()
    if action in ("on", "开", "打开", "恢复"):
        cleared = members.clear_mutes(session, member_id)
        return msg(locale, "remind_on" if cleared else "remind_already_on")
    if action in ("off", "关", "关闭", "少", "暂停"):
        if len(words) > 1:
            day = read_day(" ".join(words[1:]), today)
            if day is None or day <= today or day - today > MUTE_LONGEST:
                return msg(locale, "remind_bad_day", day=" ".join(words[1:])[:20])
            members.add_mute(session, member_id, deadline_ref=None, until=day, now=now)
            return msg(locale, "remind_off_until", month=day.month, day=day.day)
        for deadline in deadlines.upcoming(session, now, zone, HORIZON, rules):
            if deadline_store.owing_units(session, coverage_of(deadline), member_id):
                members.add_mute(session, member_id, deadline_ref=deadline.ref, until=None, now=now)
                return msg(
                    locale,
                    "remind_off_deadline",
                    what=deadline.describe(locale),
                    due=deadlines.format_due(deadline.due_at, zone, locale),
                )
        return msg(locale, "remind_nothing_owed")
    if action:
        return msg(locale, "remind_usage")
    mutes = members.mutes_of(session, member_id, today)
    if not mutes:
        return msg(locale, "remind_status_on") + "\n" + msg(locale, "remind_usage")
    lines = [msg(locale, "remind_status_header")]
    for mute in mutes:
        if mute.until is not None:
            lines.append(
                msg(locale, "remind_status_until", month=mute.until.month, day=mute.until.day)
            )
        else:
            name = _deadline_name(session, mute, locale)
            lines.append(msg(locale, "remind_status_deadline", ref=name))
    lines.append(msg(locale, "remind_usage"))
    return "\n".join(lines)


def _deadline_name(session: Session, mute: members.Mute, locale: str) -> str:
    """A muted deadline in words, e.g. 2026年6月活动记录 (a default rule or a unit's own)."""
    ref = mute.deadline_ref or ""
    requirement, _, period = ref.partition(":")
    try:
        if period:
            span = deadlines.parse_span(period)
            return deadlines.describe(deadlines.parse_requirement(requirement), span, locale)
        digits = ref.removeprefix("d")
        row = deadline_store.deadline_by_id(session, int(digits)) if digits.isdigit() else None
        if row is not None:
            return deadlines.describe(row.requirement, deadlines.parse_span(row.period), locale)
    except deadlines.DeadlineError:
        pass
    return msg(locale, "remind_deadline_number", id=ref.removeprefix("d"))

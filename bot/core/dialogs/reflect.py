"""The half-year review: two questions (shortcomings, then plans), each answered or skipped."""

from __future__ import annotations

from bot.core import reflection
from bot.core.dialogs.base import Next, Turn
from bot.core.dialogs.state import Reflecting
from bot.core.periods import period_of
from bot.core.types import Kind, Reply
from storage import members, reflections

REFLECT_WORDS = frozenset({"回顾", "半年回顾", "工作回顾", "reflect"})


def begin(turn: Turn, argument: str = "") -> Next:
    """/reflect: ask for this half-year's shortcomings."""
    units = members.reporting_units(turn.session, turn.member_id)
    if not units:
        return Next([Reply(turn.t("no_unit"))])
    period = period_of(turn.incoming.at.astimezone(turn.kit.zone).date())
    question = Reply(turn.t("reflect_ask_shortcomings", period=period.chinese))
    return Next([question], Reflecting(1, units[0][0], period.key))


def answer(turn: Turn, state: Reflecting, *, skip: bool = False) -> Next:
    """Keep the points of one answer (or none, skipped) and ask the next question."""
    points: list[str] = []
    if not skip:
        if turn.incoming.kind is not Kind.TEXT:
            return Next([Reply(turn.t("reflect_text_please"))])
        points = reflection.split_points(turn.incoming.text)
        if not points:
            return Next([Reply(turn.t("reflect_text_please"))])
        kind = reflection.SHORTCOMING if state.step == 1 else reflection.PLAN
        reflections.add_reflections(
            turn.session,
            turn.member_id,
            state.unit_id,
            state.period,
            kind,
            points,
            turn.kit.clock(),
        )
    noted = turn.t("reflect_noted", count=len(points)) if points else turn.t("skipped")
    if state.step == 1:
        after = Reflecting(2, state.unit_id, state.period)
        return Next([Reply(noted), Reply(turn.t("reflect_ask_plans"))], after)
    return Next([Reply(noted), Reply(turn.t("reflect_done"))], None)

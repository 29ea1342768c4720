"""The interview: a pure state machine over a questionnaire's typed questions.

Nothing here touches the database or a platform. The conversation layer loads an
`InterviewState`, calls `start`, `answer`, `skip`, `back` or `cancel`, saves the new state
and sends the replies; when a step returns a `Draft`, it stores the entry.

Plain words steer the dialog as the slash commands do ("跳过", "上一步", "取消", "对的",
"skip", "back"); they are read before an answer is parsed, so none is ever stored as one.
Some answers are asked about once before they are kept (a figure of 0, a date outside the
current half-year, a near miss of an option, dropping a report): the question waits in
`InterviewState.pending` until the next message says yes, no, or answers afresh.

One message may say many things ("11月8日在文化广场办了3场夏夜汇演，300多人参加"): `start` takes
what :mod:`bot.core.parsing.extract` reads from it and asks only what is still missing (the
optional questions the message did not touch are left for the card); an answer that carries
more than its question asks fills the other missing fields too, and the bot says what it took.
Every value taken from a message is shown on the card, with the words it came from, before
anything is saved.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from bot.core.answers import (
    TYPED,
    AnswerProblem,
    count_to_json,
    count_value,
    dates_answer,
    format_day,
    read_answer,
    required_problem,
    skipped,
    text_value,
)
from bot.core.figures import metric_text, plain
from bot.core.messages import questionnaire_text
from bot.core.messages import text as msg
from bot.core.parsing import Approx
from bot.core.parsing.dates import SHANGHAI
from bot.core.parsing.extract import (
    DateFound,
    DatePrecision,
    Extraction,
    FigureIssue,
    assign_figures,
    extract,
    suggest_title,
)
from bot.core.periods import period_of
from bot.core.questionnaire import Area, Question, Questionnaire, QuestionType, Role
from bot.core.text import clean_text
from bot.core.types import Choice, Incoming, Kind, Reply
from storage.entries import Draft, MetricValue

AREA = "area"
UNIT = "unit"
CONFIRM = "confirm"
PICK = "pick"

KEEP = "keep"
SAVE = "confirm:save"
EDIT = "confirm:edit"
DROP = "confirm:cancel"
PHOTOS_DONE = "photos:done"
SKIP = "skip"  # the 跳过 button of an optional question
PENDING_YES = "pending:yes"
PENDING_NO = "pending:no"
EDIT_PREFIX = "edit:"
TOKEN_SEPARATOR = "~"

# Plain words, in both languages whatever the person's language (no word is in two sets
# where that could mislead: "没有" skips a text question but answers a yes/no one "no").
YES_WORDS = frozenset(
    {"是", "是的", "对", "对的", "有", "好", "好的", "确认", "确定", "没错", "嗯", "行", "可以"}
    | {"yes", "y", "ok", "okay", "sure", "yep", "yeah", "right", "correct"}
)
NO_WORDS = frozenset({"否", "不是", "不", "没有", "无", "不对", "no", "n", "nope"})
SAVE_WORDS = frozenset(
    {"确认", "保存", "确认保存", "是", "是的", "好", "好的", "对", "对的", "没问题", "确定", "没错"}
    | {"提交", "可以", "行", "ok", "okay", "yes", "y", "save", "confirm", "sure", "correct"}
)
EDIT_WORDS = frozenset({"修改", "改", "编辑", "改一下", "要改", "change", "edit"})
DROP_WORDS = frozenset({"放弃", "drop"})
DONE_WORDS = frozenset({"完成", "好了", "发完了", "没有了", "done", "ok"})
SKIP_WORDS = frozenset(
    {"跳过", "没有", "无", "不知道", "暂无", "不填", "略", "不清楚", "没", "无可奉告"}
    | {"skip", "none", "no", "n/a", "na", "nothing", "pass", "don't know", "dont know"}
    | {"not sure", "unknown"}
)
CANCEL_WORDS = frozenset(
    {"取消", "算了", "不报了", "不填了", "放弃", "不要了", "cancel", "quit", "stop", "drop"}
)
BACK_WORDS = frozenset({"上一步", "返回", "上一题", "回到上一题", "后退", "back", "go back"})
HELP_WORDS = frozenset({"帮助", "怎么用", "使用说明", "help", "?"})
MINE_WORDS = frozenset({"我的", "我的记录", "mine", "my entries", "my records"})
RESTORE_WORDS = frozenset({"恢复", "找回", "撤销", "restore", "undo"})
# On a pending question: these say "no, not that" (and "继续" keeps a report being dropped).
NOT_THAT_WORDS = NO_WORDS | {
    "不是的",
    "不要",
    "继续",
    "继续填",
    "不放弃",
    "重新填",
    "go on",
    "continue",
}
# How a longer "yes, ..." or "no, ..." begins ("不放弃，继续", "是，2025年的").
_NOT_THAT_STARTS = ("不是", "不放弃", "不要", "不对", "继续", "重新", "no,", "no ", "not ")
_YES_STARTS = ("是，", "是,", "是的", "对，", "对,", "对的", "确定", "yes")
# Never stored as the answer to a text question.
CONTROL_WORDS = (
    YES_WORDS | SAVE_WORDS | SKIP_WORDS | CANCEL_WORDS | BACK_WORDS | HELP_WORDS | MINE_WORDS
) | RESTORE_WORDS
_EDIT_ITEM = re.compile(r"^(?:修改|更改|改|编辑|change|edit)\s*(?:第\s*)?(?P<item>.+?)(?:\s*项)?$")
_DIGITS = re.compile(r"[0-9]{1,4}")
SUGGESTIONS = 3  # the closest options offered for a near miss
MAX_CONTROL_CHARS = 40  # longer than any plain word or "修改" + an item's label

NOT_ANSWERS = {
    Kind.UNSUPPORTED: "unsupported_message",
    Kind.FORWARDED: "forwarded_message",
    Kind.EDITED: "edited_message",
}

SESSIONS_UNIT = "场次"  # a one-day activity is one session unless the message says more


class InvalidAnswer(Exception):
    """An answer that does not fit the question; the message says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _NearMiss(InvalidAnswer):
    """A typed option that is close to some (志原服务): offer those instead."""

    def __init__(self, typed: str, values: list[str]) -> None:
        super().__init__(typed)
        self.pending = {"kind": "choice", "typed": typed, "values": values}


@dataclass
class InterviewState:
    """Where a person is in one report; stored as JSON between messages."""

    questionnaire: str
    version: int
    cursor: str
    units: list[tuple[int, str]]
    unit_id: int | None = None
    area: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    entry_id: int | None = None
    return_to_confirm: bool = False
    # Counts the questions asked; buttons carry it, so a button of an earlier message
    # (or of an earlier report) cannot answer the current question.
    turn: int = 0
    # A question asked about the last answer before it is kept (see the module docstring):
    # {"kind": "cancel"}, {"kind": "value", "question": id, "value": answer JSON} or
    # {"kind": "choice", "typed": text, "values": [option values]} or
    # {"kind": "several", "parts": [texts]} (a message that seems to hold two activities).
    pending: dict[str, Any] | None = None
    # A report started from one message: the message ({"text", "at"}); while it is set, the
    # optional questions the message did not answer are not asked (the card shows them).
    message: dict[str, str] | None = None
    # Where the values taken from a message came from: field -> the words ("11月8日").
    sources: dict[str, str] = field(default_factory=dict)
    # Fields made from the message rather than copied (a suggested title, the content).
    made: list[str] = field(default_factory=list)
    # Questions to ask although the message named them: field -> {"issue", "raw"} and, for
    # a value to confirm first (a figure of 0, a date in another period), "value".
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The areas the message suggests, best first: the first buttons when the area is asked.
    guesses: list[str] = field(default_factory=list)
    # The other activities of a message that held several, reported after this one.
    rest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the state as plain JSON data."""
        return {
            "questionnaire": self.questionnaire,
            "version": self.version,
            "cursor": self.cursor,
            "units": [list(u) for u in self.units],
            "unit_id": self.unit_id,
            "area": self.area,
            "answers": self.answers,
            "history": self.history,
            "entry_id": self.entry_id,
            "return_to_confirm": self.return_to_confirm,
            "turn": self.turn,
            "pending": self.pending,
            **{
                key: value
                for key, value in (
                    ("message", self.message),
                    ("sources", self.sources),
                    ("made", self.made),
                    ("flags", self.flags),
                    ("guesses", self.guesses),
                    ("rest", self.rest),
                )
                if value
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InterviewState:
        """Rebuild a state saved by `to_json`."""
        return cls(
            questionnaire=data["questionnaire"],
            version=data["version"],
            cursor=data["cursor"],
            units=[(int(u[0]), str(u[1])) for u in data["units"]],
            unit_id=data.get("unit_id"),
            area=data.get("area"),
            answers=dict(data.get("answers", {})),
            history=list(data.get("history", [])),
            entry_id=data.get("entry_id"),
            return_to_confirm=bool(data.get("return_to_confirm", False)),
            turn=int(data.get("turn", 0)),
            pending=data.get("pending"),
            message=data.get("message"),
            sources=dict(data.get("sources") or {}),
            made=list(data.get("made") or []),
            flags=dict(data.get("flags") or {}),
            guesses=list(data.get("guesses") or []),
            rest=data.get("rest"),
        )


@dataclass(frozen=True)
class Step:
    """What one message did: the next state (None when the interview ended) and the replies."""

    state: InterviewState | None
    replies: tuple[Reply, ...]
    draft: Draft | None = None
    cancelled: bool = False
    # A report dropped with answers in it, to be kept for the rest of the day (恢复).
    discarded: InterviewState | None = None
    # The answer reads as a report of another activity (`_another_activity`): nothing was
    # taken and the question is asked again; the report dialog asks whether to switch instead.
    another: bool = False


@dataclass(frozen=True)
class Context:
    """What a step needs besides the state: the questionnaire, the clock and the language."""

    questionnaire: Questionnaire
    now: datetime
    today: date
    locale: str = "zh"
    zone: tzinfo = SHANGHAI  # where relative dates in a message ("上周三") are read

    def t(self, key: str, **params: Any) -> str:
        """Translate a catalogue key."""
        return msg(self.locale, key, **params)


# ---------------------------------------------------------------------------------------
# Entry points


def start(ctx: Context, units: list[tuple[int, str]], message: Extraction | None = None) -> Step:
    """Begin a new report for a member working in `units` (id, name).

    With `message` (what `read` made of a report sent as one message), the report starts with
    everything the message says and asks only what is missing. The step's state is None when
    the message cannot start a report (its date is still ahead).
    """
    q = ctx.questionnaire
    state = InterviewState(
        questionnaire=q.id,
        version=q.version,
        cursor=AREA,
        units=units,
        unit_id=units[0][0] if len(units) == 1 else None,
        turn=_first_turn(ctx),
    )
    if state.unit_id is None:
        state.cursor = UNIT
    if message is None:
        return Step(state, (ask(ctx, state),))
    return _start_with(ctx, state, message, ctx.now)


def read(ctx: Context, text: str, at: datetime | None = None) -> Extraction:
    """What one message says about an activity: area, title, dates, place and figures."""
    return extract(clean_text(text), ctx.questionnaire, at or ctx.now, ctx.zone)


def start_edit(
    ctx: Context, units: list[tuple[int, str]], entry_id: int, unit_id: int, answers: dict[str, Any]
) -> Step:
    """Open an existing entry at the confirmation step, so any field can be changed."""
    area = answers.get(AREA)
    state = InterviewState(
        questionnaire=ctx.questionnaire.id,
        version=ctx.questionnaire.version,
        cursor=CONFIRM,
        units=units,
        unit_id=unit_id,
        area=area if isinstance(area, str) else None,
        answers={k: v for k, v in answers.items() if k != AREA},
        entry_id=entry_id,
        turn=_first_turn(ctx),
    )
    intro = Reply(ctx.t("edit_intro", id=entry_id))
    return Step(state, (intro, ask(ctx, state)))


def resume(ctx: Context, state: InterviewState) -> Reply:
    """Ask the current question again (after a restart, or when a command interrupts)."""
    return ask(ctx, state)


def answer(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    """Take a person's answer to the current question (or a plain word that steers)."""
    state = _copy(state)
    if incoming.kind is Kind.BUTTON:
        value, _, token = incoming.text.rpartition(TOKEN_SEPARATOR)
        if token != str(state.turn):
            return Step(state, (Reply(ctx.t("button_stale")), ask(ctx, state)))
        incoming = replace(incoming, text=value)
    state.turn += 1
    if incoming.kind is Kind.TEXT and state.pending is not None:
        incoming = _as_pressed(ctx, state, incoming)
    pending, state.pending = state.pending, None
    try:
        if incoming.kind in NOT_ANSWERS:
            raise InvalidAnswer(ctx.t(NOT_ANSWERS[incoming.kind]))
        if pending is not None:
            settled = _settle(ctx, state, pending, incoming)
            if isinstance(settled, Step):
                return settled
            incoming = settled or incoming
        steered = _steer(ctx, state, incoming)
        if steered is not None:
            return steered
        if state.cursor == UNIT:
            return _answer_unit(ctx, state, incoming)
        if state.cursor == AREA:
            return _answer_area(ctx, state, incoming)
        if state.cursor == CONFIRM:
            return _answer_confirm(ctx, state, incoming)
        if state.cursor == PICK:
            return _answer_pick(ctx, state, incoming)
        confirmed = pending if pending is not None and pending["kind"] == "value" else None
        return _answer_question(ctx, state, incoming, confirmed)
    except _NearMiss as near:
        state.pending = near.pending
        return Step(state, (ask(ctx, state),))
    except InvalidAnswer as problem:
        return Step(state, (Reply(problem.message), ask(ctx, state)))


def skip(ctx: Context, state: InterviewState) -> Step:
    """Skip the current question if it is optional; say why if it is not."""
    state = _copy(state)
    state.turn += 1
    state.pending = None
    return _skip(ctx, state)


def back(ctx: Context, state: InterviewState) -> Step:
    """Return to the previous question."""
    state = _copy(state)
    state.turn += 1
    state.pending = None
    return _back(ctx, state)


def cancel(ctx: Context, state: InterviewState) -> Step:
    """Drop the report, asking once first if it holds answers."""
    state = _copy(state)
    state.turn += 1
    state.pending = None
    return _cancel(ctx, state)


def restore(ctx: Context, state: InterviewState) -> Step:
    """Take up a dropped report again where it was."""
    state = _copy(state)
    state.pending = None
    state.turn = _first_turn(ctx)
    return Step(state, (Reply(ctx.t("restored")), ask(ctx, state)))


# ---------------------------------------------------------------------------------------
# Plain words, and the questions that wait for a yes or a no


def control_word(raw: str) -> str:
    """A message as a word to steer by: '跳过吧' -> '跳过', 'Skip!' -> 'skip'."""
    if len(raw) > MAX_CONTROL_CHARS:  # an answer, not a word: spare the normalising
        return ""
    word = " ".join(normalise_word(raw).split())
    stripped = word.rstrip("~～?？,，、!！。. ")
    for particle in ("吧", "啊", "呀", "哈"):
        stripped = stripped.removesuffix(particle)
    return stripped or word


def _steer(ctx: Context, state: InterviewState, incoming: Incoming) -> Step | None:
    """Act on a plain word (skip, back, cancel) or the 跳过 button; None for an answer."""
    if incoming.kind is Kind.BUTTON:
        return _skip(ctx, state) if incoming.text == SKIP else None
    if incoming.kind is not Kind.TEXT:
        return None
    word = control_word(incoming.text)
    if word in CANCEL_WORDS:
        return _cancel(ctx, state)
    if word in BACK_WORDS:
        return _back(ctx, state)
    if word in SKIP_WORDS and not _is_literal(ctx, state, word):
        return _skip(ctx, state)
    return None


def _is_literal(ctx: Context, state: InterviewState, word: str) -> bool:
    """Whether a skip word is a real answer here ("没有" to a yes/no question, a choice "无")."""
    question = _current_question(ctx, state)
    if question is None:
        return False
    if question.type is QuestionType.YES_NO:
        return word in YES_WORDS | NO_WORDS
    if question.type is QuestionType.CHOICE:
        return any(word == n.lower() for _, names in _options(ctx, state) for n in names)
    return False


def _skip(ctx: Context, state: InterviewState) -> Step:
    if state.cursor == CONFIRM:
        return Step(state, (Reply(ctx.t("nothing_to_skip_card")), ask(ctx, state)))
    if state.cursor == PICK:
        return _back(ctx, state)
    question = _current_question(ctx, state)
    if question is None or not question.optional:
        return Step(state, (Reply(_required(ctx, state, question)), ask(ctx, state)))
    if question.type is QuestionType.PHOTO and (state.answers.get(question.id) or {}).get("files"):
        return _advance(ctx, state, question.id)  # the photos sent so far are kept
    state.answers[question.id] = {"skipped": True}
    state.sources.pop(question.id, None)
    if question.id in state.made:
        state.made.remove(question.id)
    return _advance(ctx, state, question.id, prefix=ctx.t("skipped"))


def _required(ctx: Context, state: InterviewState, question: Question | None) -> str:
    """Why this question cannot be skipped."""
    if question is not None:
        return required_problem(question).text(ctx.locale, label=_label(ctx, state, question))
    label = ctx.t("field_unit" if state.cursor == UNIT else "field_area")
    why = "why_unit" if state.cursor == UNIT else "why_area"
    return ctx.t("required_why", label=label, why=ctx.t(why))


def _back(ctx: Context, state: InterviewState) -> Step:
    if not state.history:
        return Step(state, (Reply(ctx.t("first_question")), ask(ctx, state)))
    state.cursor = state.history.pop()
    state.return_to_confirm = False
    return Step(state, (ask(ctx, state),))


def _cancel(ctx: Context, state: InterviewState, typed: str = "") -> Step:
    if state.cursor == PICK:  # "取消" in the list of items: never mind, back to the card
        return _back(ctx, state)
    if state.entry_id is not None:  # an edit: the entry stays as it was
        return Step(None, (Reply(ctx.t("edit_cancelled", id=state.entry_id)),), cancelled=True)
    if not _answered(state):
        return Step(None, (Reply(ctx.t("cancelled")),), cancelled=True)
    state.pending = {"kind": "cancel", "number": typed}
    return Step(state, (ask(ctx, state),))


def _answered(state: InterviewState) -> int:
    return sum(1 for value in state.answers.values() if not value.get("skipped"))


def _settle(
    ctx: Context, state: InterviewState, pending: dict[str, Any], incoming: Incoming
) -> Step | Incoming | None:
    """Answer a pending question: a Step, an Incoming to take instead, or None (answer afresh)."""
    word = control_word(incoming.text) if incoming.kind is Kind.TEXT else ""
    pressed = incoming.text if incoming.kind is Kind.BUTTON else ""
    yes = pressed == PENDING_YES or word in YES_WORDS or word in SAVE_WORDS
    no = pressed == PENDING_NO or word in NOT_THAT_WORDS or word.startswith(_NOT_THAT_STARTS)
    yes = yes or (not no and word.startswith(_YES_STARTS))
    if pending["kind"] == "cancel":
        if yes or word in CANCEL_WORDS:
            return Step(None, (Reply(ctx.t("discarded")),), cancelled=True, discarded=state)
        if no:
            return Step(state, (Reply(ctx.t("cancel_kept")), ask(ctx, state)))
    elif pending["kind"] == "value":
        if yes:
            state.answers[pending["question"]] = pending["value"]
            return _advance(ctx, state, pending["question"])
        if no:
            return Step(state, (Reply(ctx.t("pending_retry")), ask(ctx, state)))
    elif pending["kind"] == "several":
        return _settle_several(ctx, state, pending, pressed, word)
    elif pending["kind"] == "choice" and yes:
        if len(pending["values"]) == 1:
            return replace(incoming, kind=Kind.BUTTON, text=pending["values"][0])
        state.pending = pending  # "是" to "which of these?": ask again, never act on it
        return Step(state, (ask(ctx, state),))
    return None


def _as_pressed(ctx: Context, state: InterviewState, incoming: Incoming) -> Incoming:
    """A pending question's button label typed out ("不放弃，继续填") counts as pressed."""
    asked = _pending_reply(ctx, state)
    word = control_word(incoming.text)
    for choice in asked.choices if asked is not None else ():
        if control_word(choice.label) == word:
            return replace(incoming, kind=Kind.BUTTON, text=choice.value)
    return incoming


def _pending_reply(ctx: Context, state: InterviewState) -> Reply | None:
    """The question a pending answer waits on, as asked."""
    pending = state.pending
    if pending is None:
        return None
    if pending["kind"] == "cancel":
        count = _answered(state) + (1 if state.area else 0)
        lines = [ctx.t("cancel_confirm", count=count)]
        if pending.get("number"):
            lines.append(ctx.t("cancel_confirm_number", number=pending["number"]))
        yes_no = (Choice(ctx.t("cancel_yes"), PENDING_YES), Choice(ctx.t("cancel_no"), PENDING_NO))
        return Reply("\n".join(lines), yes_no)
    if pending["kind"] == "choice":
        return _suggestion(ctx, state, pending["typed"], pending["values"])
    if pending["kind"] == "several":
        return _several_question(ctx, pending["parts"])
    question = _current_question(ctx, state)
    assert question is not None
    return _doubt_question(ctx, state, question, pending["value"])


def _suggestion(ctx: Context, state: InterviewState, typed: str, values: list[str]) -> Reply:
    """'你是说“志愿服务”吗？' with the closest options as buttons (their numbers work too)."""
    known = {value: (number, names[0]) for number, (value, names) in _numbered_options(ctx, state)}
    shown = [value for value in values if value in known]
    choices = tuple(Choice(known[v][1], v, str(known[v][0])) for v in shown)
    if len(shown) == 1:
        return Reply(ctx.t("suggest_one", typed=typed, option=known[shown[0]][1]), choices)
    return Reply(ctx.t("suggest_many", typed=typed), choices)


def _doubt_question(
    ctx: Context, state: InterviewState, question: Question, value: dict[str, Any]
) -> Reply:
    """'是 0 吗？' or '这是2025年的活动吗？', with yes and no buttons."""
    retry = Choice(ctx.t("retry_button"), PENDING_NO)
    if "low" in value:
        lines = [ctx.t("count_zero", label=_label(ctx, state, question))]
        choices = [Choice(ctx.t("zero_yes"), PENDING_YES), retry]
        if question.optional:
            lines.append(ctx.t("count_zero_skip"))
            choices.append(Choice(ctx.t("skip_button"), SKIP))
        return Reply("\n".join(lines), tuple(choices))
    begin = date.fromisoformat(value.get("date") or value["start"])
    period, current = period_of(begin), period_of(ctx.today)
    period_name = _period_name(ctx, period.year, period.half)
    text = ctx.t(
        "date_other_year" if begin.year != ctx.today.year else "date_other_half",
        year=begin.year,
        date=format_date(ctx, begin),
        period=period_name,
        current=_period_name(ctx, current.year, current.half),
    )
    return Reply(text, (Choice(ctx.t("date_yes", period=period_name), PENDING_YES), retry))


def _period_name(ctx: Context, year: int, half: int) -> str:
    return ctx.t(f"span_half_{half}", year=year, number=half)


def _doubt(ctx: Context, state: InterviewState, question: Question, value: dict[str, Any]) -> bool:
    """Whether an answer is worth asking about once: a figure of 0, a date in another period."""
    if "low" in value:
        return Decimal(value["low"]) == 0 and value["high"] is None
    begin = value.get("date") or value.get("start")
    return begin is not None and period_of(date.fromisoformat(begin)) != period_of(ctx.today)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same answer, however it was written ("0" and "零")."""
    return {k: v for k, v in a.items() if k != "raw"} == {k: v for k, v in b.items() if k != "raw"}


# ---------------------------------------------------------------------------------------
# Asking


def ask(ctx: Context, state: InterviewState) -> Reply:
    """Render the current question (or the one pending); its buttons carry the state's turn."""
    reply = _pending_reply(ctx, state) or _ask(ctx, state)
    note = _flag_note(ctx, state)
    return _tagged(_with_lines(reply, [note] if note else []), state)


def _tagged(reply: Reply, state: InterviewState) -> Reply:
    suffix = f"{TOKEN_SEPARATOR}{state.turn}"
    return replace(reply, choices=tuple(replace(c, value=c.value + suffix) for c in reply.choices))


def _first_turn(ctx: Context) -> int:
    # Start from the clock, so buttons of an earlier report do not match a new one.
    return int(ctx.now.timestamp()) % 1_000_000


def _ask(ctx: Context, state: InterviewState) -> Reply:
    q = ctx.questionnaire
    if state.cursor == UNIT:
        units = _option_choices(ctx, state)
        return Reply(ctx.t("ask_unit"), _with_keep(ctx, state, units, state.unit_id))
    if state.cursor == AREA:
        prompt = questionnaire_text(ctx.locale, (f"{q.id}:area_prompt",), q.area_prompt)
        lines = [prompt]
        if state.guesses and state.area is None:
            names = [_area_name(ctx, q.area(key)) for key in state.guesses[:SUGGESTIONS]]
            lines.append(ctx.t("area_guess", names="、".join(f"“{n}”" for n in names)))
        lines.append(ctx.t("ask_area_hint"))
        return Reply(
            "\n".join(lines), _with_keep(ctx, state, _option_choices(ctx, state), state.area)
        )
    if state.cursor == CONFIRM:
        card = "\n".join(
            [
                ctx.t("confirm_intro"),
                *_card_lines(ctx, state),
                *_card_header(ctx, state),
                ctx.t("confirm_question"),
            ]
        )
        return Reply(card, _card_choices(ctx))
    if state.cursor == PICK:
        return Reply(ctx.t("pick_field"), _option_choices(ctx, state))
    question = _current_question(ctx, state)
    assert question is not None, f"cursor {state.cursor!r} names no question"
    flow = _flow(ctx, state)
    index = next(i for i, item in enumerate(flow, 1) if item.id == question.id)
    progress = ctx.t("progress", index=index, total=len(flow))
    if state.message is not None:  # a report from one message: how much is left
        left = _missing(ctx, state)
        progress = ctx.t("progress_left", left=left) if left and not state.return_to_confirm else ""
    lines = [f"{_qtext(ctx, state, question, 'prompt', question.prompt)} {progress}".rstrip()]
    together = _together(ctx, state, question)
    if together is not None:
        lines.append(together)
    if question.optional:
        lines.append(ctx.t("optional_hint"))
    existing = state.answers.get(question.id)
    if existing is not None and not existing.get("skipped"):
        lines.append(ctx.t("current_answer", value=describe_answer(ctx, question, existing)))
    choices: tuple[Choice, ...] = ()
    photos = bool((existing or {}).get("files"))
    if question.type is QuestionType.CHOICE:
        choices = _option_choices(ctx, state)
    elif question.type is QuestionType.YES_NO:
        choices = (Choice(ctx.t("yes"), "yes"), Choice(ctx.t("no"), "no"))
    elif question.type is QuestionType.PHOTO and photos:
        choices = (Choice(ctx.t("photo_done"), PHOTOS_DONE),)
    if question.optional and not photos:
        choices = (*choices, Choice(ctx.t("skip_button"), SKIP))
    if existing is not None and question.type is not QuestionType.PHOTO:
        choices = (*choices, Choice(ctx.t("keep"), KEEP))
    return Reply("\n".join(lines), choices)


def _card_choices(ctx: Context) -> tuple[Choice, ...]:
    return _numbered(
        [
            (ctx.t("confirm_save"), SAVE),
            (ctx.t("confirm_edit"), EDIT),
            (ctx.t("confirm_cancel"), DROP),
        ]
    )


def _numbered(options: Iterable[tuple[str, str]]) -> tuple[Choice, ...]:
    """Choices that may also be picked by typing their number."""
    return tuple(Choice(label, value, str(i)) for i, (label, value) in enumerate(options, 1))


_Options = list[tuple[str, tuple[str, ...]]]  # (value, names: the shown one first)


def _options(ctx: Context, state: InterviewState) -> _Options:
    """The options of the current step, each with the names it may be typed as."""
    if state.cursor == UNIT:
        return [(f"unit:{uid}", (name,)) for uid, name in state.units]
    if state.cursor == AREA:
        areas = list(ctx.questionnaire.areas)
        first = [a for key in state.guesses for a in areas if a.key == key]
        keys = {a.key for a in first}
        return [
            (f"area:{a.key}", _area_names(ctx, a))
            for a in first + [a for a in areas if a.key not in keys]
        ]
    if state.cursor in (PICK, CONFIRM):
        return [(EDIT_PREFIX + key, names) for key, names in _fields(ctx, state)]
    question = _current_question(ctx, state)
    if question is not None and question.type is QuestionType.CHOICE:
        return _choice_options(ctx, question, state.area)
    return []


def _numbered_options(
    ctx: Context, state: InterviewState
) -> list[tuple[int, tuple[str, tuple[str, ...]]]]:
    return list(enumerate(_options(ctx, state), 1))


def _option_choices(ctx: Context, state: InterviewState) -> tuple[Choice, ...]:
    return tuple(
        Choice(names[0], value, str(number))
        for number, (value, names) in _numbered_options(ctx, state)
    )


def _choice_options(ctx: Context, question: Question, area: str | None) -> _Options:
    return [
        (f"choice:{i}", _names(_qtext(ctx, area, question, f"choice{i}", c), c))
        for i, c in enumerate(question.choices)
    ]


def _names(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _qtext(
    ctx: Context, area: InterviewState | str | None, question: Question, part: str, default: str
) -> str:
    """A question's prompt, label, example or choice in the person's language."""
    key = area.area if isinstance(area, InterviewState) else area
    q = ctx.questionnaire.id
    keys = (f"{q}:{key}.{question.id}:{part}", f"{q}:{question.id}:{part}")
    return questionnaire_text(ctx.locale, keys, default)


def _label(ctx: Context, state: InterviewState, question: Question) -> str:
    return _qtext(ctx, state, question, "label", question.label)


def _area_name(ctx: Context, area: Area) -> str:
    key = f"{ctx.questionnaire.id}:area:{area.key}"
    return questionnaire_text(ctx.locale, (key,), area.name)


def _area_names(ctx: Context, area: Area) -> tuple[str, ...]:
    return _names(_area_name(ctx, area), area.name)


def _example(ctx: Context, question: Question) -> str:
    default = ctx.t("count_example_default")
    if ctx.locale == "en":
        translated = _qtext(ctx, None, question, "example", "")
        return translated or (default if question.type is QuestionType.COUNT else "")
    return question.example or default


def _with_keep(
    ctx: Context, state: InterviewState, choices: tuple[Choice, ...], current: object
) -> tuple[Choice, ...]:
    if current is not None and (state.entry_id is not None or state.return_to_confirm):
        return (*choices, Choice(ctx.t("keep"), KEEP))
    return choices


# ---------------------------------------------------------------------------------------
# Answering


def _answer_unit(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    if _is_keep(incoming) and state.unit_id is not None:
        return _advance(ctx, state, UNIT)
    value = _match_choice(ctx, incoming, _options(ctx, state))
    state.unit_id = int(value.removeprefix("unit:"))
    return _advance(ctx, state, UNIT)


def _answer_area(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    if _is_keep(incoming) and state.area is not None:
        return _advance(ctx, state, AREA)
    try:
        chosen = _match_choice(ctx, incoming, _options(ctx, state)).removeprefix("area:")
    except _NearMiss:
        raise
    except InvalidAnswer:
        step = _area_from_message(ctx, state, incoming) if incoming.kind is Kind.TEXT else None
        if step is None:
            raise
        return step
    changed = chosen != state.area
    state.area = chosen
    state.sources.pop(AREA, None)
    if state.message is not None and changed:  # the message's figures, for this area
        taken, notes = _refigure(ctx, state)
        return _advance(ctx, state, AREA, took=taken, notes=notes, key="took_from_message")
    return _advance(ctx, state, AREA)


def _area_from_message(ctx: Context, state: InterviewState, incoming: Incoming) -> Step | None:
    """Not an option's name: a whole report typed at the first question, or words that
    name an area ("夏夜汇演" is 文体活动)."""
    found = read(ctx, incoming.text)
    fresh = not state.answers and state.entry_id is None and state.message is None
    if fresh and found.report_like:
        return _start_with(ctx, state, found, ctx.now)
    if _another_activity(ctx, state, found, None):
        return Step(state, (ask(ctx, state),), another=True)
    if not found.areas or found.several:
        return None
    if not found.area_sure:
        typed = clean_text(incoming.text)[:30]
        raise _NearMiss(typed, [f"area:{guess.key}" for guess in found.areas[:SUGGESTIONS]])
    state.area = found.areas[0].key
    state.sources[AREA] = found.areas[0].source.text
    taken = [AREA, *_fill_fields(ctx, state, found, None, whole=False)]
    taken += _fill_figures(ctx, state, found, None, whole=False)[0]
    return _advance(ctx, state, AREA, took=taken)


def _answer_confirm(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    """The card: 1/确认/对的 saves, 2/修改 lists the items, 3/放弃 asks; 改3/改日期 opens one."""
    fields = _fields(ctx, state)
    if incoming.kind is Kind.PHOTO:
        return _photo_at_card(ctx, state, incoming)
    word = control_word(incoming.text)
    if incoming.kind is Kind.BUTTON:
        if incoming.text in {EDIT_PREFIX + key for key, _ in fields}:
            return _edit_field(state, incoming.text.removeprefix(EDIT_PREFIX), ctx)
        word = {SAVE: "save", EDIT: "edit", DROP: "drop"}.get(incoming.text, "")
    if word in SAVE_WORDS or word == "1":
        missing = _first_missing(ctx, state)
        if missing is not None:
            state.cursor = missing
            _arrive(state)
            return Step(state, (ask(ctx, state),))
        draft = build_draft(ctx, state)
        if state.rest and state.message is not None:  # the message's next activity
            return replace(_next_activity(ctx, state), draft=draft)
        return Step(None, (), draft=draft)
    if word in EDIT_WORDS or word == "2":
        state.history.append(CONFIRM)
        state.cursor = PICK
        return Step(state, (ask(ctx, state),))
    if word in DROP_WORDS or word == "3":
        return _cancel(ctx, state, typed=word if word == "3" else "")
    if _DIGITS.fullmatch(word):  # an item's number alone: offer it, never act on it
        number = int(word)
        if not 1 <= number <= len(fields):
            raise InvalidAnswer(ctx.t("no_such_item", number=number, count=len(fields)))
        key, names = fields[number - 1]
        button = Choice(ctx.t("edit_item_button", number=number, label=names[0]), EDIT_PREFIX + key)
        offer = Reply(ctx.t("confirm_item_number", number=number, label=names[0]), (button,))
        return Step(state, (_tagged(offer, state),))
    match = _EDIT_ITEM.match(word)
    item = match.group("item").strip() if match else word
    if _DIGITS.fullmatch(item):
        number = int(item)
        if not 1 <= number <= len(fields):
            raise InvalidAnswer(ctx.t("no_such_item", number=number, count=len(fields)))
        return _edit_field(state, fields[number - 1][0], ctx)
    options = [(EDIT_PREFIX + key, names) for key, names in fields]
    # a bare item name ("地点") opens it; anything else is explained
    if match is None and not any(word == n.lower() for _, names in options for n in names):
        raise InvalidAnswer(ctx.t("confirm_hint"))
    try:
        chosen = _match_choice(ctx, replace(incoming, kind=Kind.TEXT, text=item), options)
    except _NearMiss:
        raise
    except InvalidAnswer:  # no such item: show the list to pick from
        state.history.append(CONFIRM)
        state.cursor = PICK
        return Step(state, (Reply(ctx.t("no_such_name", name=item[:20])), ask(ctx, state)))
    return _edit_field(state, chosen.removeprefix(EDIT_PREFIX), ctx)


def _photo_at_card(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    """A photo sent at the card joins the report's photos (the question was not asked)."""
    question = next((q for q in _flow(ctx, state) if q.type is QuestionType.PHOTO), None)
    if question is None or incoming.photo is None:
        raise InvalidAnswer(ctx.t("photo_not_expected"))
    if incoming.photo.too_large:
        raise InvalidAnswer(ctx.t("photo_too_large"))
    files: list[dict[str, str | None]] = list(
        (state.answers.get(question.id) or {}).get("files", [])
    )
    if len(files) >= question.max_photos:
        raise InvalidAnswer(ctx.t("photo_limit", limit=question.max_photos))
    photo = incoming.photo
    files.append({"platform": incoming.platform, "ref": photo.file_ref, "path": photo.stored_path})
    state.answers[question.id] = {"files": files}
    number = next(n for n, (key, _) in enumerate(_fields(ctx, state), 1) if key == question.id)
    added = Reply(ctx.t("photo_added_card", count=len(files), number=number), _card_choices(ctx))
    return Step(state, (_tagged(added, state),))


def _edit_field(state: InterviewState, key: str, ctx: Context) -> Step:
    state.history.append(CONFIRM)
    state.cursor = key
    state.return_to_confirm = True
    return Step(state, (ask(ctx, state),))


def _answer_pick(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    key = _match_choice(ctx, incoming, _options(ctx, state))
    state.history.append(PICK)
    state.cursor = key.removeprefix(EDIT_PREFIX)
    state.return_to_confirm = True
    return Step(state, (ask(ctx, state),))


def _answer_question(
    ctx: Context, state: InterviewState, incoming: Incoming, confirmed: dict[str, Any] | None
) -> Step:
    question = _current_question(ctx, state)
    assert question is not None
    if _is_keep(incoming) and question.id in state.answers:
        return _advance(ctx, state, question.id)
    if question.type is QuestionType.PHOTO:
        return _answer_photo(ctx, state, question, incoming)
    if incoming.kind is Kind.PHOTO:
        raise InvalidAnswer(ctx.t("photo_not_expected"))
    if question.type is QuestionType.TEXT and control_word(incoming.text) in CONTROL_WORDS:
        raise _refused(ctx, state, question, _plain_word(incoming.text))
    if _may_carry_more(question, incoming):
        taken = _take_more(ctx, state, question, incoming)
        if taken is not None:
            return taken
    try:
        value = parse_answer(ctx, question, incoming)
    except InvalidAnswer:
        if incoming.kind is not Kind.TEXT or question.type not in _READ_WHEN_NOT_PARSED:
            raise
        taken = _take_more(ctx, state, question, incoming)
        if taken is None:
            raise
        return taken
    state.sources.pop(question.id, None)  # typed by the person: no longer a reading
    if question.id in state.made:
        state.made.remove(question.id)
    settled = (
        confirmed is not None
        and confirmed["question"] == question.id
        and _same(confirmed["value"], value)
    )
    if not settled and _doubt(ctx, state, question, value):
        state.pending = {"kind": "value", "question": question.id, "value": value}
        return Step(state, (ask(ctx, state),))
    state.answers[question.id] = value
    return _advance(ctx, state, question.id)


_READ_WHEN_NOT_PARSED = frozenset({QuestionType.COUNT, QuestionType.DATE, QuestionType.DATE_RANGE})


def _may_carry_more(question: Question, incoming: Incoming) -> bool:
    """A title or a place that also holds a number or a date word: worth reading whole."""
    return (
        incoming.kind is Kind.TEXT
        and question.type is QuestionType.TEXT
        and question.role in (Role.TITLE, Role.LOCATION)
        and len(incoming.text) >= 6
        and _MAY_CARRY_MORE.search(incoming.text) is not None
    )


def _answer_photo(
    ctx: Context, state: InterviewState, question: Question, incoming: Incoming
) -> Step:
    current = state.answers.get(question.id) or {}
    files: list[dict[str, str | None]] = list(current.get("files", []))
    if incoming.kind is Kind.PHOTO and incoming.photo is not None:
        photo = incoming.photo
        if photo.too_large:
            raise InvalidAnswer(ctx.t("photo_too_large"))
        if len(files) >= question.max_photos:
            raise InvalidAnswer(ctx.t("photo_limit", limit=question.max_photos))
        files.append(
            {"platform": incoming.platform, "ref": photo.file_ref, "path": photo.stored_path}
        )
        state.answers[question.id] = {"files": files}
        reply = Reply(
            ctx.t("photo_received", count=len(files)), (Choice(ctx.t("photo_done"), PHOTOS_DONE),)
        )
        reply = _tagged(reply, state)
        return Step(state, (reply,))
    word = _word(incoming)
    if incoming.text == PHOTOS_DONE or word in DONE_WORDS or word == ctx.t("photo_done").lower():
        if not files:
            state.answers[question.id] = {"skipped": True}
        return _advance(ctx, state, question.id)
    raise InvalidAnswer(ctx.t("photo_expected"))


def parse_answer(ctx: Context, question: Question, incoming: Incoming) -> dict[str, Any]:
    """Turn a text answer into stored JSON, or raise InvalidAnswer.

    Typed answers (text, counts, dates) follow the rules of :mod:`bot.core.answers`, which
    the ledger import reads its cells by too.
    """
    kind = question.type
    if kind in TYPED:
        try:
            return read_answer(question, incoming.text, now=ctx.now, today=ctx.today)
        except AnswerProblem as problem:
            raise _refused(ctx, None, question, problem) from problem
    if kind is QuestionType.CHOICE:
        value = _match_choice(ctx, incoming, _choice_options(ctx, question, None))
        return {"choice": question.choices[int(value.removeprefix("choice:"))]}
    if kind is QuestionType.YES_NO:
        word = _word(incoming)
        if incoming.text == "yes" or word in YES_WORDS or word == ctx.t("yes").lower():
            return {"yes": True}
        if incoming.text == "no" or word in NO_WORDS or word == ctx.t("no").lower():
            return {"yes": False}
        raise InvalidAnswer(ctx.t("bad_yes_no"))
    raise AssertionError(f"unhandled question type {kind}")  # pragma: no cover


def typed_answer(question: Question, raw: str, *, now: datetime, today: date) -> dict[str, Any]:
    """What the chat keeps when `raw` is typed at `question`, one of the types answered by
    typing (:data:`bot.core.answers.TYPED`); the ledger import reads its cells so.

    A skip word skips an optional question and is refused for a required one, a plain word
    ("好的", "取消") is never a text answer, and the rest follows the question type's rules.
    What the chat asks about once before keeping it (a figure of 0, a date in another
    half-year) is kept.

    Raises:
        AnswerProblem: the chat would refuse it; the problem says why.
    """
    word = control_word(raw)
    if word in SKIP_WORDS:
        return skipped(question)
    if question.type is QuestionType.TEXT and word in CONTROL_WORDS:
        raise _plain_word(raw)
    return read_answer(question, raw, now=now, today=today)


def _plain_word(raw: str) -> AnswerProblem:
    return AnswerProblem("bad_text_control", word=clean_text(raw)[:20])


def _refused(
    ctx: Context, area: InterviewState | str | None, question: Question, problem: AnswerProblem
) -> InvalidAnswer:
    """A problem with an answer, in the person's language, with the question's example."""
    said = {"label": _qtext(ctx, area, question, "label", question.label)}
    if question.type is QuestionType.COUNT:
        said["example"] = _example(ctx, question)
    return InvalidAnswer(problem.text(ctx.locale, **said))


def _match_choice(ctx: Context, incoming: Incoming, options: _Options) -> str:
    """Resolve a button value, an option's number or one of its names to the option's value.

    A near miss (a typo such as 志原服务, or a part of several names) raises `_NearMiss`
    with the closest options, to be offered as buttons.
    """
    values = {value for value, _ in options}
    if incoming.kind is Kind.BUTTON:
        if incoming.text in values:
            return incoming.text
        raise InvalidAnswer(ctx.t("choose_one"))
    word = _word(incoming)
    if _DIGITS.fullmatch(word) and 1 <= int(word) <= len(options):
        return options[int(word) - 1][0]
    for value, names in options:
        if word == value or any(word == name.lower() for name in names):
            return value
    # Allow a unique partial name ("文体" for 文体活动).
    partial = [v for v, names in options if word and any(word in n.lower() for n in names)]
    if len(partial) == 1:
        return partial[0]
    closest = partial or _closest(word, options)
    if closest:
        raise _NearMiss(clean_text(incoming.text)[:30], closest[:SUGGESTIONS])
    raise InvalidAnswer(ctx.t("choose_one"))


def _closest(word: str, options: _Options) -> list[str]:
    """The options whose names are closest to a typo, by characters (difflib's ratio)."""
    if not word or len(word) > 30:
        return []
    by_name: dict[str, str] = {}
    for value, names in options:
        for name in names:
            by_name.setdefault(name.lower(), value)
    scored = []
    for name, value in by_name.items():
        ratio = difflib.SequenceMatcher(None, word, name).ratio()
        if ratio >= 0.5:
            scored.append((ratio, value))
    scored.sort(key=lambda item: -item[0])
    # Only the options about as close as the closest: "活动日棋" is 活动日期, not 活动照片.
    best = scored[0][0] if scored else 0
    return list(dict.fromkeys(value for ratio, value in scored if ratio >= best - 0.1))


def _is_keep(incoming: Incoming) -> bool:
    return incoming.text == KEEP or _word(incoming) in ("保持不变", "不变", "keep")


def normalise_word(raw: str) -> str:
    """A short answer as a word to match: width-normalised (ＹＥＳ), lower case, no final stop."""
    word = unicodedata.normalize("NFKC", clean_text(raw).replace("\u200d", ""))
    return word.rstrip("。.!！").lower()


def _word(incoming: Incoming) -> str:
    return normalise_word(incoming.text)


# ---------------------------------------------------------------------------------------
# Moving on


def _advance(
    ctx: Context,
    state: InterviewState,
    answered: str,
    prefix: str | None = None,
    took: list[str] | None = None,
    notes: list[str] | None = None,
    key: str = "took_from_answer",
) -> Step:
    """Move the cursor after `answered` and ask the next question.

    `took` names the fields just taken from a message (said above the next question, unless
    that is the card, which shows them all); `notes` go above it too.
    """
    state.history.append(answered)
    state.flags.pop(answered, None)
    if state.return_to_confirm or state.message is not None:
        # changing one field from the card: back to the card; a report from one message:
        # on to what is still missing
        nxt = _first_missing(ctx, state) or CONFIRM
    else:
        nxt = _next_in_order(ctx, state, answered)
    if nxt == CONFIRM:
        state.return_to_confirm = False
        state.history = [h for h in state.history if h != PICK]
    state.cursor = nxt
    _arrive(state)
    lines = _took_lines(ctx, state, took or [], notes or [], key)
    if prefix:  # one message, not two: "已跳过。" above the next question
        lines.insert(0, prefix)
    return Step(state, (_with_lines(ask(ctx, state), lines),))


def _next_in_order(ctx: Context, state: InterviewState, answered: str) -> str:
    order = [*([UNIT] if len(state.units) > 1 else []), AREA, *(q.id for q in _flow(ctx, state))]
    position = order.index(answered) if answered in order else -1
    for key in order[position + 1 :]:
        answered_ = state.area is not None if key == AREA else key in state.answers
        if key not in state.sources or not answered_:  # taken from a message: done
            return key
    return _first_missing(ctx, state) or CONFIRM


def _first_missing(ctx: Context, state: InterviewState) -> str | None:
    if state.unit_id is None:
        return UNIT
    if state.area is None:
        return AREA
    for question in _flow(ctx, state):
        if question.id in state.answers:
            continue
        if state.message is not None and question.optional and question.id not in state.flags:
            continue  # a report from one message: what it did not mention stays on the card
        return question.id
    return None


def _missing(ctx: Context, state: InterviewState) -> int:
    """How many questions are still to be asked (the current one included)."""
    return sum(
        1
        for question in _flow(ctx, state)
        if question.id not in state.answers
        and not (state.message is not None and question.optional and question.id not in state.flags)
    )


def _flow(ctx: Context, state: InterviewState) -> tuple[Question, ...]:
    if state.area is None:
        return ()
    return ctx.questionnaire.flow(state.area)


def _current_question(ctx: Context, state: InterviewState) -> Question | None:
    for question in _flow(ctx, state):
        if question.id == state.cursor:
            return question
    return None


def _fields(ctx: Context, state: InterviewState) -> list[tuple[str, tuple[str, ...]]]:
    """The card's items in order, each with the names it may be typed as."""

    def both(key: str) -> tuple[str, ...]:
        return _names(ctx.t(key), msg("zh", key))

    fields = [(UNIT, both("field_unit"))] if len(state.units) > 1 else []
    fields.append((AREA, both("field_area")))
    fields.extend((q.id, _names(_label(ctx, state, q), q.label)) for q in _flow(ctx, state))
    return fields


def _copy(state: InterviewState) -> InterviewState:
    return replace(
        state,
        answers=dict(state.answers),
        history=list(state.history),
        units=list(state.units),
        sources=dict(state.sources),
        made=list(state.made),
        flags=dict(state.flags),
        guesses=list(state.guesses),
    )


# ---------------------------------------------------------------------------------------
# One message, many fields

# An answer to a title or place question is read for more only when it holds a number or
# a date word (the extractor costs a few hundred microseconds; most answers need none).
_MAY_CARRY_MORE = re.compile(
    r"[0-9０-９]|[零一二两三四五六七八九十百][场次人名位个户期条份支]|[月日号]|昨|前天|今天|上周|周[一二三四五六日末]"
)
_SAME_ACTIVITY_WORDS = frozenset(
    {"同一次", "同一次活动", "是同一次", "是同一次活动", "一次", "一次活动", "same", "one"}
)


def _start_with(ctx: Context, state: InterviewState, found: Extraction, at: datetime) -> Step:
    """Fill a new report from one message and ask what is still missing."""
    if found.empty:
        return Step(state, (Reply(ctx.t("read_nothing")), ask(ctx, state)))
    if found.future and found.dates is not None:
        day = format_date(ctx, found.dates.start)
        reply = Reply(ctx.t("report_future", raw=found.dates.source.text, date=day))
        return Step(None, (reply,), cancelled=True)
    state.message = {"text": found.text, "at": at.isoformat()}
    if found.several:
        state.pending = {"kind": "several", "parts": _part_texts(ctx, found, at)}
        return Step(state, (ask(ctx, state),))
    state.guesses = [guess.key for guess in found.areas]
    taken: list[str] = []
    if found.areas and found.area_sure:
        state.area = found.areas[0].key
        state.sources[AREA] = found.areas[0].source.text
        taken.append(AREA)
    taken += _fill_fields(ctx, state, found, None, whole=True)
    notes: list[str] = []
    if state.area is not None:
        more, notes = _fill_figures(ctx, state, found, None, whole=True)
        taken += more
    state.cursor = _first_missing(ctx, state) or CONFIRM
    _arrive(state)
    return Step(state, (_with_lines(ask(ctx, state), _took_lines(ctx, state, taken, notes)),))


_CONNECTIVE = re.compile(r"^(?:另外|此外|同时|并且|而且)?(?:还|又)?")


def _part_texts(ctx: Context, found: Extraction, at: datetime) -> list[str]:
    """Each activity of the message as a message of its own: "另外还放了2场电影" after
    "昨天在文化广场办了3场汇演" is "昨天，放了2场电影" (the date it shares, shown to the person)."""
    texts: list[str] = []
    day = ""
    for part in found.parts:
        text = _CONNECTIVE.sub("", part.text) or part.text
        dates = read(ctx, text, at).dates
        if dates is not None:
            day = dates.source.text
        elif day:
            text = f"{day}，{text}"
        texts.append(text)
    return texts


def _took_lines(
    ctx: Context, state: InterviewState, taken: list[str], notes: list[str], key: str = ""
) -> list[str]:
    """'从你的消息中读出：…' (unless the card shows it all next) and the notes."""
    lines: list[str] = []
    if taken and state.cursor != CONFIRM:
        items = [item for _, item in _described(ctx, state, set(taken))]
        lines.append(ctx.t(key or "took_from_message", fields="；".join(items)))
    return lines + notes


def _with_lines(reply: Reply, lines: list[str]) -> Reply:
    if not lines:
        return reply
    return replace(reply, text="\n".join([*lines, reply.text]))


def _described(ctx: Context, state: InterviewState, keys: set[str]) -> list[tuple[str, str]]:
    """The answered fields among `keys` as 'label value', in the card's order."""
    items: list[tuple[str, str]] = []
    if state.area is not None and AREA in keys:
        area = _area_name(ctx, ctx.questionnaire.area(state.area))
        items.append((AREA, f"{ctx.t('field_area')} {area}"))
    q = ctx.questionnaire
    for question in _flow(ctx, state) or q.before + q.after:  # no area yet: the common ones
        value = state.answers.get(question.id)
        if question.id not in keys or value is None or value.get("skipped"):
            continue
        if question.role is Role.CONTENT and question.id in state.made:
            shown = ctx.t("took_whole")
        elif "low" in value:  # the card explains an approximation; here the figure will do
            high = None if value["high"] is None else Decimal(value["high"])
            shown = metric_text(Decimal(value["low"]), high, value["approx"], question.unit or "")
            if question.id in state.made:
                shown += ctx.t("card_assumed")
        else:
            shown = describe_answer(ctx, question, value)
        items.append((question.id, f"{_label(ctx, state, question)} {shown}"))
    return items


_ROLES: dict[int, tuple[Questionnaire, dict[Role, Question]]] = {}


def _role_question(ctx: Context, role: Role) -> Question | None:
    """The question of the questionnaire's common part with this role (title, dates ...)."""
    q = ctx.questionnaire
    cached = _ROLES.get(id(q))
    if cached is None or cached[0] is not q:
        roles: dict[Role, Question] = {}
        for question in q.before + q.after:
            roles.setdefault(question.role, question)
        cached = _ROLES[id(q)] = (q, roles)
    return cached[1].get(role)


def _fitting(text: str | None, question: Question, *, clean: bool = True) -> str | None:
    """The text as an answer to a text question, or None if it would not do."""
    cleaned = clean_text(text or "") if clean else (text or "")
    try:
        return text_value(cleaned, question.max_length)
    except AnswerProblem:
        return None


def _take(
    state: InterviewState, question: Question, value: dict[str, Any], source: str, made: bool
) -> None:
    state.answers[question.id] = value
    state.flags.pop(question.id, None)
    state.sources[question.id] = source
    if made and question.id not in state.made:
        state.made.append(question.id)
    elif not made and question.id in state.made:
        state.made.remove(question.id)


def _free(state: InterviewState, question: Question | None, current: Question | None) -> bool:
    """Whether a value from the message may go to `question`: still missing, or asked now."""
    if question is None:
        return False
    return question.id not in state.answers or (current is not None and question.id == current.id)


def _fill_fields(
    ctx: Context, state: InterviewState, found: Extraction, current: Question | None, *, whole: bool
) -> list[str]:
    """Title, dates, place (and for a whole report, a made-up title and the content)."""
    taken: list[str] = []
    title_q = _role_question(ctx, Role.TITLE)
    if title_q is not None and title_q.type is QuestionType.TEXT and _free(state, title_q, current):
        if found.title is not None:
            text = _fitting(found.title.text, title_q)
            if text is not None:
                _take(state, title_q, {"text": text}, found.title.text, made=False)
                taken.append(title_q.id)
        elif whole:
            text = _fitting(suggest_title(found, ctx.questionnaire), title_q)
            if text is not None:
                _take(state, title_q, {"text": text}, "", made=True)
                taken.append(title_q.id)
    dates_q = _role_question(ctx, Role.DATES)
    if found.dates is not None and dates_q is not None and _free(state, dates_q, current):
        asked = current is not None and current.id == dates_q.id
        value, flag = _date_value(ctx, state, dates_q, found.dates, asked=asked)
        if value is not None:
            _take(state, dates_q, value, found.dates.source.text, made=False)
            taken.append(dates_q.id)
        elif flag is not None:
            state.flags[dates_q.id] = flag
            if "value" in flag:
                state.sources[dates_q.id] = found.dates.source.text
    place_q = _role_question(ctx, Role.LOCATION)
    if (
        found.place is not None
        and place_q is not None
        and place_q.type is QuestionType.TEXT
        and _free(state, place_q, current)
    ):
        text = _fitting(found.place.text, place_q)
        if text is not None:
            _take(state, place_q, {"text": text}, found.place.text, made=False)
            taken.append(place_q.id)
    content_q = _role_question(ctx, Role.CONTENT)
    if (
        whole
        and found.report_like
        and content_q is not None
        and content_q.type is QuestionType.TEXT
    ):
        text = _fitting(found.text, content_q, clean=False)  # `read` cleaned it
        if text is not None and _free(state, content_q, current):
            # "whole": the message itself; the summary's prose does not repeat it
            _take(state, content_q, {"text": text, "whole": True}, "", made=True)
            taken.append(content_q.id)
    return taken


def _date_value(
    ctx: Context, state: InterviewState, question: Question, found: DateFound, *, asked: bool
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The message's date as an answer, or why it must be asked (a flag).

    A month or a week in a report ("上个月共放映公益电影8场") is its date range; typed as the
    answer to the date question (`asked`), the day is asked for, as the date parser does.
    """
    raw = found.source.text
    if found.future:
        return None, {"issue": "future", "raw": raw, "date": format_date(ctx, found.start)}
    if found.precision is DatePrecision.PERIOD and (asked or question.type is QuestionType.DATE):
        return None, {"issue": "period_only", "raw": raw}
    try:
        value = dates_answer(question, found.start, found.end, ctx.today)
    except AnswerProblem:
        return None, {"issue": "date_check", "raw": raw}
    if _doubt(ctx, state, question, value):  # another half-year: asked once, on arrival
        return None, {"issue": "other_period", "raw": raw, "value": value}
    return value, None


def _fill_figures(
    ctx: Context, state: InterviewState, found: Extraction, current: Question | None, *, whole: bool
) -> tuple[list[str], list[str]]:
    """The message's figures for the chosen area.

    For a whole report (`whole`), also notes on the numbers that fit no question, and one
    session for a one-day activity that names no number of sessions ("上周六组织了社区广场舞
    比赛"), shown on the card as assumed.
    """
    assert state.area is not None
    q = ctx.questionnaire
    figures = found.figures if found.area == state.area else assign_figures(found, q, state.area)
    taken: list[str] = []
    used: set[int] = set()
    for figure in figures:
        used.add(figure.source.start)
        question = q.question(state.area, figure.question_id)
        if not _free(state, question, current):
            continue
        if figure.issue is not None:
            flag: dict[str, Any] = {"issue": figure.issue.value, "raw": figure.source.text}
            if figure.issue is FigureIssue.ZERO:  # asked once: "是 0 吗？"
                flag["value"] = {
                    "low": "0",
                    "high": None,
                    "approx": "exact",
                    "raw": figure.source.text,
                    "unit": question.unit,
                }
                state.sources[question.id] = figure.source.text
            state.flags[question.id] = flag
        elif figure.count is not None:
            _take(state, question, count_to_json(figure.count), figure.source.text, made=False)
            taken.append(question.id)
    lines: list[str] = []
    if whole:
        one_day = found.dates is None or found.dates.start == found.dates.end
        sessions = next(
            (
                question
                for question in q.area(state.area).questions
                if question.unit == SESSIONS_UNIT and not question.optional
            ),
            None,
        )
        if (
            one_day
            and sessions is not None
            and _free(state, sessions, current)
            and sessions.id not in state.flags
        ):
            one = {"low": "1", "high": None, "approx": "exact", "raw": "1", "unit": SESSIONS_UNIT}
            _take(state, sessions, one, "", made=True)
            taken.append(sessions.id)
        loose = [
            m
            for m in found.mentions
            if m.count is not None and not m.part and m.source.start not in used
        ]
        # "一家亲", "一起": a Chinese numeral with a measure word is often just a word;
        # "80岁以上" says who, not how many
        counted = _counted_words(q)
        typed = [
            m
            for m in loose
            if any(ch.isdigit() for ch in m.source.text) and (m.unit is None or m.unit in counted)
        ]
        bare = [f"“{m.source.text}”" for m in typed if m.unit is None]
        other = [f"“{m.source.text}”" for m in typed if m.unit is not None]
        if bare:
            lines.append(ctx.t("took_no_unit", numbers="、".join(bare)))
        if other:
            lines.append(ctx.t("took_not_counted", numbers="、".join(other)))
    return taken, lines


_COUNTED: dict[int, tuple[Questionnaire, frozenset[str]]] = {}


def _counted_words(questionnaire: Questionnaire) -> frozenset[str]:
    """Every measure word some count question of the questionnaire takes (cached)."""
    cached = _COUNTED.get(id(questionnaire))
    if cached is None or cached[0] is not questionnaire:
        words = frozenset(
            word
            for area in questionnaire.areas
            for question in area.questions
            for word in question.accepted_words
        )
        cached = _COUNTED[id(questionnaire)] = (questionnaire, words)
    return cached[1]


def _arrive(state: InterviewState) -> None:
    """At a question whose value from the message needs a yes first: ask it."""
    flag = state.flags.get(state.cursor)
    if flag is not None and "value" in flag and state.pending is None:
        state.pending = {"kind": "value", "question": state.cursor, "value": flag["value"]}


def _flag_note(ctx: Context, state: InterviewState) -> str | None:
    """Why a question the message named is asked anyway ("你的消息里写的是“很多”…")."""
    flag = state.flags.get(state.cursor)
    if flag is None or flag["issue"] == "other_period":
        return None
    if state.pending is not None and state.pending["kind"] != "value":
        return None
    return ctx.t(f"flag_{flag['issue']}", raw=flag["raw"], date=flag.get("date", ""))


def _reread(ctx: Context, state: InterviewState) -> Extraction:
    assert state.message is not None
    at = datetime.fromisoformat(state.message["at"])
    return extract(state.message["text"], ctx.questionnaire, at, ctx.zone)


def _count_ids(ctx: Context) -> set[str]:
    return {
        question.id
        for area in ctx.questionnaire.areas
        for question in area.questions
        if question.type is QuestionType.COUNT
    }


def _refigure(ctx: Context, state: InterviewState) -> tuple[list[str], list[str]]:
    """Another area was chosen: the message's figures go to its questions instead."""
    counts = _count_ids(ctx)
    for key in [key for key in state.sources if key in counts]:
        state.sources.pop(key)
        state.answers.pop(key, None)
    for key in [key for key in state.flags if key in counts]:
        state.flags.pop(key)
    return _fill_figures(ctx, state, _reread(ctx, state), None, whole=True)


def _take_more(
    ctx: Context, state: InterviewState, question: Question, incoming: Incoming
) -> Step | None:
    """An answer that says more than its question asks: take every field it fills.

    None when it fills nothing but (at most) the question itself as typed: the answer is
    then read the usual way.
    """
    text = clean_text(incoming.text)
    found = read(ctx, text)
    if question.role is Role.LOCATION and found.place is None and not text.startswith("在"):
        # "文化广场，300多人参加" answers "在哪里办的？": read it as "在文化广场…"
        found = read(ctx, "在" + text)
    if found.several or (found.empty and found.dates is None):
        return None
    if _another_activity(ctx, state, found, question):
        return Step(state, (ask(ctx, state),), another=True)
    if found.area_sure and state.area is not None and found.area != state.area:
        return None  # another activity, most likely: not a part of this one
    own = {
        Role.TITLE: found.title is not None,
        Role.LOCATION: found.place is not None,
    }.get(question.role, True)
    if not own:
        return None
    trial = _copy(state)
    taken = _fill_fields(ctx, trial, found, question, whole=False)
    if trial.area is not None:
        taken += _fill_figures(ctx, trial, found, question, whole=False)[0]
    if question.type is QuestionType.COUNT and question.id not in taken:
        taken += _leading_count(trial, question, text)  # "100，居民反响很好"
    if trial.message is not None and question.id in taken and text == clean_text(incoming.text):
        taken += _rest_as_result(ctx, trial, found, text)  # asked together (`_together`)
    others = [key for key in taken if key != question.id]
    if question.id in taken and question.type is QuestionType.TEXT and not others:
        told = found.dates is not None or any(m.unit is not None for m in found.mentions)
        if not told:
            return None  # a title or a place alone: the usual answer
        # "文化广场，300多人参加" when the figure is known already: the place alone
    if question.id not in taken and (question.id not in trial.flags or not others):
        return None  # it does not answer this question: say why, take nothing
    if question.id in taken:
        return _advance(ctx, trial, question.id, took=taken)
    _arrive(trial)
    lines = _took_lines(ctx, trial, taken, [], "took_from_answer")
    return Step(trial, (_with_lines(ask(ctx, trial), lines),))


def _another_activity(
    ctx: Context, state: InterviewState, found: Extraction, current: Question | None
) -> bool:
    """Whether an answer reads as a whole report of another activity: its title, date or
    place differ from the report's (the question asked aside) at least as often as they agree.

    Merged, its values would be dropped for the report's and its figures added to them: a
    record of an activity that did not happen that way. The same talk named a little
    differently, on the report's day and at its place, is still the same talk. A title the
    bot made up is no one's word.
    """
    if not found.report_like:
        return False
    asked = current.id if current is not None else None
    differ = agree = 0
    for role, span in ((Role.TITLE, found.title), (Role.LOCATION, found.place)):
        question = _role_question(ctx, role)
        if span is None or question is None or question.id in (asked, *state.made):
            continue
        held = str((state.answers.get(question.id) or {}).get("text") or "")
        if held:
            same = span.text in held or held in span.text
            differ, agree = differ + (not same), agree + same
    dates_q = _role_question(ctx, Role.DATES)
    held_dates = {} if dates_q is None else state.answers.get(dates_q.id) or {}
    start = held_dates.get("start") or held_dates.get("date")
    if found.dates is not None and dates_q is not None and dates_q.id != asked and start:
        end = held_dates.get("end") or start
        apart = found.dates.end.isoformat() < start or end < found.dates.start.isoformat()
        differ, agree = differ + apart, agree + (not apart)
    return differ > 0 and differ >= agree


_CLAUSE = re.compile(r"[^,，。;；!！?？、\n]+")
_NUMBER_ONLY = re.compile(r"[0-9零〇一二两三四五六七八九十百千万.多余约近来几]*")


def _leading_count(state: InterviewState, question: Question, text: str) -> list[str]:
    """The count question's answer as the answer's first clause ("100，居民反响很好")."""
    first = _CLAUSE.search(text)
    if first is None or first.group() == text:
        return []
    try:
        count = count_value(question, first.group().strip())
    except AnswerProblem:
        return []
    _take(state, question, count_to_json(count), first.group().strip(), made=False)
    return [question.id]


def _rest_as_result(ctx: Context, state: InterviewState, found: Extraction, text: str) -> list[str]:
    """What an answer says besides its date and figures, as the missing result ("成效"):
    "昨天，大约200人，居民反响很好" gives "居民反响很好"."""
    result = _role_question(ctx, Role.ACHIEVEMENTS)
    if result is None or result.type is not QuestionType.TEXT or result.id in state.answers:
        return []
    spans = [m.source for m in found.mentions]
    spans += [found.dates.source] if found.dates is not None else []
    spans += [found.place] if found.place is not None else []
    kept = [
        clause.group().strip()
        for clause in _CLAUSE.finditer(text)
        if not any(span.start < clause.end() and clause.start() < span.end for span in spans)
        and not _NUMBER_ONLY.fullmatch(clause.group().strip())
    ]
    rest = _fitting("，".join(part for part in kept if part), result)
    if rest is None or control_word(rest) in CONTROL_WORDS or len(rest) < 2:
        return []
    _take(state, result, {"text": rest}, rest, made=False)
    return [result.id]


def _together(ctx: Context, state: InterviewState, question: Question) -> str | None:
    """In a report from one message, the last few questions may be answered in one go:
    '还差的几项（参与群众、取得成效）可以一条消息说完，例如：“100人次，居民反响很好”。'"""
    if state.message is None or state.return_to_confirm or question.role is Role.ACHIEVEMENTS:
        return None
    result = _role_question(ctx, Role.ACHIEVEMENTS)
    if result is None or result.id in state.answers:
        return None
    labels: list[str] = []
    examples: list[str] = []
    flow = _flow(ctx, state)
    here = next(i for i, item in enumerate(flow) if item.id == question.id)
    for item in flow[here:]:
        if item.id in state.answers or item.optional:
            continue
        if item.role is Role.DATES:
            examples.append(ctx.t("together_date"))
        elif item.type is QuestionType.COUNT:
            examples.append(f"{_example_number(item)}{item.unit}")
        elif item.role is Role.ACHIEVEMENTS:
            examples.append(ctx.t("together_result"))
        else:
            return None  # a question of another kind: one at a time
        labels.append(_label(ctx, state, item))
    if len(labels) < 2:
        return None
    return ctx.t("ask_together", labels="、".join(labels), example="，".join(examples))


def _example_number(question: Question) -> str:
    found = re.search(r"[0-9]+", question.example or "")
    return found.group() if found else "10"


def _several_choices(ctx: Context, parts: list[str]) -> tuple[Choice, ...]:
    options = [
        (ctx.t("several_part", number=number, text=_short(part)), f"several:{number - 1}")
        for number, part in enumerate(parts, 1)
    ]
    options.append((ctx.t("several_one"), "several:one"))
    if not parts:
        options.append((ctx.t("several_resend"), "several:split"))
    return _numbered(options)


def _short(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _several_question(ctx: Context, parts: list[str]) -> Reply:
    if parts:
        lines = [ctx.t("several_intro")]
        lines += [f"{number}. {part}" for number, part in enumerate(parts, 1)]
        lines.append(ctx.t("several_which"))
    else:
        lines = [ctx.t("several_intro_unsplit")]
    return Reply("\n".join(lines), _several_choices(ctx, parts))


def _settle_several(
    ctx: Context, state: InterviewState, pending: dict[str, Any], pressed: str, word: str
) -> Step | None:
    """Which activity of a message that held several is reported first (or: it is one)."""
    parts: list[str] = pending["parts"]
    chosen = pressed.removeprefix("several:") if pressed.startswith("several:") else None
    if chosen is None:
        for choice in _several_choices(ctx, parts):
            if word == choice.shortcut:
                chosen = choice.value.removeprefix("several:")
    if chosen is None and word in _SAME_ACTIVITY_WORDS:
        chosen = "one"
    if chosen is None:
        if word in CANCEL_WORDS or word in BACK_WORDS:
            return None  # the plain word acts
        state.pending = pending
        return Step(state, (Reply(ctx.t("several_hint")), ask(ctx, state)))
    if chosen == "split":
        return Step(None, (Reply(ctx.t("several_split")),), cancelled=True)
    assert state.message is not None
    at = datetime.fromisoformat(state.message["at"])
    if chosen == "one" or not chosen.isdigit() or int(chosen) >= len(parts):
        found = replace(_reread(ctx, state), several=(), parts=())
    else:
        index = int(chosen)
        found = replace(read(ctx, parts[index], at), several=(), parts=())
        state.rest = "；".join(part for i, part in enumerate(parts) if i != index) or None
    state.message = None
    return _start_with(ctx, state, found, at)


def _next_activity(ctx: Context, state: InterviewState) -> Step:
    """After saving one activity of a message that held several: start the next one."""
    assert state.rest is not None and state.message is not None
    at = datetime.fromisoformat(state.message["at"])
    fresh = InterviewState(
        questionnaire=state.questionnaire,
        version=state.version,
        cursor=AREA,
        units=state.units,
        unit_id=state.unit_id,
        turn=state.turn + 1,
    )
    step = _start_with(ctx, fresh, read(ctx, state.rest, at), at)
    intro = Reply(ctx.t("next_activity", text=_short(state.rest, 40)))
    return Step(step.state, (intro, *step.replies), cancelled=step.cancelled)


# ---------------------------------------------------------------------------------------
# Showing what was understood


def _card_lines(ctx: Context, state: InterviewState) -> list[str]:
    lines: list[str] = []
    number = 1
    if len(state.units) > 1:
        unit_name = dict(state.units).get(state.unit_id or -1, "?")
        lines.append(ctx.t("card_line", number=number, label=ctx.t("field_unit"), value=unit_name))
        number += 1
    area_name = _area_name(ctx, ctx.questionnaire.area(state.area)) if state.area else "?"
    if state.area is not None:
        area_name += _source_mark(ctx, state, AREA, area_name)
    lines.append(ctx.t("card_line", number=number, label=ctx.t("field_area"), value=area_name))
    for offset, question in enumerate(_flow(ctx, state), number + 1):
        value = state.answers.get(question.id)
        shown = ctx.t("skipped_value") if value is None else describe_answer(ctx, question, value)
        if value is not None and not value.get("skipped"):
            shown += _source_mark(ctx, state, question.id, shown)
        label = _label(ctx, state, question)
        lines.append(ctx.t("card_line", number=offset, label=label, value=shown))
    return lines


def _source_mark(ctx: Context, state: InterviewState, key: str, shown: str) -> str:
    """Where a value on the card came from: ' ←“11月8日”', '（按你的消息拟的）'."""
    if key in state.made:
        question = _role_question(ctx, Role.CONTENT)
        if question is not None and question.id == key:
            return ctx.t("card_made_whole")
        return ctx.t("card_made" if key != _sessions_id(ctx, state) else "card_assumed")
    source = state.sources.get(key)
    if source is None:
        return ""
    if not source or f"“{source}”" in shown:  # 按“300多人”理解为… says it already
        return ctx.t("card_from_message")
    return ctx.t("card_source", source=source)


def _sessions_id(ctx: Context, state: InterviewState) -> str | None:
    if state.area is None:
        return None
    for question in ctx.questionnaire.area(state.area).questions:
        if question.unit == SESSIONS_UNIT:
            return question.id
    return None


def _card_header(ctx: Context, state: InterviewState) -> list[str]:
    """One line under the card: which values were read from a message, and how to change
    (or add, when optional questions were not asked) an item."""
    parts: list[str] = []
    if state.sources or state.made:
        parts.append(ctx.t("card_read_intro"))
    if state.message is not None and any(
        question.optional and question.id not in state.answers for question in _flow(ctx, state)
    ):
        parts.append(ctx.t("card_change_more"))  # optional items not asked: "or add one"
    else:
        parts.append(ctx.t("card_change"))
    return [(" " if ctx.locale == "en" else "").join(parts)]


def describe_answer(ctx: Context, question: Question, value: dict[str, Any]) -> str:
    """Show a stored answer the way the person can check it."""
    if value.get("skipped"):
        return ctx.t("skipped_value")
    if "text" in value:
        return str(value["text"])
    if "low" in value:
        return describe_count(ctx, value, question.unit or "")
    if "date" in value:
        return format_date(ctx, date.fromisoformat(value["date"]))
    if "start" in value:
        begin, end = date.fromisoformat(value["start"]), date.fromisoformat(value["end"])
        if begin == end:
            return format_date(ctx, begin)
        return ctx.t("range_format", start=format_date(ctx, begin), end=format_date(ctx, end))
    if "choice" in value:
        return str(value["choice"])
    if "yes" in value:
        return ctx.t("yes" if value["yes"] else "no")
    if "files" in value:
        return ctx.t("photos_count", count=len(value["files"]))
    return "?"


def describe_count(ctx: Context, value: dict[str, Any], unit: str) -> str:
    """E.g. '300余人次（按“300多人”理解为不少于 300 人次）'."""
    low = Decimal(value["low"])
    high = None if value["high"] is None else Decimal(value["high"])
    approx = Approx(value["approx"])
    shown = metric_text(low, high, approx.value, unit)
    if approx is Approx.EXACT:
        return shown
    key = {Approx.MORE_THAN: "approx_more_than", Approx.ABOUT: "approx_about"}.get(
        approx, "approx_range"
    )
    high_text = plain(high) if high is not None else ""
    reading = ctx.t(key, raw=value["raw"], low=plain(low), high=high_text, unit=unit)
    return f"{shown}（{reading}）"


def format_date(ctx: Context, day: date) -> str:
    """E.g. 2026年6月30日（周二）."""
    return format_day(ctx.locale, day)


# ---------------------------------------------------------------------------------------
# The result


def build_draft(ctx: Context, state: InterviewState) -> Draft:
    """Collect the confirmed answers of the chosen area's flow into a Draft."""
    assert state.area is not None and state.unit_id is not None
    flow = _flow(ctx, state)
    answers = {q.id: state.answers[q.id] for q in flow if q.id in state.answers}
    answers[AREA] = state.area
    title = ""
    location: str | None = None
    begin = end = ctx.today
    metrics: list[MetricValue] = []
    photos: tuple[dict[str, str | None], ...] = ()
    for question in flow:
        value = answers.get(question.id) or {"skipped": True}
        if value.get("skipped"):
            continue
        if question.role is Role.TITLE:
            title = str(value["text"])
        elif question.role is Role.LOCATION and "text" in value:
            location = str(value["text"])
        elif question.role is Role.DATES:
            if "date" in value:
                begin = end = date.fromisoformat(value["date"])
            else:
                begin, end = date.fromisoformat(value["start"]), date.fromisoformat(value["end"])
        elif question.role is Role.PHOTOS:
            photos = tuple(value.get("files", ()))
        if question.type is QuestionType.COUNT:
            assert question.unit is not None
            metrics.append(
                MetricValue(
                    question_id=question.id,
                    label=question.label,
                    unit=question.unit,
                    low=Decimal(value["low"]),
                    high=None if value["high"] is None else Decimal(value["high"]),
                    approx=value["approx"],
                    raw=value["raw"],
                )
            )
    return Draft(
        entry_id=state.entry_id,
        unit_id=state.unit_id,
        area=state.area,
        area_name=ctx.questionnaire.area(state.area).name,
        title=title,
        start_date=begin,
        end_date=end,
        period=period_of(begin).key,
        location=location,
        answers=answers,
        metrics=tuple(metrics),
        photos=photos,
    )

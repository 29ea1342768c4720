"""The interview: a pure state machine over a questionnaire's typed questions.

Nothing here touches the database or a platform. The conversation layer loads an
`InterviewState`, calls `start`, `answer`, `skip` or `back`, saves the new state and
sends the replies; when a step returns a `Draft`, it stores the entry.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.figures import metric_text, plain
from bot.messages import ZH
from bot.messages import text as msg
from bot.parsing import (
    Approx,
    Count,
    CountError,
    DateError,
    DateErrorReason,
    UnitMismatch,
    parse_count,
    parse_date,
    parse_date_range,
    to_unit,
)
from bot.questionnaire import Question, Questionnaire, QuestionType, Role
from bot.text import clean_text
from bot.types import Choice, Incoming, Kind, Reply

AREA = "area"
UNIT = "unit"
CONFIRM = "confirm"
PICK = "pick"

KEEP = "keep"
SAVE = "confirm:save"
EDIT = "confirm:edit"
DROP = "confirm:cancel"
PHOTOS_DONE = "photos:done"
TOKEN_SEPARATOR = "~"

YES_WORDS = frozenset({"是", "是的", "对", "有", "好", "确认", "yes", "y", "ok", "好的", "嗯"})
NO_WORDS = frozenset({"否", "不是", "不", "没有", "无", "no", "n", "不对"})
SAVE_WORDS = frozenset({"确认", "保存", "确认保存", "是", "好", "好的", "对", "ok", "yes", "save"})
EDIT_WORDS = frozenset({"修改", "改", "编辑", "change", "edit"})
DROP_WORDS = frozenset({"放弃", "取消", "不要了", "drop", "cancel"})
DONE_WORDS = frozenset({"完成", "好了", "发完了", "没有了", "done", "ok"})

NOT_ANSWERS = {
    Kind.UNSUPPORTED: "unsupported_message",
    Kind.FORWARDED: "forwarded_message",
    Kind.EDITED: "edited_message",
}

MIN_YEAR_OFFSET = 3  # a date more than this many years back is surely a typo
MAX_SPAN_DAYS = 366


class InvalidAnswer(Exception):
    """An answer that does not fit the question; the message says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
        )


@dataclass(frozen=True)
class MetricValue:
    """A counted figure ready to be stored."""

    question_id: str
    label: str
    unit: str
    low: Decimal
    high: Decimal | None
    approx: str
    raw: str


@dataclass(frozen=True)
class Draft:
    """A confirmed report, ready to be stored as an entry (new or a new revision)."""

    entry_id: int | None
    unit_id: int
    area: str
    area_name: str
    title: str
    start_date: date
    end_date: date
    location: str | None
    answers: dict[str, Any]
    metrics: tuple[MetricValue, ...]
    photos: tuple[dict[str, str | None], ...]


@dataclass(frozen=True)
class Step:
    """What one message did: the next state (None when the interview ended) and the replies."""

    state: InterviewState | None
    replies: tuple[Reply, ...]
    draft: Draft | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class Context:
    """What a step needs besides the state: the questionnaire, the clock and the language."""

    questionnaire: Questionnaire
    now: datetime
    today: date
    locale: str = "zh"

    def t(self, key: str, **params: Any) -> str:
        """Translate a catalogue key."""
        return msg(self.locale, key, **params)


# ---------------------------------------------------------------------------------------
# Entry points


def start(ctx: Context, units: list[tuple[int, str]]) -> Step:
    """Begin a new report for a member working in `units` (id, name)."""
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
    return Step(state, (ask(ctx, state),))


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
    """Take a person's answer to the current question."""
    state = _copy(state)
    if incoming.kind is Kind.BUTTON:
        value, _, token = incoming.text.rpartition(TOKEN_SEPARATOR)
        if token != str(state.turn):
            return Step(state, (Reply(ctx.t("button_stale")), ask(ctx, state)))
        incoming = replace(incoming, text=value)
    state.turn += 1
    try:
        if incoming.kind in NOT_ANSWERS:
            raise InvalidAnswer(ctx.t(NOT_ANSWERS[incoming.kind]))
        if state.cursor == UNIT:
            return _answer_unit(ctx, state, incoming)
        if state.cursor == AREA:
            return _answer_area(ctx, state, incoming)
        if state.cursor == CONFIRM:
            return _answer_confirm(ctx, state, incoming)
        if state.cursor == PICK:
            return _answer_pick(ctx, state, incoming)
        return _answer_question(ctx, state, incoming)
    except InvalidAnswer as problem:
        return Step(state, (Reply(problem.message), ask(ctx, state)))


def skip(ctx: Context, state: InterviewState) -> Step:
    """Skip the current question if it is optional."""
    state = _copy(state)
    state.turn += 1
    question = _current_question(ctx, state)
    if question is None or not question.optional:
        return Step(state, (Reply(ctx.t("required")), ask(ctx, state)))
    state.answers[question.id] = {"skipped": True}
    return _advance(ctx, state, question.id, prefix=ctx.t("skipped"))


def back(ctx: Context, state: InterviewState) -> Step:
    """Return to the previous question."""
    state = _copy(state)
    state.turn += 1
    if not state.history:
        return Step(state, (Reply(ctx.t("first_question")), ask(ctx, state)))
    state.cursor = state.history.pop()
    state.return_to_confirm = False
    return Step(state, (ask(ctx, state),))


# ---------------------------------------------------------------------------------------
# Asking


def ask(ctx: Context, state: InterviewState) -> Reply:
    """Render the current question; its buttons carry the state's turn."""
    return _tagged(_ask(ctx, state), state)


def _tagged(reply: Reply, state: InterviewState) -> Reply:
    suffix = f"{TOKEN_SEPARATOR}{state.turn}"
    return replace(reply, choices=tuple(replace(c, value=c.value + suffix) for c in reply.choices))


def _first_turn(ctx: Context) -> int:
    # Start from the clock, so buttons of an earlier report do not match a new one.
    return int(ctx.now.timestamp()) % 1_000_000


def _ask(ctx: Context, state: InterviewState) -> Reply:
    q = ctx.questionnaire
    if state.cursor == UNIT:
        units = _numbered((name, f"unit:{uid}") for uid, name in state.units)
        return Reply(ctx.t("ask_unit"), _with_keep(ctx, state, units, state.unit_id))
    if state.cursor == AREA:
        areas = _numbered((a.name, f"area:{a.key}") for a in q.areas)
        return Reply(
            f"{q.area_prompt}\n{ctx.t('ask_area_hint')}",
            _with_keep(ctx, state, areas, state.area),
        )
    if state.cursor == CONFIRM:
        card = "\n".join(
            [ctx.t("confirm_intro"), *_card_lines(ctx, state), ctx.t("confirm_question")]
        )
        return Reply(
            card,
            _numbered(
                [
                    (ctx.t("confirm_save"), SAVE),
                    (ctx.t("confirm_edit"), EDIT),
                    (ctx.t("confirm_cancel"), DROP),
                ]
            ),
        )
    if state.cursor == PICK:
        fields = _editable_fields(ctx, state)
        return Reply(
            ctx.t("pick_field"), _numbered((label, f"edit:{key}") for key, label in fields)
        )
    question = _current_question(ctx, state)
    assert question is not None, f"cursor {state.cursor!r} names no question"
    flow = _flow(ctx, state)
    index = next(i for i, item in enumerate(flow, 1) if item.id == question.id)
    lines = [f"{question.prompt} {ctx.t('progress', index=index, total=len(flow))}"]
    if question.optional:
        lines.append(ctx.t("optional_hint"))
    existing = state.answers.get(question.id)
    if existing is not None and not existing.get("skipped"):
        lines.append(ctx.t("current_answer", value=describe_answer(ctx, question, existing)))
    choices: tuple[Choice, ...] = ()
    if question.type is QuestionType.CHOICE:
        choices = _numbered((c, f"choice:{i}") for i, c in enumerate(question.choices))
    elif question.type is QuestionType.YES_NO:
        choices = (Choice(ctx.t("yes"), "yes"), Choice(ctx.t("no"), "no"))
    elif question.type is QuestionType.PHOTO:
        choices = (Choice(ctx.t("photo_done"), PHOTOS_DONE),)
    if existing is not None and question.type is not QuestionType.PHOTO:
        choices = (*choices, Choice(ctx.t("keep"), KEEP))
    return Reply("\n".join(lines), choices)


def _numbered(options: Iterable[tuple[str, str]]) -> tuple[Choice, ...]:
    """Choices that may also be picked by typing their number."""
    return tuple(Choice(label, value, str(i)) for i, (label, value) in enumerate(options, 1))


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
    options = [(f"unit:{uid}", name) for uid, name in state.units]
    value = _match_choice(ctx, incoming, options)
    state.unit_id = int(value.removeprefix("unit:"))
    return _advance(ctx, state, UNIT)


def _answer_area(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    if _is_keep(incoming) and state.area is not None:
        return _advance(ctx, state, AREA)
    options = [(f"area:{a.key}", a.name) for a in ctx.questionnaire.areas]
    state.area = _match_choice(ctx, incoming, options).removeprefix("area:")
    return _advance(ctx, state, AREA)


def _answer_confirm(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    word = _word(incoming)
    if incoming.kind is Kind.BUTTON:
        word = {SAVE: "save", EDIT: "edit", DROP: "drop"}.get(incoming.text, word)
    if word in SAVE_WORDS or word == "save" or word == "1":
        missing = _first_missing(ctx, state)
        if missing is not None:
            state.cursor = missing
            return Step(state, (ask(ctx, state),))
        return Step(None, (), draft=build_draft(ctx, state))
    if word in EDIT_WORDS or word == "2":
        state.history.append(CONFIRM)
        state.cursor = PICK
        return Step(state, (ask(ctx, state),))
    if word in DROP_WORDS or word == "drop" or word == "3":
        return Step(None, (Reply(ctx.t("cancelled")),), cancelled=True)
    raise InvalidAnswer(ctx.t("confirm_hint"))


def _answer_pick(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    fields = _editable_fields(ctx, state)
    key = _match_choice(ctx, incoming, [(f"edit:{k}", label) for k, label in fields])
    state.history.append(PICK)
    state.cursor = key.removeprefix("edit:")
    state.return_to_confirm = True
    return Step(state, (ask(ctx, state),))


def _answer_question(ctx: Context, state: InterviewState, incoming: Incoming) -> Step:
    question = _current_question(ctx, state)
    assert question is not None
    if _is_keep(incoming) and question.id in state.answers:
        return _advance(ctx, state, question.id)
    if question.type is QuestionType.PHOTO:
        return _answer_photo(ctx, state, question, incoming)
    if incoming.kind is Kind.PHOTO:
        raise InvalidAnswer(ctx.t("photo_not_expected"))
    state.answers[question.id] = parse_answer(ctx, question, incoming)
    return _advance(ctx, state, question.id)


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
    """Turn a text answer into stored JSON, or raise InvalidAnswer."""
    raw = clean_text(incoming.text)
    kind = question.type
    if kind is QuestionType.TEXT:
        return {"text": _check_text(ctx, raw, question.max_length)}
    if kind is QuestionType.COUNT:
        return _count_answer(ctx, question, raw)
    if kind is QuestionType.DATE:
        day = _parse_date(ctx, raw, ranged=False)[0]
        return {"date": day.isoformat()}
    if kind is QuestionType.DATE_RANGE:
        begin, end = _parse_date(ctx, raw, ranged=True)
        return {"start": begin.isoformat(), "end": end.isoformat()}
    if kind is QuestionType.CHOICE:
        options = [(f"choice:{i}", c) for i, c in enumerate(question.choices)]
        value = _match_choice(ctx, incoming, options)
        return {"choice": question.choices[int(value.removeprefix("choice:"))]}
    if kind is QuestionType.YES_NO:
        word = _word(incoming)
        if incoming.text == "yes" or word in YES_WORDS or word == ctx.t("yes").lower():
            return {"yes": True}
        if incoming.text == "no" or word in NO_WORDS or word == ctx.t("no").lower():
            return {"yes": False}
        raise InvalidAnswer(ctx.t("bad_yes_no"))
    raise AssertionError(f"unhandled question type {kind}")  # pragma: no cover


def _check_text(ctx: Context, raw: str, limit: int) -> str:
    if not raw:
        raise InvalidAnswer(ctx.t("bad_text_empty"))
    if not any(unicodedata.category(ch)[0] in "LN" for ch in raw):
        raise InvalidAnswer(ctx.t("bad_text_no_words"))
    if len(raw) > limit:
        raise InvalidAnswer(ctx.t("bad_text_too_long", length=len(raw), limit=limit))
    return raw


def _count_answer(ctx: Context, question: Question, raw: str) -> dict[str, Any]:
    example = question.example or ctx.t("count_example_default")
    assert question.unit is not None
    try:
        count = to_unit(parse_count(raw), question.unit)
    except CountError as error:
        key = f"bad_count_{error.reason.value}"
        reason = ctx.t(key) if key in ZH else ctx.t("bad_count_other")
        raise InvalidAnswer(ctx.t("bad_count", reason=reason, example=example)) from error
    except UnitMismatch as error:
        raise InvalidAnswer(
            ctx.t("bad_unit", expected=error.expected, got=error.got, example=example)
        ) from error
    return count_to_json(count)


def _parse_date(ctx: Context, raw: str, *, ranged: bool) -> tuple[date, date]:
    example = ctx.t("range_example" if ranged else "date_example")
    if not raw:
        raise InvalidAnswer(ctx.t("bad_date", example=example))
    try:
        if ranged:
            begin, end = parse_date_range(raw, ctx.now)
        else:
            begin = end = parse_date(raw, ctx.now)
    except DateError as error:
        key = {
            DateErrorReason.INVALID: "bad_date_invalid",
            DateErrorReason.RANGE_REVERSED: "bad_date_reversed",
            DateErrorReason.INCOMPLETE: "bad_date_incomplete",
            DateErrorReason.WEEKDAY_MISMATCH: "bad_date_weekday_mismatch",
        }.get(error.reason, "bad_date")
        raise InvalidAnswer(ctx.t(key, example=example)) from error
    if begin > ctx.today:
        raise InvalidAnswer(ctx.t("bad_date_future", date=format_date(ctx, begin)))
    if begin.year < ctx.today.year - MIN_YEAR_OFFSET:
        raise InvalidAnswer(ctx.t("bad_date_too_old", date=format_date(ctx, begin)))
    if (end - begin) > timedelta(days=MAX_SPAN_DAYS):
        raise InvalidAnswer(ctx.t("bad_date_too_long"))
    return begin, end


def count_to_json(count: Count) -> dict[str, Any]:
    """Store a parsed count as JSON (decimals as strings, so nothing is rounded)."""
    return {
        "low": str(count.low),
        "high": None if count.high is None else str(count.high),
        "approx": count.approx.value,
        "raw": count.raw,
        "unit": count.unit,
    }


def _match_choice(ctx: Context, incoming: Incoming, options: list[tuple[str, str]]) -> str:
    """Resolve a button value, an option's number or its name to the option's value."""
    values = {value for value, _ in options}
    if incoming.kind is Kind.BUTTON:
        if incoming.text in values:
            return incoming.text
        raise InvalidAnswer(ctx.t("choose_one"))
    word = _word(incoming)
    if word.isdigit() and 1 <= int(word) <= len(options):
        return options[int(word) - 1][0]
    for value, label in options:
        if word == label.lower() or word == value:
            return value
    # Allow a unique partial name ("文体" for 文体活动).
    partial = [value for value, label in options if word and word in label.lower()]
    if len(partial) == 1:
        return partial[0]
    raise InvalidAnswer(ctx.t("choose_one"))


def _is_keep(incoming: Incoming) -> bool:
    return incoming.text == KEEP or _word(incoming) in ("保持不变", "不变", "keep")


def normalise_word(raw: str) -> str:
    """A short answer as a word to match: width-normalised (ＹＥＳ), lower case, no final stop."""
    return unicodedata.normalize("NFKC", clean_text(raw)).rstrip("。.!！").lower()


def _word(incoming: Incoming) -> str:
    return normalise_word(incoming.text)


# ---------------------------------------------------------------------------------------
# Moving on


def _advance(ctx: Context, state: InterviewState, answered: str, prefix: str | None = None) -> Step:
    """Move the cursor after `answered` and ask the next question."""
    state.history.append(answered)
    if state.return_to_confirm:  # changing one field from the card: back to the card
        nxt = _first_missing(ctx, state) or CONFIRM
    else:
        nxt = _next_in_order(ctx, state, answered)
    if nxt == CONFIRM:
        state.return_to_confirm = False
        state.history = [h for h in state.history if h != PICK]
    state.cursor = nxt
    question = ask(ctx, state)
    if prefix:  # one message, not two: "已跳过。" above the next question
        question = replace(question, text=f"{prefix}\n{question.text}")
    return Step(state, (question,))


def _next_in_order(ctx: Context, state: InterviewState, answered: str) -> str:
    order = [*([UNIT] if len(state.units) > 1 else []), AREA, *(q.id for q in _flow(ctx, state))]
    position = order.index(answered) if answered in order else -1
    if position + 1 < len(order):
        return order[position + 1]
    return _first_missing(ctx, state) or CONFIRM


def _first_missing(ctx: Context, state: InterviewState) -> str | None:
    if state.unit_id is None:
        return UNIT
    if state.area is None:
        return AREA
    for question in _flow(ctx, state):
        if question.id not in state.answers:
            return question.id
    return None


def _flow(ctx: Context, state: InterviewState) -> tuple[Question, ...]:
    if state.area is None:
        return ()
    return ctx.questionnaire.flow(state.area)


def _current_question(ctx: Context, state: InterviewState) -> Question | None:
    for question in _flow(ctx, state):
        if question.id == state.cursor:
            return question
    return None


def _editable_fields(ctx: Context, state: InterviewState) -> list[tuple[str, str]]:
    fields = [(UNIT, ctx.t("field_unit"))] if len(state.units) > 1 else []
    fields.append((AREA, ctx.t("field_area")))
    fields.extend((q.id, q.label) for q in _flow(ctx, state))
    return fields


def _copy(state: InterviewState) -> InterviewState:
    return replace(
        state,
        answers=dict(state.answers),
        history=list(state.history),
        units=list(state.units),
    )


# ---------------------------------------------------------------------------------------
# Showing what was understood


def _card_lines(ctx: Context, state: InterviewState) -> list[str]:
    lines: list[str] = []
    number = 1
    if len(state.units) > 1:
        unit_name = dict(state.units).get(state.unit_id or -1, "?")
        lines.append(f"{number}. {ctx.t('field_unit')}：{unit_name}")
        number += 1
    area_name = ctx.questionnaire.area(state.area).name if state.area else "?"
    lines.append(f"{number}. {ctx.t('field_area')}：{area_name}")
    for offset, question in enumerate(_flow(ctx, state), number + 1):
        value = state.answers.get(question.id)
        shown = ctx.t("skipped_value") if value is None else describe_answer(ctx, question, value)
        lines.append(f"{offset}. {question.label}：{shown}")
    return lines


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
    """E.g. '4000余人次（按“4000多人次”理解为不少于 4000）'."""
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
    return f"{shown}（{ctx.t(key, raw=value['raw'], low=plain(low), high=high_text)}）"


def format_date(ctx: Context, day: date) -> str:
    """E.g. 2026年6月30日（周二）."""
    weekday = ctx.t(f"weekday_{day.weekday()}")
    return ctx.t("date_format", year=day.year, month=day.month, day=day.day, weekday=weekday)


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
        location=location,
        answers=answers,
        metrics=tuple(metrics),
        photos=photos,
    )

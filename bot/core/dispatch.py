"""The router: who is writing, where, in which dialog, and which command or dialog answers.

Commands come from the table in `bot.core.commands`: it says who may use each, what it does in a
group and during a report. Plain words are looked up in the same table. What is neither a
command nor a plain word is the answer to the dialog in progress; with no dialog, a message
that reads like a report starts one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.core import interview
from bot.core.commands import BY_NAME, COMMANDS, CommandSpec, InGroup, InInterview, Who, level
from bot.core.dialogs import delete, join, reflect, report, send_back, summary
from bot.core.dialogs.base import Kit, Next, Turn, locale_of
from bot.core.dialogs.state import (
    Deleting,
    Discarded,
    Joining,
    Reflecting,
    Reporting,
    Returning,
    kind_of,
    load,
)
from bot.core.interview import InterviewState
from bot.core.text import clean_text
from bot.core.types import Incoming, Kind, Reply
from storage import members

MAX_MESSAGE_LENGTH = 4000


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command with its argument, e.g. /edit 12."""

    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    """Read '/edit 12' or '/start@HuibaoBot CODE'; None for plain text."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return Command(name, rest.strip())


def plain_command(text: str, dialog_kind: str | None = None) -> Command | None:
    """A plain message that stands for a command (帮助, 我的记录 上半年, 取消, 待办), if any.

    In a dialog only the words the table keeps for that dialog count; the rest are answers.
    """
    word = interview.control_word(text)
    for spec in COMMANDS:
        if dialog_kind is not None and dialog_kind not in spec.words_during:
            continue
        argument = spec.read(text, word)
        if argument is not None:
            return Command(spec.name, argument)
    return None


def dispatch(
    session: Session, incoming: Incoming, kit: Kit, batch: members.StateBatch | None = None
) -> tuple[Turn | None, list[Reply]]:
    """Handle one message inside the caller's transaction: the turn and the replies (the
    person and their state from `batch`, its state updates held back there, in a batch)."""
    if "\x00" in incoming.text:
        # No one types a NUL; PostgreSQL refuses it in any text it is compared with.
        incoming = dataclasses.replace(incoming, text=incoming.text.replace("\x00", ""))
    known = batch.take(incoming.platform, incoming.user_id) if batch is not None else None
    if known is None:
        if batch is not None:
            batch.write(session)  # what the batch's earlier messages left, read back now
        known = members.person_and_state(session, incoming.platform, incoming.user_id)
    member, row = known
    locale = member.locale if member is not None else locale_of(incoming.locale)
    if member is None and incoming.in_group:
        return None, []  # strangers in a group get a deliberate silence
    dialog = load(row.kind, row.data) if row is not None else None
    turn = Turn(session, incoming, member, row, locale, kit, dialog, batch=batch)
    return turn, route(turn)


def route(turn: Turn) -> list[Reply]:
    """The replies to the turn's message (the dialog state is stored on the way)."""
    incoming = turn.incoming
    if len(incoming.text) > MAX_MESSAGE_LENGTH:
        length = len(incoming.text)
        too_long = Reply(turn.t("too_long_message", length=length, limit=MAX_MESSAGE_LENGTH))
        if turn.member is None or incoming.in_group:
            return [too_long]
        return [too_long, *report.resume(turn)]
    # A button may carry a command (a reminder's "/report", /entries' "/return 12"):
    # it has no turn token, so one pressed on an old message still just works.
    is_command = incoming.kind is Kind.TEXT or (
        incoming.kind is Kind.BUTTON and incoming.text.startswith("/")
    )
    command = parse_command(incoming.text) if is_command else None
    if turn.member is None:
        return _stranger(turn, command)
    if incoming.in_group:
        return _in_group(turn, command)
    if command is not None:
        return _command(turn, command)
    return _message(turn)


def _command(turn: Turn, command: Command) -> list[Reply]:
    spec = BY_NAME.get(command.name)
    if spec is None:
        unknown = Reply(turn.t("unknown_command", command="/" + command.name))
        return [unknown, *report.resume(turn)]
    return run(turn, spec, command.argument)


def run(turn: Turn, spec: CommandSpec, argument: str) -> list[Reply]:
    """Run a command as its row says: refused, asked about, or done (and the report's question)."""
    in_report = report.running(turn) is not None
    if in_report and spec.interview is InInterview.REFUSE:
        return turn.apply(report.busy(turn))
    if in_report and spec.interview is InInterview.ASK_FIRST:
        asked = report.ask_first(turn, argument)
        if asked is not None:
            return turn.apply(asked)
    if not _permitted(turn, spec):
        refused = [Reply(turn.t(spec.refusal))]
        return refused if turn.incoming.in_group else [*refused, *report.resume(turn)]
    replies = turn.apply(spec.handler(turn, argument))
    if spec.interview is InInterview.RESUME and not turn.incoming.in_group:
        replies = [*replies, *report.resume(turn)]
    return replies


def _permitted(turn: Turn, spec: CommandSpec) -> bool:
    if spec.who <= Who.STAFF:
        return True
    if spec.who is Who.LEADER:
        return not turn.scope().empty
    return level(turn.session, turn.member_id) >= spec.who


def _in_group(turn: Turn, command: Command | None) -> list[Reply]:
    """In a group only commands count; each is answered there, privately, or pointed away."""
    if command is None:
        return []
    spec = BY_NAME.get(command.name)
    if spec is None or spec.group is InGroup.REPORTING:
        return [Reply(turn.t("group_use_private"))]
    if spec.group is InGroup.PRIVATE_ONLY:
        return [Reply(turn.t("group_private_only"))]
    replies = run(turn, spec, command.argument)
    if spec.group is InGroup.ANSWER_PRIVATELY:
        return summary.privately(turn, replies)
    return replies


def _stranger(turn: Turn, command: Command | None) -> list[Reply]:
    """Someone not registered: an invite code (with /start or alone), then their name."""
    if command is not None:
        spec = BY_NAME.get(command.name)
        if spec is not None and spec.stranger is not None:
            step = spec.stranger(turn, command.argument)
            if step is not None:
                return turn.apply(step)
    elif isinstance(turn.dialog, Joining):
        return turn.apply(join.answer(turn, turn.dialog))
    else:
        code = join.looks_like_code(turn.incoming.text)
        if code is not None:
            return turn.apply(join.begin(turn, code))
    return [Reply(turn.t("not_registered"))]


def _message(turn: Turn) -> list[Reply]:
    """A message that is not a slash command, in a private chat."""
    dialog = turn.dialog
    incoming = turn.incoming
    if incoming.kind is Kind.TEXT:
        during = None if dialog is None or isinstance(dialog, Discarded) else kind_of(dialog)
        plain = plain_command(incoming.text, during)
        if plain is not None:
            return _command(turn, plain)
    step = _answer(turn)
    if step is not None:
        return turn.apply(step)
    if incoming.kind is Kind.BUTTON:
        return [Reply(turn.t("button_stale"))]  # e.g. a second press on a finished report
    if incoming.kind in interview.NOT_ANSWERS:
        return [Reply(turn.t(interview.NOT_ANSWERS[incoming.kind])), Reply(turn.t("idle"))]
    if incoming.kind is Kind.TEXT and not clean_text(incoming.text):
        return [Reply(turn.t("empty_message"))]
    if incoming.kind is Kind.TEXT:
        started = report.maybe(turn)
        if started is not None:
            return turn.apply(started)
        if not any(ch.isalnum() for ch in clean_text(incoming.text)):  # only emoji
            return [Reply(turn.t("not_a_report_emoji"))]
    return [Reply(turn.t("idle"))]


def _answer(turn: Turn) -> Next | None:
    """The answer to the dialog in progress, if one is."""
    match turn.dialog:
        case InterviewState() as current:
            return report.answer(turn, current)
        case Reporting() as aside:
            return report.switching(turn, aside)
        case Deleting() as deleting:
            return delete.answer(turn, deleting)
        case Reflecting() as reflecting:
            return reflect.answer(turn, reflecting)
        case Returning() as returning:
            return send_back.answer(turn, returning)
    return None

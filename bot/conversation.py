"""The conversation boundary: one incoming message in, replies out, state in the database.

Every adapter (shell, Telegram, WeCom) ends in `Conversation.handle`. One message is one
transaction: the processed-message key, the dialog state and any stored entry commit
together, so a duplicate delivery is ignored and a crash loses at most the message that
was being handled.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot import coordination, interview, outbox, reflection, relief, schedule_chat
from bot.deadlines import PUBLIC_RULES, DayRules
from bot.figures import entry_line
from bot.interview import Context, InterviewState, Step
from bot.messages import text as msg
from bot.parsing.extract import Extraction
from bot.parsing.numerals import parse_id
from bot.periods import Span, parse_period, parse_span, period_of
from bot.questionnaire import Questionnaire
from bot.summary import service as summary_service
from bot.summary.service import SummaryKit
from bot.text import clean_text
from bot.types import (
    Choice,
    Document,
    Incoming,
    Kind,
    Reply,
    replies_from_json,
    replies_to_json,
)
from storage import repo
from storage.db import transaction
from storage.models import Entry, Member

log = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 4000
REPORT_WORDS = frozenset({"上报", "新建", "填报", "汇报", "报告", "报活动", "上报活动", "report"})
# "上报 11月8日在文化广场…", "上报：…": a report word, a separator, the report itself.
REPORT_PREFIX = re.compile(
    r"^\s*(?:" + "|".join(sorted(REPORT_WORDS, key=len, reverse=True)) + r")(?:\s*[:：,，]\s*|\s+)",
    re.IGNORECASE,
)
INVITE_CODE = re.compile(r"^[A-HJ-NP-Z2-9]{8}$")
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
NAME_MAX = 30

# Commands answered in a group chat. /summary is too, but its document goes to the asker's
# private chat: a summary posted into a group can be forwarded anywhere.
GROUP_COMMANDS = frozenset({"status", "entries", "summary", "help", "start"})
LEADER_COMMANDS = frozenset({"status", "entries"})
# Commands that work only in a private chat; in a group they get a pointer there.
PRIVATE_COMMANDS = frozenset(
    {"closing", "return", "deadline", "mine", "edit", "delete", "reflect", "lang"}
    | {"feedback", "todo", "remind"}  # a complaint or what one owes is nobody else's business
)

KIND_INTERVIEW = "interview"
KIND_JOIN = "join"
KIND_DELETE = "delete"
KIND_REFLECT = "reflect"
KIND_RETURN = "return"  # a coordinator is asked why an entry goes back
KIND_DISCARDED = "discarded"  # a dropped report, kept for the rest of the day (恢复)
# Plain words that stand for a command, in any language (checked in this order).
PLAIN_COMMANDS = (
    (interview.HELP_WORDS, "help"),
    (interview.MINE_WORDS, "mine"),
    (interview.CANCEL_WORDS, "cancel"),
    (interview.SKIP_WORDS, "skip"),
    (interview.BACK_WORDS, "back"),
    (interview.RESTORE_WORDS, "restore"),
)
REFLECT_WORDS = frozenset({"回顾", "半年回顾", "工作回顾", "reflect"})


def new_invite_code() -> str:
    """A random 8-character code without look-alike characters (0/O, 1/I)."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command with its argument, e.g. /edit 12."""

    name: str
    argument: str


def plain_command(text: str) -> Command | None:
    """Read a plain word that stands for a command: 帮助, 我的记录 上半年, 取消, 跳过, 恢复."""
    word = interview.control_word(text)
    for words, name in PLAIN_COMMANDS:
        if word in words:
            return Command(name, "")
    head, _, rest = word.partition(" ")
    if head in interview.MINE_WORDS and rest:
        return Command("mine", rest)
    if word.startswith("我的记录"):  # 我的记录上半年
        return Command("mine", word.removeprefix("我的记录"))
    return None


def parse_command(text: str) -> Command | None:
    """Read '/edit 12' or '/start@HuibaoBot CODE'; None for plain text."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return Command(name, rest.strip())


class _Duplicate(Exception):
    """The message was processed before: roll this attempt back."""


@dataclass(frozen=True)
class Outcome:
    """The replies to one message, and what an adapter may need to refresh."""

    replies: list[Reply]
    locale: str = "zh"
    # The commands this person can use now, when their roles or language changed
    # (Telegram shows them as the chat's command menu); None when unchanged.
    menu: tuple[tuple[str, str], ...] | None = None
    # The message could not be processed (nothing of it was kept; the reply says sorry):
    # an adapter whose platform would deliver it again may ask for that instead.
    failed: bool = False


@dataclass
class Turn:
    """What the handling of one message needs at hand."""

    session: Session
    incoming: Incoming
    member: repo.Person | None
    state: repo.DialogState | None
    locale: str
    menu_changed: bool = False

    def t(self, key: str, **params: Any) -> str:
        return msg(self.locale, key, **params)

    def save(self, kind: str, data: dict[str, Any]) -> None:
        """Store the person's dialog state (by member, or by platform account while joining)."""
        repo.save_state(
            self.session,
            self.state,
            member_id=self.member.id if self.member is not None else None,
            platform=self.incoming.platform,
            external_id=self.incoming.user_id,
            kind=kind,
            data=data,
        )


class Conversation:
    """Handles every incoming message of every platform."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        questionnaires: Mapping[str, Questionnaire],
        default_questionnaire: str,
        zone: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        summaries: SummaryKit | None = None,
        rules: DayRules = PUBLIC_RULES,
    ) -> None:
        if default_questionnaire not in questionnaires:
            known = ", ".join(sorted(questionnaires)) or "none"
            raise ValueError(
                f"default questionnaire {default_questionnaire!r} not found (loaded: {known})"
            )
        self._sessions = sessions
        self._questionnaires = questionnaires
        self._default = default_questionnaire
        self._zone = zone
        self._clock = clock
        self._summaries = summaries
        self._rules = rules  # the working-day calendar, for deadlines, /todo and /status

    def handle(self, incoming: Incoming) -> list[Reply]:
        """Process one message once; return the replies to send (none for a duplicate)."""
        return self.process(incoming).replies

    def process(self, incoming: Incoming) -> Outcome:
        """Process one message once, reporting also what changed for the adapter.

        The message key is claimed at the end of the same transaction that does the work,
        together with the replies. If the key was claimed before (a duplicate delivery),
        the work is rolled back; the earlier replies are returned only if they were never
        marked sent (the process died between commit and send), else nothing.
        """
        platform, key = incoming.platform, incoming.message_id
        try:
            with transaction(self._sessions) as session:
                return self._process_in(session, incoming)
        except _Duplicate:
            with transaction(self._sessions) as session:
                unsent = repo.unsent_replies(session, platform, key)
            log.info("duplicate message %s/%s (replies resent: %s)", platform, key, bool(unsent))
            return Outcome(replies_from_json(unsent) if unsent else [])
        except Exception:
            log.exception("failed to handle message %s/%s", platform, key)
            reply = Reply(msg(incoming.locale or "zh", "internal_error"))
            return Outcome([reply], failed=True)

    def process_batch(self, incomings: Sequence[Incoming]) -> list[Outcome]:
        """Process several messages, in order, as `process` would each one.

        They share one transaction: beginning and committing one costs more than the
        work of a typical interview step (measured on SQLite: 0.29 against 0.13 ms per
        message). If anything goes wrong, a duplicate delivery included, nothing of the
        batch is kept and each message is processed again in a transaction of its own,
        so one bad message never costs the others their replies.
        """
        if len(incomings) > 1:
            try:
                with transaction(self._sessions) as session:
                    return [self._process_in(session, incoming) for incoming in incomings]
            except _Duplicate:
                pass
            except Exception:
                log.info("batch of %d failed; one transaction per message now", len(incomings))
        return [self.process(incoming) for incoming in incomings]

    def _process_in(self, session: Session, incoming: Incoming) -> Outcome:
        """Handle a message inside the caller's transaction and claim its key."""
        turn, replies = self._dispatch(session, incoming)
        claimed = repo.claim_message(
            session, incoming.platform, incoming.message_id, replies_to_json(replies)
        )
        if not claimed:
            raise _Duplicate
        menu = None
        if turn is not None and turn.menu_changed and turn.member is not None:
            menu = command_menu(session, turn.member.id, turn.locale)
        return Outcome(replies, turn.locale if turn else "zh", menu)

    def leader_menus(self, platform: str) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        """(account id, language, menu) of every coordinator and admin on a platform."""
        with transaction(self._sessions) as session:
            return [
                (external_id, locale, command_menu(session, member_id, locale))
                for external_id, member_id, locale in repo.accounts_of_leaders(session, platform)
            ]

    def mark_sent(self, platform: str, keys: list[str]) -> None:
        """Record that the replies to these messages were delivered."""
        with transaction(self._sessions) as session:
            repo.mark_sent(session, platform, keys)

    # -- dispatch -----------------------------------------------------------------------

    def _dispatch(self, session: Session, incoming: Incoming) -> tuple[Turn | None, list[Reply]]:
        if "\x00" in incoming.text:
            # No one types a NUL; PostgreSQL refuses it in any text it is compared with.
            incoming = dataclasses.replace(incoming, text=incoming.text.replace("\x00", ""))
        member, state = repo.person_and_state(session, incoming.platform, incoming.user_id)
        locale = member.locale if member is not None else _locale(incoming.locale)
        if member is None and incoming.in_group:
            return None, []  # strangers in a group get a deliberate silence
        turn = Turn(session, incoming, member, state, locale)
        return turn, self._route(turn)

    def _route(self, turn: Turn) -> list[Reply]:
        incoming = turn.incoming
        if len(incoming.text) > MAX_MESSAGE_LENGTH:
            length = len(incoming.text)
            too_long = Reply(turn.t("too_long_message", length=length, limit=MAX_MESSAGE_LENGTH))
            if turn.member is None or incoming.in_group:
                return [too_long]
            return [too_long, *self._resume(turn)]
        # A button may carry a command (a reminder's "/report", /entries' "/return 12"):
        # it has no turn token, so one pressed on an old message still just works.
        is_command = incoming.kind is Kind.TEXT or (
            incoming.kind is Kind.BUTTON and incoming.text.startswith("/")
        )
        command = parse_command(incoming.text) if is_command else None
        if turn.member is None:
            return self._stranger(turn, command)
        if incoming.in_group:
            if command is None:
                return []
            if command.name == "summary":
                return self._summary_privately(turn, command.argument)
            if command.name in GROUP_COMMANDS:
                return self._command(turn, command)
            if command.name in PRIVATE_COMMANDS:
                return [Reply(turn.t("group_private_only"))]
            return [Reply(turn.t("group_use_private"))]
        if command is not None:
            return self._command(turn, command)
        return self._message(turn)

    def _message(self, turn: Turn) -> list[Reply]:
        state = turn.state
        kind = state.kind if state is not None else None
        plain = plain_command(turn.incoming.text) if turn.incoming.kind is Kind.TEXT else None
        if plain is not None and plain.name in ("help", "mine"):
            return self._command(turn, plain)
        if state is not None and state.kind == KIND_INTERVIEW:
            # the interview reads 跳过, 上一步 and 取消 itself ("没有" may answer a yes/no)
            ctx, current = self._interview(turn, state)
            return self._apply(turn, ctx, interview.answer(ctx, current, turn.incoming))
        if plain is not None and (
            kind in (None, KIND_DISCARDED)
            or plain.name == "cancel"
            or (plain.name == "skip" and kind == KIND_REFLECT)
        ):
            return self._command(turn, plain)
        if state is not None and state.kind == KIND_DELETE:
            return self._answer_delete(turn, state)
        if state is not None and state.kind == KIND_REFLECT:
            return self._answer_reflect(turn, state)
        if state is not None and state.kind == KIND_RETURN:
            return self._answer_return(turn, state)
        if turn.incoming.kind is Kind.BUTTON:
            return [Reply(turn.t("button_stale"))]  # e.g. a second press on a finished report
        if turn.incoming.kind in interview.NOT_ANSWERS:
            return [Reply(turn.t(interview.NOT_ANSWERS[turn.incoming.kind])), Reply(turn.t("idle"))]
        if turn.incoming.kind is Kind.TEXT and not clean_text(turn.incoming.text):
            return [Reply(turn.t("empty_message"))]
        said = relief.plain_words(turn.incoming.text)  # 意见 …, 待办, 少提醒
        if said is not None:
            return self._command(turn, Command(said.name, said.argument))
        if interview.normalise_word(turn.incoming.text) in REPORT_WORDS:
            return self._start_report(turn)
        if interview.normalise_word(turn.incoming.text) in REFLECT_WORDS:
            return self._start_reflect(turn)
        if turn.incoming.kind is Kind.TEXT:
            return self._maybe_report(turn)
        return [Reply(turn.t("idle"))]

    def _maybe_report(self, turn: Turn) -> list[Reply]:
        """A plain message outside a report: one that reads like a report starts one."""
        text = turn.incoming.text
        prefixed = REPORT_PREFIX.match(text)
        if prefixed is not None and text[prefixed.end() :].strip():  # 上报 11月8日…
            return self._start_report(turn, text[prefixed.end() :])
        ctx = self._context(turn)
        found = interview.read(ctx, text)
        if found.report_like:
            return self._start_report(turn, found=found)
        if not any(ch.isalnum() for ch in clean_text(text)):  # only emoji or punctuation
            return [Reply(turn.t("not_a_report_emoji"))]
        return [Reply(turn.t("idle"))]

    def _command(self, turn: Turn, command: Command) -> list[Reply]:
        state = turn.state
        in_interview = state is not None and state.kind == KIND_INTERVIEW
        name = command.name
        if name in ("report", "new", "baogao"):
            return self._start_report(turn, command.argument)
        if name == "cancel":
            if state is None or state.kind == KIND_DISCARDED:
                return [Reply(turn.t("nothing_to_cancel"))]
            if state.kind == KIND_INTERVIEW:  # asks first when there are answers to lose
                ctx, current = self._interview(turn, state)
                return self._apply(turn, ctx, interview.cancel(ctx, current))
            repo.clear_state(turn.session, state)
            key = {KIND_DELETE: "delete_kept", KIND_RETURN: "return_cancelled"}.get(
                state.kind, "cancelled"
            )
            return [Reply(turn.t(key, id=state.data.get("entry_id")))]
        if name == "skip" and state is not None and state.kind == KIND_REFLECT:
            return self._answer_reflect(turn, state, skip=True)
        if name == "restore" or (
            name == "back" and state is not None and state.kind == KIND_DISCARDED
        ):
            return self._restore(turn)
        if name in ("skip", "back"):
            if state is None or state.kind != KIND_INTERVIEW:
                return [
                    Reply(turn.t("nothing_to_skip" if name == "skip" else "nothing_to_go_back"))
                ]
            ctx, current = self._interview(turn, state)
            action = interview.skip if name == "skip" else interview.back
            return self._apply(turn, ctx, action(ctx, current))
        if name in ("help", "start") and not command.argument:
            assert turn.member is not None
            leader = coordination.is_leader(turn.session, turn.member.id)
            if turn.incoming.in_group:
                return [Reply(turn.t("help_group" if leader else "group_use_private"))]
            text = turn.t("help") + "\n" + turn.t("help_relief")
            if leader:
                text += "\n" + turn.t("help_leader") + "\n" + turn.t("help_return")
            if schedule_chat.is_admin(turn.session, turn.member.id):
                text += "\n" + turn.t("help_admin")
            return [Reply(text), *self._resume(turn)]
        if name in ("start", "join"):
            return [*self._join_more(turn, command.argument), *self._resume(turn)]
        if name == "mine":
            return [self._mine(turn, command.argument), *self._resume(turn)]
        if name in LEADER_COMMANDS:
            return [self._leader(turn, name), *self._resume(turn)]
        if name == "summary":
            return [*self._summary(turn, command.argument), *self._resume(turn)]
        if name == "closing":
            return [*self._closing(turn, command.argument), *self._resume(turn)]
        if name == "reflect":
            if in_interview:
                return [Reply(turn.t("busy_reporting")), *self._resume(turn)]
            return self._start_reflect(turn)
        if name == "lang":
            return [*self._language(turn, command.argument), *self._resume(turn)]
        if name == "deadline":
            return [self._deadline(turn, command.argument), *self._resume(turn)]
        if name in ("feedback", "todo", "remind"):
            return [self._relief(turn, command), *self._resume(turn)]
        if name == "return":
            if in_interview:
                return [Reply(turn.t("busy_reporting")), *self._resume(turn)]
            return self._return(turn, command.argument)
        if name in ("edit", "delete"):
            if in_interview:
                return [Reply(turn.t("busy_reporting")), *self._resume(turn)]
            return self._edit_or_delete(turn, command)
        return [Reply(turn.t("unknown_command", command="/" + name)), *self._resume(turn)]

    def _resume(self, turn: Turn) -> list[Reply]:
        state = turn.state
        if state is None or state.kind != KIND_INTERVIEW:
            return []
        ctx, current = self._interview(turn, state)
        return [interview.resume(ctx, current)]

    # -- coordinators and settings -----------------------------------------------------

    def _leader(self, turn: Turn, name: str) -> Reply:
        assert turn.member is not None
        scope = coordination.leader_scope(turn.session, turn.member.id)
        if scope.empty:
            return Reply(turn.t("leaders_only"))
        if name == "status":
            now = turn.incoming.at
            return Reply(
                coordination.status_report(
                    turn.session, scope, now, self._zone, turn.locale, self._rules
                )
            )
        buttons = not turn.incoming.in_group  # sending back happens in private
        return schedule_chat.entries_reply(turn.session, scope, turn.locale, buttons=buttons)

    def _relief(self, turn: Turn, command: Command) -> Reply:
        """/feedback TEXT, /todo, /remind [off [DATE] | on] (bot.relief)."""
        assert turn.member is not None
        member, now, session = turn.member, turn.incoming.at, turn.session
        if command.name == "feedback":
            platform = turn.incoming.platform
            text = relief.feedback(session, member.id, command.argument, platform, now, turn.locale)
        elif command.name == "todo":
            text = relief.todo(
                session, member.id, member.name, now, self._zone, self._rules, turn.locale
            )
        else:
            text = relief.remind(
                session, member.id, command.argument, now, self._zone, self._rules, turn.locale
            )
        return Reply(text)

    def _deadline(self, turn: Turn, argument: str) -> Reply:
        """/deadline [list | set ... | remove N], for admins."""
        assert turn.member is not None
        now, session = self._clock(), turn.session
        text = schedule_chat.deadline_command(
            session, turn.member.id, argument, now, self._zone, turn.locale, self._rules
        )
        return Reply(text)

    # -- entries sent back for correction ------------------------------------------------

    def _return(self, turn: Turn, argument: str) -> list[Reply]:
        """/return N reason; without a reason, ask for one."""
        assert turn.member is not None
        number, _, comment = argument.strip().partition(" ")
        entry, problem = schedule_chat.entry_to_return(
            turn.session, turn.member.id, number, turn.locale
        )
        if problem is not None:
            return [problem]
        assert entry is not None
        comment = clean_text(comment)
        if not comment:
            turn.save(KIND_RETURN, {"entry_id": entry.id})
            return [schedule_chat.ask_reason(entry, turn.locale)]
        return [self._send_back(turn, entry, comment)]

    def _answer_return(self, turn: Turn, state: repo.DialogState) -> list[Reply]:
        assert turn.member is not None
        comment = clean_text(turn.incoming.text)
        if turn.incoming.kind is not Kind.TEXT or not comment:
            return [Reply(turn.t("return_usage"))]
        entry, problem = schedule_chat.entry_to_return(
            turn.session, turn.member.id, str(state.data["entry_id"]), turn.locale
        )
        repo.clear_state(turn.session, state)
        if problem is not None:
            return [problem]
        assert entry is not None
        return [self._send_back(turn, entry, comment)]

    def _send_back(self, turn: Turn, entry: Entry, comment: str) -> Reply:
        assert turn.member is not None
        return schedule_chat.send_back(
            turn.session,
            turn.member,
            entry,
            comment,
            self._clock(),
            turn.locale,
            turn.incoming.platform,
        )

    def _summary(self, turn: Turn, argument: str) -> list[Reply]:
        """/summary [unit] [period]: a preview and the .docx, for units the person leads."""
        assert turn.member is not None
        scope = coordination.leader_scope(turn.session, turn.member.id)
        if scope.empty:
            return [Reply(turn.t("leaders_only"))]
        if self._summaries is None:
            return [Reply(turn.t("summary_unavailable"))]
        today = turn.incoming.at.astimezone(self._zone).date()
        period = period_of(today)
        unit = None
        for word in argument.split():
            try:
                period = parse_period(word)
                continue
            except ValueError:
                pass
            unit = repo.unit_by_key(turn.session, word)
            if unit is None or not scope.contains(unit.path):
                # the same answer for a unit that does not exist and one out of reach
                return [Reply(turn.t("summary_not_yours", unit=word[:30]))]
        if unit is None:
            unit = repo.unit_by_path(turn.session, scope.paths[0])
        started = time.perf_counter()
        summary = summary_service.summarise(turn.session, self._summaries, unit, period, today)
        docx = summary_service.render(summary, self._summaries, summary_service.Format.DOCX)
        log.info(
            "summary of %s %s composed in %.2f s",
            unit.id,
            period.key,
            time.perf_counter() - started,
        )
        name = summary_service.filename(summary, summary_service.Format.DOCX)
        document = Document(name, docx, summary_service.MIME[summary_service.Format.DOCX])
        replies = [Reply(summary_service.preview(summary))]
        if summary.months:
            chart = summary_service.chart_png(summary)
            replies.append(
                Reply(turn.t("summary_chart"), image=Document("chart.png", chart, "image/png"))
            )
        replies.append(Reply(turn.t("summary_file", gaps=len(summary.gaps)), document=document))
        return replies

    def _summary_privately(self, turn: Turn, argument: str) -> list[Reply]:
        """/summary asked in a group: the document goes to the asker's private chat."""
        assert turn.member is not None
        replies = self._summary(turn, argument)
        if not any(r.document is not None for r in replies):
            return replies  # a refusal or a usage hint, which reveals nothing
        incoming = turn.incoming
        queued = outbox.queue_for_member(
            turn.session,
            turn.member.id,
            key=f"summary:{incoming.platform}:{incoming.user_id}:{incoming.message_id}"[:200],
            kind="summary",
            replies=replies,
            now=self._clock(),
            prefer=incoming.platform,
        )
        key = "summary_sent_privately" if queued else "summary_no_private_chat"
        return [Reply(turn.t(key, name=turn.member.name))]

    # -- the reflection round ----------------------------------------------------------

    def _start_reflect(self, turn: Turn) -> list[Reply]:
        assert turn.member is not None
        units = repo.reporting_units(turn.session, turn.member.id)
        if not units:
            return [Reply(turn.t("no_unit"))]
        today = turn.incoming.at.astimezone(self._zone).date()
        period = period_of(today)
        turn.save(KIND_REFLECT, {"step": 1, "unit_id": units[0][0], "period": period.key})
        return [Reply(turn.t("reflect_ask_shortcomings", period=period.chinese))]

    def _answer_reflect(
        self, turn: Turn, state: repo.DialogState, *, skip: bool = False
    ) -> list[Reply]:
        assert turn.member is not None
        step = int(state.data["step"])
        points: list[str] = []
        if not skip:
            if turn.incoming.kind is not Kind.TEXT:
                return [Reply(turn.t("reflect_text_please"))]
            points = reflection.split_points(turn.incoming.text)
            if not points:
                return [Reply(turn.t("reflect_text_please"))]
            kind = reflection.SHORTCOMING if step == 1 else reflection.PLAN
            repo.add_reflections(
                turn.session,
                turn.member.id,
                int(state.data["unit_id"]),
                str(state.data["period"]),
                kind,
                points,
                self._clock(),
            )
        noted = turn.t("reflect_noted", count=len(points)) if points else turn.t("skipped")
        if step == 1:
            turn.save(KIND_REFLECT, {**state.data, "step": 2})
            return [Reply(noted), Reply(turn.t("reflect_ask_plans"))]
        repo.clear_state(turn.session, state)
        return [Reply(noted), Reply(turn.t("reflect_done"))]

    def _closing(self, turn: Turn, argument: str) -> list[Reply]:
        """/closing: review the merged points; '/closing drop N', '/closing add 不足|打算 text'."""
        assert turn.member is not None
        scope = coordination.leader_scope(turn.session, turn.member.id)
        if scope.empty:
            return [Reply(turn.t("leaders_only"))]
        unit = repo.unit_by_path(turn.session, scope.paths[0])
        today = turn.incoming.at.astimezone(self._zone).date()
        period = period_of(today).key
        words = argument.split(maxsplit=2)
        action = words[0].lower() if words else ""
        review = reflection.review(turn.session, unit, period)
        number = parse_id(words[1]) if len(words) >= 2 else None
        if action in ("drop", "删除", "删", "use", "采用", "选用") and number:
            # numbers are the points' first row ids: stable, so two quick drops never
            # hit a point the coordinator did not see
            dropping = action in ("drop", "删除", "删")
            chosen = review.find(number)
            if chosen is None or (dropping and chosen not in review.own):
                # the units' own points stay theirs: a street drops only its own
                return [Reply(turn.t("closing_no_such", number=words[1]))]
            if dropping:
                repo.drop_reflections(turn.session, chosen.row_ids, turn.member.id, self._clock())
            elif chosen not in review.own:  # material of the units below becomes the unit's
                repo.add_reflections(
                    turn.session,
                    turn.member.id,
                    unit.id,
                    period,
                    chosen.kind,
                    [chosen.text],
                    self._clock(),
                    in_review=True,
                )
            review = reflection.review(turn.session, unit, period)
        elif action in ("add", "添加", "加") and len(words) == 3:
            kinds = {
                "不足": reflection.SHORTCOMING,
                "打算": reflection.PLAN,
                "计划": reflection.PLAN,
            }
            kind = kinds.get(words[1])
            texts = reflection.split_points(words[2])
            if kind is None or not texts:
                return [Reply(turn.t("closing_help"))]
            repo.add_reflections(
                turn.session,
                turn.member.id,
                unit.id,
                period,
                kind,
                texts,
                self._clock(),
                in_review=True,
            )
            review = reflection.review(turn.session, unit, period)
        elif action:
            return [Reply(turn.t("closing_help"))]
        lines = [turn.t("closing_header", unit=unit.name)]
        for kind, title in (
            (reflection.SHORTCOMING, "closing_shortcomings"),
            (reflection.PLAN, "closing_plans"),
        ):
            lines.append(turn.t(title))
            mine = [p for p in review.own if p.kind == kind]
            lines.extend(f"{p.number}. {p.text}" for p in mine)
            if not mine:
                lines.append(turn.t("closing_none"))
            for theme, points in review.themes(kind):  # the units' points, to pick from
                lines.append(turn.t("closing_material", theme=theme))
                lines.extend(f"{p.number}. {p.text}（{'、'.join(p.units)}）" for p in points)
        lines.append(turn.t("closing_help"))
        return [Reply("\n".join(lines))]

    def _language(self, turn: Turn, argument: str) -> list[Reply]:
        assert turn.member is not None
        wanted = interview.normalise_word(argument)
        choice = {"zh": "zh", "中文": "zh", "cn": "zh", "en": "en", "english": "en"}.get(wanted)
        if choice is None:
            return [Reply(turn.t("lang_prompt"))]
        repo.set_locale(turn.session, turn.member.id, choice)
        turn.locale = choice
        turn.menu_changed = True
        return [Reply(turn.t("lang_set"))]

    # -- reporting ----------------------------------------------------------------------

    def _context(self, turn: Turn, questionnaire_id: str | None = None) -> Context:
        questionnaire = self._questionnaires.get(questionnaire_id or self._default)
        if questionnaire is None:
            questionnaire = self._questionnaires[self._default]
        now = turn.incoming.at
        return Context(
            questionnaire=questionnaire,
            now=now,
            today=now.astimezone(self._zone).date(),
            locale=turn.locale,
            zone=self._zone,
        )

    def _interview(self, turn: Turn, state: repo.DialogState) -> tuple[Context, InterviewState]:
        current = InterviewState.from_json(state.data)
        return self._context(turn, current.questionnaire), current

    def _start_report(
        self, turn: Turn, text: str = "", found: Extraction | None = None
    ) -> list[Reply]:
        """Start a report; with the report as a message (/report TEXT), prefilled from it."""
        assert turn.member is not None
        if turn.state is not None and turn.state.kind == KIND_INTERVIEW:
            return [Reply(turn.t("busy_reporting")), *self._resume(turn)]
        units = repo.reporting_units(turn.session, turn.member.id)
        if not units:
            return [Reply(turn.t("no_unit"))]
        ctx = self._context(turn)
        if found is None and clean_text(text):
            found = interview.read(ctx, text)
        step = interview.start(ctx, units, found)
        if step.state is None:  # nothing to start (a date still ahead): nothing to keep
            return list(step.replies)
        return self._apply(turn, ctx, step)

    def _apply(self, turn: Turn, ctx: Context, step: Step) -> list[Reply]:
        assert turn.member is not None
        replies = list(step.replies)
        if step.draft is not None:  # "已保存" first, then what comes next (another activity)
            replies.insert(0, self._store(turn, ctx, step.draft))
        if step.state is None and step.discarded is not None:
            kept = {"interview": step.discarded.to_json(), "at": self._clock().isoformat()}
            turn.save(KIND_DISCARDED, kept)
        elif step.state is None:
            repo.clear_state(turn.session, turn.state)
        else:
            turn.save(KIND_INTERVIEW, step.state.to_json())
        return replies

    def _store(self, turn: Turn, ctx: Context, draft: interview.Draft) -> Reply:
        assert turn.member is not None
        session = turn.session
        q = ctx.questionnaire
        # Looked up every time: an id remembered from a transaction that was rolled back
        # afterwards would point at nothing.
        questionnaire_id = repo.questionnaire_row(
            session, q.id, q.version, q.title, lambda: q.model_dump(mode="json")
        )
        existing: Entry | None = None
        if draft.entry_id is not None:
            existing = repo.live_entry(session, draft.entry_id)
            if existing is None or existing.member_id != turn.member.id:
                return Reply(turn.t("entry_not_found", id=draft.entry_id))
        entry = repo.write_entry(
            session,
            existing,
            member_id=turn.member.id,
            editor_id=turn.member.id,
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
            now=self._clock(),
        )
        if existing is not None:
            saved = turn.t("saved_edit", id=entry.id, revision=entry.revision)
            note = schedule_chat.after_edit(
                session, entry, turn.member, self._clock(), turn.incoming.platform
            )
            return Reply(saved if note is None else f"{saved}\n{note}")
        saved = turn.t("saved", id=entry.id)
        period = period_of(draft.start_date)
        if period != period_of(ctx.today):  # a backfill: say where /mine shows it
            span = Span("half", period.year, period.half)
            note = turn.t("saved_other_period", period=span.label(turn.locale), span=span.key)
            saved = f"{saved}\n{note}"
        return Reply(saved)

    def _restore(self, turn: Turn) -> list[Reply]:
        """恢复 or /back after dropping a report: take it up again, the same day only."""
        state = turn.state
        if state is not None and state.kind == KIND_INTERVIEW:
            return [Reply(turn.t("busy_reporting")), *self._resume(turn)]
        if state is None or state.kind != KIND_DISCARDED:
            return [Reply(turn.t("nothing_to_restore"))]
        dropped = datetime.fromisoformat(state.data["at"]).astimezone(self._zone).date()
        if dropped != self._clock().astimezone(self._zone).date():
            repo.clear_state(turn.session, state)
            return [Reply(turn.t("restore_expired"))]
        current = InterviewState.from_json(state.data["interview"])
        ctx = self._context(turn, current.questionnaire)
        return self._apply(turn, ctx, interview.restore(ctx, current))

    def _mine(self, turn: Turn, argument: str = "") -> Reply:
        """/mine [period]: this half-year's entries, or those of the period asked for."""
        assert turn.member is not None
        ctx = self._context(turn)
        try:
            span = parse_span(argument, ctx.today)
        except ValueError:
            return Reply(turn.t("mine_bad_period", period=" ".join(argument.split())[:30]))
        everything = repo.entries_of_member(turn.session, turn.member.id, None)
        entries = [e for e in everything if span.contains(e.start_date)]
        label = span.label(turn.locale)
        if entries:
            lines = [turn.t("mine_header", period=label, count=len(entries))]
        else:
            lines = [turn.t("mine_empty", period=label)]
        group = ""
        for entry in entries:
            if span.kind == "all" and entry.period != group:  # one heading per half-year
                group = entry.period
                half = parse_period(group)
                name = Span("half", half.year, half.half).label(turn.locale)
                lines.append(turn.t("mine_group", period=name))
            lines.append(entry_line(entry))
        if len(everything) > len(entries):
            lines.append(turn.t("mine_other", count=len(everything) - len(entries)))
        return Reply("\n".join(lines))

    def _edit_or_delete(self, turn: Turn, command: Command) -> list[Reply]:
        assert turn.member is not None
        number = parse_id(command.argument)
        if number is None:
            return [Reply(turn.t("entry_number_missing", command="/" + command.name))]
        entry = repo.live_entry(turn.session, number)
        deletable = command.name == "delete" and self._may_delete(turn, entry)
        if entry is None or (entry.member_id != turn.member.id and not deletable):
            return [Reply(turn.t("entry_not_found", id=number))]
        if command.name == "delete":
            turn.save(KIND_DELETE, {"entry_id": entry.id})
            return [_yes_no(turn, turn.t("delete_confirm", id=entry.id, title=entry.title))]
        units = repo.reporting_units(turn.session, turn.member.id)
        if entry.unit_id not in dict(units):
            units.append((entry.unit_id, entry.unit.name))
        ctx = self._context(turn)
        step = interview.start_edit(ctx, units, entry.id, entry.unit_id, dict(entry.answers))
        return self._apply(turn, ctx, step)

    @staticmethod
    def _may_delete(turn: Turn, entry: Entry | None) -> bool:
        """Its reporter may delete an entry, and an admin of its unit (e.g. a wrong import)."""
        assert turn.member is not None
        if entry is None:
            return False
        if entry.member_id == turn.member.id:
            return True
        return schedule_chat.admin_scope(turn.session, turn.member.id).contains(entry.unit.path)

    def _answer_delete(self, turn: Turn, state: repo.DialogState) -> list[Reply]:
        assert turn.member is not None
        entry_id = int(state.data["entry_id"])
        word = interview.normalise_word(turn.incoming.text)
        if turn.incoming.text == "yes" or word in interview.YES_WORDS:
            repo.clear_state(turn.session, state)
            entry = repo.live_entry(turn.session, entry_id)
            if entry is None or not self._may_delete(turn, entry):
                return [Reply(turn.t("entry_not_found", id=entry_id))]
            repo.mark_deleted(turn.session, entry, turn.member.id, self._clock())
            return [Reply(turn.t("deleted", id=entry_id))]
        if turn.incoming.text == "no" or word in interview.NO_WORDS:
            repo.clear_state(turn.session, state)
            return [Reply(turn.t("delete_kept", id=entry_id))]
        return [_yes_no(turn, turn.t("bad_yes_no"))]

    # -- joining ------------------------------------------------------------------------

    def _stranger(self, turn: Turn, command: Command | None) -> list[Reply]:
        state = turn.state
        if command is not None and command.name in ("start", "join") and command.argument:
            return self._begin_join(turn, command.argument)
        if command is not None and command.name == "cancel" and state is not None:
            repo.clear_state(turn.session, state)
            return [Reply(turn.t("join_cancelled"))]
        if state is not None and state.kind == KIND_JOIN and command is None:
            if interview.control_word(turn.incoming.text) in interview.CANCEL_WORDS:
                repo.clear_state(turn.session, state)
                return [Reply(turn.t("join_cancelled"))]
            return self._finish_join(turn, state)
        code = interview.normalise_word(turn.incoming.text).upper()
        if command is None and INVITE_CODE.match(code):
            return self._begin_join(turn, code)
        return [Reply(turn.t("not_registered"))]

    def _check_invite(self, turn: Turn, code: str, *, lock: bool) -> tuple[Any, Reply | None]:
        cleaned = interview.normalise_word(code).upper()
        invite = repo.invite_by_code(turn.session, cleaned, lock=lock)
        if invite is None or invite.revoked:
            return None, Reply(turn.t("invite_invalid", code=cleaned[:20]))
        if invite.expires_at is not None and invite.expires_at <= turn.incoming.at:
            return None, Reply(turn.t("invite_expired", code=cleaned))
        if invite.max_uses is not None and invite.uses >= invite.max_uses:
            return None, Reply(turn.t("invite_used_up", code=cleaned))
        return invite, None

    def _begin_join(self, turn: Turn, code: str) -> list[Reply]:
        invite, problem = self._check_invite(turn, code, lock=False)
        if problem is not None:
            return [problem]
        turn.save(KIND_JOIN, {"code": invite.code})
        role = turn.t(f"role_{invite.role.value}")
        return [Reply(turn.t("join_ask_name", unit=invite.unit.name, role=role))]

    def _finish_join(self, turn: Turn, state: repo.DialogState) -> list[Reply]:
        name = clean_text(turn.incoming.text)
        if (
            turn.incoming.kind is not Kind.TEXT
            or not name
            or len(name) > NAME_MAX
            or not any(ch.isalpha() for ch in name)
        ):
            return [Reply(turn.t("join_bad_name"))]
        invite, problem = self._check_invite(turn, str(state.data["code"]), lock=True)
        if problem is not None:
            repo.clear_state(turn.session, state)
            return [problem]
        member = Member(name=name, locale=turn.locale)
        turn.session.add(member)
        repo.add_identity(turn.session, member, turn.incoming.platform, turn.incoming.user_id)
        turn.session.flush()
        repo.grant_role(turn.session, member.id, invite.unit_id, invite.role)
        invite.uses += 1
        repo.clear_state(turn.session, state)
        role = turn.t(f"role_{invite.role.value}")
        log.info("member %s joined unit %s as %s", member.id, invite.unit.id, invite.role.value)
        turn.member = repo.Person(member.id, member.name, member.locale)
        turn.menu_changed = True
        return [Reply(turn.t("join_done", name=name, unit=invite.unit.name, role=role))]

    def _join_more(self, turn: Turn, code: str) -> list[Reply]:
        assert turn.member is not None
        invite, problem = self._check_invite(turn, code, lock=True)
        if problem is not None:
            return [problem]
        role = turn.t(f"role_{invite.role.value}")
        if not repo.grant_role(turn.session, turn.member.id, invite.unit_id, invite.role):
            return [Reply(turn.t("join_already", unit=invite.unit.name, role=role))]
        invite.uses += 1
        turn.menu_changed = True
        return [Reply(turn.t("join_role_added", unit=invite.unit.name, role=role))]


def command_menu(session: Session, member_id: int, locale: str) -> tuple[tuple[str, str], ...]:
    """The commands a member can use, with their descriptions, for a chat's menu."""
    names = list(coordination.STAFF_COMMANDS)
    names[-1:-1] = ["reflect"]
    if coordination.is_leader(session, member_id):
        names[-1:-1] = (*coordination.LEADER_COMMANDS, "summary", "closing", "return")
    if schedule_chat.is_admin(session, member_id):
        names[-1:-1] = ["deadline"]
    return tuple((name, msg(locale, f"cmd_{name}")) for name in names)


def default_menus() -> dict[str, tuple[tuple[str, str], ...]]:
    """Command menus for everyone: private chats and groups, in Chinese and English.

    Keys are 'private:' / 'group:' followed by a language code ('' for the default).
    """
    menus: dict[str, tuple[tuple[str, str], ...]] = {}
    for language, locale in (("", "zh"), ("en", "en")):
        staff = (*coordination.STAFF_COMMANDS[:-1], "reflect", "help")
        menus[f"private:{language}"] = tuple((n, msg(locale, f"cmd_{n}")) for n in staff)
        group = (*coordination.LEADER_COMMANDS, "summary", "help")
        menus[f"group:{language}"] = tuple((n, msg(locale, f"cmd_{n}")) for n in group)
    return menus


def _locale(value: str | None) -> str:
    return "en" if value and value.lower().startswith("en") else "zh"


def _yes_no(turn: Turn, question: str) -> Reply:
    return Reply(question, (Choice(turn.t("yes"), "yes"), Choice(turn.t("no"), "no")))

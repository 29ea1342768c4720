"""What every dialog step is given (`Turn`, `Kit`) and what it gives back (`Next`)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core import scope as scopes
from bot.core.dialogs.state import Dialog, dump
from bot.core.interview import Context
from bot.core.messages import text as msg
from bot.core.questionnaire import Questionnaire
from bot.core.types import Choice, Incoming, Reply
from bot.reminders.deadlines import DayRules
from bot.summary.service import SummaryKit
from storage import members


@dataclass(frozen=True)
class Kit:
    """What the conversation was built with: questionnaires, clock, zone, calendar."""

    questionnaires: Mapping[str, Questionnaire]
    default_questionnaire: str
    zone: ZoneInfo
    clock: Callable[[], datetime]
    summaries: SummaryKit | None
    rules: DayRules  # the working-day calendar, for deadlines, /todo and /status


class Keep(enum.Enum):
    """The dialog state stays as it is."""

    KEEP = "keep"


KEEP: Literal[Keep.KEEP] = Keep.KEEP


@dataclass(frozen=True)
class Next:
    """What a step did: the replies, and the state that follows (None ends the dialog)."""

    replies: list[Reply]
    state: Dialog | Literal[Keep.KEEP] | None = KEEP


@dataclass
class Turn:
    """What the handling of one message needs at hand."""

    session: Session
    incoming: Incoming
    member: members.Person | None
    row: members.DialogState | None  # the stored row, whatever it holds
    locale: str
    kit: Kit
    dialog: Dialog | None = None  # what the row holds, typed
    menu_changed: bool = False
    # in a batch of messages: the people read together, the state updates held back
    batch: members.StateBatch | None = field(default=None, repr=False)
    _scope: scopes.Scope | None = field(default=None, repr=False)

    def t(self, key: str, **params: Any) -> str:
        """Translate a catalogue key into the person's language."""
        return msg(self.locale, key, **params)

    @property
    def member_id(self) -> int:
        """The registered person's id (only asked for once they are known)."""
        assert self.member is not None
        return self.member.id

    def scope(self) -> scopes.Scope:
        """The units this person leads (looked up once per message)."""
        if self._scope is None:
            self._scope = scopes.leader_scope(self.session, self.member_id)
        return self._scope

    def is_admin(self) -> bool:
        """Whether this person administers any unit."""
        return scopes.is_admin(self.session, self.member_id)

    def context(self, questionnaire_id: str | None = None) -> Context:
        """The interview's context: the questionnaire, the message's time, the language."""
        kit = self.kit
        questionnaire = kit.questionnaires.get(questionnaire_id or kit.default_questionnaire)
        if questionnaire is None:
            questionnaire = kit.questionnaires[kit.default_questionnaire]
        now = self.incoming.at
        return Context(
            questionnaire=questionnaire,
            now=now,
            today=now.astimezone(kit.zone).date(),
            locale=self.locale,
            zone=kit.zone,
        )

    def apply(self, step: Next) -> list[Reply]:
        """Store the state a step left (one statement at most) and return its replies."""
        if step.state is None:
            members.clear_state(self.session, self.row, self.batch)
        elif step.state is not KEEP:
            kind, data = dump(step.state)
            members.save_state(
                self.session,
                self.row,
                member_id=self.member.id if self.member is not None else None,
                platform=self.incoming.platform,
                external_id=self.incoming.user_id,
                kind=kind,
                data=data,
                batch=self.batch,
            )
        return step.replies


def yes_no(turn: Turn, question: str) -> Reply:
    """A question answered with yes or no buttons."""
    return Reply(question, (Choice(turn.t("yes"), "yes"), Choice(turn.t("no"), "no")))


def locale_of(value: str | None) -> str:
    """The language to speak to someone not registered: their platform's, zh or en."""
    return "en" if value and value.lower().startswith("en") else "zh"

"""The composition root: settings in, a wired Huibao out. Nothing connects before `build`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from bot.core.holidays import load_calendar
from bot.core.questionnaire import Questionnaire, load_questionnaires
from bot.reminders.deadlines import DayRules
from bot.settings import Settings
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from storage.db import create_db_engine, make_sessionmaker, upgrade

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a command needs, built once."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    questionnaires: dict[str, Questionnaire]
    conversation: Conversation
    clock: Callable[[], datetime]
    summaries: SummaryKit
    # The working-day calendar (public holidays, 调休, the office's own days) and whether a
    # deadline on a day off moves to the next working day.
    rules: DayRules = field(default_factory=DayRules)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def build(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> App:
    """Connect, migrate (unless told not to), load questionnaires and wire the core.

    A holiday file that cannot be used (HUIBAO_REMINDERS__HOLIDAYS_FILE) raises
    bot.core.holidays.HolidaysError naming its file and line, before anything connects.
    """
    rules = DayRules(
        load_calendar(settings.reminders.holidays_file), settings.reminders.move_deadlines
    )
    engine = create_db_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    directory = settings.questionnaires_dir or templates_dir() / "questionnaires"
    questionnaires = load_questionnaires(directory)
    sessions = make_sessionmaker(engine)
    summaries = SummaryKit.load(settings.summary_templates_dir or templates_dir() / "summary")
    conversation = Conversation(
        sessions,
        questionnaires,
        settings.default_questionnaire,
        settings.zone,
        clock,
        summaries=summaries,
        rules=rules,
    )
    return App(settings, engine, sessions, questionnaires, conversation, clock, summaries, rules)

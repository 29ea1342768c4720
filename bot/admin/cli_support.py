"""What every `huibao` command shares: the settings, the clock, the wired App, a unit by key.

Kept light on purpose: it imports only click at the top, so that `huibao --help` and the
commands that never open the database start at once. The settings, the database and the
core are imported by the functions that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.app import App
    from bot.settings import Settings
    from storage.models import Unit


def load_cli_settings() -> Settings:
    """The settings, and the logging they ask for (secrets redacted), or a clear error."""
    from bot.logs import secrets_of, setup_logging
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    setup_logging(settings.log_level, settings.log_format, secrets=secrets_of(settings))
    return settings


def cli_clock() -> Callable[[], datetime]:
    """The clock a caller passed as the click context's object (`main(obj=clock)`, as
    tests do), else the real one."""
    context = click.get_current_context(silent=True)
    given = context.obj if context is not None else None
    return given if callable(given) else lambda: datetime.now(UTC)


@contextmanager
def open_app(settings: Settings | None = None) -> Iterator[App]:
    """The wired App for one command (closed after it), or one clear error line."""
    from sqlalchemy.exc import DBAPIError

    from bot.app import build
    from bot.core.holidays import HolidaysError
    from bot.core.questionnaire import QuestionnaireError
    from bot.summary.templates import TemplateError

    settings = settings or load_cli_settings()
    try:
        app = build(settings, clock=cli_clock())
    except QuestionnaireError as exc:
        raise click.ClickException(f"questionnaire error: {exc}") from exc
    except HolidaysError as exc:
        raise click.ClickException(
            f"holiday calendar error (HUIBAO_REMINDERS__HOLIDAYS_FILE): {exc}"
        ) from None
    except TemplateError as exc:
        raise click.ClickException(
            f"summary template error (HUIBAO_SUMMARY_TEMPLATES_DIR): {exc}"
        ) from exc
    except DBAPIError as exc:
        raise click.ClickException(
            f"cannot open the database (HUIBAO_DATABASE_URL={safe_url(settings)}): {exc.orig}"
        ) from exc
    try:
        yield app
    finally:
        app.close()


def safe_url(settings: Settings) -> str:
    """The database URL with its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def find_unit(session: Session, key: str) -> Unit:
    """The --unit option as a unit, or a clear error."""
    from storage import members

    unit = members.unit_by_key(session, key)
    if unit is None:
        raise click.ClickException(f"no unit {key!r}: give its code or its unique name")
    return unit

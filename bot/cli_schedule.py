"""`huibao deadline`, `huibao status` and `huibao remind`: deadlines and reminders on the CLI."""

from __future__ import annotations

import click

from bot import deadlines, reminders
from bot.cli import _app, _find_unit
from bot.coordination import Scope, status_report
from bot.deadlines import DeadlineError
from bot.schedule_chat import deadline_list, ladder_text
from bot.settings import Settings
from bot.types import replies_from_json
from storage import schedule
from storage.db import transaction

LANGUAGE = click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Language of the listing.",
)


def _problem(problem: DeadlineError, option: str) -> click.BadParameter:
    return click.BadParameter(problem.text("en"), param_hint=option)


def _platforms(settings: Settings) -> list[str]:
    configured = [
        name
        for name, on in (
            ("telegram", settings.telegram.token is not None),
            ("wecom", settings.wecom.corp_id is not None or settings.wecom_bot.configured),
        )
        if on
    ]
    return configured or list(reminders.PREFERRED_PLATFORMS)


@click.group()
def deadline() -> None:
    """Reporting deadlines: set, list, remove.

    A deadline set on a unit applies to the units below it, unless one of them has its
    own for the same requirement and period. Without any, the defaults apply: one entry
    per staff member per month, due the 5th of the next month at 18:00; the half-year
    reflection (staff and coordinators), due 25 June / 25 December at 18:00.
    """


@deadline.command("set")
@click.option("--unit", "unit_key", required=True, help="Unit code or unique name.")
@click.option(
    "--period",
    required=True,
    help="2026H1 / 2026H2 (half-year, also 2026年上半年) or 2026-06 (a month, also 2026年6月).",
)
@click.option(
    "--requires",
    "requirement",
    required=True,
    help="monthly-entry: one entry in the month (needs a month period); "
    "entry: one entry in the period (month or half-year); "
    "reflection: the half-year reflection answered (needs a half-year period).",
)
@click.option(
    "--due",
    required=True,
    help='Due time in HUIBAO_TIMEZONE, "2026-06-25 18:00" (a date alone means 18:00).',
)
@click.option(
    "--ladder",
    default=None,
    help="Reminder steps before the deadline, e.g. 7d,3d,1d,2h (d days, h hours, m minutes); "
    "default: HUIBAO_REMINDERS__LADDER.",
)
@click.option(
    "--weekends",
    type=click.Choice(["skip", "send"]),
    default=None,
    help="Hold reminders over Saturday and Sunday, or not "
    "(default: HUIBAO_REMINDERS__SKIP_WEEKENDS).",
)
def deadline_set(
    unit_key: str,
    period: str,
    requirement: str,
    due: str,
    ladder: str | None,
    weekends: str | None,
) -> None:
    """Set a deadline for a unit and the units below it (replacing its own earlier one)."""
    try:
        span = deadlines.parse_span(period)
    except DeadlineError as problem:
        raise _problem(problem, "--period") from problem
    try:
        required = deadlines.parse_requirement(requirement)
        deadlines.check_fits(required, span)
    except DeadlineError as problem:
        raise _problem(problem, "--requires") from problem
    try:
        steps = deadlines.read_ladder(ladder) if ladder is not None else None
    except DeadlineError as problem:
        raise _problem(problem, "--ladder") from problem
    with _app() as app:
        zone = app.settings.zone
        try:
            due_at = deadlines.parse_due(due, zone)
        except DeadlineError as problem:
            raise _problem(problem, "--due") from problem
        with transaction(app.sessions) as session:
            unit = _find_unit(session, unit_key)
            try:
                result = deadlines.set_deadline(
                    session,
                    unit_id=unit.id,
                    span=span,
                    requirement=required,
                    due_at=due_at,
                    now=app.clock(),
                    ladder=steps,
                    skip_weekends=None if weekends is None else weekends == "skip",
                )
            except DeadlineError as problem:
                raise _problem(problem, "--due") from problem
            unit_name = unit.name
        local = due_at.astimezone(zone)
        click.echo(
            f"deadline #{result.row_id}: {unit_name} {required.value} {span.key} "
            f"due {local:%Y-%m-%d %H:%M} ({app.settings.timezone}), "
            f"reminders: {ladder_text(steps, 'en')}"
        )
        if result.replaced is not None:
            click.echo(f"(replaces deadline #{result.replaced})", err=True)


@deadline.command("list")
@click.option("--unit", "unit_key", default=None, help="Only deadlines on this unit's subtree.")
@click.option("--all", "show_all", is_flag=True, help="Also past and removed deadlines.")
def deadline_list_command(unit_key: str | None, show_all: bool) -> None:
    """Print the deadlines set, and the default rules in force now."""
    with _app() as app, transaction(app.sessions) as session:
        zone, now = app.settings.zone, app.clock()
        path = _find_unit(session, unit_key).path if unit_key is not None else None
        if not show_all:
            click.echo(deadline_list(session, (path,) if path else (), now, zone, "en"))
            return
        for row in schedule.list_deadlines(session, unit_path=path):
            local = row.due_at.astimezone(zone)
            removed = "" if row.removed_at is None else "  [removed]"
            click.echo(
                f"#{row.id} {row.unit_name} {row.requirement.value} {row.period} "
                f"due {local:%Y-%m-%d %H:%M}, reminders: {ladder_text(row.ladder, 'en')}{removed}"
            )


@deadline.command("remove")
@click.argument("deadline_id", type=int)
def deadline_remove(deadline_id: int) -> None:
    """Remove a deadline by its number (kept for the record); its units follow the wider rule."""
    with _app() as app, transaction(app.sessions) as session:
        if not schedule.remove_deadline(session, deadline_id, now=app.clock(), member_id=None):
            raise click.ClickException(
                f"no deadline #{deadline_id} in force: see `huibao deadline list --all`"
            )
    click.echo(f"deadline #{deadline_id} removed")


@click.command()
@click.option("--unit", "unit_key", default=None, help="Unit code or name (default: all units).")
@LANGUAGE
def status(unit_key: str | None, lang: str) -> None:
    """Per unit: this month's reporting, who has met each current deadline and who has not,
    and messages that did not reach people."""
    with _app() as app, transaction(app.sessions) as session:
        scope = Scope((_find_unit(session, unit_key).path,) if unit_key else ("/",))
        click.echo(status_report(session, scope, app.clock(), app.settings.zone, lang))
        counts = schedule.counts(session)
        if counts:
            shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            click.echo(f"outbox (all units): {shown}", err=True)


@click.group()
def remind() -> None:
    """Reminders."""


@remind.command("preview")
@click.option(
    "--at",
    "at_text",
    default=None,
    help='The moment, in HUIBAO_TIMEZONE: "2026-06-24 10:00" (default: now).',
)
@click.option("--text", "show_text", is_flag=True, help="Print each message in full.")
def remind_preview(at_text: str | None, show_text: bool) -> None:
    """List the reminders and digests that would go out at a moment, and why; send nothing."""
    with _app() as app:
        settings, zone = app.settings, app.settings.zone
        if at_text is None:
            at = app.clock()
        else:
            try:
                at = deadlines.parse_due(at_text, zone)
            except DeadlineError as problem:
                raise click.BadParameter(
                    f"not a time: {at_text!r} (write 2026-06-24 10:00)", param_hint="--at"
                ) from problem
        local = at.astimezone(zone)
        with app.sessions() as session:
            planned = reminders.plan(session, at, settings.reminders, zone, _platforms(settings))
            queued = schedule.pending_messages(session, at)
            session.rollback()
        click.echo(f"At {local:%Y-%m-%d %H:%M} ({settings.timezone}):")
        window = reminders.Window.of(settings.reminders, zone)
        held = ""
        if not window.allows(at, skip_weekends=False):
            after = window.next_allowed(at, skip_weekends=False).astimezone(zone)
            click.echo(f"  quiet hours: nothing goes out before {after:%Y-%m-%d %H:%M}")
            held = f", to go out from {after:%Y-%m-%d %H:%M}"
        if not settings.reminders.enabled:
            click.echo("  reminders are switched off (HUIBAO_REMINDERS__ENABLED=false)")
        click.echo(f"{len(planned)} new message(s) would be queued{held}:")
        for item in planned:
            m = item.message
            click.echo(f"  {m.kind} to {item.name} ({m.platform} {m.address}): {item.reason}")
            for reply in replies_from_json(m.payload) if show_text else []:
                for line in reply.text.splitlines():
                    click.echo(f"      {line}")
                for choice in reply.choices:
                    click.echo(f"      [{choice.label}] ({choice.value})")
        if queued:
            click.echo(f"{len(queued)} message(s) already queued and due by then:")
            for key, platform, name, not_before in queued:
                when = not_before.astimezone(zone)
                click.echo(f"  {key} to {name} ({platform}), from {when:%m-%d %H:%M}")
        if not planned and not queued:
            click.echo("nothing would be sent")

"""`huibao deadline`, `huibao status`, `huibao remind`, `huibao feedback` and `huibao burden`:
deadlines, reminders and what the 基层减负 rules ask for, on the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from bot.admin.cli_support import find_unit, open_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.app import App
    from bot.core.types import Reply
    from bot.reminders.deadlines import DeadlineError
    from bot.settings import Settings
    from storage.models import Member

# As in bot.admin.cli: only click here; each command imports the core and the database it uses.

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
    from bot.reminders import ladder

    configured = [
        name
        for name, on in (
            ("telegram", settings.telegram.token is not None),
            ("wecom", settings.wecom.corp_id is not None or settings.wecom_bot.configured),
        )
        if on
    ]
    # Without a chat platform, `huibao run` opens the shell and reminds shell accounts there.
    return configured or [*ladder.PREFERRED_PLATFORMS, "shell"]


def calendar_warning(app: App, now: datetime) -> str | None:
    """The years near now (and the current deadlines') whose public holidays nobody knows."""
    from bot.core.holidays import describe_unknown
    from bot.reminders import ladder

    zone = app.settings.zone
    today = now.astimezone(zone).date()
    days = [today + timedelta(days=n) for n in range(ladder.HORIZON.days + 1)]
    years = app.rules.calendar.unknown_years(days)
    return describe_unknown(app.rules.calendar, years) if years else None


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
    help='Due time in HUIBAO_TIMEZONE, "2026-06-25 18:00" (a date alone means 18:00), or '
    'working days after the period ends: "5 working days" / "5个工作日" / "5wd" (18:00 on the '
    "fifth working day; public holidays off, make-up Saturdays worked).",
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
@click.option(
    "--on-holiday",
    "on_holiday",
    type=click.Choice(["move", "keep"]),
    default=None,
    help="A deadline that falls on a day off (a public holiday, a weekend not worked): move it "
    "to the next working day, same time, or keep it (default: HUIBAO_REMINDERS__MOVE_DEADLINES).",
)
def deadline_set(
    unit_key: str,
    period: str,
    requirement: str,
    due: str,
    ladder: str | None,
    weekends: str | None,
    on_holiday: str | None,
) -> None:
    """Set a deadline for a unit and the units below it (replacing its own earlier one)."""
    from bot.core.holidays import describe_unknown
    from bot.core.oversight import ladder_text
    from bot.reminders import deadlines
    from bot.reminders.deadlines import DeadlineError
    from storage.db import transaction

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
    with open_app() as app:
        zone = app.settings.zone
        try:
            due_at = deadlines.parse_due_for(due, span, zone, app.rules.calendar)
        except DeadlineError as problem:
            raise _problem(problem, "--due") from problem
        move = None if on_holiday is None else on_holiday == "move"
        with transaction(app.sessions) as session:
            unit = find_unit(session, unit_key)
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
                    move_off_days=move,
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
        moved = app.rules.roll(due_at, zone, move)
        if moved != due_at:
            day = due_at.astimezone(zone).date()
            name = app.rules.calendar.holiday_name(day) or "a day off"
            click.echo(f"{local:%Y-%m-%d} is {name}: due {moved.astimezone(zone):%Y-%m-%d %H:%M}")
        elif app.rules.calendar.unknown_years([local.date()]):
            click.echo(describe_unknown(app.rules.calendar, [local.year]), err=True)
        if result.replaced is not None:
            click.echo(f"(replaces deadline #{result.replaced})", err=True)


@deadline.command("list")
@click.option("--unit", "unit_key", default=None, help="Only deadlines on this unit's subtree.")
@click.option("--all", "show_all", is_flag=True, help="Also past and removed deadlines.")
def deadline_list_command(unit_key: str | None, show_all: bool) -> None:
    """Print the deadlines set, and the default rules in force now."""
    from bot.core.oversight import deadline_list, ladder_text
    from storage import deadlines as deadline_store
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        zone, now = app.settings.zone, app.clock()
        path = find_unit(session, unit_key).path if unit_key is not None else None
        if not show_all:
            within = (path,) if path else ()
            click.echo(deadline_list(session, within, now, zone, "en", app.rules))
            return
        for row in deadline_store.list_deadlines(session, unit_path=path):
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
    from storage import deadlines as deadline_store
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        if not deadline_store.remove_deadline(
            session, deadline_id, now=app.clock(), member_id=None
        ):
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
    from bot.core.coordination import status_report
    from bot.core.scope import Scope
    from storage import outbox
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        scope = Scope((find_unit(session, unit_key).path,) if unit_key else ("/",))
        now = app.clock()
        click.echo(status_report(session, scope, now, app.settings.zone, lang, app.rules))
        warning = calendar_warning(app, now)
        if warning is not None:
            click.echo(warning)
        counts = outbox.counts(session)
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
    """List the reminders and digests that would go out at a moment, and why; send nothing.

    When nothing would, say why: reminders off, no deadline near, everyone has reported,
    quiet hours, a holiday, reminders muted."""
    from bot.core.types import replies_from_json
    from bot.reminders import deadlines, ladder
    from bot.reminders.deadlines import DeadlineError
    from storage import outbox

    with open_app() as app:
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
        platforms = _platforms(settings)
        with app.sessions() as session:
            planned = ladder.plan(session, at, settings.reminders, zone, platforms, app.rules)
            queued = outbox.pending_messages(session, at)
            why = [] if planned or queued else _why_nothing(session, app, at)
            session.rollback()
        click.echo(f"At {local:%Y-%m-%d %H:%M} ({settings.timezone}):")
        window = ladder.Window.of(settings.reminders, zone, app.rules.calendar)
        held = ""
        if not window.allows(at, skip_weekends=False):
            after = window.next_allowed(at, skip_weekends=False).astimezone(zone)
            cause = ladder.held_by(window, at, skip_weekends=False)
            click.echo(f"  {cause}: nothing goes out before {after:%Y-%m-%d %H:%M}")
            held = f", to go out from {after:%Y-%m-%d %H:%M}"
        if not settings.reminders.enabled:
            click.echo("  reminders are switched off (HUIBAO_REMINDERS__ENABLED=false)")
        warning = calendar_warning(app, at)
        if warning is not None:
            click.echo(f"  {warning}")
        click.echo(f"{len(planned)} new message(s) would be queued{held}:")
        for item in planned:
            m = item.message
            click.echo(f"  {m.kind} to {item.name} ({m.platform} {m.address}): {item.reason}")
            for reply in replies_from_json(m.payload) if show_text else []:
                _echo_reply(reply)
        if queued:
            click.echo(f"{len(queued)} message(s) already queued and due by then:")
            for key, platform, name, not_before in queued:
                when = not_before.astimezone(zone)
                click.echo(f"  {key} to {name} ({platform}), from {when:%m-%d %H:%M}")
        if not planned and not queued:
            click.echo("nothing would be sent:")
            for line in why:
                click.echo(f"  {line}")


def _echo_reply(reply: Reply) -> None:
    for line in reply.text.splitlines():
        click.echo(f"      {line}")
    for choice in reply.choices:
        click.echo(f"      [{choice.label}] ({choice.value})")


def _why_nothing(session: Session, app: App, at: datetime) -> list[str]:
    """Why no reminder would go out at a moment, deadline by deadline."""
    from bot.reminders import deadlines, ladder
    from storage import deadlines as deadline_store
    from storage import members

    settings, zone = app.settings.reminders, app.settings.zone
    window = ladder.Window.of(settings, zone, app.rules.calendar)
    found: list[str] = []
    if not settings.enabled:
        found.append("reminders are switched off (HUIBAO_REMINDERS__ENABLED=false)")
    upcoming = deadlines.upcoming(session, at, zone, ladder.HORIZON, app.rules)
    if not upcoming:
        found.append(f"no deadline in the next {ladder.HORIZON.days} days")
    for deadline in upcoming:
        what = f"{deadline.requirement.value} {deadline.span.key}"
        due = deadline.due_at.astimezone(zone)
        name = f"{deadline.ref} ({what}, due {due:%Y-%m-%d %H:%M})"
        rungs = ladder.ladder_of(deadline, settings)
        skip = settings.skip_weekends if deadline.skip_weekends is None else deadline.skip_weekends
        steps = ladder.rung_times(deadline.due_at, rungs, window, skip_weekends=skip)
        current = ladder.current_rung(deadline.due_at, rungs, window, at, skip_weekends=skip)
        if current is None:
            later = [s for s in steps if s.send_at > at]
            if later:
                first = later[0]
                when = first.send_at.astimezone(zone)
                cause = ""
                if first.send_at != first.planned:
                    cause = (
                        f", moved by {ladder.held_by(window, first.planned, skip_weekends=skip)}"
                    )
                found.append(
                    f"{name}: no step has come yet; the first, "
                    f"{deadlines.format_offset(first.offset, 'en')} before, goes out "
                    f"{when:%Y-%m-%d %H:%M}{cause}"
                )
            else:
                found.append(f"{name}: every step of its ladder falls after the deadline")
            continue
        units = deadline_store.standing(session, ladder.coverage_of(deadline))
        owing = [i for u in units for i, _ in u.missing]
        if not owing:
            found.append(f"{name}: everyone held to it has done it")
            continue
        today = at.astimezone(zone).date()
        muted = members.muted_members(session, deadline.ref, today)
        offset = deadlines.format_offset(current.offset, "en")
        if set(owing) <= set(muted):
            found.append(f"{name}: the {len(muted)} who still owe it switched reminders off")
        else:
            found.append(f"{name}: the step {offset} before was queued already for everyone")
    if window.day_off(at.astimezone(zone).date(), skip_weekends=False):
        day = at.astimezone(zone).date()
        found.append(f"{day:%Y-%m-%d} is a holiday ({app.rules.calendar.holiday_name(day)})")
    return found


# --- feedback --------------------------------------------------------------------------


@click.group()
def feedback() -> None:
    """Suggestions and complaints people sent with /feedback (意见, 投诉).

    Only admins read them here; the chat never shows them to the sender's coordinator.
    """


@feedback.command("list")
@click.option("--since", default=None, help='Only those since a day, "2026-06-01".')
def feedback_list(since: str | None) -> None:
    """Print every piece of feedback: number, when, who (and unit), where forwarded."""
    from bot.reminders import deadlines
    from bot.reminders.deadlines import DeadlineError
    from storage import feedback as feedback_store
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        zone = app.settings.zone
        start = None
        if since is not None:
            try:
                start = deadlines.parse_due(f"{since} 00:00", zone)
            except DeadlineError as problem:
                raise click.BadParameter(f"not a day: {since!r}", param_hint="--since") from problem
        items = feedback_store.listing(session, since=start)
        for item in items:
            when = item.created_at.astimezone(zone)
            click.echo(f"#{item.id} {when:%Y-%m-%d %H:%M} {item.name} ({item.units or '-'}):")
            click.echo(f"    {item.text}")
            if item.forwarded_to is not None and item.forwarded_at is not None:
                sent = item.forwarded_at.astimezone(zone)
                click.echo(f"    forwarded to {item.forwarded_to} on {sent:%Y-%m-%d}")
        click.echo(f"{len(items)} piece(s) of feedback", err=True)


@feedback.command("forward")
@click.argument("number", type=int)
@click.option("--to", "to", required=True, help="The member to pass it to: a name or #id.")
@click.option("--with-name", is_flag=True, help="Say who sent it (only with the sender's consent).")
def feedback_forward(number: int, to: str, with_name: bool) -> None:
    """Pass one piece of feedback to a member to act on; without the sender's name."""
    from bot.core.types import Reply
    from bot.reminders.outbox import queue_for_member
    from storage import feedback as feedback_store
    from storage import members
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        item = feedback_store.get(session, number)
        if item is None:
            raise click.ClickException(f"no feedback #{number}: see `huibao feedback list`")
        member = _find_member(session, to)
        zone, now = app.settings.zone, app.clock()
        when = item.created_at.astimezone(zone)
        sender = members.member_by_id(session, item.member_id)
        header = f"管理员转来一条意见（#{item.id}，{when.month}月{when.day}日）"
        if with_name and sender is not None:
            header += f"，来自{sender.name}"
        reply = Reply(f"{header}：\n{item.text}")
        queued = queue_for_member(
            session,
            member.id,
            key=f"feedback:{item.id}:{member.id}",
            kind="feedback",
            replies=[reply],
            now=now,
        )
        if not queued:
            raise click.ClickException(
                f"{member.name} has no chat account, or #{number} was forwarded to them already"
            )
        feedback_store.mark_forwarded(session, item.id, member.id, now)
    click.echo(f"feedback #{number} forwarded to {member.name}")


def _find_member(session: Session, key: str) -> Member:
    """A member by #id or unique name, or a clear error."""
    from storage import members

    digits = key.lstrip("#")
    if digits.isascii() and digits.isdigit():
        found = members.member_by_id(session, int(digits))
        if found is not None:
            return found
    named = members.members_named(session, key.strip())
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(f"#{m.id}" for m in named)
        raise click.ClickException(f"{len(named)} members are called {key!r}: give one of {ids}")
    raise click.ClickException(f"no member {key!r}: give a name or #id")


# --- burden ----------------------------------------------------------------------------


@click.command()
@click.option("--period", required=True, help="2026H1 / 2026H2, or a month 2026-06.")
@click.option("--csv", "as_csv", is_flag=True, help="Comma-separated, for a spreadsheet.")
def burden(period: str, as_csv: bool) -> None:
    """What the bot asked of each person in a period: the messages it started (reminders,
    digests, entries sent back), the reports asked for and made, the questions per report.

    Listed by unit and name, never by any figure (no ranking of people)."""
    import csv
    import sys

    from bot.admin.burden import measure, months_of
    from bot.reminders import deadlines
    from bot.reminders.deadlines import DeadlineError
    from bot.summary.spreadsheet import csv_text
    from storage.db import transaction

    try:
        span = deadlines.parse_span(period)
    except DeadlineError as problem:
        raise _problem(problem, "--period") from problem
    with open_app() as app, transaction(app.sessions) as session:
        found = measure(session, span, app.settings.zone, app.rules)
    columns = (
        "person",
        "unit",
        "reminders",
        "digests",
        "returns",
        "started",
        "reports asked",
        "reports made",
        "questions/report",
    )
    rows = [
        (
            b.name,
            b.units,
            b.reminders,
            b.digests,
            b.returns,
            b.started,
            b.asked,
            b.reports,
            "-" if b.questions is None else f"{b.questions:g}",
        )
        for b in found
    ]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([csv_text(str(c)) if i < 2 else c for i, c in enumerate(r)] for r in rows)
        return
    months = max(1, len(months_of(span)))
    click.echo(f"Burden {span.key} ({span.first_day} to {span.end_day - timedelta(days=1)}):")
    widths = [
        max(_width(str(x)) for x in (c, *(r[i] for r in rows))) for i, c in enumerate(columns)
    ]
    click.echo("  ".join(_pad(str(c), widths[i]) for i, c in enumerate(columns)))
    for row in rows:
        click.echo("  ".join(_pad(str(c), widths[i]) for i, c in enumerate(row)))
    people = len(found) or 1
    started = sum(b.started for b in found)
    asked = sum(b.asked for b in found)
    made = sum(b.reports for b in found)
    per_month = started / people / months
    click.echo(
        f"{len(found)} people; the bot started {started} message(s) "
        f"({per_month:.1f} per person per month); {asked} report(s) asked for, {made} made"
    )


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))

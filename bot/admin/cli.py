"""The `huibao` command line: the main job, the shell, and the admin's tools."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.admin.cli_deadlines import burden, deadline, feedback, remind, status
from bot.admin.cli_support import find_unit, load_cli_settings, open_app

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

# Only click and the light bot.admin.cli_support are imported here: `huibao --help` starts at once.
# Each command imports what it uses (the database, the core, the platforms, the renderers).

DEMO_USER = "demo"
DEMO_NAME = "演示用户"
DEMO_UNIT = "demo-xinhua"

# storage.models.RoleName's values, written out so that the options need no database
# models (tests/test_startup.py checks that the two agree).
ROLES = ("staff", "coordinator", "admin")

log = logging.getLogger(__name__)


class _Huibao(click.Group):
    """The `huibao` group: whatever goes wrong in a command ends in one clear error line,
    and neither that line nor a traceback prints a secret (token, password, key)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError:
            raise  # about the arguments typed: shown with the usage line
        except click.ClickException as exc:
            from bot.logs import redact

            raise click.ClickException(redact(exc.format_message())) from None
        except (click.exceptions.Exit, click.Abort, EOFError):
            raise  # click's own ways out
        except Exception as exc:
            from bot.logs import logging_ready, redact, secrets_in_environment, setup_logging

            if not logging_ready():  # failed before the settings were read
                setup_logging(secrets=secrets_in_environment(os.environ))
            # The traceback goes through the log handler: redacted, and JSON when asked.
            log.error("huibao %s failed", ctx.invoked_subcommand, exc_info=exc)
            raise click.ClickException(
                redact(f"unexpected {type(exc).__name__}: {exc} (details in the log above)")
            ) from None


@click.group(cls=_Huibao, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Huibao (汇报): community activity reports and the half-year work summary.

    Settings come from HUIBAO_ environment variables or a .env file
    (HUIBAO_DATABASE_URL, HUIBAO_TELEGRAM__TOKEN, ...); see README.md.
    """


@main.command()
def run() -> None:
    """Run the main job: the configured platforms, or the local shell with a demo unit."""
    settings = load_cli_settings()
    if settings.platform_configured:
        import asyncio

        from bot.channels.telegram import InvalidToken, NetworkError
        from bot.channels.wecom.api import WecomError
        from bot.runner import run_platforms

        with open_app(settings) as app:
            try:
                asyncio.run(run_platforms(app))
            except InvalidToken:
                # (PTB's message repeats the whole token)
                raise click.ClickException(
                    "Telegram refused the bot token (HUIBAO_TELEGRAM__TOKEN): check it "
                    "with @BotFather (/mybots → API Token)"
                ) from None
            except NetworkError as exc:
                raise click.ClickException(
                    "cannot reach the Telegram Bot API at "
                    f"{settings.telegram.base_url} (HUIBAO_TELEGRAM__BASE_URL): {exc}"
                ) from exc
            except WecomError as exc:
                if exc.errcode is None:
                    raise click.ClickException(
                        f"cannot reach the WeCom API at {settings.wecom.base_url} "
                        f"(HUIBAO_WECOM__BASE_URL): {exc.reason}"
                    ) from exc
                raise click.ClickException(
                    "WeCom refused the app's credentials (check HUIBAO_WECOM__CORP_ID and "
                    f"HUIBAO_WECOM__SECRET, and the app's trusted IPs): {exc.reason}"
                ) from exc
        return
    with open_app(settings) as app:
        _ensure_demo(app)
        click.echo(
            f"没有配置聊天平台，打开本地试用（示范单位：新华社区，身份：{DEMO_NAME}）。",
            err=True,
        )
        _shell(app, DEMO_USER)


def _ensure_demo(app: App) -> None:
    """Create the demo unit tree and a registered demo member, once."""
    from bot.admin.org import demo_org, load_org
    from storage import members
    from storage.db import transaction
    from storage.models import RoleName

    with transaction(app.sessions) as session:
        load_org(session, demo_org())
        if members.person_and_state(session, "shell", DEMO_USER)[0] is None:
            unit = members.unit_by_key(session, DEMO_UNIT)
            assert unit is not None
            members.join(
                session,
                DEMO_NAME,
                platform="shell",
                external_id=DEMO_USER,
                unit_id=unit.id,
                # also the community's coordinator, so /status and /summary can be tried
                roles=(RoleName.STAFF, RoleName.COORDINATOR),
            )


@main.command()
@click.option("--as", "user", default=DEMO_USER, show_default=True, help="Shell user name.")
def shell(user: str) -> None:
    """Chat with the bot in this terminal (reads a script when stdin is not a terminal)."""
    with open_app() as app:
        _shell(app, user)


def _shell(app: App, user: str) -> None:
    from bot.channels.shell import Shell
    from bot.reminders.tick import Background

    if "log_level" not in app.settings.model_fields_set:
        # the terminal is the chat: the tick's INFO lines would land between its messages
        logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))

    files = app.settings.data_dir / "shell-files"
    console = Shell(
        app.conversation,
        user,
        sys.stdout,
        app.clock,
        files_dir=files,
        notices=Background.shell_notices(app, user),
    )
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # Windows has no readline
            import readline  # noqa: F401  (line editing for input())
        console.run_interactive(input)
    else:
        console.run_script(sys.stdin)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (also done at every start)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import create_db_engine, current_revision, upgrade

    settings = load_cli_settings()
    engine = create_db_engine(settings.database_url)
    try:
        upgrade(engine)
        click.echo(f"database at revision {current_revision(engine)}")
    except SQLAlchemyError as exc:
        raise click.ClickException(f"migration failed (HUIBAO_DATABASE_URL): {exc}") from exc
    finally:
        engine.dispose()


@main.group()
def org() -> None:
    """The unit tree (区/街道/社区)."""


@org.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def org_load(file: Path) -> None:
    """Create or update units from a YAML file (safe to run again)."""
    from bot.admin.org import OrgError, load_org, read_org_file
    from storage.db import transaction

    try:
        spec = read_org_file(file)
    except OrgError as exc:
        raise click.ClickException(str(exc)) from exc
    with open_app() as app, transaction(app.sessions) as session:
        result = load_org(session, spec)
    click.echo(
        f"units: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )


@org.command("show")
def org_show() -> None:
    """Print the unit tree."""
    from storage import members
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        units = members.all_units(session)
        if not units:
            click.echo("no units yet: huibao org load FILE.yaml")
        for unit in units:
            depth = unit.path.count("/") - 2
            click.echo(f"{'  ' * depth}{unit.name} [{unit.code}] {unit.kind}")


@main.group()
def invite() -> None:
    """Join codes."""


@invite.command("create")
@click.option("--unit", "unit_key", required=True, help="Unit code or unique name.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="staff",
    show_default=True,
)
@click.option("--uses", type=int, default=None, help="How many people may join (default: any).")
@click.option(
    "--expires", default="7d", show_default=True, help="Validity: 7d, 12h, 30m, 2w or never."
)
def invite_create(unit_key: str, role: str, uses: int | None, expires: str) -> None:
    """Create a join code for a unit and role; people send '/start CODE' to the bot."""
    from bot.admin.org import OrgError, create_invite, parse_duration
    from storage.db import transaction

    try:
        expires_in = parse_duration(expires)
    except OrgError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from exc
    with open_app() as app:
        try:
            with transaction(app.sessions) as session:
                created = create_invite(
                    session, unit_key, role, uses=uses, expires_in=expires_in, now=app.clock()
                )
                unit_name, code, until = created.unit.name, created.code, created.expires_at
        except OrgError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(code)
        limits = [f"unit: {unit_name}", f"role: {role}"]
        limits.append(f"uses: {uses if uses else 'unlimited'}")
        if until is not None:
            local = until.astimezone(app.settings.zone)
            limits.append(f"expires: {local:%Y-%m-%d %H:%M} ({app.settings.timezone})")
        click.echo(", ".join(limits), err=True)
        click.echo(f"send to the bot: /start {code}", err=True)
        username = _telegram_username(app.settings)
        if username:
            click.echo(f"or open: https://t.me/{username}?start={code}")


def _telegram_username(settings: Settings) -> str | None:
    """The bot's @username for join links: the setting, else asked from the Bot API."""
    import asyncio

    from bot.logs import redact

    telegram = settings.telegram
    if telegram.username:
        return telegram.username.lstrip("@")
    if telegram.token is None:
        return None
    from bot.channels.telegram import InvalidToken, TelegramError, fetch_username

    try:
        token = telegram.token.get_secret_value()
        return asyncio.run(asyncio.wait_for(fetch_username(token, telegram.base_url), 10))
    except InvalidToken:  # (its message repeats the whole token)
        reason = "Telegram refused the bot token (HUIBAO_TELEGRAM__TOKEN)"
    except (TelegramError, TimeoutError, OSError) as exc:
        reason = redact(str(exc) or type(exc).__name__)
    click.echo(f"(no join link: the Telegram bot could not be asked its name: {reason})", err=True)
    return None


def _period_key(period: str | None) -> str | None:
    """The --period option as a stored key (2026H1), or None for all periods."""
    from bot.core.periods import parse_period

    try:
        return parse_period(period).key if period else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc


@main.group()
def entries() -> None:
    """Stored activity entries."""


@entries.command("list")
@click.option("--unit", "unit_key", default=None, help="Unit code or name (with its subtree).")
@click.option("--period", default=None, help="Half-year, e.g. 2026H1 (default: all).")
def entries_list(unit_key: str | None, period: str | None) -> None:
    """Print the stored entries with their figures."""
    from bot.core.figures import entry_line
    from bot.core.periods import period_of
    from storage import entries as entry_store
    from storage.db import transaction

    period_key = _period_key(period)
    with open_app() as app, transaction(app.sessions) as session:
        unit = find_unit(session, unit_key) if unit_key is not None else None
        found = entry_store.entries_in(session, unit, period_key)
        for entry in found:
            period_text = period_of(entry.start_date).key
            click.echo(
                f"{entry_line(entry, unit=True, reporter=True)}｜{period_text}｜v{entry.revision}"
            )
        click.echo(f"{len(found)} entries", err=True)


@entries.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what each row would store, and store nothing.")
def entries_import(file: Path, dry_run: bool) -> None:
    """Load a ledger (.xlsx or .csv; columns 单位, 类别, 活动名称, 开始日期, 结束日期, 地点,
    数量, 内容与成效, 填报人). All or nothing: any bad row, and nothing is stored. Rows that
    repeat a stored entry (same unit, title, dates and figures) are skipped."""
    from sqlalchemy.exc import DBAPIError

    from bot.admin.ledger import LedgerError, import_ledger
    from bot.core.messages import text
    from storage.db import transaction

    with open_app() as app:
        questionnaire = app.questionnaires[app.settings.default_questionnaire]
        try:
            with transaction(app.sessions) as session:
                result = import_ledger(
                    session,
                    file,
                    questionnaire,
                    now=app.clock(),
                    limits=app.settings.ledger_import,
                    dry_run=dry_run,
                )
                if result.errors:
                    session.rollback()
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from exc
        except DBAPIError as exc:  # the transaction is rolled back: nothing is stored
            key = "ledger_import_disk_full" if _disk_full(exc.orig) else "ledger_import_db_failed"
            raise click.ClickException(text("zh", key, file=file.name, detail=exc.orig)) from exc
        if result.errors:
            for error in result.errors:
                click.echo(str(error), err=True)
            raise click.ClickException(
                f"{len(result.errors)} problem(s) in {file.name}; nothing was imported"
            )
        for line in result.planned:
            click.echo(line)
        for skipped in result.skipped:
            click.echo(str(skipped), err=True)
        if dry_run:
            click.echo(f"dry run: {result.created} entries would be imported; nothing was stored")
        else:
            click.echo(f"{result.created} entries imported from {file.name}")
        if result.skipped:
            click.echo(f"{len(result.skipped)} repeated row(s) skipped")


def _disk_full(reason: BaseException | None) -> bool:
    """Whether the database refused a write for want of disk space (SQLite or PostgreSQL)."""
    if getattr(reason, "sqlstate", None) == "53100":  # PostgreSQL's disk_full
        return True
    said = str(reason).lower()
    return "disk is full" in said or "no space left" in said


@entries.command("delete")
@click.argument("numbers", nargs=-1, required=True, type=click.IntRange(1, 2**31 - 1))
def entries_delete(numbers: tuple[int, ...]) -> None:
    """Delete entries by number (e.g. a wrong import): they leave the summaries, and each
    keeps its last version as a revision; `huibao entries restore N` brings one back."""
    _delete_or_restore(numbers, restore=False)


@entries.command("restore")
@click.argument("numbers", nargs=-1, required=True, type=click.IntRange(1, 2**31 - 1))
def entries_restore(numbers: tuple[int, ...]) -> None:
    """Bring deleted entries back (each keeps its deleted version as a revision)."""
    _delete_or_restore(numbers, restore=True)


def _delete_or_restore(numbers: tuple[int, ...], *, restore: bool) -> None:
    from storage import entries as entry_store
    from storage.db import transaction

    with open_app() as app, transaction(app.sessions) as session:
        found = {n: entry_store.entry_by_id(session, n) for n in dict.fromkeys(numbers)}
        missing = [n for n, entry in found.items() if entry is None]
        wrong = [n for n, e in found.items() if e is not None and (e.deleted_at is None) == restore]
        if missing or wrong:
            problems = [f"#{n}: no such entry" for n in missing]
            state = "not deleted" if restore else "already deleted"
            problems += [f"#{n}: {state}" for n in wrong]
            raise click.ClickException("; ".join(problems) + "; nothing was changed")
        now = app.clock()
        for entry in found.values():
            assert entry is not None
            if restore:
                entry_store.restore_deleted(session, entry, None, now)
            else:
                entry_store.mark_deleted(session, entry, None, now)
            click.echo(f"{'restored' if restore else 'deleted'} #{entry.id} {entry.title}")


@entries.command("export")
@click.option("--unit", "unit_key", default=None, help="Unit code or name (with its subtree).")
@click.option("--period", default=None, help="Half-year, e.g. 2026H1 (default: all).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("台账.xlsx")
)
def entries_export(unit_key: str | None, period: str | None, output: Path) -> None:
    """Write the entries as a ledger (.xlsx or .csv by the file name), importable again."""
    from bot.admin.ledger import export_ledger
    from storage.db import transaction

    period_key = _period_key(period)
    with open_app() as app, transaction(app.sessions) as session:
        unit = find_unit(session, unit_key) if unit_key is not None else None
        count = export_ledger(session, output, unit=unit, period=period_key)
    click.echo(f"{count} entries written to {output}")


@main.command()
@click.option("--unit", "unit_key", required=True, help="Unit code or unique name.")
@click.option("--period", default=None, help="Half-year, e.g. 2026H1 (default: the current one).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["docx", "md", "txt", "xlsx"]),
    default="docx",
    show_default=True,
    help="xlsx gives the ledger (台账).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def summary(unit_key: str, period: str | None, fmt: str, output: Path | None) -> None:
    """Compose the half-year work summary (半年工作总结) of a unit and the units below it."""
    from bot.core.periods import parse_period, period_of
    from bot.summary import service
    from storage.db import transaction

    with open_app() as app:
        today = app.clock().astimezone(app.settings.zone).date()
        try:
            chosen = parse_period(period) if period else period_of(today)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from exc
        with transaction(app.sessions) as session:
            unit = find_unit(session, unit_key)
            composed = service.summarise(session, app.summaries, unit, chosen, today)
        kind = service.Format(fmt)
        content = service.render(composed, app.summaries, kind)
        target = output or Path(service.filename(composed, kind))
        target.write_bytes(content)
        click.echo(str(target))
        click.echo(
            f"{composed.entry_count} entries, {len(composed.gaps)} item(s) to fill in", err=True
        )
        for number, gap in enumerate(composed.gaps, 1):
            click.echo(f"  {number}. {gap.what} ({gap.who})", err=True)


main.add_command(deadline)
main.add_command(status)
main.add_command(remind)
main.add_command(feedback)
main.add_command(burden)


# -- backup and restore --------------------------------------------------------------------


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The copy to write (default: backups/huibao-<time>.sqlite3 beside the database).",
)
def backup(output: Path | None) -> None:
    """Copy the SQLite database consistently, also while Huibao runs.

    For PostgreSQL, print the pg_dump command to run instead (see docs/deployment.md).
    """
    from bot.admin.backup import (
        BackupError,
        backup_sqlite,
        default_target,
        pg_dump_command,
        sqlite_path,
    )

    settings = load_cli_settings()
    now = datetime.now(settings.zone)
    try:
        source = sqlite_path(settings.database_url)
        if source is None:
            click.echo(pg_dump_command(settings.database_url, now))
            raise click.ClickException(
                "huibao backup copies SQLite databases only; back up PostgreSQL with pg_dump, "
                "as printed above (the password from PGPASSWORD or ~/.pgpass)"
            )
        copy = backup_sqlite(source, output or default_target(source, now))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(copy.path))
    click.echo(f"{copy.entries} entries, schema revision {copy.revision}", err=True)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the existing database (stop Huibao first; the old one is kept as a backup).",
)
def restore(file: Path, replace: bool) -> None:
    """Restore a copy made by `huibao backup` into the SQLite database of HUIBAO_DATABASE_URL.

    For PostgreSQL, print the pg_restore command to run instead.
    """
    from bot.admin.backup import BackupError, pg_restore_command, restore_sqlite, sqlite_path

    settings = load_cli_settings()
    try:
        target = sqlite_path(settings.database_url)
        if target is None:
            click.echo(pg_restore_command(settings.database_url, str(file)))
            raise click.ClickException(
                "huibao restore restores SQLite databases only; restore PostgreSQL with "
                "pg_restore, as printed above"
            )
        copy = restore_sqlite(file, target, replace=replace, now=datetime.now(settings.zone))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored {copy.entries} entries into {copy.path} (schema revision {copy.revision}; "
        "newer migrations run at the next start)"
    )


if __name__ == "__main__":  # pragma: no cover
    main()

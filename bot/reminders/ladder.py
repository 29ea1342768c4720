"""Reminders: when each step of a deadline's ladder goes out, to whom, and what it says.

Everything here is computed from the database and the time passed in; nothing is kept
between ticks that the database does not also know. At a tick, for each deadline not yet
due, the *current rung* is the latest step of its ladder (7 d, 3 d, 1 d, 2 h before by
default) whose sending time has come. A step that falls in quiet hours, on a public
holiday (bot.core.holidays: China's calendar with its make-up working days, and an office's own
days) or on a weekend when configured moves to the next allowed time; a step moved past the
deadline is dropped. Of a ladder longer than HUIBAO_REMINDERS__MAX_PER_DEADLINE (4), only
the steps nearest the deadline are kept: nobody gets more reminders than that for one
deadline. Only the current step is queued, so after a long outage nobody gets the missed
steps in a burst; and each member who still owes and has not asked for fewer reminders
(少提醒, /remind off DATE) gets it once, because its outbox key
(`remind:{deadline}:{member}:{step}`) is unique. The members are gone through in batches of
FANOUT_BATCH, each a short transaction of its own (a few set-based statements, whatever the
batch holds), so a fan-out to 200,000 people never holds SQLite's write lock for long, and a
crash half-way loses nothing and doubles nothing: the next tick finds who is still owed.
Coordinators get one digest per step in a private message: who is still missing in their
units, listed by name, never ranked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.core.holidays import Calendar, public
from bot.core.messages import text as msg
from bot.core.types import Choice, Reply, replies_to_json
from bot.reminders import deadlines
from bot.reminders.deadlines import PUBLIC_RULES, DayRules, Effective
from bot.settings import ReminderSettings
from storage import deadlines as deadline_store
from storage import members as member_store
from storage import outbox
from storage.db import transaction
from storage.models import OutboxStatus, Requirement

HORIZON = timedelta(days=61)  # longer than any ladder (60 days at most)
DIGEST_NAMES = 30  # names listed per unit in a digest or /status, then "and N more"
PROBLEMS_SINCE = timedelta(days=30)
PREFERRED_PLATFORMS = ("telegram", "wecom")
# Members per fan-out batch, each batch a transaction of its own. On SQLite one holds the
# write lock for 60-180 ms on a shared 2-core machine (benchmarks/reminder_fanout.py); on
# PostgreSQL, which has no such lock, larger batches spend less on each batch's statements.
FANOUT_BATCH = 2000
FANOUT_BATCH_POSTGRESQL = 10_000


@dataclass(frozen=True)
class Window:
    """When the bot may write on its own: outside quiet hours, not on public holidays, and
    maybe not on weekends (a weekend day worked in exchange for a holiday is a working day)."""

    zone: ZoneInfo
    quiet_start: time
    quiet_end: time
    calendar: Calendar = field(default_factory=public)
    skip_holidays: bool = True

    @classmethod
    def of(
        cls, settings: ReminderSettings, zone: ZoneInfo, calendar: Calendar | None = None
    ) -> Window:
        """The window the settings describe."""
        return cls(
            zone,
            settings.quiet_start,
            settings.quiet_end,
            calendar or public(),
            settings.skip_holidays,
        )

    def _quiet(self, moment: time) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end  # across midnight, e.g. 21:00-08:00

    def quiet(self, at: datetime) -> bool:
        """Whether the moment falls in quiet hours."""
        return self._quiet(at.astimezone(self.zone).time())

    def day_off(self, day: date, *, skip_weekends: bool) -> bool:
        """Whether nothing goes out on the day: a public holiday, or (when weekends are
        held) any day that is not a working day."""
        if skip_weekends and not self.calendar.is_workday(day):
            return True
        return self.skip_holidays and self.calendar.is_holiday(day)

    def allows(self, at: datetime, *, skip_weekends: bool) -> bool:
        """Whether a message may go out at this moment."""
        local = at.astimezone(self.zone)
        if self.day_off(local.date(), skip_weekends=skip_weekends):
            return False
        return not self._quiet(local.time())

    def next_allowed(self, at: datetime, *, skip_weekends: bool) -> datetime:
        """The first moment at or after `at` when a message may go out (UTC)."""
        local = at.astimezone(self.zone)
        for _ in range(400):
            if self.day_off(local.date(), skip_weekends=skip_weekends):
                local = datetime.combine(local.date() + timedelta(days=1), time(0), self.zone)
                continue
            if self._quiet(local.time()):
                end = datetime.combine(local.date(), self.quiet_end, self.zone)
                if end <= local:
                    end = datetime.combine(
                        local.date() + timedelta(days=1), self.quiet_end, self.zone
                    )
                local = end
                continue
            return local.astimezone(UTC)
        raise AssertionError("no allowed time found")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Rung:
    """One rung (step) of a reminder ladder: its offset, when it was due, when it may go out."""

    offset: int  # minutes before the deadline
    planned: datetime
    send_at: datetime


def capped(ladder: Sequence[int], cap: int) -> tuple[int, ...]:
    """The ladder's steps nearest the deadline, at most `cap` of them, largest first."""
    return tuple(sorted(set(ladder))[:cap][::-1])


def rung_times(
    due_at: datetime, ladder: Sequence[int], window: Window, *, skip_weekends: bool
) -> list[Rung]:
    """The ladder's rungs, earliest first; rungs pushed to or past the deadline are dropped."""
    rungs = []
    for offset in sorted(set(ladder), reverse=True):
        planned = due_at - timedelta(minutes=offset)
        send_at = window.next_allowed(planned, skip_weekends=skip_weekends)
        if send_at < due_at:
            rungs.append(Rung(offset, planned, send_at))
    return rungs


def current_rung(
    due_at: datetime, ladder: Sequence[int], window: Window, now: datetime, *, skip_weekends: bool
) -> Rung | None:
    """The latest rung whose time has come, if the deadline is still ahead."""
    if now >= due_at:
        return None
    found = None
    for rung in rung_times(due_at, ladder, window, skip_weekends=skip_weekends):
        if rung.send_at <= now:
            found = rung
    return found


def time_left(due_at: datetime, now: datetime, locale: str) -> str:
    """还有 3 天 / 还有 2 小时 / 不到 1 小时."""
    seconds = (due_at - now).total_seconds()
    if seconds >= 86400:
        return msg(locale, "remind_left_days", days=round(seconds / 86400))
    if seconds >= 3600:
        return msg(locale, "remind_left_hours", hours=round(seconds / 3600))
    return msg(locale, "remind_left_soon")


# --- what each message says -----------------------------------------------------------


def _join(names: Iterable[str], locale: str) -> str:
    return (", " if locale == "en" else "、").join(names)


def _names(names: Sequence[str], locale: str) -> str:
    if len(names) <= DIGEST_NAMES:
        return _join(names, locale)
    shown = _join(names[:DIGEST_NAMES], locale)
    return msg(locale, "digest_more", names=shown, count=len(names))


def start_choice(requirement: Requirement, locale: str) -> Choice:
    """The button that starts what a deadline asks: the report, or the reflection.

    Its value is the command itself (no turn token), so a button pressed on an old
    reminder still just works; the shortcut is the reply word for platforms without buttons.
    """
    if requirement is Requirement.REFLECTION:
        return Choice(msg(locale, "remind_button_reflect"), "/reflect", "回顾")
    return Choice(msg(locale, "remind_button_report"), "/report", "上报")


_NAME_MARK, _UNITS_MARK = "\x00name\x00", "\x00units\x00"
_TEXT_MARK = "\x00text\x00"  # where the database puts each member's text into the reply
LOCALES = ("zh", "en")


def reminder_wording(deadline: Effective, now: datetime, zone: ZoneInfo) -> outbox.Wording:
    """The reminder of a deadline in each language, with slots for the name and the units."""
    texts: dict[str, tuple[outbox.Part, ...]] = {}
    payloads: dict[str, tuple[str, str]] = {}  # the reply's JSON around its text, by language
    for locale in LOCALES:
        filled = msg(
            locale,
            f"remind_{deadline.requirement.value}",
            name=_NAME_MARK,
            period=deadline.span.describe(locale),
            units=_UNITS_MARK,
            due=deadlines.format_due(deadline.due_at, zone, locale),
            left=time_left(deadline.due_at, now, locale),
        )
        parts: list[outbox.Part] = []
        for piece in filled.split("\x00"):
            if piece == "name":
                parts.append(outbox.Slot.NAME)
            elif piece == "units":
                parts.append(outbox.Slot.UNITS)
            elif piece:
                parts.append(piece)
        texts[locale] = tuple(parts)
        reply = Reply(_TEXT_MARK, (start_choice(deadline.requirement, locale),))
        before, _, after = json.dumps(replies_to_json([reply]), ensure_ascii=False).partition(
            json.dumps(_TEXT_MARK)
        )
        payloads[locale] = (before, after)
    separators = {"zh": "、", "en": ", "}
    return outbox.Wording(texts, payloads, separators)


def digest_reply(
    deadline: Effective,
    name: str,
    units: Sequence[tuple[str, list[str], int]],
    unreachable: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    muted: Sequence[str] = (),
) -> Reply:
    """The digest to one coordinator: per unit, who is still missing (by name, in a fixed
    order: never ranked)."""
    count = sum(len(missing) for _, missing, _ in units)
    lines = [
        msg(
            locale,
            "digest_header",
            name=name,
            what=deadline.describe(locale),
            due=deadlines.format_due(deadline.due_at, zone, locale),
            left=time_left(deadline.due_at, now, locale),
            count=count,
        )
    ]
    for unit, missing, total in units:
        lines.append(
            msg(
                locale,
                "digest_unit",
                unit=unit,
                missing=len(missing),
                total=total,
                names=_names(missing, locale),
            )
        )
    if unreachable:
        lines.append(msg(locale, "digest_unreachable", names=_names(unreachable, locale)))
    if muted:
        lines.append(msg(locale, "digest_muted", names=_names(muted, locale)))
    lines.append(msg(locale, "digest_footer"))
    return Reply("\n".join(lines))


# --- planning a tick --------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """A message a tick would queue, and why (for `huibao remind preview`)."""

    message: outbox.NewMessage
    name: str
    reason: str


@dataclass
class Memo:
    """What a planner learnt that needs no asking again: coordinators with nobody missing."""

    settled: set[str] = field(default_factory=set)


def coverage_of(deadline: Effective) -> deadline_store.Coverage:
    """The deadline in the storage layer's plain terms."""
    return deadline_store.Coverage(
        requirement=deadline.requirement,
        roles=deadline.roles,
        period=deadline.span.key,
        first_day=deadline.span.first_day,
        end_day=deadline.span.end_day,
        unit_path=deadline.unit_path,
        excluded=deadline.excluded,
    )


@dataclass(frozen=True)
class _DueRung:
    """A deadline whose current rung is due, and why (for the dry run)."""

    deadline: Effective
    rung: Rung
    skip_weekends: bool
    reason: str

    @property
    def stem(self) -> str:
        return f"{self.deadline.ref}:"

    @property
    def tail(self) -> str:
        return f":{self.rung.offset}"


def ladder_of(deadline: Effective, settings: ReminderSettings) -> tuple[int, ...]:
    """The steps a deadline's reminders go out at: its own ladder or the configured one,
    capped at HUIBAO_REMINDERS__MAX_PER_DEADLINE."""
    return capped(deadline.ladder or settings.offsets, settings.max_per_deadline)


def _due_rungs(
    session: Session,
    now: datetime,
    settings: ReminderSettings,
    zone: ZoneInfo,
    rules: DayRules,
) -> list[_DueRung]:
    window = Window.of(settings, zone, rules.calendar)
    found = []
    for deadline in deadlines.upcoming(session, now, zone, HORIZON, rules):
        ladder = ladder_of(deadline, settings)
        skip = settings.skip_weekends if deadline.skip_weekends is None else deadline.skip_weekends
        rung = current_rung(deadline.due_at, ladder, window, now, skip_weekends=skip)
        if rung is not None:
            reason = _reason(deadline, rung, zone, window, skip_weekends=skip)
            found.append(_DueRung(deadline, rung, skip, reason))
    return found


def _fanout(
    item: _DueRung, now: datetime, zone: ZoneInfo, platforms: Sequence[str]
) -> outbox.Fanout:
    return outbox.Fanout(
        coverage=coverage_of(item.deadline),
        platforms=tuple(platforms),
        key_prefix=f"remind:{item.stem}",
        key_suffix=item.tail,
        wording=reminder_wording(item.deadline, now, zone),
        deadline_ref=item.deadline.ref,
        not_before=max(item.rung.send_at, now),
        expires_at=item.deadline.due_at,
        skip_weekends=item.skip_weekends,
        today=now.astimezone(zone).date(),
    )


def queue_due(
    sessions: sessionmaker[Session],
    now: datetime,
    settings: ReminderSettings,
    zone: ZoneInfo,
    platforms: Sequence[str] = PREFERRED_PLATFORMS,
    memo: Memo | None = None,
    rules: DayRules = PUBLIC_RULES,
    batch: int | None = None,
) -> int:
    """Queue the reminders and digests due at `now` (each at most once); how many were new.

    Per deadline at a step, per batch of `batch` (FANOUT_BATCH) member ids, in a
    transaction of its own: who owes, which of their keys are queued, one INSERT ... SELECT
    for the others and, while coordinators still await the step's digest, the batch's
    standing; then the digests (a few rows written).
    """
    with transaction(sessions) as session:
        due = _due_rungs(session, now, settings, zone, rules)
        postgres = session.get_bind().dialect.name == "postgresql"
        size = batch or (FANOUT_BATCH_POSTGRESQL if postgres else FANOUT_BATCH)
        members = deadline_store.member_batches(session, size) if due else []
    queued = 0
    for item in due:
        fanout = _fanout(item, now, zone, platforms)
        with transaction(sessions) as session:
            leaders = _leaders(session, item, platforms, memo)
        # One pass over the members: each batch's standing is read in the batch's own
        # transaction, while its rows are still in the cache (PostgreSQL: a second pass at
        # 200,000 members read them back from disk after the outbox's rows displaced them).
        parts = []
        added = 0
        for part in members:
            with transaction(sessions) as session:
                outbox.lean(session)
                added += outbox.queue_fanout(session, fanout, now, part)
                if leaders:
                    parts.append(deadline_store.standing(session, fanout.coverage, (), part))
                if outbox.outbox_statistics(session, added):
                    queued, added = queued + added, 0
        queued += added
        if not leaders:
            continue
        with transaction(sessions) as session:
            digests = _digests(
                session,
                item,
                leaders,
                deadline_store.merge_standing(parts),
                now,
                zone,
                platforms,
                memo,
            )
            queued += outbox.enqueue(session, [p.message for p in digests], now)
    return queued


def plan(
    session: Session,
    now: datetime,
    settings: ReminderSettings,
    zone: ZoneInfo,
    platforms: Sequence[str] = PREFERRED_PLATFORMS,
    rules: DayRules = PUBLIC_RULES,
) -> list[Planned]:
    """What `queue_due` would queue at `now`, and why; nothing is written."""
    planned: list[Planned] = []
    for item in _due_rungs(session, now, settings, zone, rules):
        fanout = _fanout(item, now, zone, platforms)
        for message, name, units in outbox.preview_fanout(session, fanout, now):
            where = ", ".join(units)
            planned.append(Planned(message, name, f"{item.reason}; nothing yet for {where}"))
        leaders = _leaders(session, item, platforms, None)
        if leaders:
            standing = deadline_store.standing(session, coverage_of(item.deadline))
            planned.extend(_digests(session, item, leaders, standing, now, zone, platforms, None))
    return planned


def _reason(
    deadline: Effective, rung: Rung, zone: ZoneInfo, window: Window, *, skip_weekends: bool
) -> str:
    scope = deadline.unit_name or "all units (default rule)"
    due = deadline.due_at.astimezone(zone)
    planned = rung.planned.astimezone(zone)
    moved = rung.send_at.astimezone(zone)
    offset = deadlines.format_offset(rung.offset, "en")
    when = f"step {offset} before, planned {planned:%m-%d %H:%M}"
    if moved != planned:
        held = held_by(window, rung.planned, skip_weekends=skip_weekends)
        when += f", moved to {moved:%m-%d %H:%M} ({held})"
    what = f"{deadline.requirement.value} {deadline.span.key}"
    if deadline.moved_from is not None:
        was = deadline.moved_from.astimezone(zone)
        name = window.calendar.holiday_name(was.date()) or "a day off"
        what += f", moved from {was:%m-%d} ({name}) to the next working day"
    return f"deadline {deadline.ref} ({what}, {scope}, due {due:%Y-%m-%d %H:%M}): {when}"


def held_by(window: Window, at: datetime, *, skip_weekends: bool) -> str:
    """Why a moment was moved: the holiday's name, a weekend, or quiet hours."""
    day = at.astimezone(window.zone).date()
    if not window.day_off(day, skip_weekends=skip_weekends):
        return "quiet hours"
    name = window.calendar.holiday_name(day)
    return f"holiday: {name}" if name is not None and window.skip_holidays else "weekend"


def _leaders(
    session: Session, item: _DueRung, platforms: Sequence[str], memo: Memo | None
) -> list[outbox.Recipient]:
    """The coordinators whose units the deadline touches, with no digest of the step yet."""
    deadline = item.deadline
    return [
        c
        for c in outbox.coordinators(session, platforms, (f"digest:{item.stem}", item.tail))
        if _touches(deadline, c.unit_path)
        and (memo is None or f"{deadline.ref}{item.tail}:{c.member_id}" not in memo.settled)
    ]


def _digests(
    session: Session,
    item: _DueRung,
    leaders: Sequence[outbox.Recipient],
    standing: Sequence[deadline_store.UnitStanding],
    now: datetime,
    zone: ZoneInfo,
    platforms: Sequence[str],
    memo: Memo | None,
) -> list[Planned]:
    """One digest per coordinator (of `leaders`) whose units have someone missing."""
    deadline = item.deadline
    units = [u for u in standing if u.missing]
    problems = outbox.delivery_problems(session, (), now - PROBLEMS_SINCE)
    failed = {p.member_id for p in problems if p.status is OutboxStatus.FAILED}
    quiet = member_store.muted_members(session, deadline.ref, now.astimezone(zone).date())
    planned = []
    for member_id, (leader, _units) in _pick(leaders, platforms).items():
        paths = [c.unit_path for c in leaders if c.member_id == member_id]
        mine = [u for u in units if any(u.unit_path.startswith(p) for p in paths)]
        if not mine:
            if memo is not None:
                memo.settled.add(f"{deadline.ref}{item.tail}:{member_id}")
            continue
        listed = [(u.unit_name, [n for _, n in u.missing], u.total) for u in mine]
        unreachable = sorted({n for u in mine for i, n in u.missing if i in failed})
        muted = sorted({n for u in mine for i, n in u.missing if i in quiet})
        reply = digest_reply(
            deadline, leader.name, listed, unreachable, now, zone, leader.locale, muted
        )
        message = outbox.NewMessage(
            key=f"digest:{item.stem}{member_id}{item.tail}",
            kind="digest",
            member_id=member_id,
            platform=leader.platform,
            address=leader.address,
            payload=replies_to_json([reply]),
            not_before=max(item.rung.send_at, now),
            expires_at=deadline.due_at,
            skip_weekends=item.skip_weekends,
            deadline_ref=deadline.ref,
        )
        count = sum(len(u.missing) for u in mine)
        planned.append(Planned(message, leader.name, f"{item.reason}; digest of {count} missing"))
    return planned


def _pick(
    recipients: Iterable[outbox.Recipient], platforms: Sequence[str]
) -> dict[int, tuple[outbox.Recipient, list[str]]]:
    """Per member: the account on the most preferred platform, and the units concerned."""
    rank = {p: i for i, p in enumerate(platforms)}
    chosen: dict[int, tuple[outbox.Recipient, list[str]]] = {}
    for r in recipients:
        held = chosen.get(r.member_id)
        if held is None:
            chosen[r.member_id] = (r, [r.unit_name])
            continue
        best, units = held
        if r.unit_name not in units:
            units.append(r.unit_name)
        if rank.get(r.platform, 99) < rank.get(best.platform, 99):
            chosen[r.member_id] = (r, units)
    return chosen


def _touches(deadline: Effective, path: str) -> bool:
    """Whether a coordinator's unit (by path) overlaps what the deadline covers."""
    return deadline.covers(path) or (
        bool(deadline.unit_path) and deadline.unit_path.startswith(path)
    )


# --- status ---------------------------------------------------------------------------


def _muted_names(people: Sequence[tuple[str, date | None]], locale: str) -> str:
    """王强（到7月1日）、李华 (the date: until when; none: for this deadline)."""
    shown = []
    for name, until in people:
        if until is None:
            shown.append(name)
        else:
            shown.append(
                msg(locale, "status_muted_until", name=name, month=until.month, day=until.day)
            )
    return _join(shown, locale)


REASONS = (
    ("blocked", "reason_blocked"),
    ("chat not found", "reason_gone"),
    ("user not found", "reason_gone"),
    ("deactivated", "reason_gone"),
    ("kicked", "reason_gone"),
)


def friendly_reason(error: str | None, status: OutboxStatus, locale: str) -> str:
    """Why a message did not arrive, in words a coordinator can act on (raw reason kept)."""
    if status is OutboxStatus.UNCERTAIN:
        return msg(locale, "reason_uncertain")
    raw = (error or "").strip()
    for needle, key in REASONS:
        if needle in raw.lower():
            return (
                f"{msg(locale, key)}（{raw}）" if locale != "en" else f"{msg(locale, key)} ({raw})"
            )
    return raw or msg(locale, "reason_unknown")


def status_lines(
    session: Session,
    within: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    rules: DayRules = PUBLIC_RULES,
) -> list[str]:
    """Per current deadline and unit under `within` (all units if empty): who has met it,
    who has not (by name, never ranked), who asked for no reminders; then the messages that
    did not reach people there."""
    lines: list[str] = []
    today = now.astimezone(zone).date()
    for deadline in deadlines.current(session, now, zone, rules):
        units = deadline_store.standing(session, coverage_of(deadline), within)
        if not units:
            continue
        muted = member_store.muted_members(session, deadline.ref, today)
        if not lines:
            lines.append(msg(locale, "status_deadlines"))
        left = (
            time_left(deadline.due_at, now, locale)
            if deadline.due_at > now
            else msg(locale, "status_passed")
        )
        lines.append(
            msg(
                locale,
                "status_deadline",
                what=deadline.describe(locale),
                due=deadlines.format_due(deadline.due_at, zone, locale),
                left=left,
            )
        )
        for unit in units:
            done = unit.total - len(unit.missing)
            line = msg(
                locale, "status_deadline_unit", unit=unit.unit_name, done=done, total=unit.total
            )
            if unit.missing:
                line += "  ⏳ " + _names([n for _, n in unit.missing], locale)
            lines.append(line)
            quiet = [(n, muted[i]) for i, n in unit.missing if i in muted]
            if quiet:
                lines.append(msg(locale, "status_muted", names=_muted_names(quiet, locale)))
    problems = outbox.delivery_problems(session, within, now - PROBLEMS_SINCE)
    failed = [p for p in problems if p.status is OutboxStatus.FAILED]
    uncertain = [p for p in problems if p.status is OutboxStatus.UNCERTAIN]
    if failed:
        lines.append(msg(locale, "status_failed_header"))
        seen: set[int] = set()
        for p in failed:  # newest first: one line per person
            if p.member_id in seen:
                continue
            seen.add(p.member_id)
            when = p.created_at.astimezone(zone)
            lines.append(
                msg(
                    locale,
                    "status_failed_line",
                    name=p.name,
                    reason=friendly_reason(p.error, p.status, locale),
                    month=when.month,
                    day=when.day,
                )
            )
    if uncertain:
        lines.append(msg(locale, "status_uncertain", count=len(uncertain)))
    return lines

"""The one-message commands: what someone asks for and gets in one reply, no dialog."""

from __future__ import annotations

from bot.core import coordination, interview, oversight, reflection, relief
from bot.core.dialogs.base import Next, Turn
from bot.core.figures import entry_line
from bot.core.parsing.numerals import parse_id
from bot.core.periods import Span, parse_period, parse_span, period_of
from bot.core.types import Reply
from storage import entries as entry_store
from storage import members, reflections


def mine(turn: Turn, argument: str = "") -> Next:
    """/mine [period]: this half-year's entries, or those of the period asked for."""
    today = turn.incoming.at.astimezone(turn.kit.zone).date()
    try:
        span = parse_span(argument, today)
    except ValueError:
        period = " ".join(argument.split())[:30]
        return Next([Reply(turn.t("mine_bad_period", period=period))])
    everything = entry_store.entries_of_member(turn.session, turn.member_id, None)
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
    return Next([Reply("\n".join(lines))])


def status(turn: Turn, argument: str = "") -> Next:
    """/status: who of the units one leads has reported this month."""
    scope = turn.scope()
    if scope.empty:
        return Next([Reply(turn.t("leaders_only"))])
    kit, incoming = turn.kit, turn.incoming
    # one message; for many people a line per unit below, the full list as .xlsx from a job
    reply, month = coordination.status_reply(
        turn.session, scope, incoming.at, kit.zone, turn.locale, kit.rules
    )
    if month is not None:  # made after this message's commit; in a group, sent privately
        assert turn.member is not None
        reply = coordination.request_list(
            turn.session,
            reply,
            scope,
            month,
            member=(turn.member.id, turn.member.name),
            in_group=incoming.in_group,
            asked=incoming.at,
            now=kit.clock(),
            zone=kit.zone,
            platform=incoming.platform,
            locale=turn.locale,
        )
    return Next([reply])


def entries(turn: Turn, argument: str = "") -> Next:
    """/entries: the latest entries of the units one leads (buttons to send back, in private)."""
    scope = turn.scope()
    if scope.empty:
        return Next([Reply(turn.t("leaders_only"))])
    buttons = not turn.incoming.in_group  # sending back happens in private
    return Next([oversight.entries_reply(turn.session, scope, turn.locale, buttons=buttons)])


def feedback(turn: Turn, argument: str) -> Next:
    """/feedback TEXT: a complaint or suggestion, for the admins."""
    text = relief.feedback(
        turn.session,
        turn.member_id,
        argument,
        turn.incoming.platform,
        turn.incoming.at,
        turn.locale,
    )
    return Next([Reply(text)])


def todo(turn: Turn, argument: str = "") -> Next:
    """/todo: what one still owes."""
    assert turn.member is not None
    kit = turn.kit
    text = relief.todo(
        turn.session,
        turn.member.id,
        turn.member.name,
        turn.incoming.at,
        kit.zone,
        kit.rules,
        turn.locale,
    )
    return Next([Reply(text)])


def remind(turn: Turn, argument: str) -> Next:
    """/remind [off [DATE] | on]: fewer reminders, or back on."""
    kit = turn.kit
    text = relief.remind(
        turn.session, turn.member_id, argument, turn.incoming.at, kit.zone, kit.rules, turn.locale
    )
    return Next([Reply(text)])


def deadline(turn: Turn, argument: str) -> Next:
    """/deadline [list | set ... | remove N], for admins."""
    kit = turn.kit
    text = oversight.deadline_command(
        turn.session, turn.member_id, argument, kit.clock(), kit.zone, turn.locale, kit.rules
    )
    return Next([Reply(text)])


def language(turn: Turn, argument: str) -> Next:
    """/lang zh|en: the language the bot speaks to this person."""
    wanted = interview.normalise_word(argument)
    choice = {"zh": "zh", "中文": "zh", "cn": "zh", "en": "en", "english": "en"}.get(wanted)
    if choice is None:
        return Next([Reply(turn.t("lang_prompt"))])
    members.set_locale(turn.session, turn.member_id, choice)
    turn.locale = choice
    turn.menu_changed = True
    return Next([Reply(turn.t("lang_set"))])


def closing(turn: Turn, argument: str) -> Next:
    """/closing: review the merged points; '/closing drop N', '/closing add 不足|打算 text'."""
    scope = turn.scope()
    if scope.empty:
        return Next([Reply(turn.t("leaders_only"))])
    session, member_id, now = turn.session, turn.member_id, turn.kit.clock()
    unit = members.unit_by_path(session, scope.paths[0])
    today = turn.incoming.at.astimezone(turn.kit.zone).date()
    period = period_of(today).key
    words = argument.split(maxsplit=2)
    action = words[0].lower() if words else ""
    review = reflection.review(session, unit, period)
    number = parse_id(words[1]) if len(words) >= 2 else None
    if action in ("drop", "删除", "删", "use", "采用", "选用") and number:
        # numbers are the points' first row ids: stable, so two quick drops never
        # hit a point the coordinator did not see
        dropping = action in ("drop", "删除", "删")
        chosen = review.find(number)
        if chosen is None or (dropping and chosen not in review.own):
            # the units' own points stay theirs: a street drops only its own
            return Next([Reply(turn.t("closing_no_such", number=words[1]))])
        if dropping:
            reflections.drop_reflections(session, chosen.row_ids, member_id, now)
        elif chosen not in review.own:  # material of the units below becomes the unit's
            reflections.add_reflections(
                session, member_id, unit.id, period, chosen.kind, [chosen.text], now, in_review=True
            )
        review = reflection.review(session, unit, period)
    elif action in ("add", "添加", "加") and len(words) == 3:
        kinds = {
            "不足": reflection.SHORTCOMING,
            "打算": reflection.PLAN,
            "计划": reflection.PLAN,
        }
        kind = kinds.get(words[1])
        texts = reflection.split_points(words[2])
        if kind is None or not texts:
            return Next([Reply(turn.t("closing_help"))])
        reflections.add_reflections(
            session, member_id, unit.id, period, kind, texts, now, in_review=True
        )
        review = reflection.review(session, unit, period)
    elif action:
        return Next([Reply(turn.t("closing_help"))])
    lines = [turn.t("closing_header", unit=unit.name)]
    for kind, title in (
        (reflection.SHORTCOMING, "closing_shortcomings"),
        (reflection.PLAN, "closing_plans"),
    ):
        lines.append(turn.t(title))
        own = [p for p in review.own if p.kind == kind]
        lines.extend(f"{p.number}. {p.text}" for p in own)
        if not own:
            lines.append(turn.t("closing_none"))
        for theme, points in review.themes(kind):  # the units' points, to pick from
            lines.append(turn.t("closing_material", theme=theme))
            lines.extend(f"{p.number}. {p.text}（{'、'.join(p.units)}）" for p in points)
    lines.append(turn.t("closing_help"))
    return Next([Reply("\n".join(lines))])

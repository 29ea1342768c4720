"""/summary [unit] [period]: the half-year summary, as a preview, a chart and a .docx."""

from __future__ import annotations

import logging

from bot import jobs
from bot.core.dialogs.base import Next, Turn
from bot.core.periods import parse_period, period_of
from bot.core.types import Reply
from bot.reminders import outbox
from storage import members

log = logging.getLogger(__name__)


def summary(turn: Turn, argument: str) -> Next:
    """A preview and the .docx, for units the person leads, made by a job (bot.jobs)."""
    scope = turn.scope()
    if scope.empty:
        return Next([Reply(turn.t("leaders_only"))])
    kit = turn.kit.summaries
    if kit is None:
        return Next([Reply(turn.t("summary_unavailable"))])
    today = turn.incoming.at.astimezone(turn.kit.zone).date()
    period = period_of(today)
    unit = None
    for word in argument.split():
        try:
            period = parse_period(word)
            continue
        except ValueError:
            pass
        unit = members.unit_by_key(turn.session, word)
        if unit is None or not scope.contains(unit.path):
            # the same answer for a unit that does not exist and one out of reach
            return Next([Reply(turn.t("summary_not_yours", unit=word[:30]))])
    if unit is None:
        unit = members.unit_by_path(turn.session, scope.paths[0])
    # Composing and rendering take seconds for a large street: a job does them after this
    # message's commit and sends the preview, chart and .docx to the asker's account on
    # this platform (their private chat when asked in a group). The answer comes at once.
    job = jobs.request_summary(
        turn.session,
        member_id=turn.member_id,
        unit_id=unit.id,
        period=period.key,
        today=today,
        platform=turn.incoming.platform,
        locale=turn.locale,
        now=turn.kit.clock(),
    )
    log.info("summary of %s %s: job %s", unit.id, period.key, job)
    if turn.incoming.in_group:
        assert turn.member is not None
        return Next([Reply(turn.t("summary_sent_privately", name=turn.member.name))])
    return Next([Reply(turn.t("summary_generating"))])


def privately(turn: Turn, replies: list[Reply]) -> list[Reply]:
    """Replies to a group that hold a document go to the asker's private chat instead."""
    assert turn.member is not None
    if not any(r.document is not None for r in replies):
        return replies  # a refusal or a usage hint, which reveals nothing
    incoming = turn.incoming
    queued = outbox.queue_for_member(
        turn.session,
        turn.member.id,
        key=f"summary:{incoming.platform}:{incoming.user_id}:{incoming.message_id}"[:200],
        kind="summary",
        replies=replies,
        now=turn.kit.clock(),
        prefer=incoming.platform,
    )
    key = "summary_sent_privately" if queued else "summary_no_private_chat"
    return [Reply(turn.t(key, name=turn.member.name))]

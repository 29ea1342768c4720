"""/summary [unit] [period]: the half-year summary, as a preview, a chart and a .docx."""

from __future__ import annotations

import logging
import time

from bot import outbox
from bot.dialogs.base import Next, Turn
from bot.periods import parse_period, period_of
from bot.summary import service as summary_service
from bot.types import Document, Reply
from storage import repo

log = logging.getLogger(__name__)


def summary(turn: Turn, argument: str) -> Next:
    """A preview and the .docx, for units the person leads."""
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
        unit = repo.unit_by_key(turn.session, word)
        if unit is None or not scope.contains(unit.path):
            # the same answer for a unit that does not exist and one out of reach
            return Next([Reply(turn.t("summary_not_yours", unit=word[:30]))])
    if unit is None:
        unit = repo.unit_by_path(turn.session, scope.paths[0])
    started = time.perf_counter()
    made = summary_service.summarise(turn.session, kit, unit, period, today)
    docx = summary_service.render(made, kit, summary_service.Format.DOCX)
    log.info(
        "summary of %s %s composed in %.2f s", unit.id, period.key, time.perf_counter() - started
    )
    name = summary_service.filename(made, summary_service.Format.DOCX)
    document = Document(name, docx, summary_service.MIME[summary_service.Format.DOCX])
    replies = [Reply(summary_service.preview(made))]
    if made.months:
        chart = summary_service.chart_png(made)
        replies.append(
            Reply(turn.t("summary_chart"), image=Document("chart.png", chart, "image/png"))
        )
    replies.append(Reply(turn.t("summary_file", gaps=len(made.gaps)), document=document))
    return Next(replies)


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

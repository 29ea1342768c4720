"""Replies that were committed with their message but never marked sent.

WeCom does not deliver a callback again once it was answered, so replies lost between
the commit and the send (a crash, WeCom unreachable) are found here and sent later.
(A candidate for storage.repo once another adapter needs it.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.types import Reply, replies_from_json
from storage.db import transaction
from storage.models import ProcessedMessage


def unsent(
    sessions: sessionmaker[Session],
    platform: str,
    *,
    processed_before: datetime,
    processed_after: datetime,
    limit: int = 200,
) -> list[tuple[str, list[Reply]]]:
    """(message key, replies) of messages processed in the window whose replies are unsent."""
    statement = (
        select(ProcessedMessage.message_key, ProcessedMessage.replies)
        .where(
            ProcessedMessage.platform == platform,
            ProcessedMessage.sent_at.is_(None),
            ProcessedMessage.processed_at < processed_before,
            ProcessedMessage.processed_at > processed_after,
        )
        .order_by(ProcessedMessage.processed_at)
        .limit(limit)
    )
    with transaction(sessions) as session:
        rows = session.execute(statement).all()
    return [(key, replies_from_json(list(replies or []))) for key, replies in rows]

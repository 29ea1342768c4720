"""Platform messages: which were processed (with their replies until these are sent), and
which were received and answered before being processed (kept until they are)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage._sql import insert_ignoring_conflicts
from storage.models import (
    ProcessedMessage,
    ReceivedMessage,
    utcnow,
)

_messages = cast(Table, ProcessedMessage.__table__)
# Built once with bind parameters: on the per-message path, building a statement anew
# costs more than running it (measured: 0.35 ms against 0.14 ms on SQLite).
_CLAIM = {
    name: factory(_messages)
    .values(
        platform=bindparam("platform"),
        message_key=bindparam("key"),
        processed_at=bindparam("at"),
        replies=bindparam("replies"),
    )
    .on_conflict_do_nothing()
    .returning(_messages.c.platform)
    for name, factory in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_MARK_SENT = (
    update(_messages)
    .where(
        _messages.c.platform == bindparam("sent_platform"),
        _messages.c.message_key.in_(bindparam("keys", expanding=True)),
    )
    .values(sent_at=bindparam("at"), replies=None)
)
_STORED = select(_messages.c.replies, _messages.c.sent_at).where(
    _messages.c.platform == bindparam("platform"), _messages.c.message_key == bindparam("key")
)


def claim_message(
    session: Session, platform: str, key: str, replies: list[dict[str, Any]] | None = None
) -> bool:
    """Record a platform message as processed, with its replies; False if it was before."""
    statement = _CLAIM[session.get_bind().dialect.name]
    params = {"platform": platform, "key": key, "at": utcnow(), "replies": replies}
    return session.execute(statement, params).first() is not None


def claim_messages(session: Session, claims: Sequence[tuple[str, str, Any]]) -> int:
    """Record several messages as processed, with their replies, in one statement (one
    INSERT of many rows); return how many were new (fewer: some were processed before)."""
    if not claims:
        return 0
    statement = _CLAIM[session.get_bind().dialect.name]
    at = utcnow()
    params = [
        {"platform": platform, "key": key, "at": at, "replies": replies}
        for platform, key, replies in claims
    ]
    return len(session.execute(statement, params).all())


def unsent_replies(session: Session, platform: str, key: str) -> list[dict[str, Any]] | None:
    """The replies of a processed message that were never marked sent (None if sent)."""
    row = session.execute(_STORED, {"platform": platform, "key": key}).first()
    if row is None or row[1] is not None:
        return None
    return list(row[0] or [])


def unsent_since(
    session: Session,
    platform: str,
    *,
    processed_before: datetime,
    processed_after: datetime,
    limit: int = 200,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(key, replies) of messages processed in the window whose replies were never sent.

    For a platform that does not deliver a message again once it was answered (WeCom):
    replies lost between the commit and the send (a crash, the API unreachable) are found
    here and sent later.
    """
    m = _messages.c
    rows = session.execute(
        select(m.message_key, m.replies)
        .where(
            m.platform == platform,
            m.sent_at.is_(None),
            m.processed_at < processed_before,
            m.processed_at > processed_after,
        )
        .order_by(m.processed_at)
        .limit(limit)
    ).all()
    return [(str(key), list(replies or [])) for key, replies in rows]


def mark_sent(session: Session, platform: str, keys: Sequence[str]) -> None:
    """Note that the replies to these messages went out, and drop their copies."""
    if keys:
        session.execute(_MARK_SENT, {"sent_platform": platform, "keys": list(keys), "at": utcnow()})


def keep_received(
    session: Session, platform: str, key: str, body: dict[str, Any], now: datetime
) -> None:
    """Keep a message that was answered before it was processed (once per key)."""
    insert_ignoring_conflicts(
        session,
        ReceivedMessage,
        {"platform": platform, "message_key": key, "received_at": now, "body": body},
    )


def drop_received(session: Session, platform: str, key: str) -> None:
    """Forget a kept message: it was processed."""
    session.execute(
        delete(ReceivedMessage).where(
            ReceivedMessage.platform == platform, ReceivedMessage.message_key == key
        )
    )


def waiting_received(
    session: Session, platform: str, received_before: datetime, limit: int = 200
) -> list[tuple[str, dict[str, Any]]]:
    """(key, body) of kept messages not processed yet: a crash came between."""
    rows = session.execute(
        select(ReceivedMessage.message_key, ReceivedMessage.body)
        .where(
            ReceivedMessage.platform == platform,
            ReceivedMessage.received_at < received_before,
        )
        .order_by(ReceivedMessage.received_at)
        .limit(limit)
    ).all()
    return [(str(key), dict(body)) for key, body in rows]


def probe_write(session: Session, now: datetime) -> None:
    """Write a row and delete it again, for a health check; raises if writes are refused.

    The caller commits: a rolled-back write never leaves SQLite's page cache, so it cannot
    notice a full disk (measured: with the files unable to grow, a rolled-back INSERT
    passes, a committed one fails). The pair leaves nothing behind for anyone to see.
    """
    key = f"probe-{uuid.uuid4().hex}"
    table = ReceivedMessage
    session.execute(
        insert(table).values(platform="healthz", message_key=key, received_at=now, body={})
    )
    session.execute(delete(table).where(table.platform == "healthz", table.message_key == key))

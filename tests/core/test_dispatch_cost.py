"""What one message costs the database: an interview step is three statements.

Reading the person and their dialog state (one query), writing the state (one), claiming the
message key with the replies (one). The command table and the typed states add none; the
card of a new report adds one (the look-up of the same activity reported before).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from tests.chat import Chat

SCRIPT = ["/report", "1", "端午主题党课", "昨天", "社区党群服务中心", "3场", "4000多人次"]


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        verb = str(args[2]).split()[0].upper()
        if verb not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's BEGIN IMMEDIATE
            statements.append(verb)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_interview_step_is_three_statements(
    staff_chat: Chat, sessions: sessionmaker[Session], engine: Engine
) -> None:
    staff_chat.say(SCRIPT[0])
    for said in SCRIPT[1:]:
        with counted(engine) as statements:
            staff_chat.say(said)
        assert len(statements) == 3, (said, statements)


def test_the_card_adds_one_statement_the_lookup_of_a_repeated_report(
    staff_chat: Chat, engine: Engine
) -> None:
    staff_chat.say("6月12日在文化广场办了3场夏夜汇演，300多人参加")
    with counted(engine) as statements:
        staff_chat.say("群众反响热烈")
    assert "请核对" in staff_chat.replies[-1].text
    assert len(statements) == 4, statements


def test_a_plain_word_outside_a_dialog_costs_no_more_than_before(
    staff_chat: Chat, engine: Engine
) -> None:
    for said, most in (("帮助", 4), ("我的", 3), ("跳过", 2), ("你好", 2)):
        with counted(engine) as statements:
            staff_chat.say(said)
        assert len(statements) <= most, (said, statements)

"""The crash test (benchmarks/crash_test.py) in short, its checker, and the fake's timing helpers.

The long run (100 kills, SQLite and PostgreSQL) is a benchmark; its figures are in
benchmarks/README.md. Here `huibao run` is killed five times on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.crash_test import (
    Action,
    Report,
    check_database,
    plan_report,
    report_actions,
    run_crash_test,
)
from bot.core.conversation import Conversation
from storage.db import transaction
from storage.models import Entry
from tests.chat import Chat
from tests.conftest import Clock, register
from tests.fakes.telegram_api import FakeTelegram, SimUser

USER = SimUser(5_100_001, "员0")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.mark.slow
def test_five_kills_lose_no_confirmed_entry_store_none_twice_and_leave_none_stuck(
    tmp_path: Path,
) -> None:
    result = run_crash_test(kills=5, users=6, seed=7, max_uptime=3.0, work_dir=tmp_path)

    report = "\n".join([*result.lines(), *result.problems])
    assert result.kills == 5, report
    assert result.entries_confirmed > 0, report
    assert result.found == result.entries_confirmed, report
    assert (result.lost, result.duplicates, result.wrong_contents) == (0, 0, 0), report
    assert result.unconfirmed_in_db == 0, report  # every stored entry was announced
    assert result.in_report_at_final_restart > 0, report
    assert result.resumed == result.in_report_at_final_restart, report
    assert (result.stuck, result.open_interviews_left) == (0, 0), report
    assert result.internal_error_replies == 0, report
    assert result.final_exit_code == 0, report  # SIGTERM stops it cleanly
    assert result.ok, report


def play_report(chat: Chat, actions: list[Action]) -> int:
    """Go through a report in the core directly; return the saved entry's number."""
    answer = ""
    for action in actions:
        if action.kind == "text":
            answer = chat.say(action.value)
        elif action.kind == "photo":
            answer = chat.photo()
        else:
            answer = chat.press(action.value)
        assert action.expect in answer, (action, answer)
    return int(answer.split("#", 1)[1].split("。", 1)[0])


def test_the_checker_finds_lost_doubled_and_wrong_entries(
    engine: Engine,
    sessions: sessionmaker[Session],
    conversation: Conversation,
    demo_org: None,
    clock: Clock,
) -> None:
    register(sessions, "员0", "demo-xinhua", platform="telegram", external_id=str(USER.id))
    rng = random.Random(3)
    report = plan_report(rng, 0, 1)
    chat = Chat(conversation, str(USER.id), clock, platform="telegram")
    first = play_report(chat, report_actions(rng, report, 0.0))
    url = engine.url.render_as_string(hide_password=False)

    clean = check_database(url, {USER.id: {first: report}})
    assert (clean.entries, clean.found, clean.lost, clean.duplicates) == (1, 1, 0, 0)
    assert (clean.wrong_contents, clean.unconfirmed, clean.open_interviews) == (0, 0, 0)

    moved = Report(report.title, "别处", report.attendance, report.photo)
    wrong = check_database(url, {USER.id: {first: moved, first + 100: report}})
    assert (wrong.found, wrong.lost, wrong.wrong_contents) == (1, 1, 1)
    assert any("location '" in p for p in wrong.problems), wrong.problems

    play_report(chat, report_actions(rng, report, 0.0))  # the same report stored again
    chat.say("/report")  # and an interview left open
    doubled = check_database(url, {USER.id: {first: report}})
    assert (doubled.entries, doubled.duplicates, doubled.open_interviews) == (2, 1, 1)
    with transaction(sessions) as session:
        titles = session.scalars(select(Entry.title)).all()
    assert titles == [report.title, report.title]


def test_the_fake_tells_when_each_update_was_handed_out(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}{fake.token}"
    first = fake.user_sends_text(USER, "一")
    second = fake.user_sends_text(USER, "二")
    assert fake.handouts(first) == [] and fake.pending_update_ids() == [first, second]

    with httpx.Client() as client:
        client.post(f"{url}/getUpdates", json={"timeout": 0})
        client.post(f"{url}/getUpdates", json={"timeout": 0, "limit": 1})  # not confirmed
        assert len(fake.handouts(first)) == 2 and len(fake.handouts(second)) == 1
        client.post(f"{url}/getUpdates", json={"offset": second + 1, "timeout": 0})
        client.post(f"{url}/sendMessage", json={"chat_id": USER.id, "text": "收到"})
        client.post(f"{url}/sendMessage", json={"chat_id": USER.id, "text": "再见"})

    assert fake.pending_update_ids() == []
    assert fake.all_handouts() == {
        first: fake.handouts(first),
        second: fake.handouts(second),
    }
    handed, answered = fake.handouts(first)[0], fake.sent_since(0)[0].timestamp
    assert handed <= answered
    assert [m.text for m in fake.sent_since(1)] == ["再见"]
    assert fake.sent_since(2) == []

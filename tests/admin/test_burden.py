"""`huibao burden --period 2026H1`: per person, the messages the bot started, the reports
asked for and made, the questions per report; still right after old outbox rows are pruned.
SQLite and PostgreSQL; the clock is an input."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.burden import measure
from bot.admin.cli import main
from bot.core.conversation import Conversation
from bot.reminders.deadlines import DayRules, parse_span
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import Entry, OutboxMessage, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.reminders.test_reminders import BOSS, JUNE_REPORT, LI, WANG, RecordingChannel, at, run


def _world(sessions: sessionmaker[Session], conversation: Conversation, clock: Clock) -> None:
    """Two staff and a coordinator on Telegram; 李华 reports in June, is sent back once."""
    from bot.admin.org import demo_org, load_org

    with transaction(sessions) as session:
        load_org(session, demo_org())
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=LI)
    register(sessions, "王强", "demo-xinhua", platform="telegram", external_id=WANG)
    register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id=BOSS,
    )
    clock.now = at("2026-06-22 09:00")  # a Monday (19-21 June: the Dragon Boat holiday)
    play(Chat(conversation, LI, clock, platform="telegram"), JUNE_REPORT)
    with transaction(sessions) as session:
        entry = session.scalars(select(Entry.id)).one()
    Chat(conversation, BOSS, clock, platform="telegram").say(f"/return {entry} 请补充照片")


def _remind_through_june(sessions: sessionmaker[Session], clock: Clock) -> RecordingChannel:
    channel = RecordingChannel()
    made = Background(sessions, ReminderSettings(), SHANGHAI, clock, instance="b")
    made.attach({"telegram": channel})
    for moment in ("2026-06-22 09:01", "2026-06-22 18:00", "2026-06-24 18:00"):
        clock.now = at(moment)
        run(made)
    return channel


def test_the_burden_is_what_was_sent_asked_and_answered(
    sessions: sessionmaker[Session], conversation: Conversation, clock: Clock
) -> None:
    _world(sessions, conversation, clock)
    channel = _remind_through_june(sessions, clock)
    delivered = Counter(address for address, _ in channel.sent)
    span = parse_span("2026H1")
    with transaction(sessions) as session:
        found = {b.name: b for b in measure(session, span, SHANGHAI, DayRules())}
    li, wang, boss = found["李华"], found["王强"], found["周主任"]
    # the reflection's steps 7d, 3d, 1d reached each; 李华 also got the entry sent back
    assert (li.reminders, li.digests, li.returns) == (3, 0, 1)
    assert (wang.reminders, wang.digests, wang.returns) == (3, 0, 0)
    assert (boss.reminders, boss.digests) == (3, 3)
    assert li.started + wang.started + boss.started == sum(delivered.values())
    # asked: the monthly entries due 5 Jan ... 5 Jun (six) and the reflection; staff only for
    # the entries, the coordinator only for the reflection
    assert (li.asked, wang.asked, boss.asked) == (7, 7, 1)
    assert (li.reports, wang.reports) == (1, 0)
    assert li.questions is not None and 8 <= li.questions <= 14
    assert wang.questions is None
    # listed by unit and name, never by any figure
    assert list(found) == ["周主任", "李华", "王强"]

    # 90 days on, the sent rows are pruned: the tally keeps the figures
    clock.now = at("2026-10-01 10:00")
    made = Background(sessions, ReminderSettings(), SHANGHAI, clock, instance="p")
    assert made.prune()[1] > 0
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        again = {b.name: b for b in measure(session, span, SHANGHAI, DayRules())}
    assert again == found
    with transaction(sessions) as session:
        assert measure(session, parse_span("2026H2"), SHANGHAI, DayRules())[0].started == 0


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, questionnaires) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'huibao.sqlite3'}"
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    clock = Clock(at("2026-06-22 09:00"))
    conversation = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    _world(sessions, conversation, clock)
    _remind_through_june(sessions, clock)
    engine.dispose()
    return {"HUIBAO_DATABASE_URL": url, "HUIBAO_LOG_LEVEL": "WARNING"}


def test_cli_prints_the_burden_per_person(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["burden", "--period", "2026H1"],
        env=cli_env,
        catch_exceptions=False,
        obj=Clock(at("2026-07-01 10:00")),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Burden 2026H1 (2026-01-01 to 2026-06-30):"
    assert lines[1].split() == [
        "person",
        "unit",
        "reminders",
        "digests",
        "returns",
        "started",
        "reports",
        "asked",
        "reports",
        "made",
        "questions/report",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows["李华"][:7] == ["新华社区", "3", "0", "1", "4", "7", "1"]
    assert rows["王强"] == ["新华社区", "3", "0", "0", "3", "7", "0", "-"]
    assert rows["周主任"][:7] == ["和平街道", "3", "3", "0", "6", "1", "0"]
    assert lines[5].startswith("3 people; the bot started 13 message(s) (0.7 per person per month)")
    as_csv = runner.invoke(
        main, ["burden", "--period", "2026H1", "--csv"], env=cli_env, catch_exceptions=False
    )
    assert as_csv.output.splitlines()[0].startswith("person,unit,reminders,digests,returns")
    assert "王强,新华社区,3,0,0,3,7,0,-" in as_csv.output
    bad = runner.invoke(main, ["burden", "--period", "2026H3"], env=cli_env)
    assert bad.exit_code == 2 and "2026H3" in bad.output

"""The holiday calendar: China's public holidays and make-up working days (调休) from the
chinesecalendar package, an office's own days from a file, reminders held over holidays,
deadlines moved off them, working days counted as a clerk counts them. SQLite and PostgreSQL
where a database is involved; the clock is always an input."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.cli import main
from bot.core.conversation import Conversation
from bot.core.holidays import HolidaysError, load_calendar, public
from bot.reminders.deadlines import DayRules, effective, month_span, parse_due_for, set_deadline
from bot.reminders.ladder import Window, rung_times
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from storage import members, outbox
from storage.db import transaction
from storage.models import Requirement, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.reminders.test_reminders import BOSS, LI, WANG, ZHAO, RecordingChannel, at, run


@pytest.fixture
def people(sessions: sessionmaker[Session], demo_org: None) -> dict[str, int]:
    """Two staff of 新华社区, one of 朝阳社区, the street's coordinator; all on Telegram."""
    staff = (
        (LI, "李华", "demo-xinhua"),
        (WANG, "王强", "demo-xinhua"),
        (ZHAO, "赵敏", "demo-chaoyang"),
    )
    found = {
        key: register(sessions, name, unit, platform="telegram", external_id=key)
        for key, name, unit in staff
    }
    found[BOSS] = register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id=BOSS,
    )
    return found


# --- the calendar itself (pure) ----------------------------------------------------------


def test_national_day_2026_and_its_make_up_saturday() -> None:
    calendar = public()
    for day in range(1, 8):  # 1-7 October: 国庆节 (with the weekend inside it)
        assert calendar.holiday_name(date(2026, 10, day)) == "国庆节"
        assert not calendar.is_workday(date(2026, 10, day))
    assert calendar.is_workday(date(2026, 10, 10))  # a Saturday, worked in exchange
    assert calendar.holiday_name(date(2026, 10, 10)) is None
    assert calendar.is_workday(date(2026, 9, 20))  # a Sunday, worked in exchange
    assert not calendar.is_workday(date(2026, 10, 11))  # an ordinary Sunday
    assert not calendar.is_holiday(date(2026, 10, 11))  # a weekend, but no holiday
    assert calendar.holiday_name(date(2026, 6, 19)) == "端午"


def test_five_working_days_means_what_a_clerk_means() -> None:
    calendar = public()
    # after 30 September: 8 (Thu), 9 (Fri), 10 (Sat, worked), 12 (Mon), 13 (Tue) October
    assert calendar.add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert calendar.workdays_between(date(2026, 10, 1), date(2026, 10, 14)) == 5
    # an ordinary week: Friday 5 June + 5 working days is Friday 12 June
    assert calendar.add_workdays(date(2026, 6, 5), 5) == date(2026, 6, 12)
    assert calendar.next_workday(date(2026, 10, 3)) == date(2026, 10, 8)
    due = parse_due_for("5个工作日", month_span(2026, 9), SHANGHAI, calendar)
    assert due == at("2026-10-13 18:00")
    # the third is the Saturday worked in exchange
    assert parse_due_for("3 working days 12:00", month_span(2026, 9), SHANGHAI, calendar) == at(
        "2026-10-10 12:00"
    )
    assert parse_due_for("2wd", month_span(2026, 6), SHANGHAI, calendar) == at("2026-07-02 18:00")


def test_a_year_the_package_does_not_know_has_only_weekends_off() -> None:
    calendar = public()
    assert 2026 in calendar.package_years() and 2027 not in calendar.package_years()
    new_year = date(2027, 1, 1)  # a Friday: surely a holiday, but nobody has said so yet
    assert not calendar.knows(new_year)
    assert calendar.is_workday(new_year) and not calendar.is_holiday(new_year)
    assert not calendar.is_workday(date(2027, 1, 2))  # Saturday
    assert calendar.unknown_years([date(2026, 12, 31), new_year, date(2027, 2, 1)]) == [2027]


def test_an_office_file_adds_days_off_and_working_days(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "# 2027, as the State Council announced it\n"
        "covers: [2027]\n"
        "off:\n"
        "  2027-01-01: 元旦\n"
        "  2027-02-06..2027-02-13: 春节\n"
        "  2026-06-24: 单位调休\n"
        "work:\n"
        "  - 2027-02-14\n"
        "  - 2026-10-11\n",
        encoding="utf-8",
    )
    calendar = load_calendar(path)
    assert calendar.holiday_name(date(2027, 1, 1)) == "元旦"
    assert all(calendar.holiday_name(date(2027, 2, d)) == "春节" for d in range(6, 14))
    assert calendar.is_workday(date(2027, 2, 14))  # a Sunday worked
    assert calendar.knows(date(2027, 6, 1)) and calendar.unknown_years([date(2027, 6, 1)]) == []
    # the office's days win over the package's
    assert calendar.holiday_name(date(2026, 6, 24)) == "单位调休"
    assert calendar.is_workday(date(2026, 10, 11))
    assert public().is_workday(date(2026, 6, 24))  # the public calendar is untouched


def test_an_office_file_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "holidays.csv"
    path.write_text(
        "date,kind,name\n# a comment\n2027-01-01,off,元旦\n2027-02-14,班,春节调休\n",
        encoding="utf-8",
    )
    calendar = load_calendar(path)
    assert calendar.holiday_name(date(2027, 1, 1)) == "元旦"
    assert calendar.is_workday(date(2027, 2, 14))


@pytest.mark.parametrize(
    ("name", "content", "complaint"),
    [
        (
            "h.yaml",
            "off:\n  2027-01-01: 元旦\n  2027-02-30: 春节\n",
            "h.yaml:3: 2027-02-30 is not a date",
        ),
        ("h.yaml", "off:\n  - 2027-13-01\n", "h.yaml:2: 2027-13-01 is not a date"),
        ("h.yaml", "off:\n  - next monday\n", "h.yaml:2: 'next monday' is not a date"),
        ("h.yaml", "off:\n  - 2027-02-13..2027-02-06\n", "h.yaml:2: the range ends before"),
        (
            "h.yaml",
            "off:\n  - 2027-01-01\nwork:\n  - 2027-01-01\n",
            "h.yaml:4: 2027-01-01 is already given on line 2",
        ),
        ("h.yaml", "holidays:\n  - 2027-01-01\n", "h.yaml:1: 'holidays' is neither a day off"),
        ("h.yaml", "off: [2027-01-01\n", "h.yaml:2: not valid YAML"),
        ("h.csv", "2027-01-01,off\n2027-02-29,off,春节\n", "h.csv:2: 2027-02-29 is not a date"),
        ("h.csv", "2027-01-01,maybe\n", "h.csv:1: 'maybe' is neither"),
        ("h.txt", "2027-01-01\n", "ends in .yaml, .yml or .csv"),
    ],
)
def test_a_bad_holiday_file_names_its_file_and_line(
    tmp_path: Path, name: str, content: str, complaint: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HolidaysError) as raised:
        load_calendar(path)
    assert complaint in str(raised.value).replace(str(tmp_path) + os.sep, "")


# --- reminders over holidays ------------------------------------------------------------


def test_no_reminder_step_lands_on_a_holiday() -> None:
    window = Window.of(ReminderSettings(), SHANGHAI)
    due = at("2026-10-09 18:00")
    steps = rung_times(due, (7 * 1440, 3 * 1440, 1440), window, skip_weekends=False)
    # 2 and 6 October are National Day: both move to the first working morning
    assert [(s.offset, s.send_at) for s in steps] == [
        (7 * 1440, at("2026-10-08 08:00")),
        (3 * 1440, at("2026-10-08 08:00")),
        (1440, at("2026-10-08 18:00")),
    ]
    off = Window.of(ReminderSettings(skip_holidays=False), SHANGHAI)
    assert rung_times(due, (7 * 1440,), off, skip_weekends=False)[0].send_at == at(
        "2026-10-02 18:00"
    )
    # weekends held: the Saturday worked in exchange (10 October) is a working day
    saturday = rung_times(at("2026-10-12 09:00"), (2 * 1440,), window, skip_weekends=True)
    assert saturday[0].send_at == at("2026-10-10 09:00")


def _deadline(sessions: sessionmaker[Session], due: str, ladder: tuple[int, ...], **extra) -> int:
    with transaction(sessions) as session:
        unit = members.unit_by_key(session, "demo-district")
        assert unit is not None
        return set_deadline(
            session,
            unit_id=unit.id,
            span=month_span(2026, 9),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=at(due),
            now=at("2026-09-01 10:00"),
            ladder=ladder,
            **extra,
        ).row_id


def test_reminders_wait_for_the_first_working_day_after_national_day(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    _deadline(sessions, "2026-10-09 18:00", (7 * 1440, 3 * 1440))
    channel = RecordingChannel()
    made = Background(sessions, ReminderSettings(), SHANGHAI, clock, instance="h")
    made.attach({"telegram": channel})
    for moment in ("2026-10-02 18:00", "2026-10-05 10:00", "2026-10-07 20:00"):
        clock.now = at(moment)
        assert run(made) == 0, moment
    clock.now = at("2026-10-08 08:00")
    assert run(made) == 4  # three staff and the street coordinator's digest: once
    assert "2026年10月9日（周五） 18:00 前上报" in channel.texts(LI)[0]
    clock.now = at("2026-10-08 12:00")
    assert run(made) == 0


def test_on_a_holiday_a_reminder_waits_but_an_entry_sent_back_goes(
    sessions: sessionmaker[Session], people: dict[str, int], clock: Clock
) -> None:
    with transaction(sessions) as session:
        outbox.enqueue(
            session,
            [
                outbox.NewMessage(
                    key="remind:x:1",
                    kind="reminder",
                    member_id=people[LI],
                    platform="telegram",
                    address=LI,
                    payload=[{"text": "提醒", "choices": [], "document": None}],
                    not_before=at("2026-10-01 10:00"),
                    expires_at=at("2026-10-20 18:00"),
                    deadline_ref="d1",
                ),
                outbox.NewMessage(
                    key="return:1",
                    kind="returned",
                    member_id=people[LI],
                    platform="telegram",
                    address=LI,
                    payload=[{"text": "退回", "choices": [], "document": None}],
                    not_before=at("2026-10-01 10:00"),
                ),
            ],
            at("2026-09-30 10:00"),
        )
    channel = RecordingChannel()
    made = Background(sessions, ReminderSettings(enabled=False), SHANGHAI, clock, instance="h")
    made.attach({"telegram": channel})
    clock.now = at("2026-10-01 10:00")
    assert asyncio.run(made.send_due()) == 1
    assert channel.texts(LI) == ["退回"]
    clock.now = at("2026-10-08 08:00")
    assert asyncio.run(made.send_due()) == 1
    assert channel.texts(LI) == ["退回", "提醒"]


# --- deadlines on a day off ---------------------------------------------------------------


def test_a_deadline_on_a_holiday_moves_when_it_says_so(
    sessions: sessionmaker[Session], people: dict[str, int]
) -> None:
    moved = _deadline(sessions, "2026-10-05 18:00", (1440,), move_off_days=True)
    now = at("2026-09-20 10:00")
    with transaction(sessions) as session:
        found = {d.ref: d for d in effective(session, now, SHANGHAI, now, at("2026-11-01 00:00"))}
    mine = found[f"d{moved}"]
    assert mine.due_at == at("2026-10-08 18:00") and mine.moved_from == at("2026-10-05 18:00")
    # the default rule (5 October too) stays unless the settings move deadlines
    assert found["monthly-entry:2026-09"].due_at == at("2026-10-05 18:00")
    with transaction(sessions) as session:
        keep = effective(session, now, SHANGHAI, now, at("2026-11-01 00:00"), DayRules(move=True))
    rules = {d.ref: d.due_at for d in keep}
    assert rules["monthly-entry:2026-09"] == at("2026-10-08 18:00")
    assert rules[f"d{moved}"] == at("2026-10-08 18:00")


def test_an_admin_sets_a_deadline_in_working_days_or_moved_off_a_holiday(
    sessions: sessionmaker[Session], questionnaires, demo_org: None
) -> None:
    clock = Clock(at("2026-09-20 10:00"))
    conversation = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    register(sessions, "管理员", "demo-district", RoleName.ADMIN)
    admin = Chat(conversation, "管理员", clock)
    play(
        admin,
        [
            (
                "/deadline set demo-street 2026-09 monthly-entry 5个工作日",
                "截止 2026年10月13日（周二） 18:00",
            ),
            (
                "/deadline set demo-xinhua 2026-09 monthly-entry 2026-10-05 顺延",
                [
                    "截止 2026年10月5日（周一） 18:00",
                    "这一天是国庆节，截止时间顺延到下一个工作日：2026年10月8日（周四） 18:00。",
                ],
            ),
        ],
    )
    listing = Chat(conversation, "管理员", clock).say("/deadline")
    assert "新华社区：2026年9月活动记录，截止 2026年10月8日（周四） 18:00" in listing  # moved
    assert "和平街道：2026年9月活动记录，截止 2026年10月13日（周二） 18:00" in listing


# --- the CLI: the start stops on a bad file; status says what it does not know ------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "WARNING",
    }


def huibao(env: dict[str, str], clock: Clock, *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False, obj=clock)


def test_a_bad_date_in_the_holiday_file_stops_the_start_with_file_and_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "office-days.yaml"
    bad.write_text("covers: [2027]\noff:\n  2027-01-01: 元旦\n  2027-02-30: 春节\n", "utf-8")
    env = {**cli_env, "HUIBAO_REMINDERS__HOLIDAYS_FILE": str(bad)}
    clock = Clock(at("2026-12-02 10:00"))
    for command in (["status"], ["run"]):
        result = huibao(env, clock, *command)
        assert result.exit_code == 1, result.output
        assert "holiday calendar error (HUIBAO_REMINDERS__HOLIDAYS_FILE)" in result.output
        assert f"{bad}:4: 2027-02-30 is not a date" in result.output
    assert not (tmp_path / "huibao.sqlite3").exists()  # stopped before touching the database


def test_status_says_when_next_years_holidays_are_unknown(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    clock = Clock(at("2026-12-02 10:00"))
    result = huibao(cli_env, clock, "status")
    assert result.exit_code == 0, result.output
    assert "chinesecalendar 1.11.0 knows public holidays 2004-2026" in result.output
    assert "for 2027 only Saturdays and Sundays count as days off" in result.output
    preview = huibao(cli_env, clock, "remind", "preview")
    assert "for 2027 only Saturdays and Sundays" in preview.output
    # in June the next 61 days are all known: nothing to say
    assert "only Saturdays" not in huibao(cli_env, Clock(at("2026-06-24 10:00")), "status").output
    # once the office adds 2027 (covers: [2027]), the warning goes
    office = tmp_path / "h.csv"
    office.write_text("2027-01-01,off,元旦\n", "utf-8")
    yaml_file = tmp_path / "h.yaml"
    yaml_file.write_text("covers: [2027]\noff:\n  2027-01-01: 元旦\n", "utf-8")
    env = {**cli_env, "HUIBAO_REMINDERS__HOLIDAYS_FILE": str(yaml_file)}
    assert "only Saturdays" not in huibao(env, clock, "status").output


def test_cli_sets_a_deadline_in_working_days_and_moves_one_off_a_holiday(
    cli_env: dict[str, str],
) -> None:
    clock = Clock(at("2026-09-20 10:00"))
    assert huibao(cli_env, clock, "org", "show").exit_code == 0
    from bot.admin.org import demo_org, load_org
    from storage.db import create_db_engine, make_sessionmaker

    engine = create_db_engine(cli_env["HUIBAO_DATABASE_URL"])
    with transaction(make_sessionmaker(engine)) as session:
        load_org(session, demo_org())
    engine.dispose()
    done = huibao(
        cli_env,
        clock,
        "deadline",
        "set",
        "--unit",
        "demo-street",
        "--period",
        "2026-09",
        "--requires",
        "monthly-entry",
        "--due",
        "5 working days",
    )
    assert done.exit_code == 0, done.output
    assert "due 2026-10-13 18:00" in done.output
    moved = huibao(
        cli_env,
        clock,
        "deadline",
        "set",
        "--unit",
        "demo-xinhua",
        "--period",
        "2026-09",
        "--requires",
        "monthly-entry",
        "--due",
        "2026-10-05",
        "--on-holiday",
        "move",
    )
    assert moved.exit_code == 0, moved.output
    assert "2026-10-05 is 国庆节: due 2026-10-08 18:00" in moved.output
    listing = huibao(cli_env, clock, "remind", "preview", "--at", "2026-10-02 10:00")
    assert "holiday: 国庆节: nothing goes out before 2026-10-08 08:00" in listing.output

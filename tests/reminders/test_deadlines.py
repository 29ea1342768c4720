"""Deadlines as data: /deadline for admins in chat, /status with deadlines, and the CLI
(`huibao deadline`, `huibao status`, `huibao remind preview`). SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.cli import main
from bot.core.conversation import Conversation
from bot.reminders.deadlines import DeadlineError, parse_due, parse_span
from storage.db import create_db_engine, make_sessionmaker, transaction, upgrade
from storage.models import Deadline, OutboxMessage, RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.reminders.test_reminders import JUNE_REPORT


def test_periods_and_due_times_are_read_in_the_forms_people_write() -> None:
    assert parse_span("2026H1").key == "2026H1"
    assert parse_span("2026年下半年").key == "2026H2"
    assert parse_span("2026-6").key == parse_span("2026年6月").key == "2026-06"
    assert str(parse_span("2026-12").end_day) == "2027-01-01"
    for bad in ("2026-13", "2026H3", "June", "", "0000H1", "9999-12"):
        with pytest.raises(DeadlineError):
            parse_span(bad)
    due = parse_due("2026-06-25 18:00", SHANGHAI)
    assert due.isoformat() == "2026-06-25T10:00:00+00:00"
    assert parse_due("2026/6/25", SHANGHAI) == due  # a date alone: 18:00
    for bad in ("2026-02-30 18:00", "tomorrow", "2026-06-25 25:00", "9999-12-31", "0001-01-01"):
        with pytest.raises(DeadlineError):
            parse_due(bad, SHANGHAI)


def live_deadlines(sessions: sessionmaker[Session]) -> list[tuple[int, bool]]:
    """(id, still in force) of every deadline row, oldest first."""
    with transaction(sessions) as session:
        rows = session.execute(select(Deadline.id, Deadline.removed_at.is_(None))).all()
        return sorted((int(i), bool(live)) for i, live in rows)


def test_an_admin_sets_lists_and_removes_deadlines_in_chat(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "管理员", "demo-district", RoleName.ADMIN)
    admin = Chat(conversation, "管理员", clock)
    play(
        admin,
        [
            (
                "/deadline",
                [
                    "当前的截止时间",
                    "默认：2026年6月活动记录，截止 2026年7月5日（周日） 18:00",
                    "默认：2026年上半年工作回顾，截止 2026年6月25日（周四） 18:00",
                ],
            ),
            (
                "/deadline set 和平街道 2026-06 monthly-entry 2026-07-08 18:00",
                "已设置：和平街道 2026年6月活动记录，截止 2026年7月8日（周三） 18:00，提醒：按默认设置（编号 ",
            ),
        ],
    )
    ((first, _),) = live_deadlines(sessions)
    play(
        admin,
        [
            (
                "/deadline set demo-street 2026年6月 月报 2026-07-09 5d,1d",
                [
                    "截止 2026年7月9日（周四） 18:00，提醒：截止前 5d,1d（编号 ",
                    f"原来的截止时间（编号 {first}）已被替换",
                ],
            ),
        ],
    )
    (_, (second, _)) = live_deadlines(sessions)
    play(
        admin,
        [
            ("/deadline", [f"#{second} 和平街道：2026年6月活动记录", "截止前 5d,1d"]),
            ("/deadline set 和平街道 2026H1 monthly-entry 2026-07-08", "要写月份，例如 2026-06"),
            ("/deadline set 和平街道 2026-06 reflection 2026-07-08", "要写半年，例如 2026H1"),
            ("/deadline set 和平街道 2026-06 entry 明天下午", "没看懂截止时间“明天下午”"),
            ("/deadline set 和平街道 2026-06 entry 2026-07-08 3x", "没看懂截止时间"),
            ("/deadline set 和平街道 2026-06 everything 2026-07-08", "没看懂要求“everything”"),
            ("/deadline set 和平街道 2026-13 entry 2026-07-08", "没看懂期间“2026-13”"),
            ("/deadline set 和平街道 2026-06 entry 2026-06-01 09:00", "已经过去了"),
            ("/deadline set 海淀区 2026-06 entry 2026-07-08", "没有找到你管理的单位“海淀区”"),
            ("/deadline set 和平街道", "用法"),
            ("/deadline set 和平街道 0000H1 reflection 2026-06-30", "没看懂期间“0000H1”"),
            ("/deadline set 和平街道 9999H2 entry 9999-12-31", "没看懂期间“9999H2”"),
            ("/deadline set 和平街道 2026-06 entry 9999-12-31", "没看懂截止时间“9999-12-31”"),
            ("/deadline remove ²", "没有编号为 ² 的截止时间"),
            ("/deadline remove 99999999999999999999", "没有编号为 999999999999 的截止时间"),
            (f"/deadline remove {second + 99}", f"没有编号为 {second + 99} 的截止时间"),
            (f"/deadline remove {first}", f"没有编号为 {first} 的截止时间"),  # replaced before
            (f"/deadline remove {second}", f"已删除截止时间（编号 {second}）"),
            ("/deadline remove", "用法"),
            ("/deadline 干嘛", "用法"),
            ("/help", ["/deadline", "管理员命令", "/return"]),
        ],
    )
    assert live_deadlines(sessions) == [(first, False), (second, False)]


def test_only_admins_of_a_unit_set_its_deadlines(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    register(sessions, "孙书记", "demo-chaoyang", RoleName.ADMIN)
    register(sessions, "管理员", "demo-district", RoleName.ADMIN)
    Chat(conversation, "管理员", clock).say("/deadline set 新华社区 2026-06 entry 2026-06-30")
    ((xinhua, _),) = live_deadlines(sessions)
    play(
        Chat(conversation, "周主任", clock),
        [("/deadline set 新华社区 2026-06 entry 2026-06-30", "需要管理员身份")],
    )
    play(
        Chat(conversation, "孙书记", clock),
        [
            ("/deadline set 新华社区 2026-06 entry 2026-06-30", "没有找到你管理的单位“新华社区”"),
            (f"/deadline remove {xinhua}", f"没有编号为 {xinhua} 的截止时间"),
            ("/deadline set 朝阳社区 2026-06 entry 2026-06-30", "已设置：朝阳社区"),
        ],
    )
    listing = Chat(conversation, "孙书记", clock).say("/deadline")
    assert "朝阳社区" in listing and "新华社区" not in listing


def test_status_shows_each_current_deadline_per_unit(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "王强", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    play(Chat(conversation, "李华", clock), JUNE_REPORT)
    play(
        Chat(conversation, "王强", clock),
        [("/reflect", "不足"), ("人手不够", "打算"), ("/skip", "谢谢")],
    )
    status = Chat(conversation, "周主任", clock).say("/status")
    assert "6月上报情况" in status  # this month, as before
    lines = status.splitlines()
    monthly = lines.index("📅 2026年6月活动记录：2026年7月5日（周日） 18:00 截止（还有 11 天）")
    assert lines[monthly + 1] == "  新华社区：已完成 1/2 人  ⏳ 王强"
    reflection = lines.index(
        "📅 2026年上半年工作回顾：2026年6月25日（周四） 18:00 截止（还有 1 天）"
    )
    assert lines[reflection + 1 : reflection + 3] == [
        "  和平街道：已完成 0/1 人  ⏳ 周主任",
        "  新华社区：已完成 1/2 人  ⏳ 李华",
    ]
    english = Chat(conversation, "周主任", clock)
    english.say("/lang en")
    assert "  新华社区: 1/2 done  ⏳ 王强" in english.say("/status")


# --- the command line -----------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A database with the demo units, two staff on Telegram and a coordinator."""
    url = f"sqlite:///{tmp_path / 'huibao.sqlite3'}"
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    from bot.admin.org import demo_org, load_org

    with transaction(sessions) as session:
        load_org(session, demo_org())
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id="1001")
    register(sessions, "王强", "demo-xinhua", platform="wecom", external_id="wangqiang")
    register(
        sessions,
        "周主任",
        "demo-street",
        RoleName.COORDINATOR,
        platform="telegram",
        external_id="2001",
    )
    engine.dispose()
    return {"HUIBAO_DATABASE_URL": url, "HUIBAO_LOG_LEVEL": "WARNING"}


# The commands' clock (the click context's object): which deadlines are still in force
# does not depend on today's date.
CLI_CLOCK = Clock(datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC))


def huibao(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False, obj=CLI_CLOCK)


def test_cli_sets_lists_and_removes_deadlines(cli_env: dict[str, str]) -> None:
    done = huibao(
        cli_env,
        "deadline",
        "set",
        "--unit",
        "和平街道",
        "--period",
        "2030-06",
        "--requires",
        "monthly-entry",
        "--due",
        "2030-07-08 18:00",
        "--ladder",
        "3d,1d",
    )
    assert done.exit_code == 0, done.output
    assert done.output.startswith(
        "deadline #1: 和平街道 monthly-entry 2030-06 due 2030-07-08 18:00"
    )
    again = huibao(
        cli_env,
        "deadline",
        "set",
        "--unit",
        "demo-street",
        "--period",
        "2030-06",
        "--requires",
        "monthly-entry",
        "--due",
        "2030-07-09",
        "--weekends",
        "skip",
    )
    assert again.exit_code == 0 and "(replaces deadline #1)" in again.output
    listing = huibao(cli_env, "deadline", "list")
    assert "#2 和平街道: activity records for 6/2030, due 2030-07-09 (Tue) 18:00" in listing.output
    assert "#1 " not in listing.output
    everything = huibao(cli_env, "deadline", "list", "--all")
    assert (
        "#1 和平街道 monthly-entry 2030-06 due 2030-07-08 18:00, reminders: 3d,1d before"
        in everything.output
    )
    assert "[removed]" in everything.output
    only = huibao(cli_env, "deadline", "list", "--unit", "朝阳社区")
    assert "#2 " not in only.output and "default:" in only.output
    assert huibao(cli_env, "deadline", "remove", "2").output == "deadline #2 removed\n"
    gone = huibao(cli_env, "deadline", "remove", "2")
    assert gone.exit_code == 1 and "no deadline #2 in force" in gone.output


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (
            ["--period", "2030H3"],
            "Invalid value for --period: I could not read the period “2030H3”",
        ),
        (["--requires", "stuff"], "Invalid value for --requires: I could not read the requirement"),
        (["--period", "2030H1"], "monthly-entry needs a month such as 2026-06"),
        (["--due", "next friday"], "Invalid value for --due: I could not read the due time"),
        (["--due", "2020-07-08 18:00"], "That time has passed"),
        (["--due", "2030-05-08 18:00"], "before the period 2030-06 begins"),
        (["--ladder", "7d,soon"], "Invalid value for --ladder"),
        (["--unit", "海淀区"], "no unit '海淀区'"),
    ],
)
def test_cli_refuses_bad_deadlines_and_stores_nothing(
    cli_env: dict[str, str], options: list[str], complaint: str
) -> None:
    values = {
        "--unit": "和平街道",
        "--period": "2030-06",
        "--requires": "monthly-entry",
        "--due": "2030-07-08 18:00",
    }
    values.update(dict(zip(options[::2], options[1::2], strict=True)))
    result = huibao(cli_env, "deadline", "set", *(x for pair in values.items() for x in pair))
    assert result.exit_code != 0
    assert complaint in result.output
    engine = create_db_engine(cli_env["HUIBAO_DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Deadline)) == 0
    engine.dispose()


def test_cli_help_documents_the_forms(cli_env: dict[str, str]) -> None:
    text = huibao(cli_env, "deadline", "set", "--help").output
    for fragment in ("2026H1", "2026-06", "monthly-entry", "reflection", "entry", "7d,3d,1d,2h"):
        assert fragment in text
    assert "preview" in huibao(cli_env, "remind", "--help").output


def test_cli_status_per_unit(cli_env: dict[str, str]) -> None:
    result = huibao(cli_env, "status", "--unit", "和平街道")
    assert result.exit_code == 0, result.output
    assert "截止事项" in result.output and "活动记录" in result.output
    assert "  新华社区：已完成 0/2 人  ⏳ 李华、王强" in result.output
    english = huibao(cli_env, "status", "--lang", "en")
    assert "Deadlines:" in english.output
    assert huibao(cli_env, "status", "--unit", "nowhere").exit_code == 1


def test_remind_preview_lists_what_would_go_out_and_sends_nothing(cli_env: dict[str, str]) -> None:
    result = huibao(cli_env, "remind", "preview", "--at", "2026-06-24 10:00", "--text")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("At 2026-06-24 10:00 (Asia/Shanghai):\n4 new message(s) would be queued:")
    reason = (
        "deadline reflection:2026H1 (reflection 2026H1, all units (default rule), "
        "due 2026-06-25 18:00): step 3d before, planned 06-22 18:00"
    )
    assert f"reminder to 李华 (telegram 1001): {reason}; nothing yet for 新华社区" in out
    assert f"reminder to 王强 (wecom wangqiang): {reason}" in out
    assert f"digest to 周主任 (telegram 2001): {reason}; digest of 3 missing" in out
    assert "[✍️ 开始回顾] (/reflect)" in out  # with --text, the message and its button
    quiet = huibao(cli_env, "remind", "preview", "--at", "2026-06-24 22:30")
    assert "quiet hours: nothing goes out before 2026-06-25 08:00" in quiet.output
    # the 1-day step came at 18:00; queued now, it waits for the morning
    assert "4 new message(s) would be queued, to go out from 2026-06-25 08:00:" in quiet.output
    assert "step 1d before, planned 06-24 18:00" in quiet.output
    bad = huibao(cli_env, "remind", "preview", "--at", "someday")
    assert bad.exit_code == 2 and "not a time" in bad.output
    engine = create_db_engine(cli_env["HUIBAO_DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    engine.dispose()

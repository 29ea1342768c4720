"""/status for a district of thousands: one message with a line per street at once, the full
list as .xlsx from a job after the message's commit (bot.jobs); a community still gets every
name (transcripts, both databases)."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker
from telegram.constants import MessageLimit

from bot.admin.org import OrgFile, load_org
from bot.channels import telegram
from bot.channels.wecom import adapter as wecom
from bot.core import status_overview
from bot.core.conversation import Conversation
from bot.core.types import Reply, replies_from_json
from bot.jobs import Worker
from bot.reminders.outbox import take_waiting
from storage import entries as entry_store
from storage import members
from storage.db import transaction
from storage.models import (
    Entry,
    Identity,
    Member,
    OutboxMessage,
    OutboxStatus,
    Platform,
    ProcessedMessage,
    ReminderMute,
    RoleGrant,
    RoleName,
    Unit,
)
from tests.chat import Chat
from tests.conftest import Clock, register

STREETS, COMMUNITIES = 4, 5


def district(streets: int = STREETS, communities: int = COMMUNITIES) -> OrgFile:
    """示范区: streets of communities, in the order they are set up."""
    streets = [
        {
            "code": f"s{s}",
            "name": f"第{s + 1}街道",
            "kind": "街道",
            "children": [
                {"code": f"s{s}c{c}", "name": f"第{s + 1}街道{c + 1}社区", "kind": "社区"}
                for c in range(communities)
            ],
        }
        for s in range(streets)
    ]
    return OrgFile.model_validate(
        {"units": [{"code": "d", "name": "示范区", "kind": "区", "children": streets}]}
    )


def populate(
    sessions: sessionmaker[Session],
    engine: Engine,
    staff: int,
    month: date,
    streets: int = STREETS,
    communities: int = COMMUNITIES,
) -> None:
    """`staff` people spread over the communities (bulk inserts); every third of them
    reported once in `month`, every ninth twice; one entry of the month before, one deleted."""
    with transaction(sessions) as session:
        load_org(session, district(streets, communities))
        units = []
        for s in range(streets):
            for c in range(communities):
                unit = members.unit_by_key(session, f"s{s}c{c}")
                assert unit is not None
                units.append(unit.id)
        questionnaire = entry_store.questionnaire_row(session, "q", 1, "q", dict)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    people = [{"name": f"员工{i:05d}", "locale": "zh", "created_at": now} for i in range(staff)]
    with engine.begin() as connection:
        ids = connection.scalars(
            insert(Member).returning(Member.id, sort_by_parameter_order=True), people
        ).all()
    accounts, grants, entries = [], [], []
    for i, member in enumerate(ids):
        unit = units[i % len(units)]
        accounts.append(
            {"member_id": member, "platform": Platform.SHELL, "external_id": f"staff{i}"}
        )
        grants.append({"member_id": member, "unit_id": unit, "role": RoleName.STAFF})
        times = 2 if i % 9 == 0 else 1 if i % 3 == 0 else 0
        for n in range(times):
            day = month.replace(day=1 + (i + n) % 20)
            entries.append(entry(member, unit, questionnaire, day, f"活动{i}-{n}", now))
    entries.append(entry(ids[1], units[1], questionnaire, date(2026, 5, 30), "上月", now))
    deleted = entry(ids[2], units[2], questionnaire, month, "已删除", now)
    entries.append({**deleted, "deleted_at": now})
    with engine.begin() as connection:
        connection.execute(insert(Identity), [{**a, "created_at": now} for a in accounts])
        connection.execute(insert(RoleGrant), [{**g, "created_at": now} for g in grants])
        connection.execute(insert(Entry), entries)


def entry(
    member: int, unit: int, questionnaire: int, day: date, title: str, now: datetime
) -> dict[str, object]:
    return {
        "member_id": member,
        "unit_id": unit,
        "questionnaire_id": questionnaire,
        "area": "study",
        "area_name": "理论学习",
        "title": title,
        "start_date": day,
        "end_date": day,
        "period": "2026H1",
        "answers": {},
        "revision": 1,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }


def one_message_everywhere(reply: Reply) -> None:
    """What Telegram and WeCom make of the reply's text: one message each."""
    assert len(telegram.split_text(reply.text)) == 1
    assert len(wecom.plan(Reply(reply.text))) == 1
    assert len(reply.text.encode()) <= wecom.TEXT_LIMIT


def the_list(
    sessions: sessionmaker[Session], data: Path, clock: Clock, user: str = "区负责人"
) -> Reply:
    """What the job sends after the answer: the one message waiting for `user`."""
    assert take_waiting(sessions, "shell", user, clock()) == []  # nothing before the job
    assert Worker(sessions, None, data, clock).run_due() == 1
    (reply,) = take_waiting(sessions, "shell", user, clock())
    assert take_waiting(sessions, "shell", user, clock()) == []  # once
    return reply


def sheet_title(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return str(book.sheetnames[0])


def sheet(content: bytes) -> tuple[list[object], list[tuple[object, ...]]]:
    """The document's one sheet read back: its header, its rows."""
    book = load_workbook(io.BytesIO(content), read_only=True)
    (only,) = book.worksheets
    header, *rows = list(only.iter_rows(values_only=True))
    width = len(header)
    return list(header), [row + (None,) * (width - len(row)) for row in rows]


@pytest.fixture
def big_district(
    sessions: sessionmaker[Session], engine: Engine, clock: Clock
) -> sessionmaker[Session]:
    populate(sessions, engine, 2000, date(2026, 6, 1))
    register(sessions, "区负责人", "d", RoleName.COORDINATOR)
    return sessions


def test_a_district_of_2000_gets_one_message_a_line_per_street_and_the_list(
    conversation: Conversation,
    big_district: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
) -> None:
    boss = Chat(conversation, "区负责人", clock)
    text = boss.say("/status")
    (reply,) = boss.replies
    one_message_everywhere(reply)
    lines = text.splitlines()
    assert lines[0].startswith("6月上报情况：共 2000 人")
    street_lines = [ln for ln in lines if re.match(r"第\d街道（", ln)]
    # one line per street, in the order the district set them up
    assert [ln.split("（")[0] for ln in street_lines] == [
        "第1街道",
        "第2街道",
        "第3街道",
        "第4街道",
    ]
    # who still owes: counted, and the first three named (the first community's, by name)
    assert "未报 333（员工00020、员工00040、员工00080等）" in street_lines[0]
    assert "第1街道1社区" not in text  # no line per community
    assert reply.document is None  # the list is made after the answer, by a job
    assert lines[-1].startswith("📎 完整名单（Excel）《上报情况_2026-06.xlsx》稍后发给你")
    with big_district() as session:  # the stored answer carries no file
        stored = session.scalars(select(ProcessedMessage.replies)).all()
    assert all(item["document"] is None for replies in stored for item in replies or [])

    clock.advance(minutes=1)
    listed = the_list(big_district, tmp_path, clock)
    assert listed.text.startswith("📎 6月上报情况完整名单（截至6月24日 10:01）")
    assert listed.document is not None
    assert listed.document.filename == "上报情况_2026-06.xlsx"
    assert sheet_title(listed.document.content) == "6月上报情况（截至6月24日10时01分）"

    # the numbers of each line are the document's: a row per person, unit by unit
    header, rows = sheet(listed.document.content)
    assert header[:5] == ["所属", "单位", "姓名", "本月上报（条）", "状态"]
    assert header[-2:] == ["收不到消息", "本月记录"]
    staff_rows = [row for row in rows if row[4] in ("已报", "未报")]
    assert len(staff_rows) == 2000
    assert {row[2] for row in staff_rows} == {f"员工{i:05d}" for i in range(2000)}
    assert [row[2] for row in rows if row[4] is None] == ["区负责人"]  # owes the review
    per_street = Counter(row[0] for row in staff_rows)
    reported = Counter(row[0] for row in staff_rows if row[4] == "已报")
    activities: Counter[object] = Counter()
    for row in rows:
        activities[row[0]] += int(row[3] or 0)
        listed = str(row[-1] or "").splitlines()
        assert len(listed) == int(row[3] or 0)  # each of the person's entries, listed
        assert not any("上月" in e or "已删除" in e for e in listed)
    assert staff_rows[0][2:5] == ("员工00000", 2, "已报")
    assert re.fullmatch(
        r"#\d+ 6月1日 理论学习｜活动0-0\n#\d+ 6月2日 理论学习｜活动0-1", staff_rows[0][-1]
    )
    units = {row[1] for row in staff_rows if row[0] == "第1街道"}
    for line in street_lines:
        name = line.split("（")[0]
        found = re.search(
            r"（(\d+) 个单位，(\d+) 人）：已报 (\d+)，未报 (\d+).*；活动 (\d+) 条", line
        )
        assert found is not None, line
        count_units, staff, done, owed, count = (int(x) for x in found.groups())
        assert (count_units, staff) == (len(units), per_street[name])
        assert (done, owed) == (reported[name], staff - reported[name])
        assert count == activities[name]
    # each deadline: a line (①, ②) with its total, its state on each street's line, and in
    # the document a column of who has not met it
    headings = [ln for ln in lines if ln.startswith("📅 ")]
    assert [ln[2:].split("：")[0] for ln in headings] == [
        "①2026年上半年工作回顾",
        "②2026年6月活动记录",
    ]
    for number, heading in enumerate(headings):
        column = header.index(heading[3:].split("：")[0])
        owing = Counter(row[0] for row in rows if row[column])
        found = re.search(r"已完成 (\d+)/(\d+) 人", heading)
        assert found is not None
        assert int(found[2]) - int(found[1]) == sum(owing.values())
        for line in street_lines:
            states = re.search(r"截止已完成 ①(\d+)/(\d+) ②(\d+)/(\d+)$", line)
            assert states is not None, line
            done, held = int(states[1 + 2 * number]), int(states[2 + 2 * number])
            assert held - done == owing[line.split("（")[0]], line
    # the month's report is met by reporting: the same count as the street's line
    assert street_lines[0].endswith("②{}/500".format(reported["第1街道"]))
    total = re.search(r"共 (\d+) 人，已报 (\d+) 人，未报 (\d+) 人；本月活动 (\d+) 条", lines[0])
    assert total is not None
    assert tuple(int(x) for x in total.groups()) == (
        2000,
        sum(reported.values()),
        2000 - sum(reported.values()),
        sum(activities.values()),
    )


def test_the_list_keeps_the_fixed_order_never_by_how_many_reported(
    conversation: Conversation,
    big_district: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
) -> None:
    with transaction(big_district) as session:  # the last street: everyone reports, twice
        street = members.unit_by_key(session, "s3")
        assert street is not None
        grants = session.execute(
            select(RoleGrant.member_id, RoleGrant.unit_id)
            .join(Unit, Unit.id == RoleGrant.unit_id)
            .where(Unit.path.startswith(street.path), RoleGrant.role == RoleName.STAFF)
        ).all()
        questionnaire = entry_store.questionnaire_row(session, "q", 1, "q", dict)
    rows = [
        entry(member, unit, questionnaire, date(2026, 6, 2), f"补报{n}", clock())
        for member, unit in grants
        for n in range(2)
    ]
    with transaction(big_district) as session:
        session.execute(insert(Entry), rows)
    boss = Chat(conversation, "区负责人", clock)
    lines = boss.say("/status").splitlines()
    (reply,) = boss.replies
    streets = [ln for ln in lines if re.match(r"第\d街道（", ln)]
    assert [ln[:4] for ln in streets] == ["第1街道", "第2街道", "第3街道", "第4街道"]
    assert "第4街道（5 个单位，500 人）：已报 500，未报 0；" in streets[3]
    assert reply.document is None
    document = the_list(big_district, tmp_path, clock).document
    assert document is not None
    # in the document: units as set up, people by name within each unit, whatever they
    # reported
    _, rows = sheet(document.content)
    units = list(dict.fromkeys(row[1] for row in rows))
    assert units[:3] == ["示范区", "第1街道1社区", "第1街道2社区"]
    assert units[-1] == "第4街道5社区"
    for unit in units:
        names = [row[2] for row in rows if row[1] == unit and row[4]]
        assert names == sorted(names)


def test_english_and_a_street_coordinator_get_a_line_per_community(
    conversation: Conversation,
    big_district: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
) -> None:
    register(big_district, "街道主任", "s1", RoleName.COORDINATOR)
    street = Chat(conversation, "街道主任", clock)
    street.say("/lang en")
    text = street.say("/status")
    (reply,) = street.replies
    one_message_everywhere(reply)
    assert text.startswith("Reporting in month 6: 500 staff")
    lines = [ln for ln in text.splitlines() if ln.startswith("第2街道")]
    # the street's own level: nobody on its staff, its coordinator owes the half-year review
    assert lines[0] == "第2街道 (own staff): no staff yet; 0 activities; deadlines done ①0/1"
    assert [ln.split(" ")[0] for ln in lines[1:]] == [f"第2街道{c}社区" for c in range(1, 6)]
    assert lines[1].startswith("第2街道1社区 (100 staff): 33 reported, 67 not yet (员工00005, ")
    assert "第1街道" not in text
    assert text.splitlines()[-1].startswith("📎 The full list (Excel) status_2026-06.xlsx")
    listed = the_list(big_district, tmp_path, clock, "街道主任")
    assert listed.text.startswith("📎 The full reporting list of month 6 as of 6/24 10:00")
    assert listed.document is not None and listed.document.filename == "status_2026-06.xlsx"
    assert sheet_title(listed.document.content) == "Month 6 as of 6-24 10h00"
    staff = [row for row in sheet(listed.document.content)[1] if row[4]]
    assert len(staff) == 500
    assert {row[0] for row in staff} == {f"第2街道{c}社区" for c in range(1, 6)}
    assert {row[4] for row in staff} == {"reported", "not yet"}


def test_a_street_of_ten_still_gets_every_name(
    conversation: Conversation,
    sessions: sessionmaker[Session],
    engine: Engine,
    clock: Clock,
) -> None:
    populate(sessions, engine, 40, date(2026, 6, 1))  # two people a community
    register(sessions, "街道主任", "s0", RoleName.COORDINATOR)
    chat = Chat(conversation, "街道主任", clock)
    text = chat.say("/status")
    (reply,) = chat.replies
    assert reply.document is None  # as before: every unit, every name
    assert "第1街道1社区：已报 1/2 人" in text
    assert "员工00000（2 条）" in text and "⏳ 员工00020" in text
    one_message_everywhere(reply)


def test_in_a_group_the_list_goes_privately(
    conversation: Conversation,
    big_district: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
) -> None:
    boss = Chat(conversation, "区负责人", clock, in_group=True)
    text = boss.say("/status")
    (reply,) = boss.replies
    assert reply.document is None  # files are not posted in groups
    assert "第1街道（5 个单位，500 人）" in text
    assert text.splitlines()[-1] == "📎 完整名单（Excel）稍后私信发给区负责人（文件不在群里发）。"
    one_message_everywhere(reply)
    with big_district() as session:
        assert session.scalars(select(OutboxMessage)).all() == []  # made after the answer
    assert Worker(big_district, None, tmp_path, clock).run_due() == 1
    with big_district() as session:
        (queued,) = session.scalars(select(OutboxMessage)).all()
        (private,) = replies_from_json(queued.payload)
    assert queued.kind == "status_list" and queued.address == "区负责人"  # the private chat
    assert private.document is not None and private.document.path is not None
    assert len(sheet(private.document.content)[1]) == 2000 + 1  # and the coordinator


def test_a_list_made_later_counts_what_arrived_meanwhile_and_says_when(
    conversation: Conversation,
    big_district: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
) -> None:
    boss = Chat(conversation, "区负责人", clock)
    first = boss.say("/status").splitlines()[0]
    assert "已报 667 人" in first
    with transaction(big_district) as session:  # 员工00001 reports before the list is made
        member, unit = session.execute(
            select(RoleGrant.member_id, RoleGrant.unit_id)
            .join(Member, Member.id == RoleGrant.member_id)
            .where(Member.name == "员工00001")
        ).one()
        questionnaire = entry_store.questionnaire_row(session, "q", 1, "q", dict)
        session.execute(
            insert(Entry), [entry(member, unit, questionnaire, date(2026, 6, 3), "补报", clock())]
        )
    clock.advance(minutes=5)
    listed = the_list(big_district, tmp_path, clock)
    assert listed.document is not None
    assert sheet_title(listed.document.content) == "6月上报情况（截至6月24日10时05分）"
    _, rows = sheet(listed.document.content)
    assert sum(1 for row in rows if row[4] == "已报") == 667 + 1


def test_a_message_is_never_longer_than_one_platform_message() -> None:
    assert status_overview.ONE_MESSAGE_BYTES <= wecom.TEXT_LIMIT
    assert status_overview.ONE_MESSAGE_BYTES <= MessageLimit.MAX_TEXT_LENGTH


def test_entries_of_a_district_fit_one_message(
    conversation: Conversation, big_district: sessionmaker[Session], clock: Clock
) -> None:
    with transaction(big_district) as session:  # ten new entries with long titles
        for number in range(10):
            row = session.scalars(select(Entry).order_by(Entry.id).offset(number)).first()
            assert row is not None
            row.title = f"{number}号" + "社区邻里节暨“我们的节日·端午”主题活动" * 8
            row.created_at = clock() - timedelta(minutes=10 - number)
    boss = Chat(conversation, "区负责人", clock)
    text = boss.say("/entries")
    (reply,) = boss.replies
    one_message_everywhere(reply)
    assert "9号社区邻里节" in text  # the newest first
    shown = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert text.startswith(f"最近上报的 {len(shown)} 条记录")
    assert [c.value for c in reply.choices] == [
        ln.split(" ")[0].replace("#", "/return ") for ln in shown
    ]


def test_who_the_bot_cannot_reach_and_who_muted_are_counted_and_listed(
    conversation: Conversation,
    big_district: sessionmaker[Session],
    clock: Clock,
    tmp_path: Path,
) -> None:
    with transaction(big_district) as session:
        ids = {
            name: member_id
            for member_id, name in session.execute(
                select(Member.id, Member.name).where(
                    Member.name.in_(["员工00003", "员工00006", "员工00020"])
                )
            )
        }
        # reminders that failed: 员工00006's yesterday, 员工00003's an hour ago
        for name, ago in (("员工00006", timedelta(days=1)), ("员工00003", timedelta(hours=1))):
            session.add(
                OutboxMessage(
                    key=f"reminder:{name}",
                    kind="reminder",
                    member_id=ids[name],
                    platform="telegram",
                    address=name,
                    payload=[],
                    not_before=clock() - ago,
                    status=OutboxStatus.FAILED,
                    last_error="Forbidden: bot was blocked by the user",
                    created_at=clock() - ago,
                )
            )
        # 员工00020 owes June's report and asked for no reminders until July
        session.add(ReminderMute(member_id=ids["员工00020"], until=date(2026, 7, 1)))
    boss = Chat(conversation, "区负责人", clock)
    lines = boss.say("/status").splitlines()
    (reply,) = boss.replies
    one_message_everywhere(reply)
    assert "⚠️ 2 人收不到机器人的消息（员工00003、员工00006）" in lines  # the latest first
    june = next(ln for ln in lines if ln.startswith("📅 ②"))
    assert june.endswith("（未完成的人中 1 人关闭了提醒）")
    document = the_list(big_district, tmp_path, clock).document
    assert document is not None
    header, rows = sheet(document.content)
    by_name = {row[2]: row for row in rows}
    reached = header.index("收不到消息")
    assert str(by_name["员工00003"][reached]).startswith("已屏蔽机器人")
    assert str(by_name["员工00003"][reached]).endswith("（6月24日）")
    assert str(by_name["员工00006"][reached]).endswith("（6月23日）")
    assert [row[2] for row in rows if row[reached]] == ["员工00003", "员工00006"]
    assert by_name["员工00020"][header.index("2026年6月活动记录")] == "未完成（已关闭提醒）"
    assert by_name["员工00040"][header.index("2026年6月活动记录")] == "未完成"

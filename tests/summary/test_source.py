"""Reading a summary's material from the database (both databases): what each entry's
questionnaire asked, the same half a year before, who has not reported, the units below."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.core.periods import parse_period
from bot.core.questionnaire import Questionnaire
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit, summarise
from bot.summary.source import load
from storage import entries, members
from storage.db import transaction
from storage.models import RoleName
from tests.conftest import register

NOW = datetime(2026, 6, 24, 2, 0, tzinfo=UTC)
H1 = parse_period("2026H1")


def _store(
    session: Session,
    form: Questionnaire,
    member_id: int,
    unit_code: str,
    area: str,
    title: str,
    day: date,
    figures: dict[str, tuple[str, str]],
    achievements: str | None = None,
) -> None:
    unit = members.unit_by_key(session, unit_code)
    assert unit is not None
    form_id = entries.questionnaire_row(
        session, form.id, form.version, form.title, lambda: form.model_dump(mode="json")
    )
    metrics: list[entries.MetricValue] = []
    for qid, (low, approx) in figures.items():
        question = form.question(area, qid)
        metrics.append(
            entries.MetricValue(
                question_id=qid,
                label=question.label,
                unit=question.unit or "",
                low=Decimal(low),
                high=None,
                approx=approx,
                raw=low,
            )
        )
    answers: dict[str, Any] = {"area": area, "content": {"text": "组织居民参加"}}
    if achievements:
        answers["achievements"] = {"text": achievements}
    draft = entries.Draft(
        entry_id=None,
        unit_id=unit.id,
        area=area,
        area_name=form.area(area).name,
        title=title,
        start_date=day,
        end_date=day,
        period=f"{day.year}H{1 if day.month <= 6 else 2}",
        location="社区党群服务中心",
        answers=answers,
        metrics=tuple(metrics),
    )
    entries.save(
        session, draft, member_id=member_id, questionnaire_id=form_id, platform="shell", now=NOW
    )


def _seed(sessions: sessionmaker[Session], form: Questionnaire) -> None:
    li = register(sessions, "李华", "demo-xinhua")
    register(sessions, "王强", "demo-xinhua")  # has not reported
    register(sessions, "赵敏", "demo-chaoyang")  # has not reported either
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    with transaction(sessions) as session:
        for month in (3, 4):
            _store(session, form, li, "demo-xinhua", "theory", f"党课（{month}月）",
                   date(2026, month, 5), {"sessions": ("1", "exact"), "attendance": ("40", "exact")},
                   "党员很有收获")  # fmt: skip
        # an optional figure given, the required 受教育群众 left out
        _store(session, form, li, "demo-xinhua", "publicity", "禁毒宣传", date(2026, 6, 1),
               {"slogans": ("5", "exact")})  # fmt: skip
        _store(session, form, li, "demo-xinhua", "theory", "党课", date(2025, 4, 5),
               {"sessions": ("1", "exact"), "attendance": ("30", "exact")})  # fmt: skip


def test_the_material_of_a_community(
    sessions: sessionmaker[Session], demo_org: None, questionnaires: dict[str, Questionnaire]
) -> None:
    form = questionnaires["community_culture"]
    _seed(sessions, form)
    with transaction(sessions) as session:
        xinhua = members.unit_by_key(session, "demo-xinhua")
        assert xinhua is not None
        material = load(session, xinhua, H1)
        assert not material.roll_up
        assert material.expected == ["李华", "王强"]
        assert [e.title for e in material.entries] == ["党课（3月）", "党课（4月）", "禁毒宣传"]
        assert [e.title for e in material.previous] == ["党课"]
        publicity = material.entries[-1]
        # what the questionnaire version asked, from the snapshot the entry was saved with
        assert [(a.label, a.optional) for a in publicity.asked] == [
            ("宣传标语", True), ("宣传栏（板报）", True), ("发放宣传资料", True),
            ("受教育群众", False), ("入户宣传", True),
        ]  # fmt: skip
        assert material.entries[0].achievements == "党员很有收获"
        # texts read from the answers by the database, figures in the questionnaire's order
        assert [e.content for e in material.entries] == ["组织居民参加"] * 3
        assert publicity.achievements is None and publicity.highlights is None
        assert [(m.label, m.low) for m in material.entries[0].metrics] == [
            ("学习场次", Decimal(1)), ("参与人次", Decimal(40)),
        ]  # fmt: skip
        assert [(m.label, m.low) for m in publicity.metrics] == [("宣传标语", Decimal(5))]
        assert material.previous[0].metrics == ()  # the year before: counted, not summed
        assert "学习" in material.keywords["理论学习"]
        summary = summarise(session, SummaryKit.load(templates_dir() / "summary"), xinhua, H1)
    text = "".join(p if isinstance(p, str) else p.marker for p in summary.opening.parts)
    assert "比上年同期增加2项" in text
    assert "王强尚未填报本期活动" in text
    whats = [(g.what, g.who) for g in summary.gaps]
    assert ("“禁毒宣传”（6月1日）的受教育群众", "新华社区 李华") in whats
    theory = summary.sections[0]
    assert theory.points[0].paragraphs[0].text.startswith("坚持开展“党课”，3月至4月共2次")


def test_the_material_of_a_street_and_a_district(
    sessions: sessionmaker[Session], demo_org: None, questionnaires: dict[str, Questionnaire]
) -> None:
    _seed(sessions, questionnaires["community_culture"])
    kit = SummaryKit.load(templates_dir() / "summary")
    with transaction(sessions) as session:
        street = members.unit_by_key(session, "demo-street")
        district = members.unit_by_key(session, "demo-district")
        assert street is not None and district is not None
        material = load(session, street, H1)
        assert material.roll_up and material.expected == ["新华社区", "朝阳社区"]
        assert {e.branch for e in material.entries} == {"新华社区"}
        street_summary = summarise(session, kit, street, H1)
        # a district's summary tells its streets, each with the communities below it
        district_material = load(session, district, H1)
        assert {e.branch for e in district_material.entries} == {"和平街道"}
        district_summary = summarise(session, kit, district, H1)
    assert ("2026年上半年的活动记录", "朝阳社区") in [(g.what, g.who) for g in street_summary.gaps]
    assert street_summary.sections[0].points[0].heading.startswith("新华社区开展理论学习活动2项")
    assert district_summary.sections[0].points[0].heading.startswith("和平街道开展理论学习活动2项")
    assert district_summary.sections[0].lead is not None
    assert "全区共有1个街道开展理论学习活动2项" in district_summary.sections[0].lead.text

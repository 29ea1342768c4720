"""Composition: every figure in the summary checked against the entries behind it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.app import templates_dir
from bot.periods import parse_period
from bot.summary.compose import EntryIn, MetricIn, Phrases, Reflections, compose, sum_figures

PHRASES = Phrases.load(templates_dir() / "summary" / "phrases.yaml")
H1 = parse_period("2026H1")


def metric(qid: str, label: str, unit: str, low: str, approx: str = "exact") -> MetricIn:
    return MetricIn(qid, label, unit, Decimal(low), approx)


def entry(
    id: int,
    area: str,
    title: str,
    day: date,
    *metrics: MetricIn,
    unit: str = "新华社区",
    path: str = "/1/2/3/",
    reporter: str = "李华",
) -> EntryIn:
    names = {"theory": "理论学习", "recreation": "文体活动", "venues": "阵地建设"}
    return EntryIn(
        id=id,
        unit=unit,
        unit_path=path,
        area=area,
        area_name=names[area],
        title=title,
        start=day,
        end=day,
        location="社区党群服务中心",
        content="组织居民学习交流",
        achievements="居民反响热烈",
        highlights=None,
        reporter=reporter,
        metrics=metrics,
    )


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([("3", "exact"), ("5", "exact")], "8场次"),
        ([("4000", "more_than"), ("350", "exact")], "4350余场次"),
        ([("20", "more_than"), ("10", "more_than")], "30余场次"),
        ([("30", "range"), ("5", "exact")], "35余场次"),
        ([("100", "about"), ("50", "more_than")], "约150场次"),
        ([("2.5", "exact"), ("0.5", "exact")], "3场次"),
    ],
)
def test_sums_are_written_honestly(parts, expected) -> None:
    figures = [
        (i, metric("s", "场次", "场次", low, approx)) for i, (low, approx) in enumerate(parts)
    ]
    assert sum_figures("场次", "场次", figures).text == expected


def test_a_community_summary_figure_by_figure() -> None:
    entries = [
        entry(
            1,
            "theory",
            "党课",
            date(2026, 3, 5),
            metric("sessions", "学习场次", "场次", "3"),
            metric("attendance", "参与人次", "人次", "4000", "more_than"),
        ),
        entry(
            2,
            "theory",
            "读书会",
            date(2026, 4, 9),
            metric("sessions", "学习场次", "场次", "2"),
            metric("attendance", "参与人次", "人次", "350"),
        ),
        entry(
            3,
            "recreation",
            "广场舞展演",
            date(2026, 5, 1),
            metric("sessions", "演出场次", "场次", "1"),
            metric("attendance", "参与群众", "人次", "200", "about"),
        ),
        entry(
            4,
            "venues",
            "活动室改造",
            date(2026, 6, 2),
            metric("sites", "新建场所", "个", "1"),
            metric("funding", "投入资金", "万元", "3.9"),
        ),
        entry(5, "venues", "书屋改造", date(2026, 6, 12), metric("sites", "新建场所", "个", "1")),
    ]
    summary = compose(
        entries, unit_name="新华社区", period=H1, phrases=PHRASES, reflections=Reflections()
    )
    assert summary.title == "新华社区2026年上半年文化工作总结"
    areas = [s.area for s in summary.sections]
    assert areas == ["theory", "recreation", "venues", None, None]
    theory, recreation, venues, shortcomings, _plans = summary.sections
    assert {f.label: f.text for f in theory.figures} == {
        "学习场次": "5场次",
        "参与人次": "4350余人次",
    }
    assert "共开展理论学习相关活动2次" in theory.lead.text
    assert "参与人次4350余人次" in theory.lead.text
    assert {f.label: f.text for f in recreation.figures} == {
        "演出场次": "1场次",
        "参与群众": "约200人次",
    }
    assert {f.label: f.text for f in venues.figures} == {"新建场所": "2个", "投入资金": "3.9万元"}
    assert "另有1次活动未填报投入资金" in venues.lead.text  # a partial sum says so
    # unlike units are never added: 场次, 人次, 个, 万元 stay apart
    for section in summary.sections:
        assert len({f.unit for f in section.figures}) == len(section.figures)
    # every figure's entries are in the ledger
    ledger_ids = {row.entry_id for row in summary.ledger}
    assert ledger_ids == {1, 2, 3, 4, 5}
    for section in summary.sections:
        for figure in section.figures:
            assert set(figure.entry_ids) <= ledger_ids
    # no reflection answers yet: both closing sections are marked, and listed with who supplies them
    assert [g.what for g in summary.gaps] == ["存在的不足", "下半年工作打算"]
    assert shortcomings.lead.text == "【待补充：存在的不足】"
    assert all(g.who == "新华社区负责人" for g in summary.gaps)
    assert [(m.month, m.area, m.count) for m in summary.months][:2] == [
        ("2026-03", "理论学习", 1),
        ("2026-04", "理论学习", 1),
    ]


def test_reflections_are_merged_without_duplicates() -> None:
    reflections = Reflections(
        shortcomings=("活动形式较为单一", "活动形式较为单一。", "青年参与不多"),
        plans=("开展“我们的节日”系列活动",),
    )
    summary = compose([], unit_name="新华社区", period=H1, phrases=PHRASES, reflections=reflections)
    *_, shortcomings, plans = summary.sections
    assert shortcomings.lead.text == "一是活动形式较为单一。二是青年参与不多。"
    assert plans.lead.text == "一是开展“我们的节日”系列活动。"
    # no entries at all: the opening says what is missing, and who should supply it
    assert summary.gaps[0].what == "2026年上半年的活动记录"
    assert "【待补充：" in summary.opening.text


def test_an_entry_without_figures_is_marked_not_left_blank() -> None:
    bare = entry(9, "theory", "座谈会", date(2026, 2, 3))
    summary = compose(
        [bare], unit_name="新华社区", period=H1, phrases=PHRASES, reflections=Reflections()
    )
    text = summary.sections[0].points[0].paragraphs[0].text
    assert "【待补充：“座谈会”的数量】" in text
    assert summary.gaps[0].who == "新华社区 李华"


def test_a_street_roll_up_totals_equal_the_sum_of_its_communities() -> None:
    xinhua = [
        entry(
            1,
            "theory",
            "党课",
            date(2026, 3, 5),
            metric("attendance", "参与人次", "人次", "4000", "more_than"),
            path="/1/2/3/",
        ),
        entry(
            2,
            "recreation",
            "合唱",
            date(2026, 3, 8),
            metric("attendance", "参与群众", "人次", "120"),
            path="/1/2/3/",
        ),
    ]
    chaoyang = [
        entry(
            3,
            "theory",
            "宣讲",
            date(2026, 4, 5),
            metric("attendance", "参与人次", "人次", "350"),
            unit="朝阳社区",
            path="/1/2/4/",
            reporter="王强",
        ),
    ]
    street = compose(
        [*xinhua, *chaoyang],
        unit_name="和平街道",
        period=H1,
        phrases=PHRASES,
        reflections=Reflections(),
        roll_up=True,
        unit_count=2,
    )
    parts = [
        compose(
            xinhua, unit_name="新华社区", period=H1, phrases=PHRASES, reflections=Reflections()
        ),
        compose(
            chaoyang, unit_name="朝阳社区", period=H1, phrases=PHRASES, reflections=Reflections()
        ),
    ]

    def totals(summary):
        result: dict[tuple[str, str, str], Decimal] = {}
        for section in summary.sections:
            for figure in section.figures:
                key = (section.area, figure.label, figure.unit)
                result[key] = result.get(key, Decimal(0)) + figure.low
        return result

    combined: dict[tuple[str, str, str], Decimal] = {}
    for part in parts:
        for key, value in totals(part).items():
            combined[key] = combined.get(key, Decimal(0)) + value
    assert totals(street) == combined
    theory = street.sections[0]
    assert [p.heading for p in theory.points] == [
        "新华社区",
        "朝阳社区",
    ]  # highlights per community
    assert theory.figures[0].text == "4350余人次"


def test_an_entry_states_its_own_figures_as_typed_ranges_included() -> None:
    ranged = entry(
        11,
        "theory",
        "读书会",
        date(2026, 4, 1),
        MetricIn("attendance", "参与人次", "人次", Decimal(30), "range", Decimal(40)),
    )
    summary = compose(
        [ranged], unit_name="新华社区", period=H1, phrases=PHRASES, reflections=Reflections()
    )
    assert "参与人次30—40人次" in summary.sections[0].points[0].paragraphs[0].text
    assert summary.ledger[0].figures == "参与人次 30—40人次"
    assert summary.sections[0].figures[0].text == "30余人次"  # a sum keeps only the lower bound

"""Composition: what a clerk reads, figure by figure and sentence by sentence.

Each defect the issue quotes from an earlier version has a test here that failed on it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from bot.core.periods import parse_period
from bot.shipped import templates_dir
from bot.summary.compose import (
    Asked,
    EntryIn,
    MetricIn,
    Phrases,
    Reflections,
    compose,
    sum_figures,
)
from bot.summary.model import Gap, Summary
from bot.summary.render import TemplateSet, default_templates_dir, render_markdown

PHRASES = Phrases.load(templates_dir() / "summary" / "phrases.yaml")
H1 = parse_period("2026H1")
NAMES = {
    "theory": "理论学习",
    "publicity": "宣传教育",
    "recreation": "文体活动",
    "volunteer": "志愿服务",
    "venues": "阵地建设",
    "other": "其他",
}


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
    location: str | None = "社区党群服务中心",
    content: str | None = "组织居民学习交流",
    achievements: str | None = "居民反响热烈",
    highlights: str | None = None,
    **extra: object,
) -> EntryIn:
    return EntryIn(
        id=id,
        unit=unit,
        unit_path=path,
        area=area,
        area_name=NAMES[area],
        title=title,
        start=day,
        end=day,
        location=location,
        content=content,
        achievements=achievements,
        highlights=highlights,
        reporter=reporter,
        metrics=metrics,
        **extra,  # type: ignore[arg-type]
    )


def summary_of(entries: list[EntryIn], **options: object) -> Summary:
    options.setdefault("reflections", Reflections())
    return compose(entries, unit_name="新华社区", period=H1, phrases=PHRASES, **options)  # type: ignore[arg-type]


def markdown(summary: Summary) -> str:
    return render_markdown(summary, TemplateSet.load(default_templates_dir()))


def body(summary: Summary) -> str:
    """The text a reader reads: the Markdown before the appendices."""
    return markdown(summary).split("## 附件1")[0]


STUDY = ("sessions", "学习场次", "场次")
PEOPLE = ("attendance", "参与人次", "人次")


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([("3", "exact"), ("5", "exact")], "8场次"),
        ([("4000", "more_than"), ("350", "exact")], "4300余场次"),  # a readable lower bound
        ([("20", "more_than"), ("10", "more_than")], "30余场次"),
        ([("30", "range"), ("5", "exact")], "30余场次"),  # 35 and more: 30余
        ([("100", "about"), ("50", "more_than")], "约150场次"),
        ([("2.5", "exact"), ("0.5", "exact")], "3场次"),
        ([("15000", "more_than"), ("964", "exact")], "1.5万余场次"),
    ],
)
def test_sums_are_written_honestly(parts, expected) -> None:
    figures = [
        (i, metric("s", "场次", "场次", low, approx)) for i, (low, approx) in enumerate(parts)
    ]
    figure = sum_figures("场次", "场次", figures)
    assert figure.text == expected
    assert figure.low == sum(Decimal(low) for low, _ in parts)  # the exact sum is kept


def test_a_community_summary_figure_by_figure() -> None:
    entries = [
        entry(1, "theory", "党课", date(2026, 3, 5), metric(*STUDY, "3"),
              metric(*PEOPLE, "4000", "more_than")),
        entry(2, "theory", "读书会", date(2026, 4, 9), metric(*STUDY, "2"), metric(*PEOPLE, "350")),
        entry(3, "recreation", "广场舞展演", date(2026, 5, 1),
              metric("sessions", "演出（活动）场次", "场次", "1"),
              metric("attendance", "参与群众", "人次", "200", "about")),
        entry(4, "venues", "活动室改造", date(2026, 6, 2), metric("sites", "新建场所", "个", "1"),
              metric("funding", "投入资金", "万元", "3.9")),
        entry(5, "venues", "书屋改造", date(2026, 6, 12), metric("sites", "新建场所", "个", "1")),
    ]  # fmt: skip
    summary = summary_of(entries)
    assert summary.title == "新华社区2026年上半年文化工作总结"
    assert [s.area for s in summary.sections] == ["理论学习", "文体活动", "阵地建设", None, None]
    theory, recreation, venues, shortcomings, _plans = summary.sections
    assert {f.label: f.text for f in theory.figures} == {
        "学习场次": "5场次",
        "参与人次": "4300余人次",
    }
    assert theory.lead is not None
    assert "共开展理论学习活动2项，组织学习5场次、参学党员群众4300余人次" in theory.lead.text
    assert {f.label: f.text for f in recreation.figures} == {
        "演出（活动）场次": "1场次",
        "参与群众": "约200人次",
    }
    assert {f.label: f.text for f in venues.figures} == {"新建场所": "2个", "投入资金": "3.9万元"}
    assert venues.lead is not None and "共完成阵地建设项目2项" in venues.lead.text
    # unlike units are never added: 场次, 人次, 个, 万元 stay apart
    for section in summary.sections:
        assert len({f.unit for f in section.figures}) == len(section.figures)
    # every figure's entries are in the ledger, and every source names ledger rows
    ledger_ids = {row.entry_id for row in summary.ledger}
    assert ledger_ids == {1, 2, 3, 4, 5}
    for section in summary.sections:
        for figure in section.figures:
            assert set(figure.entry_ids) <= ledger_ids
    assert all(source.rows for source in summary.sources)
    # no reflection answers yet: both closing sections are marked, and listed with who supplies them
    assert [g.what for g in summary.gaps] == ["存在的不足", "下半年工作打算"]
    assert shortcomings.lead is not None and shortcomings.lead.text == "【待补充：存在的不足】"
    assert all(g.who == "新华社区负责人" for g in summary.gaps)
    assert [(m.month, m.area, m.count) for m in summary.months][:2] == [
        ("2026-03", "理论学习", 1),
        ("2026-04", "理论学习", 1),
    ]


def test_an_entry_states_its_own_figures_as_typed_ranges_included() -> None:
    ranged = entry(11, "theory", "读书会", date(2026, 4, 1),
                   MetricIn("attendance", "参与人次", "人次", Decimal(30), "range", Decimal(40)))  # fmt: skip
    summary = summary_of([ranged])
    assert "参学党员群众30—40人次" in body(summary)
    assert summary.ledger[0].figures == "参与人次 30—40人次"
    assert summary.sections[0].figures[0].text == "30—40人次"  # one entry's range as typed
    two = summary_of([ranged, entry(12, "theory", "党课", date(2026, 4, 2), metric(*PEOPLE, "5"))])
    assert two.sections[0].figures[0].text == "30余人次"  # a sum keeps a lower bound


# --------------------------------------------------------------------------- the defects


def test_no_sentence_is_only_a_title_in_a_roll_up() -> None:
    # was: "其中“学雷锋志愿服务日”。其中“关爱空巢老人结对帮扶”。" (imported entries have no 成效)
    imported = [
        entry(i, "volunteer", title, date(2026, 3, i), unit=unit, path=path, achievements=None,
              content=None)
        for i, (title, unit, path) in enumerate(
            [("学雷锋志愿服务日", "新华社区", "/1/2/3/"), ("关爱空巢老人结对帮扶", "新华社区", "/1/2/3/"),
             ("清扫楼道", "朝阳社区", "/1/2/4/")], 1)
    ]  # fmt: skip
    street = compose(
        imported,
        unit_name="和平街道",
        period=H1,
        phrases=PHRASES,
        reflections=Reflections(),
        roll_up=True,
    )
    text = body(street)
    assert "其中“" not in text
    bare = re.findall(r"(?:^|[。\n])(?:其中)?“[^”]*”。", text)
    assert bare == [], bare
    assert "主要开展了“‘学雷锋志愿服务日’”" not in text  # and no doubled quotes either


def test_numbering_goes_on_after_ten() -> None:
    # was: "十是积极争取上级项目资金。11是深入挖掘…"
    plans = tuple(f"第{i}项打算的内容" for i in range(1, 13))
    text = body(summary_of([], reflections=Reflections(plans=plans)))
    assert "十是第10项打算的内容。" in text
    assert "十一是第11项打算的内容。" in text and "十二是第12项打算的内容。" in text
    assert "11是" not in text


def test_other_is_never_named_and_areas_come_in_a_fixed_order() -> None:
    # was: "围绕志愿服务、理论学习、其他、宣传教育…", "三、统筹其他工作，形成工作合力"
    entries = [
        entry(1, "volunteer", "学雷锋志愿服务", date(2026, 1, 5),
              metric("volunteers", "参与志愿者", "名", "20")),
        entry(2, "other", "社区议事协商会", date(2026, 2, 1), metric(*PEOPLE, "30")),
        entry(3, "other", "防汛知识宣传", date(2026, 2, 9), metric(*PEOPLE, "200", "more_than")),
        entry(4, "theory", "党课", date(2026, 3, 1), metric(*STUDY, "1")),
    ]  # fmt: skip
    summary = summary_of(entries, area_keywords={"宣传教育": ("宣传",), "其他": ()})
    text = body(summary)
    assert "其他" not in text
    assert [s.area for s in summary.sections[:3]] == ["理论学习", "宣传教育", "志愿服务"]
    assert "围绕理论学习、宣传教育、志愿服务等方面" in text
    # the 其他 activity whose words point to an area is told there, the other in 此外
    publicity = summary.sections[1]
    assert publicity.lead is not None and "防汛知识宣传" in markdown(summary)
    assert "此外，还开展了“社区议事协商会”，参与群众30人次。" in text


FIELD_LABELS = re.compile(
    r"(学习场次|参与人次|演出（活动）场次|活动场次|受教育群众人次|宣传标语条)\d|相关活动\d+次|（[^（）]*场次\d"
)


def test_figures_read_as_prose_not_field_labels() -> None:
    # was: "学习场次8场次、参与人次240余人次", "共开展文体活动相关活动3次",
    # "在老年活动中心开展“老年活动中心改造”", "（演出（活动）场次1场次，…）"
    entries = [
        entry(1, "theory", "党课", date(2026, 3, 5), metric(*STUDY, "8"),
              metric(*PEOPLE, "240", "more_than")),
        entry(2, "recreation", "送戏进社区", date(2026, 4, 1),
              metric("sessions", "演出（活动）场次", "场次", "1"),
              metric("attendance", "参与群众", "人次", "300")),
        entry(3, "recreation", "广场舞展演", date(2026, 4, 8),
              metric("sessions", "演出（活动）场次", "场次", "2")),
        entry(4, "venues", "老年活动中心改造", date(2026, 5, 1),
              metric("sites", "新建（改造）场所", "个", "1"), location="老年活动中心"),
    ]  # fmt: skip
    text = body(summary_of(entries))
    assert FIELD_LABELS.findall(text) == []
    assert "组织学习8场次、参学党员群众240余人次" in text
    assert "共开展文体活动2项" in text and "文体活动活动" not in text
    assert "完成“老年活动中心改造”" in text
    assert "在老年活动中心完成" not in text and "在老年活动中心开展" not in text


def test_a_recurring_activity_is_one_sentence_with_its_totals() -> None:
    # was: six near-identical "每月一课（1月）…（5月）" sub-points
    lessons = [
        entry(i, "theory", f"每月一课（{i}月）", date(2026, i, 15), metric(*STUDY, "1"),
              metric(*PEOPLE, "40", "more_than"), achievements="党员理论水平进一步提升" if i == 6 else None)
        for i in range(1, 7)
    ]  # fmt: skip
    summary = summary_of(lessons)
    text = body(summary)
    assert text.count("每月一课") == 1
    assert (
        "一是抓好党员经常性学习。坚持开展“每月一课”，1月至6月共6次，"
        "组织学习6场次、参学党员群众240余人次，党员理论水平进一步提升。"
    ) in text
    assert len(summary.sections[0].points) == 1


def test_one_note_per_section_and_none_for_optional_figures() -> None:
    # was: "（另有1次活动未填报发放宣传资料，未计入上述数字。）（另有1次活动未填报宣传栏…）"
    publicity = (
        Asked("slogans", "宣传标语", "条", True),
        Asked("leaflets", "发放宣传资料", "份", True),
        Asked("audience", "受教育群众", "人次", False),
    )
    entries = [
        entry(1, "publicity", "反诈宣传", date(2026, 4, 1), metric("slogans", "宣传标语", "条", "10"),
              metric("audience", "受教育群众", "人次", "300"), asked=publicity),
        entry(2, "publicity", "禁毒宣传", date(2026, 6, 26),
              metric("leaflets", "发放宣传资料", "份", "200"), asked=publicity),
        entry(3, "publicity", "普法宣传", date(2026, 5, 2),
              metric("audience", "受教育群众", "人次", "100"), asked=publicity),
    ]  # fmt: skip
    summary = summary_of(entries)
    section = summary.sections[0]
    assert len(section.tail) == 1  # one sentence for the section
    note = section.tail[0].text
    assert note.startswith("有1项活动未填报受教育群众，未计入上述数字【待补充：")
    assert "宣传标语" not in note and "宣传资料" not in note  # optional: nothing to note
    assert "另有" not in body(summary)
    # the entry that left the required figure out while filling an optional one is a gap
    assert Gap("“禁毒宣传”（6月26日）的受教育群众", "新华社区 李华") in summary.gaps


def test_quotes_inside_quotes_are_single() -> None:
    # was: "开展““我们的节日·元宵”游园会”"
    entries = [
        entry(1, "recreation", "“我们的节日·元宵”游园会", date(2026, 3, 3)),
        entry(2, "volunteer", "“学雷锋志愿服务日”", date(2026, 3, 5)),
    ]
    text = body(summary_of(entries))
    assert "““" not in text and "””" not in text
    assert "“‘我们的节日·元宵’游园会”" in text
    assert "“学雷锋志愿服务日”" in text


def test_no_false_precision_next_to_about_or_more_than() -> None:
    # was: "受教育群众约18761人次", "参与群众15964余人次", "宣传标语62余条"
    entries = [
        entry(1, "publicity", "反诈宣传", date(2026, 4, 1),
              metric("audience", "受教育群众", "人次", "18000", "about"),
              metric("slogans", "宣传标语", "条", "50", "more_than")),
        entry(2, "publicity", "防溺水宣传", date(2026, 6, 1),
              metric("audience", "受教育群众", "人次", "761"), metric("slogans", "宣传标语", "条", "12")),
        entry(3, "recreation", "惠民演出", date(2026, 5, 1),
              metric("attendance", "参与群众", "人次", "15000", "more_than")),
        entry(4, "recreation", "广场舞", date(2026, 5, 8), metric("attendance", "参与群众", "人次", "964")),
        entry(5, "recreation", "合唱", date(2026, 5, 9), metric("attendance", "参与群众", "人次", "21")),
    ]  # fmt: skip
    text = body(summary_of(entries))
    for wrong in ("约18761", "15964余", "62余", "15985余"):
        assert wrong not in text
    assert "受教育群众约1.9万人次" in text
    assert "宣传标语60余条" in text
    assert "参与群众1.5万余人次" in text
    assert "参与群众21人次" in text  # an exact figure stays exact


def test_a_street_closes_with_its_own_review_not_its_communities_pasted() -> None:
    # was: the communities' 8 + 11 points in their own words, no bridging sentence
    street = compose(
        [entry(1, "theory", "党课", date(2026, 3, 5), metric(*STUDY, "1"))],
        unit_name="和平街道",
        period=H1,
        phrases=PHRASES,
        reflections=Reflections(
            shortcomings=("部分社区台账填报不及时",), plans=(), owner="和平街道负责人", material=19
        ),
        roll_up=True,
    )
    shortcomings, plans = street.sections[-2:]
    assert shortcomings.lead is not None
    assert shortcomings.lead.text.startswith("上半年，和平街道文化工作虽然取得了一定成绩")
    assert [p.heading for p in shortcomings.points] == ["部分社区台账填报不及时"]
    assert plans.lead is not None
    gap = plans.lead.parts[0]
    assert isinstance(gap, Gap) and gap.who == "和平街道负责人"
    assert "可从各单位反映的19条意见中选用" in gap.what


def test_gaps_are_carried_up_to_the_street() -> None:
    # was: 0 【待补充】 markers at street level although 9 entries had no figures
    asked = (Asked("volunteers", "参与志愿者", "名"), Asked("served", "服务群众", "人次"),
             Asked("hours", "服务时长", "小时", True))  # fmt: skip
    entries = [
        entry(1, "volunteer", "清扫楼道", date(2026, 3, 5), unit="东风社区", path="/1/2/4/",
              reporter="钱进", asked=asked, achievements=None),
        entry(2, "volunteer", "助老服务", date(2026, 3, 6), metric("hours", "服务时长", "小时", "8"),
              unit="东风社区", path="/1/2/4/", reporter="钱进", asked=asked),
        entry(3, "volunteer", "义诊", date(2026, 3, 7), metric("volunteers", "参与志愿者", "名", "5"),
              metric("served", "服务群众", "人次", "60"), asked=asked),
    ]  # fmt: skip
    street = compose(
        entries,
        unit_name="和平街道",
        period=H1,
        phrases=PHRASES,
        reflections=Reflections(shortcomings=("a",), plans=("b",)),
        roll_up=True,
        expected=["新华社区", "东风社区", "胜利社区"],
    )
    text = body(street)
    assert text.count("【待补充：") >= 1
    assert "有2项活动未填报参与志愿者、服务群众" in text
    whats = [(g.what, g.who) for g in street.gaps]
    assert ("“清扫楼道”（3月5日）的参与志愿者、服务群众", "东风社区 钱进") in whats
    assert ("“助老服务”（3月6日）的参与志愿者、服务群众", "东风社区 钱进") in whats
    assert ("2026年上半年的活动记录", "胜利社区") in whats
    assert "截至6月30日，胜利社区尚未填报本期活动。" in text


def test_no_emoji_no_non_answers_no_zero_boilerplate() -> None:
    # was: "大家很开心😊。", "其亮点在于：无。", "共组织各类活动0次，较好地完成了各项目标任务"
    entries = [
        entry(1, "recreation", "元宵游园会", date(2026, 3, 3), achievements="大家很开心😊",
              highlights="无"),
        entry(2, "recreation", "广场舞", date(2026, 4, 3), achievements="没有", highlights="暂无",
              content="不知道"),
    ]  # fmt: skip
    text = body(summary_of(entries))
    assert "😊" not in text and "大家很开心" in text
    for word in ("：无", "亮点在于无", "没有。", "暂无", "不知道"):
        assert word not in text
    empty = body(summary_of([], expected=["李华", "王芳"]))
    assert "0次" not in empty and "0项" not in empty and "较好地完成" not in empty
    assert "2026年上半年，新华社区尚未登记本期活动" in empty
    assert "李华、王芳尚未填报本期活动" in empty


def test_comparison_with_the_same_half_a_year_before() -> None:
    now = [entry(i, "theory", f"党课{i}", date(2026, 3, i), metric(*STUDY, "1")) for i in (1, 2, 3)]
    before = [entry(9, "theory", "党课", date(2025, 3, 1), metric(*STUDY, "1"))]
    text = body(summary_of(now, previous=before))
    assert "共开展理论学习活动3项，组织学习3场次，比上年同期增加2项。" in text
    assert "比上年同期" in text.split("\n\n")[1]  # the opening too
    assert "比上年同期" not in body(summary_of(now))  # nothing to compare: nothing said
    fewer = body(summary_of(now[:1], previous=[*before, before[0]]))
    assert "比上年同期减少1项" in fewer

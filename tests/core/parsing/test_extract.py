"""Tests for bot.core.parsing.extract: reading a whole report message the way staff write it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.parsing.counts import Approx, read_count_at
from bot.core.parsing.extract import (
    MAX_CHARS,
    DatePrecision,
    Extraction,
    FigureIssue,
    Several,
    _fast_count,
    assign_figures,
    extract,
)
from bot.core.questionnaire import Questionnaire, load_questionnaire

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 20 November 2026, 10:00 in Shanghai: 昨天 = 11-19, 上周三 = 11-11, 上周 = 11-09..15.
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
QUESTIONNAIRE = load_questionnaire(
    Path(__file__).resolve().parents[3] / "templates" / "questionnaires" / "community_culture.yaml"
)

EXACT, MORE, ABOUT, RANGE = Approx.EXACT, Approx.MORE_THAN, Approx.ABOUT, Approx.RANGE


def read(text: str, now: datetime = NOW) -> Extraction:
    return extract(text, QUESTIONNAIRE, now, SHANGHAI)


def figures(got: Extraction) -> dict[str, tuple[str, str | None, Approx]]:
    found = {}
    for figure in got.figures:
        assert figure.count is not None, figure
        high = None if figure.count.high is None else str(figure.count.high)
        found[figure.question_id] = (str(figure.count.low), high, figure.count.approx)
    return found


# --- the issue's messages ---------------------------------------------------------------


def test_one_message_gives_every_field_with_where_it_came_from() -> None:
    got = read("11月8日在文化广场办了3场夏夜汇演，300多人参加")

    assert (got.area, got.area_sure) == ("recreation", True)
    # the area is shown as read from the compound's head noun, not from "夏夜"
    assert got.areas[0].name == "文体活动" and got.areas[0].source.text == "汇演"
    assert got.dates is not None
    assert (got.dates.start, got.dates.end) == (date(2026, 11, 8), date(2026, 11, 8))
    assert got.dates.precision is DatePrecision.DAY and not got.future
    assert got.place is not None and got.place.text == "文化广场"
    assert got.title is not None and got.title.text == "夏夜汇演"
    assert figures(got) == {"sessions": ("3", None, EXACT), "attendance": ("300", None, MORE)}
    attendance = next(f for f in got.figures if f.question_id == "attendance")
    assert attendance.count is not None
    # 300多人 for a 人次 question: accepted, and kept as typed for "按“300多人”理解为…"
    assert (attendance.count.unit, attendance.count.raw, attendance.label) == (
        "人次",
        "300多人",
        "参与群众",
    )
    # the card can say "从你的消息中读出：日期 11月8日 …", in message order
    assert [(field, span.text) for field, span in got.sources()] == [
        ("dates", "11月8日"),
        ("location", "文化广场"),
        ("sessions", "3场"),
        ("title", "夏夜汇演"),
        ("area", "汇演"),
        ("attendance", "300多人"),
    ]
    for _, span in got.sources():
        assert got.text[span.start : span.end] == span.text
    assert not got.several and not got.empty and not got.flagged


def test_a_date_without_a_year_far_ahead_is_last_years() -> None:
    got = read("6月12日在文化广场办了3场夏夜汇演，300多人参加")
    assert got.dates is not None and got.dates.start == date(2026, 6, 12)
    got = read("12月28日在文化广场办了夏夜汇演", now=datetime(2027, 1, 3, 10, tzinfo=SHANGHAI))
    assert got.dates is not None and got.dates.start == date(2026, 12, 28)


@pytest.mark.parametrize(
    ("text", "area", "expected"),
    [
        (
            "上周三晚上组织二十几个志愿者在小区清扫，服务大概40个小时",
            "volunteer",
            {"volunteers": ("20", None, MORE), "hours": ("40", None, ABOUT)},
        ),
        (
            "走访独居老人10户，志愿者8名",
            "volunteer",
            {"households": ("10", None, EXACT), "volunteers": ("8", None, EXACT)},
        ),
        (
            "10月份开展了5期道德讲堂，参与家庭五十多户",
            "civility",
            {"sessions": ("5", None, EXACT), "families": ("50", None, MORE)},
        ),
        ("志愿者服务了40个小时", "volunteer", {"hours": ("40", None, EXACT)}),
        ("来了三四十人观看广场舞展演", "recreation", {"attendance": ("30", "40", RANGE)}),
    ],
)
def test_the_issues_measure_words(
    text: str, area: str, expected: dict[str, tuple[str, str | None, Approx]]
) -> None:
    got = read(text)
    assert got.area == area
    assert figures(got) == expected


# --- dates inside a sentence --------------------------------------------------------------

D = date
DATES: list[tuple[str, date, date, DatePrecision, str]] = [
    ("昨天在广场办了汇演", D(2026, 11, 19), D(2026, 11, 19), DatePrecision.DAY, "昨天"),
    ("昨晚放了一场电影", D(2026, 11, 19), D(2026, 11, 19), DatePrecision.DAY, "昨晚"),
    ("前天开展宣讲", D(2026, 11, 18), D(2026, 11, 18), DatePrecision.DAY, "前天"),
    ("上周三晚上组织清扫", D(2026, 11, 11), D(2026, 11, 11), DatePrecision.DAY, "上周三"),
    ("上周五评选文明户", D(2026, 11, 13), D(2026, 11, 13), DatePrecision.DAY, "上周五"),
    ("上上周六演出2场", D(2026, 11, 7), D(2026, 11, 7), DatePrecision.DAY, "上上周六"),
    ("本周一组织学习", D(2026, 11, 16), D(2026, 11, 16), DatePrecision.DAY, "本周一"),
    ("周三下午开展比赛", D(2026, 11, 18), D(2026, 11, 18), DatePrecision.DAY, "周三"),
    ("11.8 文化广场 汇演", D(2026, 11, 8), D(2026, 11, 8), DatePrecision.DAY, "11.8"),
    ("11/12 敬老院慰问", D(2026, 11, 12), D(2026, 11, 12), DatePrecision.DAY, "11/12"),
    ("2026-11-13 专题学习会", D(2026, 11, 13), D(2026, 11, 13), DatePrecision.DAY, "2026-11-13"),
    ("2026年11月1日 演唱会", D(2026, 11, 1), D(2026, 11, 1), DatePrecision.DAY, "2026年11月1日"),
    ("十一月六日举办比赛", D(2026, 11, 6), D(2026, 11, 6), DatePrecision.DAY, "十一月六日"),
    ("8号在社区广场举行比赛", D(2026, 11, 8), D(2026, 11, 8), DatePrecision.DAY, "8号"),
    (
        "11月8日（周日）举办拔河比赛",
        D(2026, 11, 8),
        D(2026, 11, 8),
        DatePrecision.DAY,
        "11月8日（周日）",
    ),
    # a wrong weekday is the slip, the date stands
    (
        "11月8日（周六）举办拔河比赛",
        D(2026, 11, 8),
        D(2026, 11, 8),
        DatePrecision.DAY,
        "11月8日（周六）",
    ),
    ("11 月 8 日 在 文化广场", D(2026, 11, 8), D(2026, 11, 8), DatePrecision.DAY, "11 月 8 日"),
    (
        "11月20日到22日在书屋",
        D(2026, 11, 20),
        D(2026, 11, 22),
        DatePrecision.DAYS,
        "11月20日到22日",
    ),
    ("11月1日至3日举办运动会", D(2026, 11, 1), D(2026, 11, 3), DatePrecision.DAYS, "11月1日至3日"),
    ("11月6日-7日举办冬训班", D(2026, 11, 6), D(2026, 11, 7), DatePrecision.DAYS, "11月6日-7日"),
    ("11月8日、9日举办展演", D(2026, 11, 8), D(2026, 11, 9), DatePrecision.DAYS, "11月8日、9日"),
    (
        "上周二至周四开展助残服务",
        D(2026, 11, 10),
        D(2026, 11, 12),
        DatePrecision.DAYS,
        "上周二至周四",
    ),
    (
        "周一周三周五开设太极拳班",
        D(2026, 11, 16),
        D(2026, 11, 20),
        DatePrecision.DAYS,
        "周一周三周五",
    ),
    ("10月份开展了5期道德讲堂", D(2026, 10, 1), D(2026, 10, 31), DatePrecision.PERIOD, "10月份"),
    ("上个月放映电影8场", D(2026, 10, 1), D(2026, 10, 31), DatePrecision.PERIOD, "上个月"),
    ("本月开展义诊2次", D(2026, 11, 1), D(2026, 11, 30), DatePrecision.PERIOD, "本月"),
    ("上周组织观看电影", D(2026, 11, 9), D(2026, 11, 15), DatePrecision.PERIOD, "上周"),
    ("上周末搞了一次宣传", D(2026, 11, 14), D(2026, 11, 15), DatePrecision.PERIOD, "上周末"),
    ("10月底建成活动室2间", D(2026, 10, 21), D(2026, 10, 31), DatePrecision.PERIOD, "10月底"),
    ("9月中旬开展督导", D(2026, 9, 11), D(2026, 9, 20), DatePrecision.PERIOD, "9月中旬"),
    ("去年12月开展了宣讲", D(2025, 12, 1), D(2025, 12, 31), DatePrecision.PERIOD, "去年12月"),
    ("6月3场演出", D(2026, 6, 1), D(2026, 6, 30), DatePrecision.PERIOD, "6月"),  # June; three shows
    ("Film night on Nov 15", D(2026, 11, 15), D(2026, 11, 15), DatePrecision.DAY, "Nov 15"),
    ("clean-up yesterday", D(2026, 11, 19), D(2026, 11, 19), DatePrecision.DAY, "yesterday"),
    (
        "Reading club last Wednesday",
        D(2026, 11, 18),
        D(2026, 11, 18),
        DatePrecision.DAY,
        "last Wednesday",
    ),
]


@pytest.mark.parametrize(("text", "start", "end", "precision", "source"), DATES)
def test_dates_are_read_inside_a_sentence(
    text: str, start: date, end: date, precision: DatePrecision, source: str
) -> None:
    got = read(text)
    assert got.dates is not None, text
    assert (got.dates.start, got.dates.end, got.dates.precision) == (start, end, precision)
    assert got.dates.source.text == source


@pytest.mark.parametrize(
    "text",
    [
        "在3号楼前空地组织清扫",
        "服务了3.5小时",
        "开展二十四节气主题活动",
        "每周三开展学习",
        "第3场演出",
        "共3场",
    ],
)
def test_what_only_looks_like_a_date_is_none(text: str) -> None:
    assert read(text).dates is None


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("下周三将在社区广场举办消夏晚会", D(2026, 11, 25)),
        ("明天上午9点在党群服务中心开展党课", D(2026, 11, 21)),
        ("明晚7点在文化广场有露天电影", D(2026, 11, 21)),
        ("12月28日将在文化广场举办迎新年文艺晚会", D(2026, 12, 28)),
    ],
)
def test_a_date_in_the_future_is_flagged(text: str, start: date) -> None:
    got = read(text)
    assert got.dates is not None and got.dates.start == start
    assert got.future


def test_relative_dates_are_read_in_the_persons_zone() -> None:
    # 19 Nov 2026 17:00 UTC is already 20 Nov 01:00 in Shanghai
    late = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    shanghai = extract("昨天开展宣讲", QUESTIONNAIRE, late, SHANGHAI)
    utc = extract("昨天开展宣讲", QUESTIONNAIRE, late, UTC)
    assert shanghai.dates is not None and shanghai.dates.start == D(2026, 11, 19)
    assert utc.dates is not None and utc.dates.start == D(2026, 11, 18)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        extract("昨天开展宣讲", QUESTIONNAIRE, datetime(2026, 11, 20, 10), SHANGHAI)


# --- places -------------------------------------------------------------------------------

PLACES: list[tuple[str, str | None]] = [
    ("11月8日在文化广场办了3场夏夜汇演", "文化广场"),
    ("周三下午在社区活动室开展了老年人象棋比赛", "社区活动室"),
    ("上周三晚上组织志愿者在小区清扫", "小区"),
    ("在党群服务中心举办“邻里一家亲”文艺晚会", "党群服务中心"),
    ("昨天在社区图书室开展了一场读书交流会", "社区图书室"),
    ("上周五在农贸市场设点开展禁毒宣传", "农贸市场"),
    ("11月9日晚在幸福里小区举办消夏纳凉晚会", "幸福里小区"),
    ("今年第二届社区运动会于11月7日在社区体育公园举行", "社区体育公园"),
    ("“学雷锋”志愿服务队走进敬老院，为老人理发", "敬老院"),
    ("组织青年志愿者到河边捡拾垃圾", "河边"),
    ("道德讲堂在社区活动中心开讲", "社区活动中心"),
    ("上周末在万达广场门口搞了一次宣传", "万达广场门口"),
    ("在社区小广场上组织太极拳展示", "社区小广场"),
    ("11 月 8 日 在 文化广场 办了 3 场 汇演", "文化广场"),
    ("Anti-fraud campaign at the west gate yesterday: 400 leaflets", "west gate"),
    ("Party class on Nov 12 at the community centre, 40 members", "community centre"),
    ("在大家的共同努力下，活动圆满成功", None),
    ("在活动中，居民积极参与", None),
    ("上周三到上周五在三个小区巡回开展防诈骗宣传", None),
    ("合唱团在区里的比赛中获奖2项", None),
    ("社区合唱团参加区里的比赛获得二等奖", None),
    ("现在开始报名，正在筹备中", None),
]


@pytest.mark.parametrize(("text", "place"), PLACES)
def test_the_place_is_what_stands_after_zai_before_the_verb(text: str, place: str | None) -> None:
    got = read(text)
    assert (got.place.text if got.place else None) == place


# --- titles ---------------------------------------------------------------------------------

TITLES: list[tuple[str, str | None]] = [
    ("11月15日在党群服务中心举办“邻里一家亲”文艺晚会，演出节目12个", "“邻里一家亲”文艺晚会"),
    ("上周日开展亲子共读活动，参与家庭25组", "亲子共读活动"),
    ("10月26日在社区文化广场举办非遗市集，展出作品200余件", "非遗市集"),
    ("上周日下午组织了一场“我们的节日·重阳”文艺汇演，参演人员45人", "“我们的节日·重阳”文艺汇演"),
    ("【重阳敬老】10月18日，社区志愿者为辖区老人包饺子", "重阳敬老"),
    ("上周三晚上组织二十几个志愿者在小区清扫", None),  # 组织 + people is not a title
]


@pytest.mark.parametrize(("text", "title"), TITLES)
def test_a_title_is_the_activity_named_after_the_verb(text: str, title: str | None) -> None:
    got = read(text)
    assert (got.title.text if got.title else None) == title


# --- areas ------------------------------------------------------------------------------------

AREAS = [
    ("11月10日在党群服务中心开展二十大精神宣讲，参加党员45人", "theory"),
    ("昨天上党可，党员20人", "theory"),  # 党可: a slip for 党课
    ("发放宣传资料500余份，悬挂横幅3条", "publicity"),
    ("10月份开展了5期道德讲堂", "civility"),
    ("周二晚上广场午培训，来了五十几个阿姨", "recreation"),  # 广场午 -> 广场舞
    ("志原服务：周六上午在社区门口义剪", "volunteer"),  # 志原 -> 志愿
    ("社区书屋改造完成，新增图书500册", "venues"),
    ("周四下午在社区书画室举办剪只培训", "heritage"),  # the 书画 of the place does not count
    ("本月举办读书会2场，参与居民60余人", "reading"),
    ("为两个文化活动室更换空调3台，投入1.2万元", "venues"),  # only its figures speak for it
    ("Volunteer clean-up yesterday at Riverside Park: 25 volunteers", "volunteer"),
]


@pytest.mark.parametrize(("text", "area"), AREAS)
def test_the_area_is_told_by_the_activitys_words(text: str, area: str) -> None:
    assert read(text).area == area


def test_an_unsure_area_comes_with_ranked_guesses_for_the_first_buttons() -> None:
    got = read("11月3日农家书屋挂牌，配备图书2000册")  # 阵地建设 or 全民阅读?
    assert not got.area_sure
    assert {g.key for g in got.areas[:2]} == {"venues", "reading"}
    assert [g.score for g in got.areas] == sorted((g.score for g in got.areas), reverse=True)


def test_no_area_word_gives_no_guess() -> None:
    got = read("11月12日社区召开居民议事会，参会居民30人")
    assert got.areas == () and got.area is None and got.figures == ()
    # once the person picks 其他, the figures are read for it
    other = assign_figures(got, QUESTIONNAIRE, "other")
    assert [(f.question_id, f.count.low if f.count else None) for f in other] == [
        ("attendance", Decimal(30))
    ]


# --- figures ------------------------------------------------------------------------------------

FIGURES: list[tuple[str, str, dict[str, tuple[str, str | None, Approx]]]] = [
    # the most specific figure when words name it, the people figure when none does
    (
        "上周六广场舞比赛，8支队伍参赛，参赛选手120多人，观众约500人",
        "recreation",
        {
            "teams": ("8", None, EXACT),
            "performers": ("120", None, MORE),
            "attendance": ("500", None, ABOUT),
        },
    ),
    ("举办趣味运动会，参赛居民260人", "recreation", {"performers": ("260", None, EXACT)}),
    ("举办健身操比赛，参赛队8个", "recreation", {"teams": ("8", None, EXACT)}),
    (
        "举办文艺晚会，演出节目12个，观众300余人",
        "recreation",
        {"programmes": ("12", None, EXACT), "attendance": ("300", None, MORE)},
    ),
    ("合唱团在比赛中获奖2项", "recreation", {"awards": ("2", None, EXACT)}),
    ("举办少儿书画比赛，评出一二三等奖18个", "recreation", {"awards": ("18", None, EXACT)}),
    ("表彰最美家庭10户", "civility", {"honoured": ("10", None, EXACT)}),
    (
        "评选出文明家庭10户，整治点位15处",
        "civility",
        {"honoured": ("10", None, EXACT), "spots": ("15", None, EXACT)},
    ),
    ("志原服务：义剪，理发60多人", "volunteer", {"served": ("60", None, MORE)}),
    ("出动志愿者30余人次清洁家园", "volunteer", {"volunteers": ("30", None, MORE)}),
    (
        "志愿者二十几个 陪老人聊天 服务了三个钟头",
        "volunteer",
        {"volunteers": ("20", None, MORE), "hours": ("3", None, EXACT)},
    ),
    (
        "社区书屋改造完成，新增图书500册，添置书架6个",
        "venues",
        {"new_books": ("500", None, EXACT), "furniture": ("6", None, EXACT)},
    ),
    ("上周为社区活动室添置书画桌一百二十张", "venues", {"furniture": ("120", None, EXACT)}),
    (
        "投入资金3.9万元改造活动室，面积120平方米",
        "venues",
        {"funding": ("3.9", None, EXACT), "floor_area": ("120", None, EXACT)},
    ),
    (
        "购置音响设备2套，花了2.6万",
        "venues",
        {"furniture": ("2", None, EXACT), "funding": ("2.6", None, EXACT)},
    ),
    ("活动室修缮，共花费4500元", "venues", {"funding": ("0.45", None, EXACT)}),
    (
        "展出剪纸作品86幅，参与群众500多人",
        "heritage",
        {"works": ("86", None, EXACT), "attendance": ("500", None, MORE)},
    ),
    (
        "10月开展读书月活动，参与人次约400",
        "reading",
        {"attendance": ("400", None, ABOUT)},
    ),  # a bare number next to its name
    (
        "🎉夏夜汇演圆满结束！3场演出，观众300+👏",
        "recreation",
        {"sessions": ("3", None, EXACT), "attendance": ("300", None, MORE)},
    ),
    (
        "３场汇演，观众５００人",
        "recreation",
        {"sessions": ("3", None, EXACT), "attendance": ("500", None, EXACT)},
    ),
    (
        "Film night at the square, 2 screenings, about 300 people",
        "recreation",
        {"sessions": ("2", None, EXACT), "attendance": ("300", None, ABOUT)},
    ),
    # parts, rates and things that are no figure
    ("开展宣讲，参加群众300人，其中党员50人", "theory", {"attendance": ("300", None, EXACT)}),
    ("本月已开展微党课3期，每期30人左右", "theory", {"sessions": ("3", None, EXACT)}),
    ("学习二十大精神，四史教育", "theory", {}),
    ("志愿者在一个小区开展清扫", "volunteer", {}),  # 一个: no word says which figure
    (
        "在小区门口悬挂横幅5条，张贴标语30张",
        "publicity",
        {"slogans": ("5", None, EXACT)},
    ),  # 30张 is not leaflets
    ("重阳节前夕走访慰问辖区80岁以上老人56户", "volunteer", {"households": ("56", None, EXACT)}),
]


@pytest.mark.parametrize(("text", "area", "expected"), FIGURES)
def test_each_count_goes_to_the_figure_its_measure_word_and_words_name(
    text: str, area: str, expected: dict[str, tuple[str, str | None, Approx]]
) -> None:
    got = read(text)
    shown = {
        f.question_id: (
            str(f.count.low),
            None if f.count.high is None else str(f.count.high),
            f.count.approx,
        )
        for f in assign_figures(got, QUESTIONNAIRE, area)
        if f.count is not None
    }
    assert shown == expected


def test_figure_sources_point_into_the_message_as_typed() -> None:
    got = read("３场汇演，观众５００人")
    assert [f.source.text for f in got.figures] == ["３场", "５００人"]


def test_the_same_message_is_read_again_for_the_area_the_person_picks() -> None:
    got = read("组织居民30人开展活动，服务时长60小时")
    assert [f.question_id for f in assign_figures(got, QUESTIONNAIRE, "volunteer")] == [
        "served",
        "hours",
    ]
    assert [f.question_id for f in assign_figures(got, QUESTIONNAIRE, "reading")] == ["attendance"]


@pytest.mark.parametrize(
    ("text", "qid", "issue"),
    [
        ("上周在广场办了广场舞比赛，来了很多人", "attendance", FigureIssue.VAGUE),
        ("今天的宣讲来了好多党员", "attendance", FigureIssue.VAGUE),
        ("志愿者若干名参与社区清扫", "volunteers", FigureIssue.VAGUE),
        ("组织了广场舞比赛，几十个居民参加", "attendance", FigureIssue.VAGUE),
        ("11月10日开展宣讲，参加人数0", "attendance", FigureIssue.ZERO),
        ("昨天在小区开展义诊，不到100人", "served", FigureIssue.AT_MOST),
        ("开展宣讲，参加人数-5人", "attendance", FigureIssue.NEGATIVE),
    ],
)
def test_a_figure_without_a_usable_value_is_flagged_for_the_bot_to_ask(
    text: str, qid: str, issue: FigureIssue
) -> None:
    got = read(text)
    assert [(f.question_id, f.issue, f.count) for f in got.flagged] == [(qid, issue, None)]


# --- two activities, nothing at all ------------------------------------------------------------

SEVERAL = [
    (
        "11月8日在文化广场办了3场夏夜汇演，300多人参加；11月12日在社区书屋开展读书会，20人参加",
        Several.TWO_DATES,
    ),
    (
        "今天上午在社区开展反诈宣传，发放资料100份，另外下午还组织了象棋比赛，参赛选手16人",
        Several.TWO_AREAS,
    ),
    ("1.党课一场，党员30人 2.读书会一场，居民25人", Several.TWO_AREAS),
    ("这周办了两场汇演，一场在广场200人，另外还放了1场电影", Several.FIGURE_TWICE),
]


@pytest.mark.parametrize(("text", "reason"), SEVERAL)
def test_a_message_with_two_activities_says_so(text: str, reason: Several) -> None:
    got = read(text)
    assert reason in got.several


def test_with_two_activities_the_first_ones_area_is_read() -> None:
    got = read("1.11月3日党课一场，党员30人 2.11月10日读书会一场，居民25人")
    assert got.several and got.area == "theory"
    assert got.dates is not None and got.dates.start == D(2026, 11, 3)


@pytest.mark.parametrize(
    "text",
    [
        "周二和周四开展党课2次，每次20人左右",
        "11月2日至4日开展读书周活动，共3场",
        "周一周三周五开设太极拳班，每次30人",
        "发放资料300份，另外还张贴海报20张",
        "11月8日、9日在社区广场举办非遗展演，两天共4场，观众800余人",
    ],
)
def test_one_activity_over_several_days_is_one(text: str) -> None:
    assert read(text).several == ()


@pytest.mark.parametrize(
    "text", ["你好", "谢谢", "怎么上报？", "好的", "/help", "😀👍", "ok thanks", "", "   "]
)
def test_a_message_without_an_activity_is_empty(text: str) -> None:
    got = read(text)
    assert got.empty and got.sources() == ()


def test_a_date_alone_is_no_report() -> None:
    got = read("收到，明天再报")
    assert got.empty and got.future  # the date is read, but nothing else is there


# --- robustness and cost ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_read_without_an_error(text: str) -> None:
    got = read(text)
    for _, span in got.sources():
        assert got.text[span.start : span.end] == span.text


def test_a_long_message_is_read_only_so_far() -> None:
    got = read("11月8日在文化广场办了3场夏夜汇演，" * 100)
    assert len(got.text) == MAX_CHARS and got.area == "recreation"


_PIECES = [
    *"0123456789",
    "多",
    "余",
    "+",
    "人",
    "场",
    "人次",
    "个",
    "个小时",
    "千克",
    "千",
    "万",
    "元",
]
_PIECES += ["块钱", "以上", "左右", "到", "-", " ", "参加", "的", "。", ",", ".", "多人", "户"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8))
def test_the_fast_path_reads_a_plain_count_as_the_parser_does(parts: list[str]) -> None:
    text = "".join(parts)
    fast = _fast_count(text, 0)
    if fast is not None:
        assert fast == read_count_at(text, 0)


def test_the_questionnaire_is_what_the_extractor_knows() -> None:
    """An area without keywords is never guessed; a custom keyword is."""
    data = QUESTIONNAIRE.model_dump(exclude_unset=True)
    for area in data["areas"]:
        area["keywords"] = ["汇演"] if area["key"] == "heritage" else []
    custom = Questionnaire.model_validate(data)
    got = extract("11月8日在文化广场办了3场夏夜汇演", custom, NOW, SHANGHAI)
    assert got.area == "heritage"

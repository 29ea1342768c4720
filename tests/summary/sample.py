"""A realistic summary built by hand, for the renderer tests (no database, no composer)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from bot.summary.model import (
    Figure,
    Gap,
    LedgerRow,
    MonthCount,
    Paragraph,
    Point,
    Section,
    Summary,
)

PARTICIPANTS_GAP = Gap(what="文体活动的参与人次", who="新华社区 李华")


def _p(*parts: str | Gap) -> Paragraph:
    return Paragraph(tuple(parts))


FIGURES_STUDY = (
    Figure("学习场次", "场次", Decimal(12), False, "12场次", (1, 2)),
    Figure("参与人次", "人次", Decimal(4350), True, "4350余人次", (1, 2)),
)
FIGURES_CULTURE = (Figure("活动场次", "场次", Decimal(8), False, "8场次", (3, 4)),)
FIGURES_VOLUNTEER = (
    Figure("服务时长", "小时", Decimal(620), False, "620小时", (5,)),
    Figure("服务居民", "人次", Decimal(1200), True, "1200余人次", (5,)),
    Figure("投入经费", "元", Decimal(39000), False, "3.9万元", (5,)),
)
ALL_FIGURES = FIGURES_STUDY + FIGURES_CULTURE + FIGURES_VOLUNTEER

LEDGER = (
    LedgerRow(
        entry_id=1,
        start=date(2026, 3, 2),
        end=date(2026, 4, 30),
        unit="新华社区",
        area="理论学习",
        title="“理论进小区”巡回宣讲",
        location="各居民小区议事亭",
        figures="学习场次 10场次；参与人次 4000余人次",
        content="宣讲员分片包干，逐个小区讲解政策要点，现场答复居民提问。",
        reporter="王芳",
    ),
    LedgerRow(
        entry_id=2,
        start=date(2026, 3, 18),
        end=date(2026, 3, 18),
        unit="新华社区",
        area="理论学习",
        title="党员集中学习日",
        location="社区党群服务中心",
        figures="学习场次 2场次；参与人次 350人次",
        content="分两批组织在职和退休党员学习，并开展交流发言。",
        reporter="王芳",
    ),
    LedgerRow(
        entry_id=3,
        start=date(2026, 3, 3),
        end=date(2026, 3, 3),
        unit="新华社区",
        area="文体活动",
        title="元宵节灯谜游园会",
        location="社区文化广场",
        figures="活动场次 1场次",
        content="设置灯谜、投壶等游园项目，邀请辖区共建单位共同参与。",
        reporter="李华",
    ),
    LedgerRow(
        entry_id=4,
        start=date(2026, 5, 20),
        end=date(2026, 5, 20),
        unit="新华社区",
        area="文体活动",
        title="居民文艺队伍汇报展演",
        location="社区文化广场",
        figures="活动场次 7场次",
        content="广场舞、合唱、太极拳等七支队伍轮流展演。",
        reporter="李华",
    ),
    LedgerRow(
        entry_id=5,
        start=date(2026, 6, 1),
        end=date(2026, 6, 3),
        unit="新华社区",
        area="志愿服务",
        title="“夏日送清凉”志愿服务",
        location="辖区各小区",
        figures="服务时长 620小时；服务居民 1200余人次；投入经费 3.9万元",
        content="志愿者上门走访独居老人和户外劳动者，送去防暑物资。",
        reporter="张伟",
    ),
)

MONTHS = (
    MonthCount("2026-01", "理论学习", 1),
    MonthCount("2026-02", "文体活动", 2),
    MonthCount("2026-03", "理论学习", 6),
    MonthCount("2026-03", "文体活动", 1),
    MonthCount("2026-04", "理论学习", 5),
    MonthCount("2026-05", "文体活动", 5),
    MonthCount("2026-05", "志愿服务", 2),
    MonthCount("2026-06", "志愿服务", 4),
)


def sample_summary() -> Summary:
    """新华社区, first half of 2026: three work areas with figures, one gap, five ledger rows."""
    sections = (
        Section(
            heading="抓实理论学习，夯实思想基础",
            lead=_p("上半年共组织理论学习和宣讲活动12场次，参与党员群众4350余人次。"),
            points=(
                Point(
                    heading="党员学习做到常态化",
                    paragraphs=(
                        _p(
                            "每月固定一天为党员集中学习日，在职党员和退休党员分批参加，"
                            "学习后安排交流发言，做到学有所思、学有所得。"
                        ),
                    ),
                ),
                Point(
                    heading="理论宣讲走进居民小区",
                    paragraphs=(
                        _p(
                            "组建社区宣讲小分队，把宣讲点设在小区议事亭和楼栋门口，"
                            "用居民听得懂的话讲政策，现场解答居民关心的问题。"
                        ),
                    ),
                ),
            ),
            area="理论学习",
            figures=FIGURES_STUDY,
        ),
        Section(
            heading="丰富群众文化，活跃社区氛围",
            lead=_p("上半年举办各类文体活动8场次，参与群众", PARTICIPANTS_GAP, "。"),
            points=(
                Point(
                    heading="办好传统节日活动",
                    paragraphs=(
                        _p(
                            "元宵节在文化广场举办灯谜游园会，邀请共建单位一同参与，"
                            "让居民在家门口感受传统节日的热闹。"
                        ),
                    ),
                ),
                Point(
                    heading="扶持居民文艺队伍",
                    paragraphs=(
                        _p(
                            "为广场舞、合唱、太极拳等七支居民队伍协调活动场地，"
                            "五月组织汇报展演，展示队伍风采。"
                        ),
                    ),
                ),
            ),
            area="文体活动",
            figures=FIGURES_CULTURE,
        ),
        Section(
            heading="深化志愿服务，传递邻里温情",
            lead=_p("上半年志愿者累计服务620小时，服务居民1200余人次，投入经费3.9万元。"),
            points=(
                Point(
                    heading="关爱特殊群体",
                    paragraphs=(
                        _p(
                            "六月初开展“夏日送清凉”活动，志愿者上门走访独居老人，"
                            "慰问环卫工人等户外劳动者。"
                        ),
                    ),
                ),
            ),
            area="志愿服务",
            figures=FIGURES_VOLUNTEER,
        ),
        Section(
            heading="存在的不足",
            lead=None,
            points=(
                Point(
                    heading="",
                    paragraphs=(
                        _p(
                            "一是活动覆盖面还不够广，年轻居民参与较少；"
                            "二是活动记录不够及时，部分数据需要补充。"
                        ),
                    ),
                ),
            ),
        ),
        Section(
            heading="下半年工作打算",
            lead=None,
            points=(
                Point(
                    heading="拓展活动形式",
                    paragraphs=(_p("结合暑期和国庆节，策划面向青少年和上班族的活动。"),),
                ),
                Point(
                    heading="规范活动台账",
                    paragraphs=(_p("活动结束后当天填报，做到数据完整、有据可查。"),),
                ),
            ),
        ),
    )
    return Summary(
        title="新华社区2026年上半年文化工作总结",
        unit="新华社区",
        period="2026H1",
        period_text="2026年上半年",
        opening=_p(
            "2026年上半年，新华社区围绕理论学习、群众文化和志愿服务三项重点工作，"
            "扎实组织各类活动。现将半年工作总结如下："
        ),
        sections=sections,
        gaps=(PARTICIPANTS_GAP,),
        ledger=LEDGER,
        months=MONTHS,
        signature="新华社区",
        date_text="2026年6月30日",
        entry_count=len(LEDGER),
        unit_count=1,
    )


def big_summary(rows: int = 10_000) -> Summary:
    """The sample with a street-level ledger of `rows` rows."""
    base = sample_summary()
    units = ("新华社区", "解放社区", "胜利社区", "光明社区", "和平社区")
    ledger = tuple(
        dataclasses.replace(
            LEDGER[i % len(LEDGER)],
            entry_id=i + 1,
            start=date(2026, 1, 1) + timedelta(days=i % 180),
            end=date(2026, 1, 1) + timedelta(days=i % 180 + i % 3),
            unit=units[i % len(units)],
            title=f"{LEDGER[i % len(LEDGER)].title}（第{i + 1}期）",
        )
        for i in range(rows)
    )
    return dataclasses.replace(
        base, title="胜利街道2026年上半年文化工作总结", unit="胜利街道", ledger=ledger
    )

"""The reflection round's points: near-duplicates once, stable numbers, material by theme."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.core import reflection
from bot.core.reflection import PLAN, SHORTCOMING, Row, merge, same_point, theme_of
from storage import members, reflections
from storage.db import transaction
from storage.models import RoleName
from tests.conftest import register

NOW = datetime(2026, 6, 24, 2, 0, tzinfo=UTC)


def test_near_duplicates_merge_for_real() -> None:
    # the pair: /closing said "已合并重复内容" and kept both
    assert same_point("活动形式比较单一，年轻人参与少", "年轻人参加的少，形式单一")
    assert same_point("青年人参与不多", "年轻人参与少")
    assert same_point("加强志愿者培训", "加强对志愿者的培训")
    assert same_point("活动形式比较单一", "活动形式单一。")
    # and points that only share words stay apart
    assert not same_point("青年参与少", "老年人参与少")
    assert not same_point("活动形式单一", "活动覆盖面不广")
    assert not same_point("宣传阵地利用不充分", "文化阵地利用率低")
    assert not same_point("活动经费紧张", "志愿者队伍不稳定")


def test_merge_keeps_one_point_with_every_row_and_the_first_rows_number() -> None:
    rows = [
        Row(11, SHORTCOMING, "活动形式比较单一，年轻人参与少", "新华社区"),
        Row(12, SHORTCOMING, "活动经费紧张", "朝阳社区"),
        Row(15, SHORTCOMING, "年轻人参加的少，形式单一", "光明社区"),
        Row(16, PLAN, "加强志愿者培训", "朝阳社区"),
        Row(19, PLAN, "加强对志愿者的培训", "朝阳社区"),
    ]
    points = merge(rows)
    assert [(p.number, p.kind, p.row_ids) for p in points] == [
        (11, SHORTCOMING, (11, 15)),
        (12, SHORTCOMING, (12,)),
        (16, PLAN, (16, 19)),
    ]
    assert points[0].text == "活动形式比较单一，年轻人参与少"  # the fullest wording
    assert points[0].units == ("新华社区", "光明社区")
    assert points[2].text == "加强对志愿者的培训"


def test_themes() -> None:
    assert theme_of("年轻人参加的少，形式单一") == "活动形式与参与"
    assert theme_of("活动经费紧张") == "经费保障"
    assert theme_of("文化阵地面积小，设施老化") == "阵地与设施"
    assert theme_of("部分照片和数据缺失，台账不全") == "台账与记录"


def test_a_street_reviews_its_own_points_and_picks_from_its_communities(
    sessions: sessionmaker[Session], demo_org: None
) -> None:
    boss = register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    li = register(sessions, "李华", "demo-xinhua")
    zhao = register(sessions, "赵敏", "demo-chaoyang")
    with transaction(sessions) as session:
        street = members.unit_by_key(session, "demo-street")
        xinhua = members.unit_by_key(session, "demo-xinhua")
        chaoyang = members.unit_by_key(session, "demo-chaoyang")
        assert street and xinhua and chaoyang
        add = reflections.add_reflections
        add(session, li, xinhua.id, "2026H1", SHORTCOMING, ["活动形式比较单一，年轻人参与少"], NOW)
        add(session, zhao, chaoyang.id, "2026H1", SHORTCOMING, ["年轻人参加的少，形式单一"], NOW)
        add(session, zhao, chaoyang.id, "2026H1", SHORTCOMING, ["活动经费紧张"], NOW)
        add(session, boss, street.id, "2026H1", PLAN, ["加强对社区的业务指导"], NOW)
    with transaction(sessions) as session:
        street = members.unit_by_key(session, "demo-street")
        assert street
        review = reflection.review(session, street, "2026H1")
        assert [p.text for p in review.own] == ["加强对社区的业务指导"]
        assert [(p.text, p.units) for p in review.material] == [
            ("活动形式比较单一，年轻人参与少", ("新华社区", "朝阳社区")),
            ("活动经费紧张", ("朝阳社区",)),
        ]
        assert [t for t, _ in review.themes(SHORTCOMING)] == ["活动形式与参与", "经费保障"]
        # a community's own review is everything said for it
        xinhua = members.unit_by_key(session, "demo-xinhua")
        assert xinhua
        own = reflection.review(session, xinhua, "2026H1").own
        assert [p.text for p in own] == ["活动形式比较单一，年轻人参与少"]

"""The 台账 import a clerk can trust (issue 13): measure words, specific labels, dry runs,
repeated rows, deleting and restoring, reporters. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.ledger import import_ledger
from bot.questionnaire import Questionnaire
from storage import repo
from storage.db import transaction
from tests.test_ledger import NOW, culture, people, write_xlsx  # noqa: F401  (fixtures)


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
            for e in repo.entries_in(session, None, None)
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

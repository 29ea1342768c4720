"""The storage contract, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.org import OrgError, load_org, read_org_file
from storage import entries, members, messages
from storage.db import current_revision, transaction, upgrade
from storage.models import (
    ConversationState,
    Entry,
    Member,
    QuestionnaireVersion,
    RoleGrant,
    RoleName,
    Unit,
)

ORG_YAML = """
units:
  - code: d1
    name: 河西区
    kind: 区
    children:
      - code: s1
        name: 新兴街道
        kind: 街道
        children:
          - {code: c1, name: 新华社区, kind: 社区}
          - {code: c2, name: 朝阳社区, kind: 社区}
      - code: s2
        name: 团结街道
        kind: 街道
        children:
          - {code: c3, name: 光明社区, kind: 社区}
"""


def test_migrations_create_every_table_and_are_idempotent(engine: Engine) -> None:
    upgrade(engine)  # already at head: nothing to do, no error
    assert current_revision(engine) == "0010"
    tables = set(inspect(engine).get_table_names())
    assert {
        "units",
        "members",
        "identities",
        "role_grants",
        "invites",
        "questionnaires",
        "conversation_states",
        "entries",
        "entry_metrics",
        "entry_photos",
        "entry_revisions",
        "processed_messages",
        "jobs",
    } <= tables


def test_a_message_key_is_claimed_once(sessions: sessionmaker[Session]) -> None:
    replies = [{"text": "好的", "choices": [], "document": None}]
    with transaction(sessions) as session:
        assert messages.claim_message(session, "telegram", "1001", replies)
        assert not messages.claim_message(session, "telegram", "1001")
        assert messages.claim_message(session, "wecom", "1001")  # keys are per platform
    with transaction(sessions) as session:
        assert not messages.claim_message(session, "telegram", "1001")
        assert messages.unsent_replies(session, "telegram", "1001") == replies
        messages.mark_sent(session, "telegram", ["1001", "1002"])
    with transaction(sessions) as session:
        assert messages.unsent_replies(session, "telegram", "1001") is None
        assert messages.unsent_replies(session, "telegram", "nope") is None


def test_times_come_back_aware_and_equal(sessions: sessionmaker[Session]) -> None:
    moment = datetime(2026, 6, 30, 23, 30, tzinfo=timezone(timedelta(hours=8)))
    with transaction(sessions) as session:
        member = Member(name="李华", created_at=moment)
        session.add(member)
        session.flush()
        member_id = member.id
    with transaction(sessions) as session:
        stored = session.get(Member, member_id)
        assert stored is not None
        assert stored.created_at == moment
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.astimezone(UTC).hour == 15


def test_a_naive_datetime_is_refused(sessions: sessionmaker[Session]) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive datetime"), transaction(sessions) as session:
        session.add(Member(name="x", created_at=datetime(2026, 1, 1)))
        session.flush()


def _org(tmp_path, text: str = ORG_YAML):
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return read_org_file(path)


def test_org_load_builds_the_tree_and_is_idempotent(
    sessions: sessionmaker[Session], tmp_path
) -> None:
    spec = _org(tmp_path)
    with transaction(sessions) as session:
        first = load_org(session, spec)
    with transaction(sessions) as session:
        second = load_org(session, spec)
    assert (first.created, first.updated) == (6, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 6)
    with transaction(sessions) as session:
        street = members.unit_by_key(session, "s1")
        assert street is not None
        below = set(
            session.scalars(
                select(Unit.name).where(Unit.id.in_(members.subtree_ids(session, street)))
            )
        )
        assert below == {"新兴街道", "新华社区", "朝阳社区"}
        assert members.unit_by_key(session, "光明社区") is not None  # a unique name works too


def test_org_load_moves_a_unit_with_its_subtree(sessions: sessionmaker[Session], tmp_path) -> None:
    with transaction(sessions) as session:
        load_org(session, _org(tmp_path))
    moved = ORG_YAML.replace("          - {code: c3, name: 光明社区, kind: 社区}\n", "").replace(
        "          - {code: c2, name: 朝阳社区, kind: 社区}\n",
        "          - {code: c2, name: 朝阳社区, kind: 社区}\n          - {code: c3, name: 光明社区, kind: 社区}\n",
    )
    with transaction(sessions) as session:
        result = load_org(session, _org(tmp_path, moved))
        assert result.updated == 1
        street = members.unit_by_key(session, "s1")
        assert street is not None
        names = set(
            session.scalars(
                select(Unit.name).where(Unit.id.in_(members.subtree_ids(session, street)))
            )
        )
        assert "光明社区" in names


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("units: [", "invalid YAML at line"),
        ("units: []", "units"),
        ("units:\n  - {code: a, name: A}\n", "kind"),
        ("units:\n  - {code: 'bad code', name: A, kind: 区}\n", "code"),
        (
            "units:\n  - {code: a, name: A, kind: 区}\n  - {code: a, name: B, kind: 区}\n",
            "appears twice",
        ),
        ("units:\n  - {code: a, name: A, kind: 区, colour: red}\n", "colour"),
    ],
)
def test_a_bad_org_file_is_reported(tmp_path, text: str, problem: str) -> None:
    with pytest.raises(OrgError, match=problem):
        _org(tmp_path, text)


def test_an_edit_keeps_the_previous_revision_whole(
    sessions: sessionmaker[Session], tmp_path
) -> None:
    now = datetime(2026, 6, 24, 2, 0, tzinfo=UTC)
    with transaction(sessions) as session:
        load_org(session, _org(tmp_path))
        unit = members.unit_by_key(session, "c1")
        assert unit is not None
        member = Member(name="李华")
        session.add(member)
        session.flush()
        qid = entries.questionnaire_row(session, "q", 1, "Q", lambda: {"id": "q"})
        assert entries.questionnaire_row(session, "q", 1, "Q", lambda: {"id": "q"}) == qid
        draft = entries.Draft(
            entry_id=None,
            unit_id=unit.id,
            area="theory",
            area_name="理论学习",
            title="党课",
            start_date=date(2026, 6, 19),
            end_date=date(2026, 6, 19),
            period="2026H1",
            location=None,
            answers={"title": {"text": "党课"}},
            metrics=(
                entries.MetricValue(
                    question_id="attendance",
                    label="参与人次",
                    unit="人次",
                    low=Decimal("3.9"),
                    high=None,
                    approx="exact",
                    raw="3.9",
                ),
            ),
            photos=({"platform": "telegram", "ref": "p1", "path": "data/photos/p1.jpg"},),
        )
        entry = entries.save(
            session, draft, member_id=member.id, questionnaire_id=qid, platform="shell", now=now
        )
        entry_id = entry.id
    with transaction(sessions) as session:
        entry = entries.live_entry(session, entry_id)
        assert entry is not None
        edited = replace(
            draft,
            entry_id=entry_id,
            title="端午党课",
            metrics=(
                replace(draft.metrics[0], low=Decimal(4000), approx="more_than", raw="4000多"),
            ),
            photos=(),
        )
        entries.save(
            session,
            edited,
            member_id=entry.member_id,
            questionnaire_id=qid,
            platform="shell",
            now=now,
            replacing=entry,
        )
    with transaction(sessions) as session:
        entry = entries.live_entry(session, entry_id)
        assert entry is not None
        assert (entry.title, entry.revision) == ("端午党课", 2)
        assert [(m.low, m.approx) for m in entry.metrics] == [(Decimal(4000), "more_than")]
        assert entry.photos == []
        (old,) = entry.revisions
        assert old.revision == 1
        assert old.snapshot["title"] == "党课"
        assert old.snapshot["metrics"][0]["low"] == "3.9000" or Decimal(
            old.snapshot["metrics"][0]["low"]
        ) == Decimal("3.9")
        assert old.snapshot["photos"] == [
            {"platform": "telegram", "ref": "p1", "path": "data/photos/p1.jpg"}
        ]
        entries.mark_deleted(session, entry, entry.member_id, now)
    with transaction(sessions) as session:
        assert entries.live_entry(session, entry_id) is None
        assert session.get(Entry, entry_id) is not None
        assert session.scalars(select(QuestionnaireVersion)).one().key == "q"


def test_join_makes_a_member_with_their_account_and_roles(
    sessions: sessionmaker[Session], tmp_path
) -> None:
    with transaction(sessions) as session:
        load_org(session, _org(tmp_path))
        unit = members.unit_by_key(session, "c1")
        assert unit is not None
        roles = (RoleName.STAFF, RoleName.COORDINATOR, RoleName.STAFF)
        joined = members.join(
            session, "李华", platform="telegram", external_id="42", unit_id=unit.id, roles=roles
        )
    with transaction(sessions) as session:
        person, state = members.person_and_state(session, "telegram", "42")
        assert person == joined and (person.name, person.locale) == ("李华", "zh")
        assert state is None
        assert members.reporting_units(session, joined.id) == [(unit.id, "新华社区")]
        held = session.scalars(select(RoleGrant.role).where(RoleGrant.member_id == joined.id))
        assert sorted(held) == sorted([RoleName.STAFF, RoleName.COORDINATOR])  # once each
        assert not members.grant_role(session, joined.id, unit.id, RoleName.COORDINATOR)


def test_a_batch_of_drafts_is_stored_as_save_stores_each(
    sessions: sessionmaker[Session], tmp_path
) -> None:
    now = datetime(2026, 6, 24, 2, 0, tzinfo=UTC)
    figure = entries.MetricValue("attendance", "参与人次", "人次", Decimal(30), None, "exact", "30")
    with transaction(sessions) as session:
        load_org(session, _org(tmp_path))
        unit = members.unit_by_key(session, "c1")
        assert unit is not None
        li = members.join(
            session, "李华", platform="shell", external_id="li", unit_id=unit.id, roles=()
        )
        qid = entries.questionnaire_row(session, "q", 1, "Q", lambda: {"id": "q"})
        draft = entries.Draft(
            entry_id=None,
            unit_id=unit.id,
            area="theory",
            area_name="理论学习",
            title="党课",
            start_date=date(2026, 6, 19),
            end_date=date(2026, 6, 19),
            period="2026H1",
            location="党群服务中心",
            answers={"title": {"text": "党课"}},
            metrics=(figure, replace(figure, question_id="sessions", label="场次", unit="场")),
        )
        one = entries.save(
            session, draft, member_id=li.id, questionnaire_id=qid, platform="shell", now=now
        ).id
        many = entries.save_new(
            session,
            [(li.id, draft), (li.id, replace(draft, title="团课", metrics=()))],
            questionnaire_id=qid,
            now=now,
        )
        with pytest.raises(ValueError):
            entries.save_new(
                session,
                [(li.id, replace(draft, photos=({"ref": "p"},)))],
                questionnaire_id=qid,
                now=now,
            )
    with transaction(sessions) as session:
        stored = [entries.live_entry(session, i) for i in (one, *many)]

        def seen(entry: Entry | None) -> tuple[object, ...]:
            assert entry is not None
            figures = [(m.position, m.question_id, m.label, m.unit, m.low) for m in entry.metrics]
            return (
                entry.member_id,
                entry.unit_id,
                entry.title,
                entry.period,
                entry.location,
                entry.answers,
                entry.revision,
                entry.updated_at,
                figures,
            )

        assert seen(stored[1]) == seen(stored[0])
        assert seen(stored[2])[2] == "团课" and seen(stored[2])[-1] == []


def test_state_is_keyed_by_member_or_by_platform_identity(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        member = Member(name="李华")
        session.add(member)
        session.flush()
        members.add_identity(session, member, "shell", "li")
        members.add_identity(session, member, "telegram", "999")
        session.flush()
        members.save_state(
            session,
            None,
            member_id=member.id,
            platform="shell",
            external_id="li",
            kind="interview",
            data={"a": 1},
        )
        members.save_state(
            session,
            None,
            member_id=None,
            platform="telegram",
            external_id="42",
            kind="join",
            data={"code": "X"},
        )
    with transaction(sessions) as session:
        person, mine = members.person_and_state(
            session, "telegram", "999"
        )  # any account of the member
        assert person is not None and person.name == "李华"
        assert mine is not None and (mine.kind, mine.data) == ("interview", {"a": 1})
        members.save_state(
            session,
            mine,
            member_id=person.id,
            platform="telegram",
            external_id="999",
            kind="interview",
            data={"a": 2},
        )
        nobody, joining = members.person_and_state(session, "telegram", "42")
        assert nobody is None and joining is not None and joining.kind == "join"
        assert members.person_and_state(session, "wecom", "42") == (None, None)
        members.clear_state(session, joining)
    with transaction(sessions) as session:
        (row,) = session.scalars(select(ConversationState)).all()
        assert row.data == {"a": 2}
        person, _ = members.person_and_state(session, "shell", "li")
        assert person is not None
        members.set_locale(session, person.id, "en")
    with transaction(sessions) as session:
        person, _ = members.person_and_state(session, "shell", "li")
        assert person is not None and person.locale == "en"


def test_the_migrations_build_exactly_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.models import Base

    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

"""Access control as a table: every chat command x every role x every unit relation.

The world (seeded once per database): a district 鄢上区 (the *parent*) with two streets,
鄢本街道 (the requester's *own* unit, with a community below it, the *child*) and 鄢平街道
(the *sibling*), and an unrelated district 鄢外区 (*none*). Each of these five units has a
staff member with a distinctive name, one entry with a distinctive title, location and
figure, and two reflection points. The requester holds one role in the own unit (staff,
coordinator, admin), holds no role at all, or is not registered; registered requesters
have one entry of their own.

A row of `ROWS` is one command. `permitted(role)` says whether the command answers at all;
`sees(role, relation)` whether the relation's data (or, for a command with a target, the
target) is within reach. Each case checks: an allowed case succeeds and shows what it must;
a refused case gets the refusal and no document; and in every case the names, titles,
figures, places and reflection points of units out of reach never appear, in the text or in
an attached document. Adding a command is adding a row.

`test_every_command_of_the_table` walks the command table itself (`bot.core.commands.COMMANDS`):
every command and alias, bare, from every role, in a private chat and in a group, gets what
its row promises: the refusal of its row for those it leaves out, the group pointer for a
command kept out of groups, and otherwise an answer that is none of these. A row of `ROWS`
exists for every command the table keeps for coordinators or admins.

The `huibao` CLI is admin-only by nature (it runs with the database's credentials on the
server), so it has no rows here.
"""

from __future__ import annotations

import enum
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docx
import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.org import OrgFile, load_org
from bot.core.commands import BY_NAME, COMMANDS, CommandSpec, InGroup, Who, group_help_text
from bot.core.conversation import Conversation
from bot.core.messages import EN, ZH
from bot.core.questionnaire import Questionnaire
from bot.core.types import Incoming, Reply
from bot.jobs import Worker
from bot.reminders.outbox import take_waiting
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from storage.db import make_sessionmaker, transaction
from storage.models import (
    Base,
    ConversationState,
    Entry,
    Member,
    Reflection,
    RoleGrant,
    RoleName,
)
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, register


class Relation(enum.Enum):
    """Where data (or a command's target) sits, seen from the requester's own unit."""

    OWN = "own"
    CHILD = "child"
    SIBLING = "sibling"
    PARENT = "parent"
    NONE = "none"


class Role(enum.Enum):
    """Who asks."""

    STAFF = "staff"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    NO_ROLE = "no-role"  # registered, but holds no role in any unit
    STRANGER = "stranger"  # not registered


LEADERS = frozenset({Role.COORDINATOR, Role.ADMIN})
REGISTERED = frozenset({Role.STAFF, Role.COORDINATOR, Role.ADMIN, Role.NO_ROLE})
WITH_UNIT = frozenset({Role.STAFF, Role.COORDINATOR, Role.ADMIN})
DOWN = frozenset({Relation.OWN, Relation.CHILD})  # the own unit's subtree
# The relations inside each relation's subtree (what a summary of that unit may show).
SUBTREE = {
    Relation.OWN: DOWN,
    Relation.CHILD: frozenset({Relation.CHILD}),
    Relation.SIBLING: frozenset({Relation.SIBLING}),
    Relation.PARENT: frozenset(Relation),
    Relation.NONE: frozenset({Relation.NONE}),
}
TAG = {
    Relation.OWN: "本",
    Relation.CHILD: "下",
    Relation.SIBLING: "平",
    Relation.PARENT: "上",
    Relation.NONE: "外",
}
FIGURE = {
    Relation.OWN: 7311,
    Relation.CHILD: 7322,
    Relation.SIBLING: 7333,
    Relation.PARENT: 7344,
    Relation.NONE: 7355,
}
CODE = {
    Relation.OWN: "mx-own",
    Relation.CHILD: "mx-child",
    Relation.SIBLING: "mx-sibling",
    Relation.PARENT: "mx-parent",
    Relation.NONE: "mx-none",
}
ORG = {
    "units": [
        {
            "code": "mx-parent",
            "name": "鄢上区",
            "kind": "区",
            "children": [
                {
                    "code": "mx-own",
                    "name": "鄢本街道",
                    "kind": "街道",
                    "children": [{"code": "mx-child", "name": "鄢下社区", "kind": "社区"}],
                },
                {"code": "mx-sibling", "name": "鄢平街道", "kind": "街道"},
            ],
        },
        {"code": "mx-none", "name": "鄢外区", "kind": "区"},
    ]
}
REQUESTER_ROLE = {
    Role.STAFF: RoleName.STAFF,
    Role.COORDINATOR: RoleName.COORDINATOR,
    Role.ADMIN: RoleName.ADMIN,
    Role.NO_ROLE: RoleName.STAFF,  # reports while on staff, then loses the role
}
INJECTED = "鄢注入的不足"


def marks(relation: Relation) -> dict[str, str]:
    """The distinctive data of one relation's unit: what must not leak."""
    tag = TAG[relation]
    return {
        "name": f"鄢{tag}华",
        "title": f"鄢{tag}专题学习会",
        "place": f"鄢{tag}会议室",
        "figure": str(FIGURE[relation]),
        "shortcoming": f"鄢{tag}宣传不足",
        "plan": f"鄢{tag}明年打算",
    }


def own_title(role: Role) -> str:
    return f"请求人{role.value}的活动"


# -- the rows ---------------------------------------------------------------------------


def _never(_role: Role, _relation: Relation) -> bool:
    return False


def _leaders_down(role: Role, relation: Relation) -> bool:
    return role in LEADERS and relation in DOWN


@dataclass(frozen=True)
class Row:
    """One command of the matrix.

    `command` may hold {unit} (the relation's unit code), {entry} (the id of the entry of
    the relation's staff member) or {mine} (the requester's own entry). A row with {unit}
    or {entry} has a target, so each relation is a case of its own; without, one case per
    role checks every relation's data at once.
    """

    command: str
    permitted: frozenset[Role]
    sees: Callable[[Role, Relation], bool] = _never
    shows: tuple[str, ...] = ()  # which marks of a visible relation must appear
    success: str | None = None  # catalogue key whose text marks success
    # Catalogue keys of the refusals: for registered people not permitted, and for a target
    # out of reach; None: any clear answer will do (checked by `leaves_no_state`).
    refusal: str | None = "leaders_only"
    out_of_reach: str | None = None
    in_group: bool = False
    leaves_no_state: bool = False  # a refused/allowed case must not leave a dialog open
    xfail: dict[Role, str] = field(default_factory=dict)
    todo: str | None = None  # a command not built yet: skipped with this reason

    @property
    def targeted(self) -> bool:
        return "{unit}" in self.command or "{entry}" in self.command

    @property
    def id(self) -> str:
        prefix = "group:" if self.in_group else ""
        return prefix + self.command.replace(" ", "_")


ROWS: tuple[Row, ...] = (
    Row("/status", LEADERS, _leaders_down, ("name",), success="status_header"),
    Row("/entries", LEADERS, _leaders_down, ("name", "title", "figure"), "entries_header"),
    Row("/summary", LEADERS, _leaders_down, ("title", "figure"), "summary_file"),
    Row(
        "/summary {unit}",
        LEADERS,
        _leaders_down,
        ("title", "figure"),
        "summary_file",
        out_of_reach="summary_not_yours",
    ),
    Row(
        "/summary {unit} 2026H1",
        LEADERS,
        _leaders_down,
        ("title",),
        "summary_file",
        out_of_reach="summary_not_yours",
    ),
    Row("/closing", LEADERS, _leaders_down, ("shortcoming", "plan"), "closing_header"),
    Row(f"/closing add 不足 {INJECTED}", LEADERS, _leaders_down, (), "closing_header"),
    Row("/edit {entry}", REGISTERED, out_of_reach="entry_not_found"),
    # An admin may delete the entries of their units' subtrees (e.g. a wrong import).
    Row(
        "/delete {entry}",
        REGISTERED,
        lambda role, relation: role is Role.ADMIN and relation in DOWN,
        ("title",),
        success="delete_confirm",
        out_of_reach="entry_not_found",
    ),
    Row("/edit {mine}", REGISTERED, success="edit_intro"),
    Row("/delete {mine}", REGISTERED, success="delete_confirm"),
    Row("/mine", REGISTERED, success="mine_header"),
    Row(
        "/report",
        WITH_UNIT,
        success="ask_area_hint",
        refusal="no_unit",
        leaves_no_state=True,
    ),
    Row(
        "/reflect",
        WITH_UNIT,
        success="reflect_ask_shortcomings",
        refusal="no_unit",
        leaves_no_state=True,
    ),
    Row("/lang zh", REGISTERED, success="lang_set"),
    Row("/help", REGISTERED, success="help"),
    Row("/start", REGISTERED, success="help"),
    Row("/status", LEADERS, _leaders_down, ("name",), "status_header", in_group=True),
    # In a group the document goes to the asker's private chat (the rows above check what
    # it holds); the group sees only that it was sent.
    Row(
        "/summary {unit}",
        LEADERS,
        _leaders_down,
        (),
        "summary_sent_privately",
        out_of_reach="summary_not_yours",
        in_group=True,
    ),
    Row("/closing", frozenset(), refusal="group_private_only", in_group=True),
    Row("/report", frozenset(), refusal="group_use_private", in_group=True),
    # Deadlines (admins, for their units' subtrees) and sending an entry back for
    # correction (coordinators and admins, for entries of their units' subtrees).
    Row(
        "/deadline",
        frozenset({Role.ADMIN}),
        success="deadline_list_header",
        refusal="deadline_admins_only",
    ),
    Row(
        "/deadline set {unit} 2026H1 reflection 2026-06-30 18:00",
        frozenset({Role.ADMIN}),
        lambda role, relation: role is Role.ADMIN and relation in DOWN,
        success="deadline_set_done",
        refusal="deadline_admins_only",
        out_of_reach="deadline_unit_not_yours",
    ),
    Row(
        "/return {entry}",
        LEADERS,
        _leaders_down,
        ("title",),
        success="return_ask_reason",
        out_of_reach="return_not_found",
    ),
    # What the 基层减负 rules ask for (issue 15): everyone registered may say what they owe,
    # tune their reminders and complain; only in private, and nobody sees others' data.
    Row("/todo", REGISTERED, refusal=None),
    Row("/remind off 2026-07-01", REGISTERED, refusal=None),
    Row("/remind on", REGISTERED, refusal=None),
    Row("/feedback 每月的表格太长", REGISTERED, success="feedback_thanks", refusal=None),
    Row("/todo", frozenset(), refusal="group_private_only", in_group=True),
    Row("/feedback 每月的表格太长", frozenset(), refusal="group_private_only", in_group=True),
)


def _prefix(key: str) -> str:
    """The fixed start of a catalogue sentence (before its first placeholder)."""
    text = ZH[key].split("{", 1)[0]
    return text if len(text) >= 4 else ZH[key].split("}", 1)[-1].split("{", 1)[0]


# -- the world --------------------------------------------------------------------------


@dataclass
class World:
    """The seeded database, and a way to speak as each requester."""

    conversation: Conversation
    sessions: sessionmaker[Session]
    now: datetime
    entry_of: dict[Relation, int]
    mine: dict[Role, int]
    jobs: Worker  # /summary's document comes from a job, after the answer
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def user(self, role: Role) -> str:
        return f"requester-{role.value}"

    def ask(self, role: Role, text: str, *, in_group: bool = False) -> list[Reply]:
        incoming = Incoming(
            "shell",
            self.user(role),
            f"matrix-{next(self.ids)}",
            self.now,
            text=text,
            in_group=in_group,
        )
        replies = self.conversation.process(incoming).replies
        # what a job sends after (privately, for a group): checked as if said here
        self.jobs.run_due()
        return replies + take_waiting(self.sessions, "shell", self.user(role), self.now)


def _report(chat: Chat, title: str, place: str, figure: int) -> None:
    play(
        chat,
        [
            ("/report", "哪一类工作"),
            ("理论学习", "活动叫什么名字"),
            (title, "哪天"),
            ("上周五", "在哪里"),
            (place, "几场"),
            ("3场", "人次"),
            (f"{figure}人次", "做了什么"),
            ("学习党的创新理论。", "效果"),
            ("效果良好。", "亮点"),
            ("/skip", "照片"),
            ("完成", "请核对"),
            ("[✅ 确认保存]", "已保存"),
        ],
    )


def _reflect(chat: Chat, shortcoming: str, plan: str) -> None:
    play(chat, [("/reflect", "不足"), (shortcoming, "打算"), (plan, "汇总")])


@pytest.fixture(scope="module")
def world(
    migrated_engine: Engine,
    questionnaires: dict[str, Questionnaire],
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    with migrated_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    sessions = make_sessionmaker(migrated_engine)
    now = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
    kit = SummaryKit.load(templates_dir() / "summary")
    conversation = Conversation(
        sessions, questionnaires, "community_culture", SHANGHAI, lambda: now, summaries=kit
    )
    with transaction(sessions) as session:
        load_org(session, OrgFile.model_validate(ORG))
    entry_of: dict[Relation, int] = {}
    for relation in Relation:
        mark = marks(relation)
        register(sessions, mark["name"], CODE[relation])
        chat = Chat(conversation, mark["name"], lambda: now)
        _report(chat, mark["title"], mark["place"], FIGURE[relation])
        _reflect(chat, mark["shortcoming"], mark["plan"])
    mine: dict[Role, int] = {}
    for role, granted in REQUESTER_ROLE.items():
        register(
            sessions,
            f"请求人{role.value}",
            "mx-own",
            granted,
            external_id=f"requester-{role.value}",
        )
        chat = Chat(conversation, f"requester-{role.value}", lambda: now)
        _report(chat, own_title(role), "请求人的会议室", 1)
    with transaction(sessions) as session:
        for entry in session.scalars(select(Entry)).all():
            for relation in Relation:
                if entry.title == marks(relation)["title"]:
                    entry_of[relation] = entry.id
            for role in REQUESTER_ROLE:
                if entry.title == own_title(role):
                    mine[role] = entry.id
        no_role = session.scalars(select(Member).where(Member.name == "请求人no-role")).one()
        session.execute(delete(RoleGrant).where(RoleGrant.member_id == no_role.id))
    assert len(entry_of) == len(Relation) and len(mine) == len(REQUESTER_ROLE)
    documents = tmp_path_factory.mktemp("matrix-data")
    jobs = Worker(sessions, kit, documents, lambda: now)
    return World(conversation, sessions, now, entry_of, mine, jobs)


# -- the cases --------------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for row in ROWS:
        relations: list[Relation | None] = list(Relation) if row.targeted else [None]
        for role in Role:
            for relation in relations:
                case_id = f"{row.id}-{role.value}" + (f"-{relation.value}" if relation else "")
                marks_: list[pytest.MarkDecorator] = []
                if row.todo is not None:
                    marks_.append(pytest.mark.skip(reason=row.todo))
                if role in row.xfail:
                    marks_.append(pytest.mark.xfail(reason=row.xfail[role], strict=True))
                yield pytest.param(row, role, relation, id=case_id, marks=marks_)


def _document_text(reply: Reply) -> str:
    if reply.document is None or not reply.document.filename.endswith(".docx"):
        return ""
    opened = docx.Document(io.BytesIO(reply.document.content))
    cells = [c.text for t in opened.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in opened.paragraphs] + cells)


def _state_of(world: World, role: Role) -> ConversationState | None:
    with transaction(world.sessions) as session:
        member = session.scalars(
            select(Member.id).where(Member.name == f"请求人{role.value}")
        ).first()
        if member is None:
            return None
        return session.scalars(
            select(ConversationState).where(ConversationState.member_id == member)
        ).first()


@pytest.mark.parametrize(("row", "role", "relation"), list(_cases()))
def test_access(world: World, row: Row, role: Role, relation: Relation | None) -> None:
    text = row.command
    if relation is not None:
        text = text.format(unit=CODE[relation], entry=world.entry_of[relation])
    if "{mine}" in text:
        text = text.format(mine=world.mine.get(role, 999_999))
    replies = world.ask(role, text, in_group=row.in_group)
    answer = "\n".join(r.text for r in replies)
    documents = "\n".join(_document_text(r) for r in replies)
    everything = answer + "\n" + documents
    try:
        _check(world, row, role, relation, text, replies, answer, everything)
    finally:
        if role is not Role.STRANGER:
            world.ask(role, "/cancel")  # leave no dialog open for the next case


def _check(
    world: World,
    row: Row,
    role: Role,
    relation: Relation | None,
    text: str,
    replies: list[Reply],
    answer: str,
    everything: str,
) -> None:
    assert ZH["internal_error"] not in answer and EN["internal_error"] not in answer
    allowed = role in row.permitted and (relation is None or row.sees(role, relation))
    # What may appear: the relations within reach (for a target, only inside its subtree).
    if relation is None:
        visible = {r for r in Relation if allowed and row.sees(role, r)}
    else:
        visible = set(SUBTREE[relation]) if allowed else set()
        visible = {r for r in visible if row.sees(role, r)}
    for hidden in set(Relation) - visible:
        for kind, value in marks(hidden).items():
            assert value not in everything, (
                f"{text!r} by {role.value} revealed the {kind} of the {hidden.value} unit"
            )
    if allowed:
        if row.success is not None:
            assert _prefix(row.success) in answer, f"{text!r} by {role.value} failed:\n{answer}"
        for refusal in (row.refusal, row.out_of_reach):
            if refusal is not None:
                assert _prefix(refusal) not in answer
        shown = {relation} if relation is not None else visible
        for seen in shown:
            for kind in row.shows:
                value = marks(seen)[kind]
                assert value in everything, f"{text!r} should show the {kind} {value!r}"
        if "{mine}" in row.command:
            assert own_title(role) in answer
        if row.command == "/mine":
            assert own_title(role) in answer
        if row.command in ("/help", "/start"):
            assert (_prefix("help_leader") in answer) == (role in LEADERS)
        return
    # Refused: a clear answer (silence in a group for strangers), and no document.
    if role is Role.STRANGER:
        if row.in_group:
            assert replies == []
        else:
            assert answer == ZH["not_registered"]
    else:
        refusal = row.refusal if role not in row.permitted else row.out_of_reach or row.refusal
        if refusal is not None:
            assert _prefix(refusal) in answer, f"{text!r} by {role.value} not refused:\n{answer}"
        assert answer.strip()
    assert all(r.document is None and r.image is None for r in replies)
    if row.leaves_no_state or row.command.startswith("/closing add"):
        assert _state_of(world, role) is None
    with transaction(world.sessions) as session:
        injected = session.scalars(select(Reflection).where(Reflection.text == INJECTED)).all()
        leaders = session.scalars(
            select(Member.id).where(Member.name.in_([f"请求人{r.value}" for r in LEADERS]))
        ).all()
        assert all(point.member_id in leaders for point in injected)


def test_the_world_is_what_the_matrix_assumes(world: World) -> None:
    """A coordinator of the own unit sees both own and child data; the others exist."""
    with transaction(world.sessions) as session:
        titles = set(session.scalars(select(Entry.title)).all())
    assert {marks(r)["title"] for r in Relation} <= titles
    answer = "\n".join(r.text for r in world.ask(Role.COORDINATOR, "/entries"))
    assert marks(Relation.OWN)["title"] in answer and marks(Relation.CHILD)["title"] in answer


# -- the command table, command by command ----------------------------------------------

LEVEL = {
    Role.STRANGER: Who.STRANGER,
    Role.NO_ROLE: Who.STAFF,
    Role.STAFF: Who.STAFF,
    Role.COORDINATOR: Who.LEADER,
    Role.ADMIN: Who.ADMIN,
}
REFUSALS = ("group_private_only", "group_use_private", "not_registered", "unknown_command")


def _table_cases() -> Iterator[Any]:
    for name, spec in BY_NAME.items():
        for role in Role:
            for in_group in (False, True):
                where = "group" if in_group else "private"
                yield pytest.param(name, spec, role, in_group, id=f"/{name}-{role.value}-{where}")


def _says(key: str, answer: str) -> bool:
    return _prefix(key) in answer or ZH[key] == answer


@pytest.mark.parametrize(("name", "spec", "role", "in_group"), list(_table_cases()))
def test_every_command_of_the_table(
    world: World, name: str, spec: CommandSpec, role: Role, in_group: bool
) -> None:
    incoming = Incoming(
        "shell",
        world.user(role),
        f"table-{next(world.ids)}",
        world.now,
        text=f"/{name}",
        in_group=in_group,
    )
    replies = world.conversation.process(incoming).replies  # the answer in this chat only
    answer = "\n".join(r.text for r in replies)
    try:
        assert ZH["internal_error"] not in answer
        if role is Role.STRANGER:  # a bare command tells a stranger nothing, a group nothing
            assert replies == [] if in_group else answer == ZH["not_registered"]
            return
        allowed = LEVEL[role] >= spec.who
        if in_group and spec.group is InGroup.REPORTING:
            assert answer == ZH["group_use_private"]
        elif in_group and spec.group is InGroup.PRIVATE_ONLY:
            assert answer == ZH["group_private_only"]
        elif not allowed:
            assert answer == ZH[spec.refusal]
        else:
            assert answer.strip()
            assert not _says(spec.refusal, answer), f"/{name} refused to {role.value}"
            if not (in_group and spec.name in ("help", "start")):  # they answer staff so
                assert not any(_says(key, answer) for key in REFUSALS), answer
            if in_group and spec.group is InGroup.ANSWER_PRIVATELY:
                assert answer.startswith(_prefix("summary_sent_privately"))
        if in_group or not allowed:  # documents go to private chats, and to those allowed
            assert all(r.document is None and r.image is None for r in replies)
    finally:
        if role is not Role.STRANGER:
            world.ask(role, "/cancel")


def test_every_leaders_command_has_a_row_of_the_data_matrix() -> None:
    covered = {row.command.split()[0].removeprefix("/") for row in ROWS}
    assert {spec.name for spec in COMMANDS if spec.who >= Who.LEADER} <= covered


def test_help_follows_the_table(world: World) -> None:
    """/help lists exactly the commands one may use, with the table's lines, in both places."""
    for role in (Role.STAFF, Role.COORDINATOR, Role.ADMIN):
        answer = "\n".join(r.text for r in world.ask(role, "/help"))
        for spec in COMMANDS:
            if spec.help is not None:
                assert (spec.help.zh in answer) == (LEVEL[role] >= spec.who), (spec.name, role)
    in_group = [r.text for r in world.ask(Role.COORDINATOR, "/help", in_group=True)]
    assert in_group == [group_help_text("zh")]
    for spec in COMMANDS:
        answered = spec.group in (InGroup.ANSWER, InGroup.ANSWER_PRIVATELY)
        if answered and spec.who >= Who.LEADER:  # what a group is for
            assert spec.group_help is not None and spec.group_help.zh in in_group[0]
    assert [r.text for r in world.ask(Role.STAFF, "/help", in_group=True)] == [
        ZH["group_use_private"]
    ]

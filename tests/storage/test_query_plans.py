"""Query plans at a city's size, on SQLite and PostgreSQL (issue 16).

The statements are not copied here: they are caught as the real code runs them (SQLAlchemy's
before_cursor_execute event) and explained at that moment, in the same transaction, with the
same parameters: SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN (never ANALYZE, and with
sequential scans allowed), so the plan is the one the planner really chose then.

- The per-message and coordinator paths (an interview and its card, /mine, /status,
  /entries) and the reminder tick over 100,000 entries: no full scan of `entries`, no sort
  of it for an ORDER BY; the card's look-up of the same activity reported before reads one
  person's days by an index.
- The reminder fan-out to 50,000 members with statistics taken while the outbox was empty
  (the issue's case: PostgreSQL then joined the outbox by a nested loop over a sequential
  scan, once per member, and the tick went quadratic): no nested loop over a sequential scan
  of a large table, no INSERT that reads the outbox it fills, and (PostgreSQL) no statement
  on the outbox planned with statistics of a far smaller one, no statement run per batch
  that reads a large table sequentially (every batch reading every member), in the first
  tick, the steady one, and a tick after the outbox was emptied and vacuumed (its statistics then say empty
  while the fan-out fills it: the tick analyses it as it grows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.org import OrgFile, load_org
from bot.core.conversation import Conversation
from bot.core.questionnaire import Questionnaire
from bot.reminders.deadlines import month_span, set_deadline
from bot.reminders.ladder import FANOUT_BATCH_POSTGRESQL
from bot.reminders.tick import Background
from bot.settings import ReminderSettings
from storage.db import make_sessionmaker, transaction
from storage.models import (
    Base,
    Entry,
    Identity,
    Member,
    Platform,
    QuestionnaireVersion,
    Requirement,
    RoleGrant,
    RoleName,
    Unit,
)
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, empty_tables, register
from tests.core.test_dialog import HAPPY_PATH

STREETS, COMMUNITIES = 10, 5  # communities per street
LARGE = ("entries", "outbox", "role_grants", "members", "identities")
NOW = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)  # as conftest's clock
TODAY = NOW.astimezone(SHANGHAI).date()


@dataclass
class Plan:
    statement: str
    lines: list[str]  # SQLite: the plan's lines; PostgreSQL: one line per node
    nodes: list[dict[str, Any]]  # PostgreSQL: the plan as JSON; SQLite: empty
    outbox_rows: int = 0  # rows in the outbox then (statements that name it)
    outbox_known: float = -1.0  # PostgreSQL: the rows its statistics know of then


@contextmanager
def explained(engine: Engine) -> Iterator[list[Plan]]:
    """Every statement run meanwhile (but many-row inserts), with its plan."""
    plans: list[Plan] = []
    sqlite = engine.dialect.name == "sqlite"

    def explain(
        _connection: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if executemany or verb not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
            return
        probe = cursor.connection.cursor()
        try:
            rows, known = 0, -1.0
            if re.search(r"\boutbox\b", statement):
                probe.execute("SELECT count(*) FROM outbox")
                rows = int(probe.fetchone()[0])
                if not sqlite:
                    probe.execute("SELECT reltuples FROM pg_class WHERE oid = 'outbox'::regclass")
                    known = float(probe.fetchone()[0])
            if sqlite:
                probe.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = [str(row[3]) for row in probe.fetchall()]
                plans.append(Plan(statement, lines, [], rows, known))
            else:
                probe.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                raw = probe.fetchone()[0]
                tree = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
                plans.append(Plan(statement, _describe(tree), [tree], rows, known))
        finally:
            probe.close()

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def _describe(node: dict[str, Any], depth: int = 0) -> list[str]:
    relation = f" on {node['Relation Name']}" if "Relation Name" in node else ""
    index = f" using {node['Index Name']}" if "Index Name" in node else ""
    lines = ["  " * depth + f"{node['Node Type']}{relation}{index}"]
    for child in node.get("Plans", []):
        lines.extend(_describe(child, depth + 1))
    return lines


def _scans(node: dict[str, Any], subplans: bool = True) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        if subplans or child.get("Parent Relationship") not in ("SubPlan", "InitPlan"):
            yield from _scans(child, subplans)


def _one_persons(node: dict[str, Any]) -> bool:
    """The entries are read by an index on member_id = one value: a person's own."""
    conditions = " ".join(
        str(n.get("Index Cond", "")) + str(n.get("Recheck Cond", "")) for n in _scans(node)
    )
    return "(member_id = " in conditions


def entries_problems(plan: Plan) -> list[str]:
    """A full scan of `entries`, or a sort of its rows for an ORDER BY."""
    problems = []
    # the outer query reads entries (not a subquery of it)
    reads_entries = re.match(r"SELECT .*? FROM entries\b", plan.statement, re.S) is not None
    if plan.nodes:  # PostgreSQL
        for root in plan.nodes:
            problems.extend(_pg_entries_problems(root, None))
    else:
        for line in plan.lines:
            if re.fullmatch(r"SCAN entries", line.strip()):
                problems.append(line)
            # an ordered walk of an index is a full scan unless a LIMIT stops it early
            if line.strip().startswith("SCAN entries USING") and " LIMIT " not in plan.statement:
                problems.append(line)
            if reads_entries and "TEMP B-TREE FOR" in line and "ORDER BY" in line:
                problems.append(line)
    return problems


def _pg_entries_problems(node: dict[str, Any], parent: str | None) -> list[str]:
    found = []
    kind = node["Node Type"]
    if kind == "Seq Scan" and node.get("Relation Name") == "entries":
        found.append("Seq Scan on entries")
    # a sort of the entries themselves for an ORDER BY (not a grouping's or a merge join's
    # of an index range, not of rows a subplan merely tests against them), unless they are
    # one person's (/mine: a few dozen)
    sorts = kind in ("Sort", "Incremental Sort") and parent not in (
        "Aggregate",
        "Merge Join",
        "Hash Join",
        "Nested Loop",
    )
    read = [n for n in _scans(node, subplans=False) if n.get("Relation Name") == "entries"]
    if sorts and read and not all(_one_persons(n) for n in read):
        found.append(f"{kind} of entries ({node.get('Sort Key')})")
    for child in node.get("Plans", []):
        found.extend(_pg_entries_problems(child, kind))
    return found


def nested_seq_scans(plan: Plan) -> list[str]:
    """PostgreSQL: a nested loop whose inner side reads a large table sequentially (once per
    outer row); SQLite: a large table scanned whole (SQLite joins only by nested loops)."""
    found = []
    if not plan.nodes:
        for line in plan.lines:
            match = re.fullmatch(r"SCAN (\w+)", line.strip())
            if match and match.group(1) in LARGE:
                found.append(line)
        return found
    for node in _scans(plan.nodes[0]):
        if node["Node Type"] != "Nested Loop" or len(node.get("Plans", [])) < 2:
            continue
        inner = node["Plans"][1]
        for scan in _scans(inner):
            if scan["Node Type"] == "Seq Scan" and scan.get("Relation Name") in LARGE:
                found.append(f"Nested Loop over Seq Scan on {scan['Relation Name']}")
    return found


def reads_a_large_table_per_batch(plan: Plan) -> list[str]:
    """PostgreSQL: a statement run once per batch of members (the INSERT, the batch's
    standing: both bound to the batch's range of member ids) that reads a large table
    sequentially, so every batch reads every member (200,000 members: 20 batches, each reading
    all members, role grants and accounts; the tick grew 7x from 40,000)."""
    per_batch = plan.statement.lstrip().startswith("INSERT INTO outbox") or re.search(
        r"role_grants\.member_id >|\boutbox\.key (= ANY|IN) \(", plan.statement
    )
    if not plan.nodes or not per_batch:
        return []
    # (the outbox only once it is large: while nearly empty, reading it whole is cheapest)
    large = [t for t in LARGE if t != "outbox" or plan.outbox_rows > 2 * FANOUT_BATCH_POSTGRESQL]
    return [
        f"Seq Scan on {n['Relation Name']} ({plan.outbox_rows} in the outbox) in a statement "
        "run per batch"
        for n in _scans(plan.nodes[0])
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in large
    ]


def reads_what_it_fills(plan: Plan) -> list[str]:
    """An INSERT INTO outbox that reads the outbox itself (an anti-join with the keys queued):
    the rows it adds are there to be read again, and with a nested loop over a sequential
    scan, chosen when the outbox looked empty, the tick went quadratic (80,000: 172 s). The
    unique key is for ON CONFLICT, through its index, and for lookups before the INSERT."""
    if not plan.statement.lstrip().startswith("INSERT INTO outbox"):
        return []
    if plan.nodes:
        return [
            f"{n['Node Type']} on outbox in the INSERT"
            for n in _scans(plan.nodes[0])
            if n.get("Relation Name") == "outbox" and n["Node Type"] != "ModifyTable"
        ]
    return [line for line in plan.lines if re.match(r"(SCAN|SEARCH) outbox\b", line.strip())]


def stale_statistics(plan: Plan) -> list[str]:
    """PostgreSQL planning a statement on the outbox with statistics of a far smaller one
    (an outbox emptied and vacuumed looks empty however full it is again: the key lookup
    then compared every row with 2,000 keys, 40,000 members: 21 s)."""
    if plan.outbox_known < 0 or "pg_class" in plan.statement:  # (the check itself)
        return []
    # analysed when it has doubled, a batch at most ago
    if plan.outbox_rows <= 2 * max(plan.outbox_known, 0) + 2 * FANOUT_BATCH_POSTGRESQL:
        return []
    return [f"statistics of {plan.outbox_known:.0f} rows, {plan.outbox_rows} in the outbox"]


def report(plans: list[Plan], problems: Any) -> list[str]:
    return [
        f"{problem}\n  in: {' '.join(plan.statement.split())[:300]}\n  plan:\n    "
        + "\n    ".join(plan.lines)
        for plan in plans
        for problem in problems(plan)
    ]


# --- set-up: bulk inserts, then ANALYZE ------------------------------------------------


def bulk_insert(connection: Connection, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows: on PostgreSQL by one COPY, as psycopg's executemany sends an INSERT
    a row (100,000 entries took most of a test's time); on SQLite by executemany, which its
    driver runs in C. The values go through the columns' types as an INSERT's would."""
    table = model.__table__
    assert isinstance(table, Table)
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    row[name] if process is None else process(row[name])
                    for name, process in zip(names, processors, strict=True)
                ]
            )


def city(sessions: sessionmaker[Session]) -> dict[str, int]:
    """A district of STREETS streets of COMMUNITIES communities; unit ids by code."""
    streets = [
        {
            "code": f"s{s}",
            "name": f"第{s}街道",
            "kind": "街道",
            "children": [
                {"code": f"s{s}c{c}", "name": f"第{s}街道第{c}社区", "kind": "社区"}
                for c in range(COMMUNITIES)
            ],
        }
        for s in range(STREETS)
    ]
    spec = OrgFile.model_validate(
        {"units": [{"code": "d", "name": "示范区", "kind": "区", "children": streets}]}
    )
    with transaction(sessions) as session:
        load_org(session, spec)
        return {u.code: u.id for u in session.scalars(select(Unit))}


def add_staff(engine: Engine, units: dict[str, int], count: int) -> list[tuple[int, int]]:
    """`count` staff spread over the communities, each on Telegram; (member, unit) pairs."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        first = connection.execute(select(Member.id).order_by(Member.id.desc())).first()
    start = (first[0] if first else 0) + 1
    communities = [units[f"s{s}c{c}"] for s in range(STREETS) for c in range(COMMUNITIES)]
    pairs = [(start + i, communities[i % len(communities)]) for i in range(count)]
    with engine.begin() as connection:
        bulk_insert(
            connection,
            Member,
            [{"id": m, "name": f"员工{m}", "locale": "zh", "created_at": now} for m, _ in pairs],
        )
        bulk_insert(
            connection,
            Identity,
            [
                {
                    "member_id": m,
                    "platform": Platform.TELEGRAM,
                    "external_id": f"t{m}",
                    "created_at": now,
                }
                for m, _ in pairs
            ],
        )
        bulk_insert(
            connection,
            RoleGrant,
            [
                {"member_id": m, "unit_id": u, "role": RoleName.STAFF, "created_at": now}
                for m, u in pairs
            ],
        )
        if connection.dialect.name == "postgresql":  # ids given: move the sequence on
            connection.execute(
                text("SELECT setval('members_id_seq', (SELECT max(id) FROM members))")
            )
    return pairs


def add_entries(engine: Engine, staff: list[tuple[int, int]], count: int, end: date) -> None:
    """`count` entries by the staff over the 720 days up to `end`, in bulk, in the order
    people report: the oldest first."""
    with engine.begin() as connection:
        questionnaire = connection.execute(
            insert(QuestionnaireVersion).returning(QuestionnaireVersion.id),
            {
                "key": "bulk",
                "version": 1,
                "title": "bulk",
                "body": {},
                "created_at": datetime.now(UTC),
            },
        ).scalar_one()
        rows = []
        for i in range(count):
            member, unit = staff[(i * 7919) % len(staff)]
            day = end - timedelta(days=(count - 1 - i) * 720 // count)
            at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(seconds=i)
            rows.append(
                {
                    "member_id": member,
                    "unit_id": unit,
                    "questionnaire_id": questionnaire,
                    "area": "theory",
                    "area_name": "理论学习",
                    "title": f"活动{i}",
                    "start_date": day,
                    "end_date": day,
                    "period": f"{day:%Y-%m}",
                    "location": None,
                    "answers": {},
                    "revision": 1,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        bulk_insert(connection, Entry, rows)


def analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


# --- the per-message and coordinator paths ---------------------------------------------


def clear(engine: Engine) -> None:
    """Empty every table: on PostgreSQL by one TRUNCATE of them all (60 ms, where DELETEs of
    the populations here took 2.5 s: a row at a time, with the foreign keys checked), on
    SQLite by `empty_tables`."""
    if engine.dialect.name != "postgresql":
        empty_tables(engine)
        return
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names}"))


@pytest.fixture(scope="module", autouse=True)
def _left_empty(migrated_engine: Engine) -> Iterator[None]:
    """The module's populations are not left to the next module's tests to delete."""
    yield
    clear(migrated_engine)


@pytest.fixture
def emptied(migrated_engine: Engine) -> Engine:
    clear(migrated_engine)
    return migrated_engine


@pytest.fixture
def reporting_city(migrated_engine: Engine) -> Engine:
    """The district with 2,000 staff, 100,000 entries, 500 newcomers who have reported
    nothing (the tick reminds them), 李华, two coordinators and June's deadline, analysed.

    Built once and shared by the two tests below, in whatever order they run: the paths'
    test adds a handful of rows (an entry, processed messages, the tick's reminders) that
    the negative check's query does not read, the negative check puts back the indexes it
    drops, and another test that emptied the tables meanwhile has it built again. (Building
    it was most of each test's time.)
    """
    with migrated_engine.connect() as connection:
        built = connection.scalar(select(func.count()).select_from(Entry)) or 0
        coordinators = connection.scalar(
            select(func.count()).select_from(Member).where(Member.name.in_(["区主任", "街道主任"]))
        )
    if built >= 100_000 and coordinators == 2:
        return migrated_engine
    clear(migrated_engine)
    sessions = make_sessionmaker(migrated_engine)
    units = city(sessions)
    staff = add_staff(migrated_engine, units, 2000)
    add_entries(migrated_engine, staff, 100_000, TODAY)
    add_staff(migrated_engine, units, 500)
    register(sessions, "李华", "s0c0")
    register(sessions, "区主任", "d", RoleName.COORDINATOR)
    register(sessions, "街道主任", "s1", RoleName.COORDINATOR)
    with transaction(sessions) as session:
        set_deadline(
            session,
            unit_id=units["d"],
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=datetime(2026, 6, 30, 18, tzinfo=SHANGHAI).astimezone(UTC),
            now=NOW,
        )
    analyze(migrated_engine)
    return migrated_engine


def test_the_chat_paths_and_the_tick_never_scan_or_sort_all_entries(
    reporting_city: Engine, questionnaires: dict[str, Questionnaire]
) -> None:
    engine, clock = reporting_city, Clock(NOW)
    sessions = make_sessionmaker(engine)
    conversation = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    with explained(engine) as plans:
        play(
            Chat(conversation, "李华", clock),
            [*HAPPY_PATH, ("/mine", "上报的记录"), ("/mine 全部", "上报的记录")],
        )
        play(Chat(conversation, "区主任", clock), [("/entries", "最近上报"), ("/status", "上报")])
        play(Chat(conversation, "街道主任", clock), [("/entries", "最近上报"), ("/status", "上报")])
        clock.now = datetime(2026, 6, 27, 18, tzinfo=SHANGHAI).astimezone(UTC)  # a step
        background = Background(sessions, ReminderSettings(), SHANGHAI, clock, instance="t")
        assert background.tick().queued > 0
    read = [p for p in plans if re.search(r"\bentries\b", p.statement)]
    assert len(read) >= 8, [p.statement[:80] for p in plans]
    # the card's look-up of the same activity reported before (storage.entries.same_days_of_member)
    # the card's look-up of the same activity reported before (entries.same_days_of_member):
    # both databases read the person's (or the unit's) entries of that day by its index
    (repeat,) = [p for p in read if re.search(r"\bentries\.end_date =", p.statement)]
    by_index = r"entries using (index )?ix_entries_(member|unit)_start\b"
    assert any(re.search(by_index, line, re.IGNORECASE) for line in repeat.lines), repeat.lines
    problems = report(read, entries_problems)
    assert not problems, "\n\n".join(problems)


def test_the_check_catches_a_full_scan_and_a_sort_of_entries(reporting_city: Engine) -> None:
    """The check above is no blind one: without the indexes /entries sorts every entry."""
    engine = reporting_city
    with engine.begin() as connection:
        for name in ("ix_entries_created_at", "ix_entries_unit_start"):
            connection.execute(text(f"DROP INDEX {name}"))
    # New connections: a pooled SQLite connection of an earlier test (test_jobs' claimer
    # threads) could still read the schema as it was, indexes and all.
    engine.dispose()
    try:
        analyze(engine)
        with explained(engine) as plans, engine.connect() as connection:
            connection.execute(
                select(Entry.id)
                .join(Unit, Unit.id == Entry.unit_id)
                .where(Unit.path.startswith("/"), Entry.deleted_at.is_(None))
                .order_by(Entry.created_at.desc(), Entry.id.desc())
                .limit(20)
            ).all()
        assert report(plans, entries_problems) != []
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("CREATE INDEX ix_entries_created_at ON entries (created_at, id)")
            )
            connection.execute(
                text("CREATE INDEX ix_entries_unit_start ON entries (unit_id, start_date)")
            )
        engine.dispose()  # nor may a pooled connection keep the schema without them
        analyze(engine)


# --- the reminder fan-out at 50,000 members --------------------------------------------


def test_the_fan_out_to_50000_members_has_no_nested_loop_over_a_sequential_scan_and_no_anti_join_on_the_outbox(
    emptied: Engine,
) -> None:
    engine, sessions = emptied, make_sessionmaker(emptied)
    units = city(sessions)
    staff = add_staff(engine, units, 50_000)
    # a fifth of them reported in June: the "has reported" test has rows to look at
    june_15 = date(2026, 6, 15)
    add_entries(engine, staff[::5], 10_000, june_15)
    with transaction(sessions) as session:
        set_deadline(
            session,
            unit_id=units["d"],
            span=month_span(2026, 6),
            requirement=Requirement.MONTHLY_ENTRY,
            due_at=datetime(2026, 6, 30, 18, tzinfo=SHANGHAI).astimezone(UTC),
            now=datetime(2026, 6, 1, tzinfo=UTC),
        )
    analyze(engine)  # statistics of an empty outbox, as in the issue
    step = datetime(2026, 6, 27, 18, tzinfo=SHANGHAI).astimezone(UTC)
    background = Background(sessions, ReminderSettings(), SHANGHAI, lambda: step, instance="t")
    with explained(engine) as first:
        queued = background.tick().queued
    with explained(engine) as steady:
        assert background.tick().queued == 0
    assert queued > 40_000
    # the outbox emptied and vacuumed: its statistics say empty while the fan-out fills it
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.name == "postgresql":
            connection.execute(text("VACUUM ANALYZE outbox"))
    with explained(engine) as again:
        assert background.tick().queued == queued
    plans = first + steady + again
    fanout = [p for p in plans if re.search(r"\b(outbox|role_grants)\b", p.statement)]
    assert any(p.statement.lstrip().startswith("INSERT INTO outbox") for p in fanout)
    problems = (
        report(fanout, nested_seq_scans)
        + report(fanout, reads_what_it_fills)
        + report(fanout, stale_statistics)
        + report(fanout, reads_a_large_table_per_batch)
    )
    assert not problems, "\n\n".join(problems)

"""Every query is a named function of storage/ (issue 14): bot/ builds no SQL statement and
reads or writes no row through the session itself.

Read from the source with `ast`, as tests/test_architecture.py reads the imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# SQLAlchemy's statement builders and the expressions that go into them.
BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "exists",
    "func",
    "and_",
    "or_",
    "not_",
    "case",
    "literal",
    "bindparam",
    "selectinload",
    "aliased",
}
# What a session does with rows and statements.
SESSION_CALLS = {"add", "add_all", "get", "scalars", "scalar", "execute", "delete", "merge"}
# Session settings, not queries: the health check's lock and statement timeouts.
ALLOWED = {("bot/health.py", "execute")}


def _session_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, method) of calls like session.get(...), self.session.add(...), turn.session..."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        named = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if named == "session" and node.func.attr in SESSION_CALLS:
            found.append((node.lineno, node.func.attr))
    return found


def test_bot_builds_no_statement_and_touches_no_row_itself() -> None:
    problems = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), where)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                built = sorted(a.name for a in node.names if a.name in BUILDERS)
                if built:
                    problems.append(f"{where}:{node.lineno} imports {', '.join(built)}")
        for line, method in _session_calls(tree):
            if (where, method) not in ALLOWED:
                problems.append(f"{where}:{line} calls session.{method}")
    assert not problems, "queries belong in storage/:\n" + "\n".join(problems)


def test_the_check_sees_a_query_built_in_bot() -> None:
    """No blind check: the code moved out of bot/ would have failed it."""
    tree = ast.parse(
        "from sqlalchemy import select\n"
        "def f(turn):\n"
        "    turn.session.scalars(select(Unit))\n"
        "    self.session.get(Member, 1)\n"
    )
    assert _session_calls(tree) == [(3, "scalars"), (4, "get")]
    (imported,) = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert {a.name for a in imported.names} <= BUILDERS

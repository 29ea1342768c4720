"""`huibao` starts at once: help imports no database, core or platform library, and the
shell imports no renderer (python-docx, openpyxl, matplotlib) and no platform SDK.

Each check runs the command in a fresh interpreter and reads its `sys.modules`, so it fails
as soon as someone imports one of these at a module's top on the way. (How long a start
takes is measured by benchmarks/startup.py, not asserted here: the machine may be busy.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.admin.cli import ROLES
from bot.core.questionnaire import _read_yaml
from storage.db import create_db_engine, upgrade
from storage.models import RoleName

ROOT = Path(__file__).resolve().parent.parent

# The document renderers and the chart, the chat platforms' SDKs and the web server,
# the public-holiday tables: each for the commands that use it.
RENDERERS_AND_PLATFORMS = (
    "matplotlib",
    "docx",
    "openpyxl",
    "telegram",
    "uvicorn",
    "starlette",
    "websockets",
)
# Help needs none of these either: no settings, no database, no core.
NOT_FOR_HELP = (
    *RENDERERS_AND_PLATFORMS,
    "chinese_calendar",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "jinja2",
    "httpx",
    "cryptography",
)

# Runs `huibao ARGS` in this interpreter, then prints which of the named packages it loaded.
PROBE = """
import json, sys
from bot.admin.cli import main
try:
    main(sys.argv[2:], prog_name="huibao")
except SystemExit as stop:
    assert stop.code in (None, 0), stop.code
names = json.loads(sys.argv[1])
print(json.dumps(sorted(n for n in names if n in sys.modules)))
"""


def loaded_by(cwd: Path, env: dict[str, str], names: tuple[str, ...], *args: str) -> list[str]:
    """Which of `names` a fresh interpreter has imported after `huibao ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(names), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")}
    values["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), values.get("PYTHONPATH")]))
    values["HUIBAO_DATABASE_URL"] = f"sqlite:///{tmp_path / 'huibao.sqlite3'}"
    values["HUIBAO_DATA_DIR"] = str(tmp_path / "data")
    values["HUIBAO_LOG_LEVEL"] = "WARNING"
    return values


@pytest.mark.parametrize(
    "args", [("--help",), ("shell", "--help"), ("run", "--help")], ids=" ".join
)
def test_help_loads_no_database_core_or_platform(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...]
) -> None:
    assert loaded_by(tmp_path, env, NOT_FOR_HELP, *args) == []


def test_the_shell_starts_without_renderers_platforms_or_alembic(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # The database is at the newest migration already (as at every start but the first):
    # the start then needs no Alembic either.
    engine = create_db_engine(env["HUIBAO_DATABASE_URL"])
    upgrade(engine)
    engine.dispose()
    names = (*RENDERERS_AND_PLATFORMS, "alembic")
    assert loaded_by(tmp_path, env, names, "shell") == []


def test_the_role_choices_are_the_stored_roles() -> None:
    assert tuple(role.value for role in RoleName) == ROLES


def test_libyaml_reads_the_shipped_questionnaires_as_safe_load_does() -> None:
    # Read at every start with libyaml when present: the same values as the pure loader.
    paths = sorted((ROOT / "templates" / "questionnaires").glob("*.yaml"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert _read_yaml(text) == yaml.safe_load(text), path.name

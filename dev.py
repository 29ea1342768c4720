#!/usr/bin/env python3
"""Set up and run Huibao with nothing installed but Python 3.11+.

    python3 dev.py run     # create .venv if needed, then run the main job (`huibao run`)
    python3 dev.py test    # create .venv if needed, then lint, type-check and run all tests

Anything after `test` goes to pytest (e.g. `python3 dev.py test -k parsing`); the tests run
in one process per logical CPU (pytest-xdist), or in one with `-n 0` (for --pdb, say).
Anything after `run` goes to `huibao` instead of `run` (e.g. `python3 dev.py run shell --as li`).
The virtual environment is reinstalled whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".huibao-installed"
MIN_PYTHON = (3, 11)


def _bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the project with its dev tools, unless already current."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"Huibao needs Python {'.'.join(map(str, MIN_PYTHON))} or newer")
    if STAMP.exists() and STAMP.read_text() == _fingerprint() and _bin("huibao").exists():
        return
    if not _bin("python").exists():
        print("creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    python = str(_bin("python"))
    print("installing Huibao and its tools into .venv ...", file=sys.stderr)
    quiet = ["--quiet", "--disable-pip-version-check"]
    subprocess.run([python, "-m", "pip", "install", *quiet, "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", *quiet, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(_fingerprint())


def _run(*command: str | Path) -> int:
    # Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE):
    # each test worker and each `huibao` process a test starts would otherwise compile
    # bot/ and storage/ again (measured: a worker's collection 8.6 s of CPU instead of 4.2 s).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run([str(part) for part in command], cwd=ROOT, env=env).returncode


def test(pytest_args: list[str]) -> int:
    """Lint, format check, type check, then the test suite; stop at the first failure."""
    steps: list[tuple[str, list[str | Path]]] = [
        ("ruff check", [_bin("ruff"), "check", "."]),
        ("ruff format --check", [_bin("ruff"), "format", "--check", "."]),
        ("mypy", [_bin("mypy")]),
        # One pytest-xdist worker a logical CPU, each with its own SQLite files and PostgreSQL
        # schema, taking tests from the other's queue when its own runs dry (worksteal: a few
        # tests take half a minute); `-n 0` after `test` runs the suite in one process.
        (
            "pytest",
            [_bin("python"), "-m", "pytest", "-n", "logical", "--dist", "worksteal", *pytest_args],
        ),
    ]
    for name, command in steps:
        print(f"== {name}", file=sys.stderr, flush=True)
        code = _run(*command)
        if code != 0:
            print(f"== {name} failed (exit {code})", file=sys.stderr)
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "setup"):
        print(__doc__, file=sys.stderr)
        return 2
    ensure_environment()
    if argv[0] == "setup":
        return 0
    if argv[0] == "test":
        return test(argv[1:])
    return _run(_bin("huibao"), *(argv[1:] or ["run"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

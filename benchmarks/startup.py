"""How much CPU `huibao` spends before it is ready: `huibao --help`, and `huibao shell` to its
prompt (stdin empty, so it starts, finds no input and ends).

Each command runs in a fresh interpreter (`python -m bot ...`) in its own temporary folder
(its SQLite database and data folder there, no .env), and its CPU, user + system, is read
with resource.getrusage(RUSAGE_CHILDREN). The first run of each is a warm-up, not counted:
it writes the bytecode cache (kept in a temporary PYTHONPYCACHEPREFIX, as an installed
package has its .pyc files) and creates and migrates the database, which every later start
finds at the newest migration.

With --after REV, a git revision is timed instead of the working tree (exported with
`git archive`). With --before REV, the tree of that revision is timed too, interleaved run
by run with the other, so that both see the same load; the ratio of the medians is then the
figure to trust on a busy machine.

    .venv/bin/python benchmarks/startup.py                  # this tree, 5 runs
    .venv/bin/python benchmarks/startup.py --before 8eb5aed --after HEAD --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS: dict[str, list[str]] = {
    "huibao --help": ["--help"],
    "huibao shell (empty stdin)": ["shell"],
}


@dataclass
class Tree:
    """A source tree to start `huibao` from, with its own scratch folder."""

    name: str
    source: Path
    scratch: Path
    times: dict[str, list[float]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        values = {k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")}
        values.pop("PYTHONDONTWRITEBYTECODE", None)
        values["PYTHONPYCACHEPREFIX"] = str(self.scratch / "pycache")
        values["PYTHONPATH"] = str(self.source)
        values["HUIBAO_DATABASE_URL"] = f"sqlite:///{self.scratch / 'huibao.sqlite3'}"
        values["HUIBAO_DATA_DIR"] = str(self.scratch / "data")
        values["HUIBAO_LOG_LEVEL"] = "WARNING"
        return values


def cpu_of(tree: Tree, args: list[str]) -> float:
    """CPU seconds (user + system) of one `python -m bot ARGS` from `tree`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tree.scratch,
        env=tree.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tree.name}: huibao {' '.join(args)} failed:\n{done.stderr.decode()}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def export(revision: str, into: Path) -> Path:
    """The files of a git revision, as `git archive` gives them."""
    archive = into / "source.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", revision], cwd=ROOT, stdout=out, check=True)
    source = into / "source"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs per command")
    parser.add_argument("--before", metavar="REV", help="also time this git revision")
    parser.add_argument(
        "--after", metavar="REV", help="time this git revision (default: the working tree)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="huibao-startup-") as temporary:
        base = Path(temporary)
        trees = []
        if options.before:
            (base / "before").mkdir()
            trees.append(Tree("before", export(options.before, base / "before"), base / "before"))
        (base / "now").mkdir()
        now = export(options.after, base / "now") if options.after else ROOT
        trees.append(Tree("now", now, base / "now"))
        for tree in trees:
            for args in COMMANDS.values():
                cpu_of(tree, args)  # warm-up: bytecode cache, database migrated
        for _ in range(options.runs):
            for label, args in COMMANDS.items():
                for tree in trees:
                    tree.times.setdefault(label, []).append(cpu_of(tree, args))
    print(f"CPU seconds (user + system), {options.runs} runs each: min / median / max")
    for label in COMMANDS:
        medians = {}
        for tree in trees:
            times = tree.times[label]
            medians[tree.name] = statistics.median(times)
            print(
                f"  {label:28} {tree.name:6} {min(times):.3f} / {medians[tree.name]:.3f} "
                f"/ {max(times):.3f}"
            )
        if "before" in medians:
            print(f"  {label:28} now/before (medians): {medians['now'] / medians['before']:.2f}")
    load = os.getloadavg()
    print(f"load average while measuring: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()

"""The walls between the rooms (docs/architecture.md): what may import what.

Every import counts: at a module's top, inside a function (imported late to start faster) or
under `TYPE_CHECKING`. A cycle through a late import is still a cycle: the two modules cannot
be understood, tested or moved one without the other. The graph is read from the source with
`ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The chat platforms' libraries and the web server: only bot/channels (and the runner that
# starts them) may use them.
PLATFORM_SDKS = ("telegram", "websockets", "aiohttp", "httpx", "uvicorn", "starlette")


# The layers of docs/architecture.md, from the bottom: a module belongs to the layer of the
# longest prefix that names it, and imports only from its own layer and those below.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("storage", ("storage",)),
    (
        "core's values",
        (
            *(
                f"bot.core.{name}"
                for name in (
                    "types",
                    "text",
                    "messages",
                    "parsing",
                    "periods",
                    "holidays",
                    "questionnaire",
                    "answers",
                    "figures",
                    "interview",
                    "reflection",
                    "scope",
                    "dialogs.state",
                )
            ),
            "bot.settings",
            "bot.shipped",
            "bot.logs",
            "bot.instances",
            "bot.health",
        ),
    ),
    ("services", ("bot.reminders", "bot.summary", "bot.core.relief", "bot.core.status_overview")),
    ("work later", ("bot.jobs",)),
    ("conversation", ("bot.core",)),  # the rest of the core: dialogs, commands, dispatch, ...
    ("drivers", ("bot.channels", "bot.reminders.tick")),
    ("composition", ("bot.app", "bot.runner", "bot.admin", "bot.__main__")),
)
# The one import that goes up: the tick names the App's type (TYPE_CHECKING) for
# Background.from_app; bot.app imports nothing of the tick.
UPWARD = frozenset({("bot.reminders.tick", "bot.app")})


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of bot/ and storage/ by its dotted name (a package by its own name).

    Alembic's migration scripts are left out: Alembic runs each as a script, no module
    imports one (0006 cleans old rows with `bot.core.text.clean_text`, the rule new text
    is cleaned with).
    """
    found: dict[str, Path] = {}
    for package in ("bot", "storage"):
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported_names(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """The dotted names a module's source imports, anywhere in it.

    `from a.b import c` gives both `a.b` and `a.b.c` (c may be a module or a name in a.b);
    relative imports are made absolute against `module`.
    """
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _known(name: str, modules: Iterable[str]) -> str | None:
    """The longest module among `modules` that `name` is or lies in."""
    known = set(modules)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of bot/ and storage/ it imports."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        names = imported_names(path.read_text(), module, is_package=path.name == "__init__.py")
        targets = {_known(name, files) for name in names}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def imports_from(room: str, forbidden: Iterable[str], root: Path = ROOT) -> dict[str, list[str]]:
    """The modules in `room` (a dotted prefix) that import any of `forbidden` (dotted
    prefixes), with what they import; empty when the wall holds."""
    walls = tuple(forbidden)
    offenders: dict[str, list[str]] = {}
    for module, path in module_files(root).items():
        if module != room and not module.startswith(room + "."):
            continue
        names = imported_names(path.read_text(), module, is_package=path.name == "__init__.py")
        bad = sorted(n for n in names if any(n == w or n.startswith(w + ".") for w in walls))
        if bad:
            offenders[module] = bad
    return offenders


def layer_of(module: str) -> int | None:
    """The index in LAYERS of a module's layer (None: no prefix names it)."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (index, len(prefix))
    return best[0] if best is not None else None


def test_the_reader_sees_late_relative_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import storage.db\n"
        "from . import sibling\n"
        "from ..core.types import Reply\n"
        "if TYPE_CHECKING:\n"
        "    from bot.app import App\n"
        "def later() -> None:\n"
        "    from bot.summary import render\n"
    )
    names = imported_names(source, "bot.channels.shell")
    assert {
        "storage.db",
        "bot.channels.sibling",
        "bot.core.types",
        "bot.core.types.Reply",
        "bot.app",
        "bot.summary.render",
    } <= names


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert "bot.core.conversation" in graph and "storage.models" in graph  # it read the tree
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        # graphlib lists each module before the ones that import it: reversed, each imports
        # the next
        pytest.fail("import cycle: " + " imports ".join(reversed(cycle.args[1])))


def test_storage_imports_nothing_from_bot() -> None:
    assert imports_from("storage", ["bot"]) == {}


def test_core_imports_no_channel_admin_tool_or_platform_sdk() -> None:
    assert imports_from("bot.core", ["bot.channels", "bot.admin", *PLATFORM_SDKS]) == {}


def test_only_the_channels_and_the_runner_use_a_platform_sdk() -> None:
    outside = {
        module: names
        for module, names in imports_from("bot", PLATFORM_SDKS).items()
        if not module.startswith("bot.channels.") and module != "bot.runner"
    }
    assert outside == {}


def test_channels_import_no_storage() -> None:
    """Keeping, claiming, marking and sweeping are the core's (bot.core.delivery): a channel
    only translates, so it never reaches the database itself."""
    assert "bot.channels.telegram" in module_files()  # it read the tree
    assert imports_from("bot.channels", ["storage"]) == {}


def test_each_layer_imports_only_the_layers_below() -> None:
    graph = import_graph()
    files = module_files()
    # A package whose __init__ imports nothing is only a name (`from bot.core import x`).
    names = {m for m, path in files.items() if path.name == "__init__.py" and not graph[m]}
    unplaced = sorted(m for m in graph if m not in names and layer_of(m) is None)
    assert unplaced == []  # give it a layer here and in docs/architecture.md
    upward = [
        f"{module} ({LAYERS[layer_of(module) or 0][0]}) imports {target}"
        for module, imported in sorted(graph.items())
        for target in sorted(imported - names)
        if (layer_of(target) or 0) > (layer_of(module) or 0) and (module, target) not in UPWARD
    ]
    assert upward == []

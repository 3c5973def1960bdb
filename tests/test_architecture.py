"""The rules of the house (docs/architecture.md), read from the source of host/veil: no module
imports one that imports it back, each layer imports only the layers below it, and nothing
under veil.platform reaches the owner's or the privacy code, so nothing that runs on a
platform can touch a key. Imports inside functions count as much as those at the top."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "host" / "veil"

# Which layer may import which (a layer may always import its own modules).
CORE = (
    "veil",
    "veil.errors",
    "veil.protocol",
    "veil.feed",
    "veil.dataset",
    "veil.firmware",
    "veil.progress",
    "veil.private",
)
LAYERS = ("platform", "privacy", "owner", "boards", "sim", "cli")
MAY_IMPORT = {
    "core": set(),
    "platform": {"core"},
    "privacy": {"core"},
    "owner": {"core", "platform", "privacy"},
    "boards": {"core", "platform", "privacy", "owner"},
    "sim": {"core", "platform", "privacy", "owner", "boards"},
    "cli": {"core", "platform", "privacy", "owner", "boards", "sim"},
}
KEY_HOLDERS = ("veil.owner", "veil.privacy")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = ("veil", *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the veil modules it imports, anywhere in its code."""
    mods = modules(root)
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] == "veil"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != "veil":
                    continue
                subs = {f"{source}.{a.name}" for a in node.names} & mods.keys()
                found |= subs or {source}
                if len(subs) < len(node.names):  # some names come from the package itself
                    found.add(source)
        unknown = found - mods.keys()
        assert not unknown, f"{name} imports {sorted(unknown)}, which do not exist"
        graph[name] = found - {name}
    return graph


def layer(name: str) -> str:
    if name in CORE:
        return "core"
    head = name.split(".")[1]
    assert head in LAYERS, f"{name} is in no layer: add it to one (docs/architecture.md)"
    return head


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def reach(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module importing `start` loads, each with the module that imports it. Importing a
    module first runs the __init__ of every package above it, so those count too."""
    via = {start: ""}
    todo = [start]
    while todo:
        m = todo.pop()
        parts = m.split(".")
        above = {".".join(parts[:i]) for i in range(1, len(parts))}
        for n in sorted(graph[m] | above):
            if n not in via:
                via[n] = m
                todo.append(n)
    return via


def key_leaks(graph: dict[str, set[str]]) -> list[str]:
    """'platform module -> ... -> owner/privacy module' for every platform module that loads
    the owner's or the privacy code."""
    leaks = []
    for start in sorted(m for m in graph if m.startswith("veil.platform")):
        via = reach(graph, start)
        for m in sorted(via):
            if m.startswith(KEY_HOLDERS):
                chain = [m]
                while via[chain[-1]]:
                    chain.append(via[chain[-1]])
                leaks.append(" -> ".join(reversed(chain)))
                break
    return leaks


@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE)


def test_no_module_imports_one_that_imports_it_back(graph):
    assert cycles(graph) == []


def test_each_layer_imports_only_the_layers_below_it(graph):
    wrong = [
        f"{m} ({layer(m)}) imports {n} ({layer(n)})"
        for m, deps in sorted(graph.items())
        for n in sorted(deps)
        if layer(n) != layer(m) and layer(n) not in MAY_IMPORT[layer(m)]
    ]
    assert wrong == []


def test_nothing_on_the_platform_reaches_a_key(graph):
    assert any(m.startswith("veil.platform.") for m in graph)
    assert key_leaks(graph) == []


def test_the_checks_see_an_import_hidden_in_a_function_two_modules_away(tmp_path):
    """A platform module imports veil.feed, which imports veil.protocol: a function there that
    imports the privacy code is a leak, and a cycle once privacy imports the protocol."""
    root = tmp_path / "veil"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    with (root / "protocol.py").open("a") as f:
        f.write("\n\ndef _planted():\n    from .privacy import profile\n\n    return profile\n")
    planted = import_graph(root)
    assert any("veil.protocol -> veil.privacy.profile" in leak for leak in key_leaks(planted))
    assert any("veil.protocol" in group for group in cycles(planted))

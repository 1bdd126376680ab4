"""The import layering written in docs/CONTRACTS.md ("Layers"), read from the source: which package may
import which, and no import cycles between modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a module (prefix) -> the packages it must never import, at module level or inside a function
FORBIDDEN = {
    "afterburner": ("training",),
    "afterburner.results": ("afterburner.",),
    "afterburner.errors": ("afterburner.",),
    "afterburner.program": ("afterburner.",),
    "afterburner.measurement": ("afterburner.sandbox", "afterburner.agent", "afterburner.llm", "afterburner.bench"),
    "afterburner.task": ("afterburner.sandbox", "afterburner.agent", "afterburner.llm", "afterburner.bench"),
    "afterburner.sandbox": (
        "afterburner.agent", "afterburner.bench", "afterburner.cli", "afterburner.llm", "afterburner.prompts",
        "afterburner.suite", "afterburner.report",
    ),
    "afterburner.llm": ("afterburner.agent", "afterburner.bench", "afterburner.cli", "afterburner.sandbox"),
    "afterburner.settings": ("afterburner.agent", "afterburner.bench", "afterburner.cli", "afterburner.prompts"),
    "afterburner.prompts": ("afterburner.agent", "afterburner.bench", "afterburner.cli"),
    "afterburner.agent": ("afterburner.bench", "afterburner.cli"),
    "afterburner.bench": ("afterburner.cli",),
}  # fmt: skip
# the one door from the library to training/: the CLI's `afterburner train`, which imports it lazily
ALLOWED = {("afterburner.cli.train_cmd", "training")}


def modules() -> dict[str, Path]:
    out = {}
    for top in ("afterburner", "training"):
        for p in (ROOT / top).rglob("*.py"):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            out[name] = p
    return out


def imports(path: Path, ours: set[str], top_level_only: bool) -> set[str]:
    """The project modules `path` imports (`from pkg import submodule` counts as the submodule)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & ours
            found |= subs or {node.module}
    return {m for m in found if m.split(".")[0] in ("afterburner", "training")}


def test_no_module_imports_a_layer_above_it():
    mods = modules()
    bad = []
    for name, path in mods.items():
        for prefix, banned in FORBIDDEN.items():
            if name != prefix and not name.startswith(prefix + "."):
                continue
            for dep in imports(path, set(mods), top_level_only=False):
                if any(
                    dep == b.rstrip(".") or dep.startswith(b if b.endswith(".") else b + ".") for b in banned
                ):
                    allowed = any(name == m and dep.startswith(t) for m, t in ALLOWED)
                    if not dep.startswith(prefix) and not allowed:  # a package's own modules are fine
                        bad.append(f"{name} imports {dep}")
    assert bad == []


def test_no_import_cycles_between_modules():
    mods = modules()
    graph = {m: imports(p, set(mods), top_level_only=True) - {m} for m, p in mods.items()}
    for m in graph:  # a package's __init__ may import its own modules; they must not need it back
        graph[m] = {d for d in graph[m] if d in mods}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []

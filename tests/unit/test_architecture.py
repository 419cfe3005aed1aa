"""The import graph of the library (docs/architecture.md): no cycles, no private names across modules,
nothing in the library core depends on the reference models.

The graph is read from the source with ``ast``, module-level and function-level imports alike: a lazy
import inside a function is a dependency too (it only defers the cost), so it may not close a cycle either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mmcert_verified"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path):
    """(target module, imported names, at module level?) for every import statement in ``path``."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(id(n) for n in tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), id(node) in top
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            yield target, tuple(a.name for a in node.names), id(node) in top


MODULES = {(_module_name(p)): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_module(name: str) -> bool:
    return name in MODULES


def test_the_graph_is_read():
    """The parser finds the edges it must (a check that the checks below can fail)."""
    edges = {t for t, _, top in _imports(MODULES["mmcert_verified.threat_model"]) if top}
    assert "mmcert_verified.threat.attacks" in edges and "mmcert_verified.errors" in edges


def _module_graph(module_level_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, names, top in _imports(path):
            if (module_level_only and not top) or not target.startswith("mmcert_verified"):
                continue
            # "from pkg import sub" imports the submodule pkg.sub when there is one
            subs = [f"{target}.{n}" for n in names if _is_module(f"{target}.{n}")]
            for dep in subs or [target]:
                if _is_module(dep) and dep != module:
                    graph[module].add(dep)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module-level", "all-imports"])
def test_no_import_cycles(module_level_only):
    """A package's __init__ importing its own submodules is not a cycle of the library's data flow; every
    other strongly connected set of modules is."""
    graph = _module_graph(module_level_only)
    for module in graph:  # drop package -> own submodule edges (re-exports)
        if MODULES[module].name == "__init__.py":
            graph[module] = {d for d in graph[module] if not d.startswith(module + ".")}
    assert _cycles(graph) == []


def test_no_private_names_across_modules():
    offenders = []
    for module, path in MODULES.items():
        for target, names, _ in _imports(path):
            if not target.startswith("mmcert_verified") or target == module:
                continue
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    offenders.append(f"{module} imports {target}.{name}")
    assert offenders == []


@pytest.mark.parametrize("allowed", [{"mmcert_verified.cli.demo"}])
def test_library_core_does_not_depend_on_reference_models(allowed):
    offenders = sorted({module for module, path in MODULES.items() for target, _, _ in _imports(path)
                        if target.split(".")[0] == "reference_models" and module not in allowed})
    assert offenders == []

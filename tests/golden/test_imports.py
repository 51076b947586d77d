"""The golden model's import graph: no circle among its modules, and no import of the RTL.

Imports are read from the source with `ast` (every ``import`` statement, also those inside a
function), so a circle hidden behind a lazy import counts as one.
"""

import ast
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
PACKAGE = "flexspim.golden"


def imported_modules(path: Path, package: str) -> set[str]:
    """Full names of every module ``path`` imports (``from .x import y`` counts as
    ``package.x`` and, when ``y`` is a module of the package, ``package.x.y``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def import_graph(folder: Path, package: str) -> dict[str, set[str]]:
    """Module (short name) -> the modules of the same package it imports."""
    names = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name in names:
        mods = imported_modules(folder / f"{name}.py", package)
        graph[name] = {m.rsplit(".", 1)[1] for m in mods
                       if m.startswith(package + ".") and m.rsplit(".", 1)[1] in names} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle ``[a, b, ..., a]`` of the graph, or None."""
    state: dict[str, int] = {}        # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = 2
        path.pop()
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_find_cycle_finds_a_circle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_relative_and_lazy_imports_are_read(tmp_path):
    (tmp_path / "one.py").write_text("from .two import f\n")
    (tmp_path / "two.py").write_text("def f():\n    from . import one\n")
    graph = import_graph(tmp_path, PACKAGE)
    assert graph == {"one": {"two"}, "two": {"one"}}
    assert find_cycle(graph) == ["one", "two", "one"]


def test_no_import_circle_in_golden():
    graph = import_graph(GOLDEN, PACKAGE)
    # the parser sees the known one-way edges (else an empty graph would pass)
    assert {"network_fast", "layers"} <= graph["network"]
    assert "layers" in graph["network_fast"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle in golden/: " + " -> ".join(cycle)


def test_golden_never_imports_the_rtl():
    for path in sorted(GOLDEN.glob("*.py")):
        bad = sorted(m for m in imported_modules(path, PACKAGE)
                     if m.split(".")[:2] == ["flexspim", "hdl"] or m.split(".")[0] == "hdl")
        assert not bad, f"golden/{path.name} imports {bad}"

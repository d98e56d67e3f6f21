"""No import cycle in `service/`: every module's imports (TYPE_CHECKING ones included)
form a graph without cycles, so each package can be read, tested and moved on its own."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).parents[1] / "service"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an `ImportFrom` names (relative levels resolved)."""
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The modules under `root` that the module at `path` imports."""
    current = module_name(path, root)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(current, is_package, node)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"  # `from . import checkout`
                found.add(submodule if submodule in modules else target)
    return {m for m in found if m in modules and m != current}


def import_graph(root: Path = SERVICE) -> dict[str, set[str]]:
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    return {module_name(p, root): imports_of(p, root, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path `[a, b, ..., a]`, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_service_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "service.emulator.state" in graph  # the walk did find the modules
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_finds_a_cycle_and_its_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_and_type_checking_imports_count(tmp_path: Path) -> None:
    pkg = tmp_path / "service" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "service" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .one import X\n")
    (pkg / "one.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .two import Y\nX = 1\n"
    )
    (pkg / "two.py").write_text("from . import one\nfrom service.pkg.one import X\nY = 2\n")
    graph = import_graph(tmp_path / "service")
    assert graph["service.pkg.one"] == {"service.pkg.two"}
    assert graph["service.pkg.two"] == {"service.pkg.one"}
    assert find_cycle(graph) == ["service.pkg.one", "service.pkg.two", "service.pkg.one"]

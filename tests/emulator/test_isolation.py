"""Production code never imports the emulator."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).parents[2] / "service"


def _imports(tree: ast.AST, module: str) -> set[str]:
    found: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_production_module_imports_the_emulator() -> None:
    offenders = []
    for path in SERVICE.rglob("*.py"):
        relative = path.relative_to(SERVICE.parent)
        if relative.parts[:2] == ("service", "emulator"):
            continue
        module = ".".join(relative.with_suffix("").parts)
        if path.name == "__init__.py":
            module += ".__init__"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(
            name == "service.emulator" or name.startswith("service.emulator.")
            for name in _imports(tree, module)
        ):
            offenders.append(str(relative))
    assert offenders == []


def test_the_scanner_sees_relative_and_absolute_imports() -> None:
    sample = (
        "from service import emulator\nfrom ..emulator import app\nimport service.emulator.app\n"
    )
    names = _imports(ast.parse(sample), "service.http.routes")
    assert "service.emulator" in names
    assert "service.emulator.app" in names

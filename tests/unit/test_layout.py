"""The layers: the shared package (`logjet/`) never imports the components above it, nor the command line; the
components never import the command line. Checked on the source, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = {"collectors", "processor", "shippers", "api"}


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_shared_package_imports_no_component_and_not_the_command_line() -> None:
    imports = _imports("logjet")
    wrong = {top: files for top, files in imports.items() if top in COMPONENTS | {"cli"}}
    assert not wrong, f"logjet/ must not import the floors above it: {wrong}"


def test_no_component_imports_the_command_line() -> None:
    for package in COMPONENTS:
        assert "cli" not in _imports(package), f"{package}/ imports the command line"

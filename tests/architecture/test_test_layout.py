"""The tests' own layout: shared doubles and helpers live in tests/support/, so no test module
imports another test module (a fixture directory's conftest is the only other shared file)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parents[1]


def imported_test_modules(path: Path) -> list[str]:
    """The `tests.*.test_*` modules that the file at `path` imports."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [n for n in names if n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith("test_")]


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path))
    }
    assert offenders == {}


def test_the_check_sees_an_import_of_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(
        "from tests.deploy.test_k8s_manifests import the\nimport tests.support.clock\n"
    )
    assert imported_test_modules(module) == ["tests.deploy.test_k8s_manifests"]

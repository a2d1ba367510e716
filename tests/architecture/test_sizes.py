"""Sizes that keep the code readable: a step of the request's life fits on a few screens, and
no function in the worker or the contract is longer than a screen."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
MAX_PIPELINE_MODULE_LINES = 250
MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of each function or method in `source` longer than `limit` lines, its
    decorators included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            lines = (node.end_lineno or node.lineno) - start + 1
            if lines > limit:
                found.append((node.name, lines))
    return found


def test_every_pipeline_module_is_at_most_250_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in sorted((ROOT / "worker" / "pipeline").glob("*.py"))
    }
    assert len(sizes) > 20  # the walk found the steps
    assert {p: n for p, n in sizes.items() if n > MAX_PIPELINE_MODULE_LINES} == {}


def test_no_function_in_the_worker_or_the_contract_is_over_60_lines() -> None:
    paths = sorted((ROOT / "worker").rglob("*.py")) + sorted((ROOT / "schemas").rglob("*.py"))
    assert len(paths) > 100
    too_long = {
        f"{path.relative_to(ROOT)}:{name}": lines
        for path in paths
        for name, lines in long_functions(path.read_text(), MAX_FUNCTION_LINES)
    }
    assert too_long == {}


def test_the_length_check_counts_decorators_and_methods() -> None:
    def method(statements: int) -> str:
        body = "".join(f"        x{i} = {i}\n" for i in range(statements))
        return f"class C:\n    @staticmethod\n    def f() -> None:\n{body}"

    assert long_functions(method(58), 60) == []  # decorator + def + 58 lines
    assert long_functions(method(59), 60) == [("f", 61)]

"""Every command is in the README's command table; the commands of issue 28 show examples."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from worker.cli.main import build_parser

README = Path(__file__).parents[2] / "README.md"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_has_a_row_in_the_readme_table() -> None:
    table = README.read_text().split("## The command line", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)", table, re.MULTILINE))
    assert set(subcommands()) <= rows


@pytest.mark.parametrize("name", ["publish", "status", "doctor"])
def test_the_help_shows_examples(name: str) -> None:
    text = subcommands()[name].format_help()
    examples = text.split("examples:", 1)[1]
    assert f"ecs-provisioner {name} " in examples
    assert "Exit codes" in text

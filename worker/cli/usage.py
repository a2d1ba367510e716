"""The text of every `--help`: the prose, then Examples and the command's exit codes.

`HelpFormatter` wraps prose paragraphs to the terminal and prints indented blocks (examples,
tables) as written. `epilog(command, examples)` builds the part after the options: each example
with the line saying what it does, then the command's rows of `worker.cli.exit_codes.COMMANDS`,
each code named by the scheme that every command shares.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence

from worker.cli.exit_codes import COMMANDS, SCHEME

#: (what it does, the command line) of one example.
Example = tuple[str, str]

_SCHEME_NAMES = {code: name for code, name, _ in SCHEME}


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs; keeps blocks with indented lines (examples, tables) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = text.strip("\n").split("\n\n")
        return "\n\n".join(self._fill_block(block, width, indent) for block in blocks)

    def _fill_block(self, block: str, width: int, indent: str) -> str:
        lines = block.splitlines()
        if any(line.startswith(" ") for line in lines):
            return "\n".join(indent + line for line in lines)
        return super()._fill_text(block, width, indent)


#: Width of an exit-code row; longer ones continue under their text.
ROW_WIDTH = 88


def exit_code_lines(command: str) -> list[str]:
    """`command`'s exit codes, one `  CODE  scheme-name: when` row each (wrapped)."""
    lines: list[str] = []
    for row in COMMANDS[command]:
        text = f"  {row.label:<8} {_SCHEME_NAMES[row.label]}: {row.when}"
        lines += textwrap.wrap(text, ROW_WIDTH, subsequent_indent=" " * 11)
    return lines


def _example_lines(examples: Sequence[Example]) -> list[str]:
    """`Examples:`, then each command line under its comment (none when `what` is empty)."""
    lines = ["Examples:"]
    for what, line in examples:
        lines += [f"  # {what}"] if what else []
        lines.append(f"  {line}")
    return lines


def epilog(command: str, examples: Sequence[Example]) -> str:
    """Examples and exit codes of `command` (a key of `COMMANDS`), for its parser's epilog."""
    lines = _example_lines(examples)
    lines += ["", "Exit codes (one scheme for every command, see ecs-provisioner --help):"]
    lines += exit_code_lines(command)
    return "\n".join(lines)


def scheme_epilog(examples: Sequence[Example]) -> str:
    """The top-level epilog: examples and the exit-code scheme every command follows."""
    lines = _example_lines(examples)
    lines += ["", "Exit codes of every command:"]
    lines += [f"  {code:<8} {name}: {meaning}" for code, name, meaning in SCHEME]
    return "\n".join(lines)

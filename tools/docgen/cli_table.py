"""The README's command-line table, generated from the parser and the exit-code table.

One row per command of `worker.cli.exit_codes.COMMANDS` that the command line has today (a
command such as `status`, or an option such as `publish --wait`): what it does (its help line)
and what each of its exit codes means. `python -m tools.docgen.cli_table` rewrites the table
between the README's markers; `--check` exits 1 when it is stale (a test runs the check), e.g.
once a command of the table is registered.
"""

from __future__ import annotations

import argparse
import sys

from tools.docgen.section import GeneratedSection
from worker.cli.exit_codes import COMMANDS
from worker.cli.main import build_parser


def help_of(command: str, parser: argparse.ArgumentParser | None = None) -> str | None:
    """The help line of `command` (`policy check`, `publish --wait`), None if it has none yet."""
    parser = parser or build_parser()
    text: str | None = None
    for word in command.split():
        if word.startswith("--"):
            options = [a for a in parser._actions if word in a.option_strings]
            return options[0].help if options else None
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or word not in subparsers[0].choices:
            return None
        text = next(a.help for a in subparsers[0]._choices_actions if a.dest == word)
        parser = subparsers[0].choices[word]
    return text


def markdown_table() -> str:
    parser = build_parser()
    rows = ["| command | what it does | exit codes |", "|---|---|---|"]
    for command, outcomes in COMMANDS.items():
        what = help_of(command, parser)
        if what is None:
            continue
        codes = "; ".join(f"**{row.label}** {row.when}" for row in outcomes)
        rows.append(f"| `{command}` | {what} | {codes.replace('|', '/')} |")
    return "\n".join(rows)


SECTION = GeneratedSection("cli-table", "tools.docgen.cli_table", markdown_table)
main = SECTION.main


if __name__ == "__main__":
    sys.exit(main())

"""The exit codes of every `ecs-provisioner` command: one scheme, one table.

The scheme (`ExitCode`) gives each number one meaning for every command:

- 0 the command did what was asked;
- 1 the subject is invalid or failed: the request body or policy file the command judges, the
  contract files it checks, the outcome of a request, or the worker itself at run time;
- 2 the command could not run as asked: its command line, an input it cannot read, or its
  configuration (settings, an option's file such as `validate --policy`);
- 3 a dependency (Kafka) is unreachable, refused the connection, or did not answer in time;
- 130 / 143 interrupted by SIGINT / SIGTERM (128 + the signal, the shells' convention); a
  command in a phase only a signal ends (`run`, `results --follow`, watching `samples`)
  exits 0 instead.

`COMMANDS` says what each code means for each command (the rows printed in every `--help`,
`worker.cli.usage`, and in the README's generated CLI table); `tests/cli/test_exit_codes.py`
produces every row.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType


class ExitCode(IntEnum):
    """The one exit-code scheme; see the module docstring."""

    OK = 0
    FAILED = 1
    USAGE = 2
    UNAVAILABLE = 3
    SIGINT = 128 + signal.SIGINT
    SIGTERM = 128 + signal.SIGTERM


#: (code, name, meaning) of the scheme, the same for every command (`ecs-provisioner --help`).
SCHEME: tuple[tuple[str, str, str], ...] = (
    ("0", "ok", "the command did what was asked"),
    ("1", "failed", "the subject is invalid or failed (a request, a policy file, the worker)"),
    ("2", "usage", "the command line, an unreadable input, or the configuration"),
    ("3", "unavailable", "a dependency (Kafka) unreachable, refusing, or timed out"),
    ("130/143", "interrupted", "by SIGINT/SIGTERM (128 + the signal)"),
)


@dataclass(frozen=True)
class Outcome:
    """One row of a command's table: the code(s) and when the command exits with them."""

    codes: tuple[ExitCode, ...]
    when: str

    @property
    def label(self) -> str:
        return "/".join(str(int(code)) for code in self.codes)


_OK, _FAILED, _USAGE = (ExitCode.OK,), (ExitCode.FAILED,), (ExitCode.USAGE,)
_UNAVAILABLE = (ExitCode.UNAVAILABLE,)
_INTERRUPTED = Outcome((ExitCode.SIGINT, ExitCode.SIGTERM), "by SIGINT (130) or SIGTERM (143)")
_KAFKA = Outcome(_UNAVAILABLE, "Kafka unreachable, refused the connection or timed out")

COMMANDS: Mapping[str, tuple[Outcome, ...]] = MappingProxyType(
    {
        "run": (
            Outcome(_OK, "stopped by SIGTERM/SIGINT after draining"),
            Outcome(_FAILED, "the worker stopped on an unexpected error (the message names it)"),
            Outcome(
                _USAGE,
                "a setting, the policy file or OTEL_* is invalid, an ECSP_* variable is no "
                "setting, or the ops port or a file cannot be used",
            ),
            Outcome(_UNAVAILABLE, "Kafka unreachable at start, or it refused the credentials"),
            Outcome(_INTERRUPTED.codes, "a second SIGINT/SIGTERM ended the drain at once"),
        ),
        "publish": (
            Outcome(_OK, "published"),
            Outcome(_FAILED, "a request the worker would refuse; nothing was published"),
            Outcome(
                _USAGE, "unreadable input, no --key, a bad --jsonl line, a bad option or setting"
            ),
            _KAFKA,
            _INTERRUPTED,
        ),
        "publish --wait": (
            Outcome(_OK, "the request succeeded (or, a dry run, was validated)"),
            Outcome(_FAILED, "the request failed"),
            Outcome(
                _USAGE,
                "a request the worker would refuse (nothing was published), unreadable input, "
                "a bad option or setting",
            ),
            Outcome(_UNAVAILABLE, "no terminal event within --timeout, or Kafka unreachable"),
            _INTERRUPTED,
        ),
        "results": (
            Outcome(_OK, "read to the end (with --follow: stopped by SIGINT/SIGTERM)"),
            Outcome(_USAGE, "a bad option or setting"),
            _KAFKA,
            _INTERRUPTED,
        ),
        "samples": (
            Outcome(_OK, "every sample finished (watching: then stopped by SIGINT/SIGTERM)"),
            Outcome(_USAGE, "a bad option or setting"),
            Outcome(
                _UNAVAILABLE,
                "Kafka unreachable or a topic missing, or the batch not finished within --timeout",
            ),
            _INTERRUPTED,
        ),
        "status": (
            Outcome(_OK, "the key is known (its latest state is printed)"),
            Outcome(_FAILED, "the key is unknown"),
            Outcome(_USAGE, "a bad option or setting"),
            _KAFKA,
        ),
        "doctor": (
            Outcome(_OK, "every check passed"),
            Outcome(_FAILED, "a check failed (each with its fix)"),
            Outcome(_USAGE, "a bad option"),
        ),
        "simulator": (
            Outcome(_OK, "stopped by SIGTERM/SIGINT"),
            Outcome(_USAGE, "no --credential or --iam-user, a bad option, or a port it cannot use"),
        ),
        "validate": (
            Outcome(_OK, "valid (and allowed by --policy)"),
            Outcome(
                _FAILED,
                "the worker would refuse it (decode or validate: one line per problem), or "
                "--policy forbids it",
            ),
            Outcome(_USAGE, "unreadable FILE, an invalid --policy file, a bad option or setting"),
        ),
        "policy check": (
            Outcome(_OK, "valid"),
            Outcome(_FAILED, "invalid, not YAML included (one 'path: message' line per problem)"),
            Outcome(_USAGE, "unreadable FILE or a bad option"),
        ),
        "schemas": (
            Outcome(_OK, "exported, or up to date"),
            Outcome(_FAILED, "check: a file differs from the models (each named)"),
            Outcome(_USAGE, "a bad option"),
        ),
    }
)

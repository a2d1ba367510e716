"""Which `ECSP_*` names are settings: a misspelt one stops the worker instead of being ignored.

pydantic-settings ignores a variable that names no setting, so `ECSP_KAFKA_BOOTSTRAP_SERVER`
(one S short) would leave the worker on its default broker and `ECSP_POLICY_FIEL` without
guardrails. `unknown_names` returns one problem per name that is no setting, with the closest
setting (`ecsp_contract.suggest.closest`). An `ECSP_*` environment variable may also be:

- a `$NAME` secret: it starts with the configured `ECSP_SECRET_ENV_PREFIX` (`ECSP_SECRET_` by
  default; `SecretSource` reads these from the environment only);
- the project's own tooling: it starts with one of `TOOLING_PREFIXES` (the test suite's
  `ECSP_TEST_KAFKA_BOOTSTRAP`, `ECSP_TEST_EVENT_LOG`, …, the benchmarks' `ECSP_BENCH_*`, the ECS
  API simulator's `ECSP_SIMULATOR_CREDENTIALS`);
- named in `ECSP_ALLOWED_UNKNOWN_VARIABLES` (names or `fnmatch` patterns such as `ECSP_MYTOOL_*`).

Every key of a `--config` file must be a setting (or allowed): secrets are not read from it.
Names are compared without case, as pydantic-settings reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from ecsp_contract.suggest import closest

PREFIX = "ECSP_"
#: Prefixes of variables the repository's tests, benchmarks and simulator read for themselves.
TOOLING_PREFIXES = ("ECSP_TEST_", "ECSP_BENCH_", "ECSP_SIMULATOR_")
ALLOW_SETTING = "ECSP_ALLOWED_UNKNOWN_VARIABLES"


def unknown_names(
    environment: Iterable[str],
    file_keys: Iterable[str],
    *,
    known: frozenset[str],
    secret_prefix: str | None,
    allowed: Iterable[str],
    config_file: str | None = None,
) -> list[str]:
    """One `NAME is no setting; did you mean …?` problem per name that is no setting (the last
    says how to allow a name meant for something else)."""
    patterns = [pattern.upper() for pattern in allowed]

    def unknown(name: str) -> bool:
        upper = name.upper()
        return upper not in known and not any(fnmatchcase(upper, p) for p in patterns)

    problems = [
        _problem(name, known, "")
        for name in sorted(environment)
        if name.upper().startswith(PREFIX)
        and unknown(name)
        and not name.upper().startswith(TOOLING_PREFIXES)
        and not (secret_prefix and name.startswith(secret_prefix))
    ]
    in_file = f" (in {config_file})"
    problems += [_problem(key, known, in_file) for key in sorted(file_keys) if unknown(key)]
    if problems:
        problems[-1] += f" (a variable meant for something else can be named in {ALLOW_SETTING})"
    return problems


def _problem(name: str, known: frozenset[str], where: str) -> str:
    guess = closest(name, known)
    return f"{name}{where} is no setting" + (f"; did you mean {guess}?" if guess else "")

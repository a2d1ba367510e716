"""`make mutation`: mutmut over the core modules, one module at a time, and each module's score.

    python -m tests.mutation.run [MODULE ...]      # default: every module of MODULES

mutmut (configured in pyproject.toml, [tool.mutmut]) names a mutant after its file's path, so
it runs in a workspace, .mutation/, laid out as the import names say: worker/, ecsp_contract/
(the contract's package, from schemas/) and tests/, refreshed from the checkout on every run.
There it copies the tree to mutants/ and runs, for each mutant, only the fast broker-free tests
that reach the mutated function. Mutants already checked are not run again while their function
is unchanged. The score of a module is
detected / (mutants - equivalent), where detected = killed or timed out and EQUIVALENT lists the
mutants no test can detect because they do not change behaviour; "raw" is detected / mutants.
Prints a markdown table (docs/mutation.md holds the latest); exit 1 when a module scores below
TARGET.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / ".mutation"
#: workspace entry -> where it comes from in the checkout
LAYOUT = {
    "worker": ROOT / "worker",
    "ecsp_contract": ROOT / "schemas" / "ecsp_contract",
    "tests": ROOT / "tests",
    "schemas": ROOT / "schemas",  # data files the tests read by path (examples, schemas)
}
MUTMUT = Path(sys.executable).with_name("mutmut")
TARGET = 0.90

MODULES = {
    "commit watermark": "worker.consumer.offsets",
    "redaction": "ecsp_contract.redaction",
    "token derivation": "ecsp_contract.idempotency",
    "signing": "worker.ecs.signing",
    "retry decisions": "worker.ecs.retry",
    "job following": "worker.pipeline.follow",
}

DETECTED = {"killed", "timeout"}

_UNREACHABLE = "unreachable: the schedule is endless, so the loop is never left"
_CODEC = "codec names are case-insensitive: 'UTF-8' is 'utf-8'"

#: Mutants that behave exactly like the original, and why. Names are mutmut's (a function's
#: mutants are numbered in order, so editing a function can renumber them: re-check then).
EQUIVALENT: dict[str, str] = {
    "worker.ecs.signing.x__encode__mutmut_5": (
        "quote(safe='XX~XX'): letters are always safe in quote(), so only '~' matters"
    ),
    "worker.ecs.signing.x_compute_signature__mutmut_5": _CODEC,
    "worker.ecs.signing.x_compute_signature__mutmut_15": _CODEC,
    "worker.ecs.signing.x_compute_signature__mutmut_18": _CODEC,
    "worker.ecs.retry.xǁRetryPolicyǁdelay__mutmut_15": (
        "exponent cap 63 instead of 62: both keep 2.0**n finite; the cap differs only when "
        "max_delay exceeds base_delay * 2**62 seconds"
    ),
    "worker.pipeline.follow.x_follow_job__mutmut_2": (
        "payment_announced = None instead of False: it is only tested for truth"
    ),
    "worker.pipeline.follow.x_follow_job__mutmut_78": _UNREACHABLE,
    "worker.pipeline.follow.x_follow_job__mutmut_79": _UNREACHABLE,
    "worker.pipeline.follow.x_follow_job__mutmut_80": _UNREACHABLE,
}


def prepare_workspace() -> None:
    """Copies the sources and tests into WORKSPACE (keeping mutmut's results in mutants/)."""
    WORKSPACE.mkdir(exist_ok=True)
    for name, source in LAYOUT.items():
        target = WORKSPACE / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # the contract's package sits at the top of the workspace, so "." is the whole import path
    config = config.replace('pythonpath = [".", "schemas"]', 'pythonpath = ["."]')
    (WORKSPACE / "pyproject.toml").write_text(config, encoding="utf-8")


def run_module(module: str) -> None:
    subprocess.run([str(MUTMUT), "run", f"{module}.*"], cwd=WORKSPACE, check=False)


def statuses() -> dict[str, str]:
    """Every mutant mutmut knows of and its status (`killed`, `survived`, `no tests`, ...)."""
    out = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=WORKSPACE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def report(modules: Sequence[str], found: dict[str, str]) -> tuple[str, bool]:
    """A markdown table of the modules' scores, and whether all reach TARGET."""
    rows = [
        "| module | mutants | detected | equivalent | not detected | raw | score |",
        "|---|---|---|---|---|---|---|",
    ]
    ok = True
    for module in modules:
        mine = {n: s for n, s in found.items() if n.startswith(f"{module}.")}
        counts = Counter("detected" if s in DETECTED else s for s in mine.values())
        equivalent = [n for n in mine if n in EQUIVALENT and mine[n] not in DETECTED]
        missed = sorted(n for n, s in mine.items() if s not in DETECTED and n not in EQUIVALENT)
        scored = len(mine) - len(equivalent)
        score = counts["detected"] / scored if scored else 1.0
        ok = ok and score >= TARGET
        raw = counts["detected"] / len(mine) if mine else 1.0
        rows.append(
            f"| `{module}` | {len(mine)} | {counts['detected']} | {len(equivalent)} "
            f"| {len(missed)} | {raw:.0%} | {score:.0%} |"
        )
        for name in missed:
            rows.append(f"|  ↳ `{name.removeprefix(module + '.')}` ({mine[name]}) | | | | | | |")
        for name in sorted(equivalent):
            short = name.removeprefix(module + ".")
            rows.append(f"|  ≡ `{short}`: {EQUIVALENT[name]} | | | | | | |")
    return "\n".join(rows), ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.run", description=__doc__)
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="e.g. worker.ecs.retry")
    parser.add_argument("--report-only", action="store_true", help="do not run mutmut")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES.values())
    if not args.report_only:
        prepare_workspace()
        for module in modules:
            run_module(module)
    table, ok = report(modules, statuses())
    print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

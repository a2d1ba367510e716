"""The doctor's checklist: each check passed, failed (with how to fix it) or was skipped.

A `Check` holds a name, its outcome, one line of detail and, for a failure, the fix. Details and
fixes name settings and show addresses, counts and codes, never a secret's value. `line` prints a
check (a failure's fix on the line below it), `tally` the closing count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASSED = "ok"
    FAILED = "FAIL"
    SKIPPED = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str = ""


def passed(name: str, detail: str) -> Check:
    return Check(name, Outcome.PASSED, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, Outcome.FAILED, detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, Outcome.SKIPPED, why)


def all_passed(checks: Sequence[Check]) -> bool:
    return all(check.outcome is Outcome.PASSED for check in checks)


#: Names are padded to this width so checks printed one by one line up.
NAME_WIDTH = 18


def line(check: Check) -> str:
    """The check's line, and its fix on the next one."""
    text = f"{check.outcome.value:<4}  {check.name:<{NAME_WIDTH}} {check.detail}"
    if check.fix:
        text += f"\n{'':<4}  {'':<{NAME_WIDTH}} fix: {check.fix}"
    return text


def tally(checks: Sequence[Check]) -> str:
    """The closing count."""
    failures = sum(check.outcome is Outcome.FAILED for check in checks)
    skips = sum(check.outcome is Outcome.SKIPPED for check in checks)
    if failures or skips:
        return f"{failures} of {len(checks)} checks failed, {skips} skipped"
    return f"all {len(checks)} checks passed"

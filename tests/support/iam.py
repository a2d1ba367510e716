"""The worker's IAM policy against what it really calls: every API operation the simulator served
during the end-to-end tests must be listed in deploy/iam/operations.json with actions the policy
grants (checked when the session ends, like the secret-leak check)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

IAM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "iam"
POLICY_FILE = IAM_DIR / "ecs-provisioner-worker.json"
OPERATIONS_FILE = IAM_DIR / "operations.json"

#: Operation ("METHOD /route/{template}") -> times the end-to-end simulators served it.
SERVED: Counter[str] = Counter()


def record_served(stats: dict[str, Any]) -> None:
    """Adds a simulator's `requests_by_operation` (from GET /_sim/stats) to SERVED."""
    SERVED.update(stats.get("requests_by_operation", {}))


def policy_actions() -> set[str]:
    policy = json.loads(POLICY_FILE.read_text())
    return {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
    }


def operations() -> dict[str, set[str]]:
    """Operation -> the actions it needs, as deploy/iam/operations.json lists them."""
    table = json.loads(OPERATIONS_FILE.read_text())
    return {operation: set(entry["actions"]) for operation, entry in table.items()}


def uncovered(served: Counter[str]) -> list[str]:
    """One line per served operation the policy does not cover."""
    table, granted = operations(), policy_actions()
    problems = []
    for operation in sorted(served):
        if operation not in table:
            problems.append(f"{operation}: not in {OPERATIONS_FILE.name}")
        elif missing := table[operation] - granted:
            problems.append(f"{operation}: the policy lacks {sorted(missing)}")
    return problems

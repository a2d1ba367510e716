"""A shipped example request passes the shipped guardrails policy, for every project it names.

The API reference's examples break four of its rules each (a prePaid s2 flavor, automatic
payment, no cost-center tag); `06-postpaid-within-policy.json` is the one to copy. Checked with
the policy file of the guardrails component and with `ecs-provisioner validate --policy`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecsp_contract.export import PACKAGE_DIR, REFERENCE_EXAMPLES
from ecsp_contract.request import CreateServersBody, to_wire
from worker.policy.check import violations
from worker.policy.load import read_policy

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "k8s" / "components" / "guardrails" / "policy.yaml"
EXAMPLE = PACKAGE_DIR / "examples" / "06-postpaid-within-policy.json"
_, SHIPPED = read_policy(POLICY)


def wire(path: Path) -> dict[str, object]:
    return to_wire(CreateServersBody.model_validate_json(path.read_bytes()))


@pytest.mark.parametrize("project", [None, *SHIPPED.projects])
def test_the_example_breaks_no_rule_of_the_shipped_policy(project: str | None) -> None:
    assert violations(SHIPPED.rules_for(project), wire(EXAMPLE)) == []


def test_the_reference_examples_do_break_it_so_the_example_is_needed() -> None:
    for name in REFERENCE_EXAMPLES:
        assert violations(SHIPPED.default, wire(PACKAGE_DIR / "examples" / f"{name}.json"))


def test_validate_with_the_shipped_policy_accepts_the_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "validate", "--policy", str(POLICY), str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith(", allowed by the policy\n")
    assert json.loads(EXAMPLE.read_text())["server"]["flavorRef"] in result.stdout

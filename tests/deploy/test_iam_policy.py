"""The worker's IAM custom policy: well-formed, nothing granted that no API call needs, and the
coverage check (run on everything the end-to-end simulators served) catches what it must."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.support import iam
from worker.simulator.app import make_app
from worker.simulator.knobs import SimulatorConfig


def test_the_policy_is_one_allow_statement_of_ecs_and_vpc_actions() -> None:
    policy = json.loads(iam.POLICY_FILE.read_text())
    assert policy["Version"] == "1.1"
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    actions = statement["Action"]
    assert len(actions) == len(set(actions))
    assert all(a.split(":")[0] in {"ecs", "vpc"} and a.count(":") == 2 for a in actions)
    assert "*" not in "".join(actions)


def test_the_policy_grants_exactly_what_the_listed_operations_need() -> None:
    needed = set().union(*iam.operations().values())
    assert iam.policy_actions() == needed


def test_every_listed_operation_is_an_api_route() -> None:
    app = make_app(SimulatorConfig(credentials={"ak": "sk"}))
    routes = {
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is not None and not route.resource.canonical.startswith("/_sim")
    }
    assert set(iam.operations()) <= routes


def test_the_coverage_check_names_unlisted_operations_and_missing_actions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = Counter(
        {
            "POST /v1.1/{project_id}/cloudservers": 3,
            "GET /v1/{project_id}/cloudservers/{server_id}": 1,
        }
    )
    assert iam.uncovered(Counter({"POST /v1.1/{project_id}/cloudservers": 1})) == []
    assert iam.uncovered(served) == [
        "GET /v1/{project_id}/cloudservers/{server_id}: not in operations.json"
    ]
    monkeypatch.setattr(iam, "policy_actions", lambda: {"ecs:cloudServers:list"})
    assert iam.uncovered(Counter({"POST /v1.1/{project_id}/cloudservers": 1})) == [
        "POST /v1.1/{project_id}/cloudservers: the policy lacks "
        "['ecs:cloudServers:createServers', 'vpc:publicIps:create', 'vpc:publicIps:update']"
    ]

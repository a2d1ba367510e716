"""Each broken rule is rejected by the models with its JSON path, and by the exported schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from ecsp_contract.problems import problems_from
from ecsp_contract.request import CreateServersBody
from tests.schemas.conftest import schema_validator
from tests.schemas.corpus import Loc, apply_change
from tests.support.invalid_requests import CASES


def test_there_are_at_least_40_rules() -> None:
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("changes", "path", "schema_too"),
    [pytest.param(changes, path, schema_too, id=name) for name, changes, path, schema_too in CASES],
)
def test_broken_rule_is_named_by_path(
    example: Callable[[str], dict[str, Any]],
    changes: list[tuple[Loc, Any]],
    path: str,
    schema_too: bool,
) -> None:
    body = example("01-prepaid-keypair.json")
    for loc, value in changes:
        apply_change(body, loc, value)

    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(body)
    paths = [problem.path for problem in problems_from(caught.value)]
    assert path in paths
    with pytest.raises(ValidationError) as caught_json:
        CreateServersBody.model_validate_json(json.dumps(body))
    assert path in [problem.path for problem in problems_from(caught_json.value)]

    schema_errors = list(schema_validator("ecs.provisioning.request").iter_errors(body))
    assert bool(schema_errors) is schema_too


def test_body_that_is_not_an_object_is_a_root_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate([1, 2])
    assert [str(problem) for problem in problems_from(caught.value)] == [
        "(body): must be a JSON object"
    ]


def test_every_problem_of_a_body_is_reported(example: Callable[[str], dict[str, Any]]) -> None:
    body = example("01-prepaid-keypair.json")
    body["server"]["name"] = "bad name"
    body["server"]["count"] = 0
    body["server"]["nics"][0]["subnet_id"] = "x"

    with pytest.raises(ValidationError) as caught:
        CreateServersBody.model_validate(body)

    assert {problem.path for problem in problems_from(caught.value)} == {
        "server.name",
        "server.count",
        "server.nics[0].subnet_id",
    }

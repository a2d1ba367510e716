"""Problem paths (dotted keys, [index] for list items, wire names kept) and messages: the
project's wording, and "did you mean …?" for an unknown field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecsp_contract.export import PACKAGE_DIR
from ecsp_contract.problems import ROOT_PATH, Problem, format_path
from ecsp_contract.suggest import closest
from ecsp_contract.verdict import InvalidBody, check_body
from tests.schemas.corpus import CASES as CORPUS
from tests.schemas.corpus import apply_change
from tests.support.invalid_requests import CASES as BROKEN_RULES

UUID = "6242ef48-4d35-49c8-8711-a6e54902e44a"


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), ROOT_PATH),
        (("server",), "server"),
        (("server", "nics", 0, "subnet_id"), "server.nics[0].subnet_id"),
        (("server", "os:scheduler_hints", "group"), "server.os:scheduler_hints.group"),
        (("server", "data_volumes", 12), "server.data_volumes[12]"),
        ((0, "a"), "[0].a"),
    ],
)
def test_format_path(loc: tuple[int | str, ...], path: str) -> None:
    assert format_path(loc) == path


def test_problem_prints_as_path_colon_message() -> None:
    assert str(Problem("server.name", "required field is missing")) == (
        "server.name: required field is missing"
    )


def _problems(document: Any) -> list[str]:
    try:
        check_body(document)
    except InvalidBody as exc:
        return [str(problem) for problem in exc.problems]
    return []


def test_an_unknown_field_names_the_closest_known_field_at_its_place() -> None:
    body = json.loads((PACKAGE_DIR / "examples" / "01-prepaid-keypair.json").read_text())
    body["server"]["image_ref"] = body["server"].pop("imageRef")
    body["server"]["nics"][0]["subnt_id"] = "x"
    body["server"]["extendparam"]["charging_mode"] = "prePaid"
    body["server"]["colour"] = "blue"
    body["dryrun"] = True
    unknown = "unknown field (not part of the v1.1 create-servers body)"
    assert sorted(p for p in _problems(body) if unknown in p) == [
        f"dryrun: {unknown}; did you mean dry_run?",
        f"server.colour: {unknown}",  # nothing close: no guess
        f"server.extendparam.charging_mode: {unknown}; did you mean chargingMode?",
        f"server.image_ref: {unknown}; did you mean imageRef?",
        f"server.nics[0].subnt_id: {unknown}; did you mean subnet_id?",
    ]


def test_closest_ignores_case_and_separators_and_needs_a_close_name() -> None:
    assert closest("IMAGE-REF", ["imageRef", "flavorRef"]) == "imageRef"
    assert closest("flavourRef", ["imageRef", "flavorRef"]) == "flavorRef"
    assert closest("colour", ["imageRef", "flavorRef", "count"]) is None


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"count": 101}, "server.count: must be at most 100"),
        ({"count": "2"}, "server.count: must be an integer"),
        ({"nics": [{"subnet_id": UUID}] * 13}, "server.nics: must have at most 12 items"),
        ({"nics": []}, "server.nics: must have at least 1 item"),
        ({"flavorRef": ""}, "server.flavorRef: must have at least 1 character"),
        ({"root_volume": {"volumetype": "SSD", "size": 1025}},
         "server.root_volume.size: must be at most 1024"),
    ],
)  # fmt: skip
def test_problems_use_the_projects_wording_not_pydantics(
    server: dict[str, Any], message: str
) -> None:
    body = json.loads((PACKAGE_DIR / "examples" / "05-dry-run.json").read_text())
    body["server"].update(server)
    assert message in _problems(body)


def test_no_problem_of_the_corpus_and_the_broken_rules_is_worded_by_pydantic() -> None:
    bodies = [case.body() for case in CORPUS if case.verdict == "reject"]
    for _, changes, _, _ in BROKEN_RULES:
        body = json.loads((PACKAGE_DIR / "examples" / "01-prepaid-keypair.json").read_text())
        for loc, value in changes:
            apply_change(body, loc, value)
        bodies.append(body)
    messages = [problem for body in bodies for problem in _problems(body)]
    assert len(messages) >= 100
    pydantic_phrases = ("Input should", "String should", "List should", "Value error", "Field re")
    assert [m for m in messages if any(phrase in m for phrase in pydantic_phrases)] == []

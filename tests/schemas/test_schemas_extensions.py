"""Forward compatibility: operator-allowed new fields pass unchanged; other unknowns are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ecsp_contract.extensions import ExtraFieldError, parse_extra_fields
from ecsp_contract.request import CreateServersBody, to_wire
from ecsp_contract.verdict import InvalidBody, check_body

ALLOWED = parse_extra_fields(
    ("server.hostname", "server.nics[].new_flag", "server.root_volume.metadata.full_clone")
)


def test_allowed_fields_reach_the_api_body_unchanged_at_the_end_of_their_object(
    example: Callable[[str], dict[str, Any]],
) -> None:
    raw = example("01-prepaid-keypair.json")
    raw["server"] = {"hostname": {"any": ["json"]}, **raw["server"]}
    raw["server"]["nics"].append(
        {"new_flag": 1, "subnet_id": raw["server"]["nics"][0]["subnet_id"]}
    )
    raw["server"]["root_volume"]["metadata"] = {"full_clone": "0", "__system__encrypted": "0"}
    before = json.dumps(raw)

    checked = check_body(raw, ALLOWED)

    assert json.dumps(raw) == before  # the publisher's document is not touched
    server = checked.wire["server"]
    assert list(server)[-1] == "hostname"
    assert server["hostname"] == {"any": ["json"]}
    assert server["nics"][1] == {"subnet_id": raw["server"]["nics"][0]["subnet_id"], "new_flag": 1}
    assert "new_flag" not in server["nics"][0]
    assert server["root_volume"]["metadata"] == {"__system__encrypted": "0", "full_clone": "0"}


def test_without_allowed_fields_the_body_is_exactly_the_models_wire_form(
    example: Callable[[str], dict[str, Any]],
) -> None:
    raw = example("01-prepaid-keypair.json")
    assert check_body(raw, ALLOWED).wire == to_wire(CreateServersBody.model_validate(raw))


def test_a_misspelling_is_still_refused_next_to_an_allowed_field(
    example: Callable[[str], dict[str, Any]],
) -> None:
    raw = example("01-prepaid-keypair.json")
    raw["server"]["hostname"] = "web"
    raw["server"]["hostnme"] = "web"
    raw["server"]["nics"][0]["new_flg"] = True

    with pytest.raises(InvalidBody) as refused:
        check_body(raw, ALLOWED)

    assert [problem.path for problem in refused.value.problems] == [
        "server.nics[0].new_flg",
        "server.hostnme",
    ]


def test_by_default_no_new_field_passes(example: Callable[[str], dict[str, Any]]) -> None:
    raw = example("01-prepaid-keypair.json")
    raw["server"]["hostname"] = "web"
    with pytest.raises(InvalidBody):
        check_body(raw)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("server.name", "already part of the create body"),
        ("server.nics[].subnet_id", "already part of the create body"),
        ("server.colour.shade", "'colour' is not an object of the create body"),
        ("server.nics.new_flag", "'nics' is not an object of the create body"),
        ("server.name.x", "'name' is not an object of the create body"),
        ("server..x", "is not a field name"),
        ("server.tags[]", "names a field, not list items"),
    ],
)
def test_a_bad_setting_is_refused_with_the_reason(path: str, why: str) -> None:
    with pytest.raises(ExtraFieldError, match=why):
        parse_extra_fields((path,))

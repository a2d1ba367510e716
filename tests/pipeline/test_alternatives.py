"""Alternatives: the body's own placement untouched, the header's with their own derived tokens.

Golden files pin the alternative tokens and the exact tagged bytes of each alternative's create
(tests/pipeline/golden/placement/): a redelivery across releases must send the same token with
the same bytes, or the API answers Ecs.0122 instead of the first answer. Alternative 0 is also
checked against the pre-existing golden files of the body's own placement. `python -m
tests.pipeline.test_alternatives` rewrites the files: only for a deliberate contract change.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import parse_fallbacks
from ecsp_contract.verdict import check_body
from tests.support.bodies import server_body
from worker.ecs.client import encode_body
from worker.pipeline.alternatives import (
    Offering,
    alternatives,
    charging_mode,
    fallbacks_of,
    placement_token,
)
from worker.pipeline.failure import StageFailure
from worker.pipeline.tagging import RequestTag, create_bodies, request_digest

GOLDEN = Path(__file__).parent / "golden"
PLACEMENT = GOLDEN / "placement"
EXAMPLES = Path(__file__).parents[2] / "schemas" / "ecsp_contract" / "examples"
HEADER = "c7.large.2@az2-dc1, @az3-dc1, s6.medium.2, c7.large.2@az2-dc1, s2.small.1@az1-dc1"
#: (golden name, body, request key) of the vectors
VECTORS: dict[str, tuple[dict[str, Any], str]] = {
    "01-prepaid-keypair": (
        json.loads((EXAMPLES / "01-prepaid-keypair.json").read_text()),
        "golden-01-prepaid-keypair",
    ),
    "no-zone": (server_body(), "golden-no-zone"),
}


def _tagged_bytes(body: dict[str, Any], token: str, digest: str) -> bytes:
    """The first body a create of `body` sends: this release's tags, the default keep choice."""
    first, *_ = create_bodies(
        body, token=token, deployment_name="ecs-provisioner", request_tag=RequestTag(digest, "keep")
    )
    return encode_body(first.body)


def _rendered(name: str) -> dict[str, bytes]:
    """Every golden file of the vector `name`, as the code makes it now."""
    document, key = VECTORS[name]
    wire = check_body(document, ()).wire
    token = client_token(key)
    found = alternatives(wire, token, parse_fallbacks(HEADER))
    lines = [f"{a.index} {a.flavor_ref}@{a.availability_zone or ''} {a.token}" for a in found]
    files = {f"{name}.tokens": ("\n".join(lines) + "\n").encode()}
    digest = request_digest(wire)  # the request's, whichever placement carries it
    for alternative in found:
        body = _tagged_bytes(alternative.body_of(wire), alternative.token, digest)
        files[f"{name}.{alternative.index}.tagged.json"] = body
    return files


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_alternative_tokens_and_bytes_match_the_golden_files(name: str) -> None:
    rendered = _rendered(name)
    assert sorted(p.name for p in PLACEMENT.glob(f"{name}.*")) == sorted(rendered)
    for file_name, content in rendered.items():
        assert (PLACEMENT / file_name).read_bytes() == content, file_name


def test_alternative_0_is_the_request_s_own_token_and_bytes() -> None:
    rendered = _rendered("01-prepaid-keypair")
    assert (
        rendered["01-prepaid-keypair.0.tagged.json"]
        == (GOLDEN / "01-prepaid-keypair.request-tagged.json").read_bytes()
    )
    own_token = (GOLDEN / "01-prepaid-keypair.token").read_text().strip()
    assert rendered["01-prepaid-keypair.tokens"].decode().splitlines()[0].endswith(own_token)


def test_the_header_resolves_against_the_body_and_repeats_are_dropped() -> None:
    wire = check_body(server_body(availability_zone="az1"), ()).wire
    found = alternatives(
        wire, client_token("k"), parse_fallbacks("c7@az2,@az1,s6.small.1,@az3,c7@az2")
    )
    assert [(a.index, a.flavor_ref, a.availability_zone) for a in found] == [
        (0, "s6.small.1", "az1"),
        (1, "c7", "az2"),
        (2, "s6.small.1", "az3"),
    ]
    assert found[0].body_of(wire) is wire
    assert found[2].body_of(wire)["server"]["flavorRef"] == "s6.small.1"
    assert found[2].body_of(wire)["server"]["availability_zone"] == "az3"
    assert wire["server"]["availability_zone"] == "az1"  # the body itself is not changed


def test_a_flavor_alternative_keeps_the_body_s_zone_or_its_absence() -> None:
    wire = check_body(server_body(), ()).wire
    (_, flavor_only) = alternatives(wire, client_token("k"), parse_fallbacks("c7.large.2"))
    assert "availability_zone" not in flavor_only.body_of(wire)["server"]
    assert flavor_only.offering == Offering("c7.large.2", "", "postPaid")
    empty = check_body(server_body(availability_zone=""), ()).wire
    (_, same) = alternatives(empty, client_token("k"), parse_fallbacks("c7.large.2"))
    assert same.body_of(empty)["server"]["availability_zone"] == ""


def test_no_header_is_the_body_s_placement_alone() -> None:
    wire = check_body(server_body(), ()).wire
    (only,) = alternatives(wire, client_token("k"), ())
    assert only.token == client_token("k")
    assert only.body_of(wire) is wire


def test_the_token_depends_on_the_placement_not_on_its_position() -> None:
    wire = check_body(server_body(), ()).wire
    token = client_token("k")
    first = alternatives(wire, token, parse_fallbacks("a@z1,b@z2"))
    second = alternatives(wire, token, parse_fallbacks("b@z2,a@z1"))
    assert {a.token for a in first} == {a.token for a in second}
    assert len({a.token for a in first}) == 3


@given(st.uuids(), st.text(min_size=1, max_size=40), st.one_of(st.none(), st.text(max_size=40)))
def test_placement_token_is_uuid5_in_the_api_s_format(
    token: uuid.UUID, flavor: str, zone: str | None
) -> None:
    derived = placement_token(str(token), flavor, zone)
    name = f"ecs-provisioner:placement:{flavor}@{zone or ''}"
    assert derived == str(uuid.uuid5(token, name))
    assert derived == derived.lower()
    assert derived != str(token)


@pytest.mark.parametrize(
    ("extendparam", "mode"),
    [
        (None, "postPaid"),
        ({"chargingMode": "postPaid"}, "postPaid"),
        ({"chargingMode": "prePaid", "periodType": "month", "periodNum": 1}, "prePaid"),
        ({"chargingMode": "postPaid", "marketType": "spot"}, "spot"),
        ({"marketType": "spot"}, "spot"),
    ],
)
def test_charging_mode(extendparam: dict[str, Any] | None, mode: str) -> None:
    body = server_body() if extendparam is None else server_body(extendparam=extendparam)
    assert charging_mode(body) == mode


def test_an_invalid_header_fails_validate_naming_the_header() -> None:
    assert fallbacks_of(None) == ()
    with pytest.raises(StageFailure) as raised:
        fallbacks_of("c7@az2,,")
    failure = raised.value
    assert failure.stage is FailureStage.VALIDATE
    assert failure.code == WorkerErrorCode.INVALID_REQUEST
    assert failure.details == [
        {"path": "headers.ecs-fallbacks", "message": "alternative 2 is empty"}
    ]
    assert not failure.retryable


if __name__ == "__main__":
    PLACEMENT.mkdir(exist_ok=True)
    for vector in VECTORS:
        for file_name, content in _rendered(vector).items():
            (PLACEMENT / file_name).write_bytes(content)

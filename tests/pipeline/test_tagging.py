"""The worker's server tags: after the publisher's, within the per-server limit, deterministic;
the request tag's digest; the bodies each release sent, in the order a create tries them."""

from __future__ import annotations

import hashlib
from typing import Any

from ecsp_contract.reserved import is_reserved_tag_key
from worker.pipeline.tagging import (
    DEPLOYMENT_TAG_KEY,
    REQUEST_TAG_KEY,
    TOKEN_TAG_KEY,
    RequestTag,
    create_bodies,
    deployment_tag_value,
    request_digest,
    tag_body,
    token_tag,
)

TOKEN = "7495b1af-e371-54f6-8fc4-e04374171be8"
KEEP = RequestTag("0123456789abcdef0123456789abcdef", "keep")


def body(**server: Any) -> dict[str, Any]:
    return {"server": {"name": "web", **server}, "dry_run": False}


def test_tags_follow_the_publishers_and_the_body_is_otherwise_unchanged() -> None:
    mine = [{"key": "team", "value": "blue"}]
    tagged = tag_body(body(server_tags=mine), token=TOKEN, deployment_name="prod", request_tag=KEEP)
    assert (tagged.tagging, tagged.request_tag) == ("tagged", KEEP)
    assert tagged.body == {
        "server": {
            "name": "web",
            "server_tags": [
                {"key": "team", "value": "blue"},
                {"key": "ecsp-deployment", "value": "prod"},
                {"key": "ecsp-client-token", "value": TOKEN},
                {"key": "ecsp-request", "value": f"keep.{KEEP.digest}"},
            ],
        },
        "dry_run": False,
    }
    assert mine == [{"key": "team", "value": "blue"}]  # the input is not modified
    again = tag_body(body(server_tags=mine), token=TOKEN, deployment_name="prod", request_tag=KEEP)
    assert again == tagged


def _tagging(document: dict[str, Any]) -> str:
    return tag_body(document, token=TOKEN, deployment_name="d", request_tag=KEEP).tagging


def test_seven_publisher_tags_leave_room_eight_do_not_and_legacy_tags_count() -> None:
    seven = [{"key": f"k{i}"} for i in range(7)]
    assert _tagging(body(server_tags=seven)) == "tagged"
    eight = [*seven, {"key": "k7"}]
    untouched = body(server_tags=eight)
    result = tag_body(untouched, token=TOKEN, deployment_name="d", request_tag=KEEP)
    assert (result.tagging, result.request_tag) == ("no_room", None)
    assert result.body is untouched
    assert _tagging(body(server_tags=seven, tags=["old.value"])) == "no_room"
    assert _tagging(body(server_tags=seven, tags=["k0.value"])) == "tagged"


def test_the_bodies_of_each_release_are_tried_in_order_without_repeats() -> None:
    bodies = create_bodies(body(), token=TOKEN, deployment_name="d", request_tag=KEEP)
    assert [(b.tagging, b.request_tag) for b in bodies] == [
        ("tagged", KEEP),
        ("tagged", RequestTag(KEEP.digest, "delete")),
        ("first_submitted_before_request_tag", None),
        ("first_submitted_untagged", None),
    ]
    assert [len(b.body["server"].get("server_tags", [])) for b in bodies] == [3, 3, 2, 0]
    # eight tags of the publisher's: no room now, but the release before had room for two
    eight = body(server_tags=[{"key": f"k{i}"} for i in range(8)])
    bodies = create_bodies(eight, token=TOKEN, deployment_name="d", request_tag=KEEP)
    assert [b.tagging for b in bodies] == ["no_room", "first_submitted_before_request_tag"]


def test_the_digest_is_of_the_server_without_its_secrets_and_stable() -> None:
    wire = {"server": {"name": "web", "count": 2, "adminPass": "Secret-123"}, "dry_run": False}
    digest = request_digest(wire)
    assert len(digest) == 32
    assert request_digest({"server": {"count": 2, "adminPass": "Other-456", "name": "web"}}) == (
        digest  # another password, key order, dry_run: the same request
    )
    assert request_digest({"server": {"name": "web", "count": 3, "adminPass": "x"}}) != digest
    assert request_digest({"server": {"name": "web", "count": 2}}) != digest
    canonical = b'{"adminPass":"***","count":2,"name":"web"}'  # sorted, compact, masked
    assert digest == hashlib.sha256(canonical).hexdigest()[:32]  # servers keep it for good


def test_the_request_tag_is_read_back_from_a_listed_server() -> None:
    listed = ("team=a", f"{TOKEN_TAG_KEY}={TOKEN}", f"{REQUEST_TAG_KEY}=delete.{KEEP.digest}")
    assert RequestTag.of(listed) == RequestTag(KEEP.digest, "delete")
    assert RequestTag.of(("team=a", f"{REQUEST_TAG_KEY}=maybe.x")) is None
    assert RequestTag.of(()) is None


def test_the_worker_keys_are_reserved_ones() -> None:
    assert all(is_reserved_tag_key(key) for key in (DEPLOYMENT_TAG_KEY, TOKEN_TAG_KEY))


def test_deployment_names_become_valid_tag_values() -> None:
    assert deployment_tag_value("blue=prod,eu|1") == "blue-prod-eu-1"
    assert len(deployment_tag_value("x" * 100)) == 43
    assert token_tag(TOKEN) == f"ecsp-client-token={TOKEN}"

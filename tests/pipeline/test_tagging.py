"""The worker's server tags: after the publisher's, within the per-server limit, deterministic."""

from __future__ import annotations

from typing import Any

from ecsp_contract.reserved import is_reserved_tag_key
from worker.pipeline.tagging import (
    DEPLOYMENT_TAG_KEY,
    TOKEN_TAG_KEY,
    deployment_tag_value,
    tag_body,
    token_tag,
)

TOKEN = "7495b1af-e371-54f6-8fc4-e04374171be8"


def body(**server: Any) -> dict[str, Any]:
    return {"server": {"name": "web", **server}, "dry_run": False}


def test_tags_follow_the_publishers_and_the_body_is_otherwise_unchanged() -> None:
    mine = [{"key": "team", "value": "blue"}]
    tagged = tag_body(body(server_tags=mine), token=TOKEN, deployment_name="prod")
    assert tagged.tagging == "tagged"
    assert tagged.body == {
        "server": {
            "name": "web",
            "server_tags": [
                {"key": "team", "value": "blue"},
                {"key": "ecsp-deployment", "value": "prod"},
                {"key": "ecsp-client-token", "value": TOKEN},
            ],
        },
        "dry_run": False,
    }
    assert mine == [{"key": "team", "value": "blue"}]  # the input is not modified
    assert tag_body(body(server_tags=mine), token=TOKEN, deployment_name="prod") == tagged


def test_eight_publisher_tags_leave_room_nine_do_not_and_legacy_tags_count() -> None:
    eight = [{"key": f"k{i}"} for i in range(8)]
    assert tag_body(body(server_tags=eight), token=TOKEN, deployment_name="d").tagging == "tagged"
    nine = [*eight, {"key": "k8"}]
    untouched = body(server_tags=nine)
    result = tag_body(untouched, token=TOKEN, deployment_name="d")
    assert result.tagging == "no_room"
    assert result.body is untouched
    mixed = body(server_tags=eight, tags=["old.value"])
    assert tag_body(mixed, token=TOKEN, deployment_name="d").tagging == "no_room"
    same_key_twice = body(server_tags=eight, tags=["k0.value"])
    assert tag_body(same_key_twice, token=TOKEN, deployment_name="d").tagging == "tagged"


def test_the_worker_keys_are_reserved_ones() -> None:
    assert all(is_reserved_tag_key(key) for key in (DEPLOYMENT_TAG_KEY, TOKEN_TAG_KEY))


def test_deployment_names_become_valid_tag_values() -> None:
    assert deployment_tag_value("blue=prod,eu|1") == "blue-prod-eu-1"
    assert len(deployment_tag_value("x" * 100)) == 43
    assert token_tag(TOKEN) == f"ecsp-client-token={TOKEN}"

"""Redaction masks every secret field, at any depth, in any JSON value."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from ecsp_contract import redaction
from ecsp_contract.redaction import MASK, SECRET_FIELDS, redact
from ecsp_contract.request import CreateServersBody, to_wire

PASSWORD = "Xq7!vLw2@pZ9"
SCRIPT = "#!/bin/sh\necho s3cr3t-token-value > /root/token\n"


def test_redacted_request_contains_neither_secret(
    example: Callable[[str], dict[str, Any]],
) -> None:
    raw = example("05-dry-run.json")
    user_data = base64.b64encode(SCRIPT.encode()).decode()
    raw["server"]["adminPass"] = PASSWORD
    raw["server"]["user_data"] = user_data
    wire = to_wire(CreateServersBody.model_validate(raw))

    for copy in (redact(raw), redact(wire)):
        text = json.dumps(copy)
        assert PASSWORD not in text
        assert user_data not in text
        assert "s3cr3t" not in text
        assert copy["server"]["adminPass"] == MASK
        assert copy["server"]["user_data"] == MASK
        assert copy["server"]["name"] == raw["server"]["name"]
    assert raw["server"]["adminPass"] == PASSWORD  # the input is not modified


def test_secrets_are_masked_at_any_depth_and_in_invalid_shapes() -> None:
    document = {
        "adminPass": {"nested": "a"},
        "list": [{"user_data": ["b"]}, 3, None, "adminPass"],
        "server": {"extra": {"adminPass": 7}},
    }

    assert redact(document) == {
        "adminPass": MASK,
        "list": [{"user_data": MASK}, 3, None, "adminPass"],
        "server": {"extra": {"adminPass": MASK}},
    }


def test_extra_fields_are_masked_too() -> None:
    assert redact({"key_name": "k", "name": "n"}, extra_fields=["key_name"]) == {
        "key_name": MASK,
        "name": "n",
    }


def test_non_container_values_pass_through() -> None:
    assert redact("text") == "text"
    assert redact(None) is None
    assert set(SECRET_FIELDS) == {"adminPass", "user_data"}


@pytest.mark.parametrize(
    "key",
    [
        "pw",
        "admin_pw",
        "rootPw",
        "ROOT_PW",
        "pswd",
        "passcode",
        "adminPasscode",
        "passphrase",
        "api_key",
        "apiKey",
        "apikey",
        "X-API-KEY",
        "token",
        "auth_token",
        "accessToken",
        "private_key",
        "privateKey",
    ],
)
def test_the_word_list_covers_short_and_api_style_secrets(key: str) -> None:
    assert redact({key: "s3cr3t", "name": "n"}) == {key: MASK, "name": "n"}


@pytest.mark.parametrize(
    "key",
    ["client_token", "clientToken", "request_key", "key_name", "hw:passthrough", "flavorRef"],
)
def test_identifiers_that_look_like_secrets_stay_visible(key: str) -> None:
    assert redact({key: "visible"}) == {key: "visible"}


def test_an_operator_can_still_mask_the_client_token() -> None:
    assert redact({"client_token": "t"}, extra_fields=["client_token"]) == {"client_token": MASK}


def test_scalars_are_shared_not_visited_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """One call per container: a copy of 2,000 keys costs no call per scalar value."""
    calls: list[object] = []
    original = redaction._redact

    def counting(value: object, extra: frozenset[str]) -> object:
        calls.append(value)
        return original(value, extra)

    monkeypatch.setattr(redaction, "_redact", counting)
    document = {"a": 1, "b": "text", "c": [1, "x", {"d": None}], "e": {"f": 2.5}}
    assert redaction.redact(document) == document
    assert len(calls) == 4  # the document, the list, the dict in it, "e"

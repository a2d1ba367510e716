"""Redaction by meaning: any spelling of a secret field, at any depth, is masked; real request
fields that merely look alike (`hw:passthrough`, `key_name`, `metadata`) are kept."""

from __future__ import annotations

import json

import pytest

from ecsp_contract.redaction import MASK, is_secret_key, redact

SECRET_SPELLINGS = [
    "adminPass",
    "admin_pass",
    "AdminPass",
    "adminpass",
    "ADMIN-PASS",
    "admin.pass",
    "adminPas",
    "admnPass",
    "adminPassword",
    "password",
    "Password",
    "root_password",
    "passwd",
    "pwd",
    "user_data",
    "userData",
    "user-data",
    "UserData",
    "userdata",
    "usrData",
    "user_dat",
    "db_secret",
    "clientSecret",
    "credentials",
    "private_key",
]
REAL_FIELDS = [
    "hw:passthrough",
    "key_name",
    "metadata",
    "name",
    "description",
    "user",
    "username",
    "data_volumes",
    "extendparam",
    "__system__encrypted",
    "client_token",
    "passenger",
    "bypass",
]


@pytest.mark.parametrize("key", SECRET_SPELLINGS)
def test_every_spelling_of_a_secret_is_masked_at_any_depth(key: str) -> None:
    document = {"server": {key: "Lit3ral!Passw0rd", "nics": [{"extra": {key: ["x", {"y": 1}]}}]}}
    copy = redact(document)
    assert copy["server"][key] == MASK
    assert copy["server"]["nics"][0]["extra"][key] == MASK
    assert "Lit3ral" not in json.dumps(copy)


@pytest.mark.parametrize("key", REAL_FIELDS)
def test_real_fields_that_look_alike_are_kept(key: str) -> None:
    assert not is_secret_key(key)


def test_extra_fields_match_whatever_their_spelling() -> None:
    assert redact({"Key-Name": "k", "name": "n"}, extra_fields=["key_name"]) == {
        "Key-Name": MASK,
        "name": "n",
    }


def test_a_long_key_is_judged_quickly() -> None:
    assert not is_secret_key("k" * 1_000_000)

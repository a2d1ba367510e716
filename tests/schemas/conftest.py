"""Fixtures of the schemas suite: the example requests and the exported JSON Schemas."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ecsp_contract.export import JSON_DIR_NAME, PACKAGE_DIR, schema_file_name

EXAMPLES_DIR = PACKAGE_DIR / "examples"


def load_examples() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(EXAMPLES_DIR.glob("*.json"))
    }


@functools.cache
def schema_validator(name: str) -> Draft202012Validator:
    """A validator for the checked-in schema `name`, asserting formats (uuid, ipv4, ...)."""
    path = Path(PACKAGE_DIR, JSON_DIR_NAME, schema_file_name(name))
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    """Returns a fresh deep copy of an example request by file name."""
    examples = load_examples()

    def get(name: str = "01-prepaid-keypair.json") -> dict[str, Any]:
        return copy.deepcopy(examples[name])

    return get

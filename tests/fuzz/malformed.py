"""Malformed request records for fuzzing: random bytes, broken JSON, and valid bodies mutated
until the schema rejects them. Both as hypothesis strategies (for the pipeline property tests)
and as a seeded batch (for the live worker test, where every record must end `failed`)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from ecsp_contract.request import CreateServersBody
from tests.support.stack import examples

BASES: tuple[dict[str, Any], ...] = tuple(examples().values())

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _apply(document: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):  # "insert": an unknown key next to the known ones
        parent[last][f"x-unknown-{len(parent[last])}"] = value
    else:
        parent[last] = [parent[last], value]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    """A reference example with 1-4 random deletions, replacements or insertions."""
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _apply(
            document,
            path,
            draw(st.sampled_from(["delete", "replace", "insert"])),
            draw(json_values),
        )
    return json.dumps(document).encode()


@st.composite
def broken_json(draw: st.DrawFn) -> bytes:
    """A valid body's JSON text cut short or with bytes flipped."""
    text = bytearray(json.dumps(draw(st.sampled_from(BASES))).encode())
    if draw(st.booleans()):
        return bytes(text[: draw(st.integers(0, len(text) - 1))])
    for _ in range(draw(st.integers(1, 5))):
        text[draw(st.integers(0, len(text) - 1))] = draw(st.integers(0, 255))
    return bytes(text)


record_values = st.one_of(
    st.none(),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_bodies(),
    broken_json(),
)
record_keys = st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=40).map(str.encode))


def schema_accepts(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        CreateServersBody.model_validate_json(value)
    except (ValidationError, ValueError):
        return False
    return True


def _mutate(rng: random.Random) -> bytes:
    document = copy.deepcopy(rng.choice(BASES))
    for _ in range(rng.randint(1, 4)):
        paths = _paths(document)
        if not paths:
            break
        noise: Any = rng.choice([None, True, -1, 0, 1e308, "", "x" * rng.randint(1, 300), [], {}])
        _apply(document, rng.choice(paths), rng.choice(["delete", "replace", "insert"]), noise)
    return json.dumps(document).encode()


def _junk(rng: random.Random) -> bytes | None:
    choice = rng.random()
    if choice < 0.3:
        return rng.randbytes(rng.randint(0, 400))
    if choice < 0.45:
        text = json.dumps(rng.choice(BASES)).encode()
        return text[: rng.randint(0, len(text) - 1)]
    if choice < 0.5:
        return rng.choice([None, b"", b"null", b"[]", b"42", b'"text"', b"{}", b"\xef\xbb\xbf{}"])
    return _mutate(rng)


def failing_batch(seed: int, count: int) -> list[tuple[bytes | None, bytes | None]]:
    """`count` (key, value) records that the worker must all answer with `failed`; keys are
    mostly unique strings, some missing or not UTF-8."""
    rng = random.Random(seed)
    batch: list[tuple[bytes | None, bytes | None]] = []
    while len(batch) < count:
        value = _junk(rng)
        if schema_accepts(value):  # a mutation can leave a body valid: not junk then
            continue
        roll = rng.random()
        key = None if roll < 0.03 else b"\xff\xfe" if roll < 0.05 else f"fuzz-{len(batch)}".encode()
        if key is None and value is None:
            continue  # aiokafka's producer sends no record without both (Kafka would)
        batch.append((key, value))
    return batch

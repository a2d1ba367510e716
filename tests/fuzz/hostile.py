"""Hostile request records: the shapes that once crashed a request task, stalled a partition or
leaked a secret. Deep nesting, lone surrogates (in values and object keys), huge numbers, huge
Kafka keys and headers, thousands of unknown fields, ~130 KB values of 10,000 distinct made-up
keys (once 0.5 s of CPU each, in redaction's near-miss check), and secrets planted under aliases
and misspellings of `adminPass`/`user_data`. As a hypothesis strategy (`hostile_records`) and as a
seeded batch for the live worker (`hostile_batch`); both give (key, value, headers) triples.
"""

from __future__ import annotations

import copy
import json
import random
import string
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from ecsp_contract.limits import MAX_HEADER_BYTES, MAX_INT_DIGITS, MAX_JSON_DEPTH, MAX_KEY_BYTES
from tests.support import secrets
from tests.support.stack import example

Headers = tuple[tuple[str, bytes], ...]
Record = tuple[bytes | None, bytes | None, Headers]

SECRET_SPELLINGS = (
    "admin_pass",
    "AdminPass",
    "adminpass",
    "ADMIN-PASS",
    "adminPas",
    "password",
    "Password",
    "root_password",
    "userData",
    "user-data",
    "UserData",
    "usrData",
    "db_secret",
)
SHAPES = (
    "deep",
    "surrogate",
    "number",
    "key",
    "project_header",
    "traceparent",
    "unknown_fields",
    "many_keys",
    "secret",
)


def _body() -> dict[str, Any]:
    return copy.deepcopy(example("05-dry-run.json"))


def _text(document: Any) -> bytes:
    return json.dumps(document).encode()


def deep(rng: random.Random) -> bytes:
    depth = rng.choice([MAX_JSON_DEPTH + 1, rng.randint(200, 300), rng.randint(900, 1100), 5000])
    opening, closing = rng.choice([("[", "]"), ('{"a":', "}")])
    nested = opening * depth + "1" + closing * depth
    return _text(_body()).replace(b'"server": {', f'"server": {{"metadata": {nested}, '.encode(), 1)


def surrogate(rng: random.Random) -> bytes:
    escape = f"\\u{rng.randint(0xD800, 0xDFFF):04x}"
    body = _body()
    if rng.random() < 0.5:
        body["server"]["description"] = "SURROGATE"
        return _text(body).replace(b'"SURROGATE"', f'"ok {escape} ok"'.encode())
    body["server"]["metadata"] = {"SURROGATE": "v"}
    return _text(body).replace(b'"SURROGATE"', f'"{escape}"'.encode())


def number(rng: random.Random) -> bytes:
    digits = rng.choice([MAX_INT_DIGITS + 1, 4300, 4301, rng.randint(5000, 20_000)])
    literal = rng.choice(["", "-"]) + "7" * digits
    body = _body()
    body["server"]["count"] = "NUMBER"
    return _text(body).replace(b'"NUMBER"', literal.encode())


def unknown_fields(rng: random.Random) -> bytes:
    body = _body()
    filler = "x" * rng.randint(10, 150)  # at most ~700 KB: the broker's limit is 1 MiB
    for i in range(rng.randint(1000, 4000)):
        body["server"][f"x-unknown-{i}"] = filler
    return _text(body)


def many_keys(rng: random.Random, count: int = 10_000) -> bytes:
    """~130 KB: `count` distinct made-up 8-letter keys (no two alike, so no cache helps)."""
    body = _body()
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choices(string.ascii_lowercase, k=8)))
    body["server"].update(dict.fromkeys(sorted(names), 1))
    return json.dumps(body, separators=(",", ":")).encode()


def planted_secret(rng: random.Random) -> bytes:
    body = _body()
    spelling = rng.choice(SECRET_SPELLINGS)
    place = rng.choice(["server", "root", "metadata", "nic"])
    target = {
        "server": body["server"],
        "root": body,
        "metadata": body["server"].setdefault("metadata", {}),
        "nic": body["server"]["nics"][0],
    }[place]
    target[spelling] = secrets.PLANTED
    if rng.random() < 0.3:
        body["server"]["x-unknown"] = {spelling: [secrets.PLANTED]}
    return _text(body)


def hostile_record(rng: random.Random, shape: str, index: int) -> Record:
    """One record of `shape`; the key is unique per index unless the shape is the key."""
    key = f"hostile-{index}".encode()
    headers: Headers = ()
    value: bytes
    if shape == "key":
        key = b"k" * rng.choice([MAX_KEY_BYTES + 1, rng.randint(2000, 100_000)])
        value = _text(_body())
    elif shape == "project_header":
        project = b"p" * rng.choice([MAX_HEADER_BYTES + 1, rng.randint(1000, 100_000)])
        headers = (("ecs-project-id", project),)
        value = _text(_body())
    elif shape == "traceparent":
        headers = (("traceparent", b"00-" + b"f" * rng.randint(100, 100_000)),)
        value = _text(_body())
    else:
        value = _BUILDERS[shape](rng)
    return key, value, headers


_BUILDERS: dict[str, Callable[[random.Random], bytes]] = {
    "deep": deep,
    "surrogate": surrogate,
    "number": number,
    "unknown_fields": unknown_fields,
    "many_keys": many_keys,
    "secret": planted_secret,
}


def hostile_batch(seed: int, count: int) -> list[Record]:
    """`count` hostile records cycling through every shape, reproducible from `seed`."""
    rng = random.Random(seed)
    return [hostile_record(rng, SHAPES[i % len(SHAPES)], i) for i in range(count)]


hostile_records = st.builds(
    lambda seed, shape, index: hostile_record(random.Random(seed), shape, index),
    st.integers(0, 2**32 - 1),
    st.sampled_from(SHAPES),
    st.integers(0, 10**6),
)
"""Hypothesis: one hostile record of any shape (the shape shrinks; its details come from a seed)."""

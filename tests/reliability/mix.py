"""The seeded request mix of a reliability run and the ground truth of what each should become.

A plan is a list of keys, each of one `Kind`, with the message values to publish under that key
(two for repeated keys, in publication order), the headers they carry and the terminal outcome
each value must reach. The same seed always gives the same plan, bodies and publication order.

Requests of kind `fallbacks` ask for `FALLBACK_FLAVOR` in the body's zone and carry an
`ecs-fallbacks` header; the run's schedule switches the first two of their placements
(`SOLD_OUT_CANDIDATES`) sold out and back during the run, never the last one, so each must
succeed, in one placement only. No other kind asks for that flavor, so sold-out offerings never
touch the requests without the header.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import FALLBACKS_HEADER, parse_fallbacks
from tests.support.stack import example
from worker.pipeline.alternatives import Alternative, alternatives

#: A terminal outcome: the event type without its prefix, and the failure stage (or None).
Outcome = tuple[str, str | None]

SUCCEEDED: Outcome = ("succeeded", None)
VALIDATED: Outcome = ("validated", None)
FAILED_VALIDATE: Outcome = ("failed", "validate")
FAILED_DECODE: Outcome = ("failed", "decode")
FAILED_CONFLICT: Outcome = ("failed", "conflict")


class Kind(StrEnum):
    POSTPAID = "postpaid"
    MULTI = "count>1"
    PREPAID = "prepaid-autopay"
    DRY_RUN = "dry-run"
    INVALID = "invalid"
    NOT_JSON = "not-json"
    REPEAT = "same-key-same-body"
    CONFLICT = "same-key-other-body"
    FALLBACK = "fallbacks"


#: Share of keys of each kind (repeat and conflict keys publish two messages each).
WEIGHTS: dict[Kind, float] = {
    Kind.POSTPAID: 40,
    Kind.MULTI: 10,
    Kind.PREPAID: 14,
    Kind.DRY_RUN: 10,
    Kind.INVALID: 8,
    Kind.NOT_JSON: 4,
    Kind.REPEAT: 5,
    Kind.CONFLICT: 1.5,
    Kind.FALLBACK: 8,
}

#: What each kind's messages must end as, in publication order.
OUTCOMES: dict[Kind, tuple[Outcome, ...]] = {
    Kind.POSTPAID: (SUCCEEDED,),
    Kind.MULTI: (SUCCEEDED,),
    Kind.PREPAID: (SUCCEEDED,),
    Kind.DRY_RUN: (VALIDATED,),
    Kind.INVALID: (FAILED_VALIDATE,),
    Kind.NOT_JSON: (FAILED_DECODE,),
    Kind.REPEAT: (SUCCEEDED, SUCCEEDED),
    Kind.CONFLICT: (SUCCEEDED, FAILED_CONFLICT),
    Kind.FALLBACK: (SUCCEEDED,),
}

#: The fallback requests' placements: the body's own, then the header's two alternatives.
FALLBACK_FLAVOR = "s6.large.2"
FALLBACK_ZONE = "az1-dc1"  # the reference example's zone
FALLBACKS = "@az2-dc1,c7.large.2@az3-dc1"
#: The offerings the schedule may switch sold out: the first two placements, never the last.
SOLD_OUT_CANDIDATES = (f"{FALLBACK_FLAVOR}@{FALLBACK_ZONE}", f"{FALLBACK_FLAVOR}@az2-dc1")

Headers = tuple[tuple[str, bytes], ...]

NOT_JSON_VALUES: tuple[bytes | None, ...] = (
    b"{this is not json",
    b"\xff\xfe\x00 not utf-8",
    b"[1, 2, 3]",
    b"null",
    b"",
    b'"just a string"',
    b'{"server": {"name": ',
    None,
)


def _postpaid(name: str) -> dict[str, Any]:
    body = example("05-dry-run.json")
    del body["dry_run"]
    body["server"]["name"] = name
    return body


def _prepaid(name: str, rng: random.Random) -> dict[str, Any]:
    source = rng.choice(
        [
            "01-prepaid-keypair.json",
            "02-prepaid-password.json",
            "03-prepaid-traffic-eip.json",
            "04-prepaid-shared-bandwidth.json",
        ]
    )
    body = example(source)
    body["server"]["name"] = name
    body["server"]["extendparam"]["isAutoPay"] = "true"
    return body


def _oversized_root_disk(server: dict[str, Any]) -> None:
    server["root_volume"]["size"] = 2048  # 1-1024 GiB (a disk type is the region's question)


def _drop_image(server: dict[str, Any]) -> None:
    del server["imageRef"]


def _zero_count(server: dict[str, Any]) -> None:
    server["count"] = 0


def _no_nics(server: dict[str, Any]) -> None:
    server["nics"] = []


def _bad_vpc(server: dict[str, Any]) -> None:
    server["vpcid"] = "not-a-uuid"


def _prepaid_without_period(server: dict[str, Any]) -> None:
    server["extendparam"] = {"chargingMode": "prePaid", "periodNum": 1}


#: Ways to make a body the schema rejects (stage `validate`).
BREAKERS: tuple[Callable[[dict[str, Any]], None], ...] = (
    _oversized_root_disk,
    _drop_image,
    _zero_count,
    _no_nics,
    _bad_vpc,
    _prepaid_without_period,
)


@dataclass(frozen=True)
class PlannedKey:
    """One request key: its kind, the values published under it and what each must become."""

    key: str
    kind: Kind
    values: tuple[bytes | None, ...]
    servers: int
    """Servers one create of this key makes (0: no server may ever be created for it)."""
    headers: Headers = ()

    @property
    def token(self) -> str:
        return client_token(self.key)

    @property
    def placements(self) -> tuple[Alternative, ...]:
        """The placements the worker may try, each with its token: the body's own (the key's
        token) and, with `ecs-fallbacks`, the header's."""
        fallbacks = dict(self.headers).get(FALLBACKS_HEADER)
        value = self.values[0]
        if fallbacks is None or value is None:
            return ()
        return alternatives(json.loads(value), self.token, parse_fallbacks(fallbacks.decode()))

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every client token a create of this key may carry."""
        return tuple(a.token for a in self.placements) or (self.token,)

    @property
    def outcomes(self) -> frozenset[Outcome]:
        """The exact set of distinct terminal outcomes this key must end with."""
        return frozenset(OUTCOMES[self.kind])

    def outcome_of(self, value: bytes | None) -> Outcome:
        """What a message of this key carrying `value` must end as."""
        return OUTCOMES[self.kind][self.values.index(value)]


@dataclass(frozen=True)
class Publication:
    """One message of the plan, at its place in the publication order (`slot` in [0, 1))."""

    slot: float
    key: str
    value: bytes | None
    headers: Headers = ()


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _planned(index: int, kind: Kind, seed: int, rng: random.Random) -> PlannedKey:
    key = f"rel-{seed}-{index:05d}-{kind.value}"
    name = f"rel-{index:05d}"
    if kind is Kind.PREPAID:
        return PlannedKey(key, kind, (_encode(_prepaid(name, rng)),), 1)
    if kind is Kind.MULTI:
        body = _postpaid(name)
        body["server"]["count"] = rng.choice([2, 3])
        return PlannedKey(key, kind, (_encode(body),), body["server"]["count"])
    if kind is Kind.DRY_RUN:
        body = {**_postpaid(name), "dry_run": True}
        return PlannedKey(key, kind, (_encode(body),), 0)
    if kind is Kind.INVALID:
        body = _postpaid(name)
        rng.choice(BREAKERS)(body["server"])
        return PlannedKey(key, kind, (_encode(body),), 0)
    if kind is Kind.NOT_JSON:
        return PlannedKey(key, kind, (rng.choice(NOT_JSON_VALUES),), 0)
    if kind is Kind.REPEAT:
        value = _encode(_postpaid(name))
        return PlannedKey(key, kind, (value, value), 1)
    if kind is Kind.CONFLICT:
        other = _postpaid(f"{name}-other")
        return PlannedKey(key, kind, (_encode(_postpaid(name)), _encode(other)), 1)
    if kind is Kind.FALLBACK:
        body = _postpaid(name)
        body["server"].update(flavorRef=FALLBACK_FLAVOR, availability_zone=FALLBACK_ZONE)
        body["server"]["count"] = rng.choice([1, 2])
        headers = ((FALLBACKS_HEADER, FALLBACKS.encode()),)
        return PlannedKey(key, kind, (_encode(body),), body["server"]["count"], headers)
    return PlannedKey(key, kind, (_encode(_postpaid(name)),), 1)


def plan(seed: int, messages: int) -> list[PlannedKey]:
    """Keys whose values add up to exactly `messages` messages (the last key is single)."""
    rng = random.Random(seed)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    keys: list[PlannedKey] = []
    total = 0
    while total < messages:
        kind = rng.choices(kinds, weights)[0]
        if total + len(OUTCOMES[kind]) > messages:
            kind = Kind.POSTPAID
        keys.append(_planned(len(keys), kind, seed, rng))
        total += len(keys[-1].values)
    return keys


def publication_order(keys: list[PlannedKey], seed: int) -> list[Publication]:
    """Every message with a slot; a key's second message comes a little after its first."""
    rng = random.Random(seed ^ 0x5EED)
    publications: list[Publication] = []
    for planned in keys:
        first = rng.uniform(0.0, 0.8)
        publications.append(Publication(first, planned.key, planned.values[0], planned.headers))
        if len(planned.values) == 2:
            second = first + rng.uniform(0.05, 0.19)
            publications.append(
                Publication(second, planned.key, planned.values[1], planned.headers)
            )
    return sorted(publications, key=lambda p: p.slot)

"""``GET /v1/{project_id}/cloudservers/flavor-sell-policies`` (ListFlavorSellPolicies).

What the reference documents (https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_02_0403.html;
SDK `ListFlavorSellPoliciesRequest`/`Result`; Terraform's
`huaweicloud_compute_flavor_sales_policies` data source): query parameters `flavor_id` (prefix or
exact match), `sell_status` (`available` | `sellout`), `sell_mode` (`postPaid`, `prePaid`, `spot`,
`ri`), `availability_zone_id`, `limit` (default 1000), `marker` (the `id` of the last policy of
the previous page; Terraform pages this way); answer `{"count", "sell_policies": [{"id",
"flavor_id", "sell_status", "availability_zone_id", "sell_mode"}]}`. The API "is used only to query
the sales policies of spot ECS flavors" (postPaid, prePaid and ri are "not supported currently"),
so the simulator lists spot policies only; what the real API answers for the other modes is
unconfirmed (here: nothing).

The simulator has no flavor catalogue: it lists the offerings it knows, that is every concrete
`FLAVOR@ZONE` of `Faults.sold_out`, every flavor and zone a created server has, and the one a
query names exactly (`flavor_id` with `availability_zone_id`); each is `sellout` while
`Faults.sold_out` matches it, `available` otherwise, with a stable `id` (the order of first
sight).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from worker.simulator.knobs import ANY, offering_in
from worker.simulator.state import REQUEST_ID, STATE, SimState
from worker.simulator.wire import ecs_error, json_response

MAX_LIMIT = 1000
SELL_MODE = "spot"


def _known(state: SimState, query: Mapping[str, str]) -> list[tuple[str, str]]:
    """The offerings the simulator can speak about, in the order of first sight."""
    pairs = [tuple(p.partition("@")[::2]) for p in state.faults.sold_out if ANY not in p]
    pairs += [(s.flavor_ref, s.availability_zone) for s in state.registry.servers()]
    flavor, zone = query.get("flavor_id"), query.get("availability_zone_id")
    if flavor and zone:
        pairs.append((flavor, zone))
    for flavor_ref, availability_zone in pairs:
        if availability_zone:
            key = (flavor_ref, availability_zone)
            state.sell_policy_ids.setdefault(key, len(state.sell_policy_ids) + 1)
    return sorted(state.sell_policy_ids, key=state.sell_policy_ids.__getitem__)


@dataclass(frozen=True)
class _Policy:
    id: int
    flavor_id: str
    availability_zone_id: str
    sell_status: str

    def matches(self, query: Mapping[str, str]) -> bool:
        return (
            self.flavor_id.startswith(query.get("flavor_id", ""))
            and query.get("availability_zone_id", self.availability_zone_id)
            == self.availability_zone_id
            and query.get("sell_status", self.sell_status) == self.sell_status
            and query.get("sell_mode", SELL_MODE) == SELL_MODE
        )

    def as_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "sell_mode": SELL_MODE}


def _policy(state: SimState, flavor_ref: str, availability_zone: str) -> _Policy:
    sellout = offering_in(state.faults.sold_out, flavor_ref, availability_zone)
    return _Policy(
        id=state.sell_policy_ids[(flavor_ref, availability_zone)],
        flavor_id=flavor_ref,
        availability_zone_id=availability_zone,
        sell_status="sellout" if sellout else "available",
    )


async def list_flavor_sell_policies(request: web.Request) -> web.Response:
    """``GET /v1/{project_id}/cloudservers/flavor-sell-policies``."""
    state = request.app[STATE]
    project_id = request.match_info["project_id"]
    denied = state.auth.check(request, await request.read(), project_id, request[REQUEST_ID])
    if denied is not None:
        return denied
    query = request.query
    try:
        limit = int(query.get("limit", MAX_LIMIT))
        marker = int(query.get("marker", 0))
    except ValueError:
        return ecs_error(400, "Ecs.0005", "invalid query: limit and marker must be integers")
    if not 1 <= limit <= MAX_LIMIT:
        return ecs_error(400, "Ecs.0005", f"invalid query: limit must be 1-{MAX_LIMIT}")
    policies = [_policy(state, *pair) for pair in _known(state, query)]
    matching = [policy for policy in policies if policy.matches(query)]
    page = [policy.as_json() for policy in matching if policy.id > marker][:limit]
    return json_response(200, {"count": len(matching), "sell_policies": page})

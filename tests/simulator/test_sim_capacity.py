"""Sold-out offerings: Ecs.0319 at create time or in the job (seeded), wildcards, run-time
changes through /_sim/faults, ListFlavorSellPolicies reflecting them; offerings over quota."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.simulator.simkit import START, Api, config, new_token, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock
from worker.simulator.knobs import Faults, FaultsError, offering_in, parse_offering

AT_CREATE = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)
IN_JOB = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=1.0)


def body(flavor: str = "s6.small.1", zone: str | None = "az1", count: int = 1) -> dict[str, Any]:
    extra = {} if zone is None else {"availability_zone": zone}
    return server_body(count=count, flavorRef=flavor, **extra)


async def test_sold_out_at_create_time_is_ecs_0319_and_not_remembered_with_the_token() -> None:
    async with simulator(config(FakeClock(START), faults=AT_CREATE)) as api:
        token = new_token()
        refused = await api.create(body(), token)
        assert refused.status == 400
        assert refused.json == {
            "error": {
                "code": "Ecs.0319",
                "message": "Insufficient resources for this flavor. Try another flavor.",
            }
        }
        assert (await api.create(body(zone="az2"), new_token())).status == 200
        assert (await api.sim("POST", "/_sim/faults", {"sold_out": []})).status == 200
        accepted = await api.create(body(), token)  # capacity is back: the same token creates
        assert accepted.status == 200
        stats = await api.stats()
        assert stats["servers_by_token"][token] == 1
        assert stats["faults_injected"]["sold_out_at_create"] == 1


async def test_sold_out_in_the_job_fails_every_sub_job_and_replays_the_same_job() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, faults=IN_JOB, job_seconds=(10.0, 10.0))) as api:
        token = new_token()
        created = await api.create(body(count=3), token)
        assert created.status == 200
        clock.advance(11)
        job = (await api.job(created.json["job_id"])).json
        assert job["status"] == "FAIL"
        assert job["error_code"] == "Ecs.0319"
        subs = job["entities"]["sub_jobs"]
        assert [s["status"] for s in subs] == ["FAIL"] * 3
        assert {s["error_code"] for s in subs} == {"Ecs.0319"}
        assert all("errorcode_message" in s["entities"] for s in subs)
        replay = await api.create(body(count=3), token)
        assert replay.raw == created.raw
        assert (await api.stats())["faults_injected"]["sold_out_in_job"] == 1


async def _statuses(seed: int, creates: int) -> list[int]:
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.5)
    async with simulator(config(FakeClock(START), faults=faults, seed=seed)) as api:
        return [(await api.create(body(), new_token())).status for _ in range(creates)]


async def test_which_creates_fail_in_the_job_is_seeded() -> None:
    first = await _statuses(seed=3, creates=60)
    assert 15 <= first.count(200) <= 45  # accepted, to fail in the job
    assert Counter(first) == Counter({200: first.count(200), 400: first.count(400)})
    assert await _statuses(seed=3, creates=60) == first


@pytest.mark.parametrize(
    ("pattern", "offering", "expected"),
    [
        ("c7@az2", ("c7", "az2"), True),
        ("c7@az2", ("c7", "az3"), False),
        ("c7@*", ("c7", "az3"), True),
        ("c7@*", ("c7", ""), True),  # no zone named: the cloud picks, the flavor is out
        ("*@az2", ("anything", "az2"), True),
        ("*@az2", ("anything", ""), False),
        ("*@*", ("x", "y"), True),
    ],
)
def test_patterns(pattern: str, offering: tuple[str, str], expected: bool) -> None:
    assert offering_in((pattern,), *offering) is expected


@pytest.mark.parametrize("text", ["c7", "c7@", "@az1", "c7@az1@x", " c7@az1", ""])
def test_bad_patterns_are_refused(text: str) -> None:
    with pytest.raises(FaultsError, match="FLAVOR@ZONE"):
        parse_offering(text)


async def test_a_create_naming_no_zone_is_sold_out_only_by_a_zone_wildcard() -> None:
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)
    async with simulator(config(FakeClock(START), faults=faults)) as api:
        assert (await api.create(body(zone=None))).status == 200
        await api.sim("POST", "/_sim/faults", {"sold_out": ["s6.small.1@*"]})
        assert (await api.create(body(zone=None))).status == 400


async def test_sold_out_changes_at_run_time_and_bad_updates_are_refused() -> None:
    async with simulator(config(FakeClock(START))) as api:
        assert (await api.sim("GET", "/_sim/faults")).json["sold_out"] == []
        update = {"sold_out": ["c7@az2", "*@az3"], "sold_out_job_rate": 0.25}
        changed = await api.sim("POST", "/_sim/faults", update)
        assert changed.status == 200
        assert changed.json["sold_out"] == ["c7@az2", "*@az3"]
        assert changed.json["sold_out_job_rate"] == 0.25
        for bad in ({"sold_out": "c7@az2"}, {"sold_out": ["c7"]}, {"sold_out_job_rate": 2}):
            refused = await api.sim("POST", "/_sim/faults", bad)
            assert refused.status == 400, bad
        assert (await api.sim("GET", "/_sim/faults")).json["sold_out"] == ["c7@az2", "*@az3"]


async def _policies(api: Api, query: str = "") -> Any:
    reply = await api.request("GET", f"/v1/{api.project}/cloudservers/flavor-sell-policies{query}")
    assert reply.status == 200, reply.raw
    return reply.json


async def test_sell_policies_show_sold_out_offerings_and_follow_changes() -> None:
    faults = Faults(sold_out=("c7.large.2@az2", "*@az9"), sold_out_job_rate=0.0)
    async with simulator(config(FakeClock(START), faults=faults)) as api:
        await api.create(body(zone="az1"), new_token())
        listed = await _policies(api)
        assert listed == {
            "count": 2,
            "sell_policies": [
                {
                    "id": 1,
                    "flavor_id": "c7.large.2",
                    "availability_zone_id": "az2",
                    "sell_status": "sellout",
                    "sell_mode": "spot",
                },
                {
                    "id": 2,
                    "flavor_id": "s6.small.1",
                    "availability_zone_id": "az1",
                    "sell_status": "available",
                    "sell_mode": "spot",
                },
            ],
        }
        asked = await _policies(api, "?flavor_id=s6.small.1&availability_zone_id=az9")
        assert asked["sell_policies"][0]["sell_status"] == "sellout"  # the wildcard's zone
        await api.sim("POST", "/_sim/faults", {"sold_out": []})
        after = await _policies(api, "?sell_status=sellout")
        assert after == {"count": 0, "sell_policies": []}
        prefix = await _policies(api, "?flavor_id=c7")
        assert [p["flavor_id"] for p in prefix["sell_policies"]] == ["c7.large.2"]


async def test_sell_policies_page_by_marker_list_spot_only_and_need_a_signature() -> None:
    faults = Faults(sold_out=tuple(f"f{i}@az1" for i in range(5)))
    async with simulator(config(FakeClock(START), faults=faults)) as api:
        first = await _policies(api, "?limit=2")
        assert first["count"] == 5
        assert [p["id"] for p in first["sell_policies"]] == [1, 2]
        rest = await _policies(api, "?limit=2&marker=2")
        assert [p["id"] for p in rest["sell_policies"]] == [3, 4]
        assert (await _policies(api, "?sell_mode=postPaid"))["sell_policies"] == []
        path = f"/v1/{api.project}/cloudservers/flavor-sell-policies"
        assert (await api.request("GET", path + "?limit=x")).status == 400
        assert (await api.request("GET", path, sign=False)).status == 401


async def test_an_offering_over_quota_is_refused_ecs_0001_before_capacity_is_looked_at() -> None:
    faults = Faults(quota_exceeded=("c7.8xlarge.2@*",), sold_out=("*@az1",), sold_out_job_rate=0)
    async with simulator(config(FakeClock(START), faults=faults)) as api:
        refused = await api.create(body(flavor="c7.8xlarge.2"), new_token())
        assert refused.status == 400
        assert refused.json["error"]["code"] == "Ecs.0001"
        assert (await api.create(body(), new_token())).json["error"]["code"] == "Ecs.0319"
        await api.sim("POST", "/_sim/faults", {"quota_exceeded": [], "sold_out": []})
        assert (await api.create(body(flavor="c7.8xlarge.2"), new_token())).status == 200
        assert (await api.stats())["faults_injected"]["quota_exceeded"] == 1

"""Injected faults: seeded rates, the 429 shape, drops, latency, changes at run time."""

from __future__ import annotations

import time
from collections import Counter

import aiohttp
import pytest

from tests.simulator.simkit import START, Api, config, new_token, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock
from worker.simulator.knobs import Faults


async def _statuses(api: Api, calls: int) -> Counter[int]:
    seen: Counter[int] = Counter()
    for _ in range(calls):
        seen[(await api.job("0" * 32)).status] += 1
    return seen


async def test_throttle_rate_is_roughly_honoured_with_apig_0308_and_retry_after() -> None:
    faults = Faults(throttle_rate=0.3)
    async with simulator(config(FakeClock(START), faults=faults, retry_after_seconds=2)) as api:
        seen = await _statuses(api, 400)
        assert 80 <= seen[429] <= 160
        assert seen[429] + seen[404] == 400
        throttled = await api.job("0" * 32)
        while throttled.status != 429:
            throttled = await api.job("0" * 32)
        assert throttled.headers["Retry-After"] == "2"
        body = throttled.json
        assert body["error_code"] == "APIG.0308"
        assert body["error_msg"].startswith(
            "The throttling threshold has been reached: policy user over ratelimit,limit:"
        )
        assert body["request_id"] == throttled.headers["X-Request-Id"]


async def test_error_rate_is_roughly_honoured_without_side_effects() -> None:
    faults = Faults(error_rate=0.2)
    async with simulator(config(FakeClock(START), faults=faults)) as api:
        seen: Counter[int] = Counter()
        for _ in range(300):
            seen[(await api.create(server_body())).status] += 1
        errors = sum(count for status, count in seen.items() if status >= 500)
        assert 30 <= errors <= 90
        assert set(seen) <= {200, 500, 502, 504}
        stats = await api.stats()
        assert stats["creates"] == seen[200]
        assert stats["faults_injected"]["error"] == errors


async def test_drop_gives_a_connection_error() -> None:
    async with simulator(config(FakeClock(START), faults=Faults(drop_rate=1.0))) as api:
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.create(server_body())


async def test_retrying_through_drops_with_one_token_creates_each_server_once() -> None:
    async with simulator(config(FakeClock(START), faults=Faults(drop_rate=0.5))) as api:
        tokens = [new_token() for _ in range(30)]
        for token in tokens:
            for _attempt in range(50):
                try:
                    reply = await api.create(server_body(count=2), token)
                except aiohttp.ClientConnectionError:
                    continue
                assert reply.status == 200
                break
        stats = await api.stats()
        assert stats["servers_by_token"] == dict.fromkeys(tokens, 2)
        assert stats["replays"] > 0  # some drops lost the answer after the server was created
        assert stats["faults_injected"]["drop"] > 0


async def test_latency_is_added() -> None:
    async with simulator(config(FakeClock(START), faults=Faults(latency_ms=(60.0, 80.0)))) as api:
        started = time.perf_counter()
        await api.job("0" * 32)
        assert time.perf_counter() - started >= 0.06


async def test_faults_change_at_run_time_and_reject_unknown_fields() -> None:
    async with simulator(config(FakeClock(START))) as api:
        assert (await _statuses(api, 20))[404] == 20
        changed = await api.sim("POST", "/_sim/faults", {"throttle_rate": 1, "latency_ms": [0, 1]})
        assert changed.status == 200
        assert changed.json["throttle_rate"] == 1.0
        assert changed.json["latency_ms"] == [0.0, 1.0]
        assert changed.json["job_seconds"] == [10.0, 10.0]
        assert (await _statuses(api, 5))[429] == 5
        for bad in (
            {"explode": 1},
            {"error_rate": 2},
            {"error_rate": True},
            {"latency_ms": [5, 1]},
            {"job_seconds": "1:2"},
            [1],
        ):
            reply = await api.sim("POST", "/_sim/faults", bad)
            assert reply.status == 400, bad
        current = await api.sim("GET", "/_sim/faults")
        assert current.json["throttle_rate"] == 1.0
        assert (await api.sim("POST", "/_sim/faults", {"throttle_rate": 0})).status == 200
        assert (await _statuses(api, 5))[404] == 5


async def test_job_seconds_change_at_run_time() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(100.0, 100.0))) as api:
        await api.sim("POST", "/_sim/faults", {"job_seconds": [0, 0]})
        created = await api.create(server_body())
        assert (await api.job(created.json["job_id"])).json["status"] == "SUCCESS"


async def _run(seed: int) -> list[object]:
    faults = Faults(throttle_rate=0.2, error_rate=0.2, job_failure_rate=0.5)
    outcome: list[object] = []
    async with simulator(config(FakeClock(START), seed=seed, faults=faults)) as api:
        for _ in range(40):
            reply = await api.create(server_body(count=2))
            outcome.append((reply.status, reply.json.get("job_id"), reply.json.get("serverIds")))
    return outcome


async def test_same_seed_same_run() -> None:
    first, second, other = await _run(11), await _run(11), await _run(12)
    assert first == second
    assert first != other


async def test_stats_count_requests_by_status_and_unknown_paths_are_apig_0101() -> None:
    async with simulator(config(FakeClock(START))) as api:
        await api.create(server_body())
        await api.job("0" * 32)
        unknown = await api.request("GET", "/v2/whatever")
        assert unknown.status == 404
        assert unknown.json["error_code"] == "APIG.0101"
        stats = await api.stats()
        assert stats["requests_by_status"] == {"200": 1, "404": 2}
        assert stats["jobs_by_status"] == {"INIT": 1}


async def test_injected_5xx_take_the_shape_of_the_service() -> None:
    async with simulator(config(FakeClock(START), faults=Faults(error_rate=1.0))) as api:
        ecs_codes, iam_bodies = set(), 0
        for _ in range(30):
            body = (await api.job("0" * 32)).json
            ecs_codes.add(body["error"]["code"] if "error" in body else body["error_code"])
            iam = await api.request("POST", "/v3/auth/tokens", b"{}", sign=False)
            assert iam.status >= 500
            if "error" in iam.json:
                assert iam.json["error"]["code"] == 500  # IAM's shape, not an Ecs code
                iam_bodies += 1
        assert ecs_codes == {"Ecs.0002", "APIG.0202", "APIG.0203"}
        assert iam_bodies > 0


async def test_quota_per_second_serves_that_many_calls_per_clock_second_and_429s_the_rest() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, faults=Faults(quota_per_second=3))) as api:
        first = [(await api.job("0" * 32)).status for _ in range(5)]
        clock.advance(1.0)
        second = [(await api.job("0" * 32)).status for _ in range(4)]
        throttled = await api.job("0" * 32)
        stats = await api.stats()
        await api.sim("POST", "/_sim/faults", {"quota_per_second": 0})
        unlimited = {(await api.job("0" * 32)).status for _ in range(10)}
    assert first == [404, 404, 404, 429, 429]
    assert second == [404, 404, 404, 429]
    assert throttled.json["error_code"] == "APIG.0308"
    assert "Retry-After" in throttled.headers
    assert stats["faults_injected"]["quota"] == 4
    assert unlimited == {404}


async def test_quota_per_second_rejects_negative_or_non_numbers() -> None:
    async with simulator(config(FakeClock(START))) as api:
        for bad in ({"quota_per_second": -1}, {"quota_per_second": "10"}):
            reply = await api.sim("POST", "/_sim/faults", bad)
            assert reply.status == 400

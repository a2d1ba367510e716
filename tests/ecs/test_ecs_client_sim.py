"""EcsClient over real HTTP against the simulator (`worker.simulator`): the issue's must-shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

import pytest

from tests.support.bodies import server_body
from tests.support.clock import ShiftedClock
from tests.support.ecs_sim import AK, PROJECT, SK, new_token, simulator, wait_final
from tests.support.timing import loop_lag
from worker.ecs.auth import AkSkAuth, TokenAuth
from worker.ecs.credentials import Credential
from worker.ecs.errors import EcsApiError, is_not_found
from worker.ecs.ratelimit import TokenBucket
from worker.ecs.retry import RetryConfig


async def test_success_create_then_job_reaches_success() -> None:
    async with simulator() as sim:
        client = sim.client()
        token = new_token()
        result = await client.create_servers(server_body(count=2), token, PROJECT)
        assert result.job_id is not None
        assert len(result.server_ids) == 2
        assert (result.dry_run, result.attempts, result.order_id) == (False, 1, None)
        assert result.request_id
        job = await wait_final(client, result.job_id)
        assert job.status == "SUCCESS"
        assert set(job.server_ids) == set(result.server_ids)
        assert all(sub.end_time for sub in job.sub_jobs)
        assert (await sim.stats())["servers_by_token"] == {token: 2}


async def test_prepaid_create_returns_the_order() -> None:
    extend = {
        "chargingMode": "prePaid",
        "periodType": "month",
        "periodNum": 1,
        "isAutoPay": "false",
    }
    async with simulator() as sim:
        client = sim.client()
        result = await client.create_servers(server_body(extendparam=extend), new_token(), PROJECT)
        assert result.order_id
        assert result.job_id is not None
        job = await client.get_job(result.job_id, PROJECT)
        assert job.status == "PENDING_PAYMENT"


async def test_dry_run_is_validated_without_side_effect() -> None:
    async with simulator() as sim:
        result = await sim.client().create_servers(
            {**server_body(), "dry_run": True}, new_token(), PROJECT
        )
        assert result.dry_run
        assert (result.job_id, result.server_ids) == (None, ())
        stats = await sim.stats()
        assert (stats["dry_runs"], stats["servers_total"]) == (1, 0)


async def test_token_reuse_returns_the_same_job_without_a_second_server() -> None:
    async with simulator() as sim:
        client = sim.client()
        token = new_token()
        first = await client.create_servers(server_body(count=3), token, PROJECT)
        again = await client.create_servers(server_body(count=3), token, PROJECT)
        assert (again.job_id, again.server_ids) == (first.job_id, first.server_ids)
        stats = await sim.stats()
        assert stats["servers_by_token"] == {token: 3}
        assert stats["replays"] == 1


async def test_retry_on_429_with_retry_after_then_success() -> None:
    async with simulator(retry_after_seconds=1) as sim:
        await sim.faults(throttle_rate=1.0)
        sim.between_attempts = {"throttle_rate": 0.0}
        client = sim.client(rand=lambda: 0.1)
        token = new_token()
        result = await client.create_servers(server_body(), token, PROJECT)
        assert result.attempts == 2
        assert sim.sleeps == [1.0]  # Retry-After (1 s) beats the jittered 0.001 s
        stats = await sim.stats()
        assert stats["requests_by_status"] == {"429": 1, "200": 1}
        assert stats["servers_by_token"] == {token: 1}


async def test_retry_on_5xx_then_success() -> None:
    async with simulator() as sim:
        await sim.faults(error_rate=1.0)
        sim.between_attempts = {"error_rate": 0.0}
        token = new_token()
        result = await sim.client().create_servers(server_body(), token, PROJECT)
        assert result.attempts == 2
        stats = await sim.stats()
        assert sum(int(s) >= 500 for s in stats["requests_by_status"]) == 1
        assert stats["servers_by_token"] == {token: 1}


async def test_lost_answer_is_retried_with_the_same_token_and_no_duplicate() -> None:
    # The simulator drops half of the connections after the create took effect: then only
    # the token prevents a second server. Seeds 1-6 cover both kinds of drop.
    replays = set()
    for seed in range(1, 7):
        async with simulator(seed=seed) as sim:
            await sim.faults(drop_rate=1.0)
            sim.between_attempts = {"drop_rate": 0.0}
            token = new_token()
            result = await sim.client().create_servers(server_body(count=2), token, PROJECT)
            assert result.attempts == 2
            assert len(result.server_ids) == 2
            stats = await sim.stats()
            assert stats["servers_by_token"] == {token: 2}
            replays.add(stats["replays"])
    assert replays == {0, 1}


async def test_no_retry_on_400() -> None:
    async with simulator() as sim:
        body = server_body()
        del body["server"]["flavorRef"]
        with pytest.raises(EcsApiError) as caught:
            await sim.client().create_servers(body, new_token(), PROJECT)
        assert (caught.value.code, caught.value.http_status) == ("Ecs.0005", 400)
        assert caught.value.request_id
        assert not caught.value.retryable
        assert caught.value.attempts == 1
        assert sim.sleeps == []


@dataclass(frozen=True)
class ErrorCase:
    code: str
    status: int
    retryable: bool


async def _raises(call: Awaitable[object]) -> EcsApiError:
    with pytest.raises(EcsApiError) as caught:
        await call
    return caught.value


async def test_every_error_class() -> None:
    clock = ShiftedClock()
    async with simulator(clock=clock, skew_seconds=10**9) as sim:
        once = sim.client(retry=RetryConfig(max_attempts=1, deadline=10))
        token = new_token()
        await once.create_servers(server_body(), token, PROJECT)
        cases = {
            "conflict": await _raises(once.create_servers(server_body(count=2), token, PROJECT)),
            "bad token": await _raises(once.create_servers(server_body(), "NOT-A-UUID", PROJECT)),
            "bad signature": await _raises(
                sim.client(auth=AkSkAuth(Credential(AK, "wrong-sk"))).create_servers(
                    server_body(), new_token(), PROJECT
                )
            ),
            "purged job": await _raises(once.get_job("f" * 32, PROJECT)),
        }
        await sim.faults(throttle_rate=1.0)
        cases["throttled"] = await _raises(once.get_job("f" * 32, PROJECT))
        await sim.faults(throttle_rate=0.0, error_rate=1.0)
        cases["server error"] = await _raises(once.get_job("f" * 32, PROJECT))
        await sim.faults(error_rate=0.0, drop_rate=1.0, latency_ms=[0, 0])
        cases["dropped"] = await _raises(once.get_job("f" * 32, PROJECT))
        await sim.faults(drop_rate=0.0)
        clock.offset = 9 * 3600  # past the 8 h token memory
        cases["expired token"] = await _raises(once.create_servers(server_body(), token, PROJECT))
    seen = {
        name: ErrorCase(err.code, err.http_status or 0, err.retryable)
        for name, err in cases.items()
    }
    assert seen == {
        "conflict": ErrorCase("Ecs.0122", 400, False),
        "bad token": ErrorCase("Ecs.0123", 400, False),
        "bad signature": ErrorCase("APIG.0301", 401, False),
        "purged job": ErrorCase("Ecs.0000", 404, False),
        "throttled": ErrorCase("APIG.0308", 429, True),
        "server error": seen["server error"],
        "dropped": ErrorCase("network", 0, True),
        "expired token": ErrorCase("Ecs.0124", 400, False),
    }
    assert seen["server error"].status >= 500
    assert seen["server error"].retryable
    assert is_not_found(cases["purged job"])
    assert all(err.request_id for name, err in cases.items() if name != "dropped")


async def test_deadline_exhaustion() -> None:
    async with simulator() as sim:
        await sim.faults(error_rate=1.0)
        retry = RetryConfig(max_attempts=1000, base_delay=0.02, max_delay=0.05, deadline=0.5)
        client = sim.client(retry=retry, real_sleep=True)
        loop = asyncio.get_running_loop()
        async with loop_lag() as lag:
            started = loop.time()
            err = await _raises(client.create_servers(server_body(), new_token(), PROJECT))
            elapsed = loop.time() - started
        # the server's 5xx, or a timeout when the deadline cut the last attempt short
        assert (err.http_status or 0) >= 500 or err.code == "timeout"
        assert err.retryable
        assert 3 <= err.attempts < 1000
        assert elapsed < 0.5 + 0.3 + lag.seconds
        assert (await sim.stats())["servers_total"] == 0


@dataclass
class StartTimes:
    """Observer recording when each API call started."""

    starts: list[float] = field(default_factory=list)

    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        assert outcome == "ok"
        self.starts.append(time.monotonic() - seconds)

    def api_retry(self, endpoint: str, reason: str) -> None:
        raise AssertionError("no retry expected")


async def test_rate_limiter_holds_the_configured_rate_across_create_and_job_calls() -> None:
    rate, burst, calls = 40.0, 2, 42
    async with simulator() as sim:
        observer = StartTimes()
        client = sim.client(limiter=TokenBucket(rate=rate, burst=burst), observer=observer)
        created = await client.create_servers(server_body(), new_token(), PROJECT)
        assert created.job_id is not None
        job_id = created.job_id
        async with loop_lag() as lag:
            started = time.monotonic()
            await asyncio.gather(
                *(
                    client.create_servers(server_body(), new_token(), PROJECT)
                    if i % 2
                    else client.get_job(job_id, PROJECT)
                    for i in range(calls - 1)
                )
            )
            elapsed = time.monotonic() - started
    # The first call used one burst token; the rest arrive no faster than `rate`.
    assert elapsed >= (calls - 1 - (burst - 1)) / rate * 0.97
    assert elapsed < (calls / rate) * 2 + lag.seconds
    # Never ahead of schedule: by time t at most burst + rate * (t - start) calls started.
    for count, stamp in enumerate(sorted(s for s in observer.starts if s >= started), start=1):
        assert count <= burst + rate * (stamp - started) + 0.5


async def test_iam_token_auth_against_the_simulator() -> None:
    async with simulator() as sim:
        auth = TokenAuth(sim.session, sim.base_url, "domain", "alice", "alice-password-1", PROJECT)
        client = sim.client(auth=auth)
        result = await client.create_servers(server_body(), new_token(), PROJECT)
        assert result.job_id is not None
        job = await client.get_job(result.job_id, PROJECT)
        assert job.job_id == result.job_id


async def test_temporary_credentials_against_the_simulator() -> None:
    async with simulator() as sim:
        client = sim.client(auth=AkSkAuth(Credential(AK, SK, security_token="sts-token")))
        result = await client.create_servers(server_body(), new_token(), PROJECT)
        assert result.job_id is not None

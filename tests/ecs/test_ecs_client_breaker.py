"""The client with its breaker and adaptive rate, over real HTTP against the simulator."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.bodies import server_body
from tests.support.ecs_client import layered_client
from tests.support.ecs_sim import AK, PROJECT, SK, Sim, new_token, simulator
from worker.ecs.auth import AkSkAuth
from worker.ecs.breaker import BreakerConfig, CircuitBreaker
from worker.ecs.client import EcsClient
from worker.ecs.credentials import Credential
from worker.ecs.errors import CallFailure, EcsApiError
from worker.ecs.ratelimit import AdaptiveRate, AimdConfig, CallLimiter
from worker.ecs.retry import RetryConfig
from worker.ecs.transport import HttpSettings

RETRY = RetryConfig(max_attempts=8, base_delay=0.001, max_delay=0.01, deadline=30)


def client(sim: Sim, breaker: CircuitBreaker, limiter: CallLimiter | None = None) -> EcsClient:
    return layered_client(
        sim.session,
        sim.base_url,
        AkSkAuth(Credential(AK, SK)),
        retry=RETRY,
        limiter=limiter,
        breaker=breaker,
        http=HttpSettings(request_timeout=5.0),
    )


async def test_an_outage_opens_the_breaker_calls_stop_reaching_the_api_then_a_probe_closes_it() -> (
    None
):
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, probe_initial=0.2, probe_max=0.2))
    async with simulator() as sim:
        api = client(sim, breaker)
        await sim.faults(error_rate=1.0)
        with pytest.raises(EcsApiError) as caught:
            await api.create_servers(server_body(), new_token(), PROJECT)
        assert (
            caught.value.failure is CallFailure.UNAVAILABLE
        )  # attempts not used up: the API is down
        assert "last error" in caught.value.message
        assert breaker.state == "open"
        before = (await sim.stats())["requests_total"]
        for _ in range(20):  # held at once, nothing sent
            with pytest.raises(EcsApiError) as held:
                await api.get_job("0" * 32, PROJECT)
            assert held.value.failure is CallFailure.UNAVAILABLE
        assert (await sim.stats())["requests_total"] == before == 3

        await sim.faults(error_rate=0.0)
        assert await api.wait_available(10.0)  # a probe is due after 0.2 s
        created = await api.create_servers(server_body(), new_token(), PROJECT)
        assert created.job_id
        assert str(breaker.state) == "closed"


async def test_connection_refused_opens_the_breaker_too() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, probe_initial=60, probe_max=60))
    async with simulator() as sim:
        refused = Sim("http://127.0.0.1:9", sim.session)  # the discard port: nothing listens
        with pytest.raises(EcsApiError) as caught:
            await client(refused, breaker).get_job("0" * 32, PROJECT)
    assert caught.value.failure is CallFailure.UNAVAILABLE
    assert breaker.state == "open"
    assert not await breaker.wait_available(0.01)


@pytest.mark.slow  # seconds of real time against a per-second quota
async def test_a_hard_quota_lowers_the_adaptive_rate_and_every_call_succeeds() -> None:
    changes: list[float] = []
    rate = AdaptiveRate(AimdConfig(ceiling=50.0), burst=50, on_change=changes.append)
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3))
    async with simulator() as sim:
        await sim.faults(quota_per_second=10)
        api = client(sim, breaker, rate)
        results = await asyncio.gather(
            *(api.create_servers(server_body(), new_token(), PROJECT) for _ in range(40))
        )
        stats = await sim.stats()
    assert all(r.job_id for r in results)
    assert stats["faults_injected"]["quota"] > 0
    assert min(changes) < 50.0  # throttling cut the rate
    assert breaker.state == "closed"  # 429s are not an outage

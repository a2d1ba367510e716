"""Each layer of the ECS client on its own, over a `MockTransport` (no HTTP, no sleeps)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace

import pytest
from yarl import URL

from tests.ecs.ecs_testkit import RecordingObserver
from tests.support.mock_transport import MockTransport, reply
from worker.ecs.breaker import BreakerConfig, CircuitBreaker
from worker.ecs.errors import CallFailure, EcsApiError, network_error
from worker.ecs.layers import Guarded, Measured, RateLimited, Signing, stack
from worker.ecs.transport import ApiRequest, ApiResponse

REQUEST = ApiRequest("job", "GET", "/v1/{project_id}/jobs/{job_id}", URL("https://ecs/x"), {},
                     b"", "p", "j")  # fmt: skip


@dataclass
class Limiter:
    events: list[str] = field(default_factory=list)

    async def acquire(self) -> None:
        self.events.append("waited")

    def try_acquire(self) -> bool:
        self.events.append("took")
        return True

    def throttled(self) -> None:
        self.events.append("throttled")

    def answered(self) -> None:
        self.events.append("answered")


@pytest.mark.parametrize(
    ("status", "told"),
    [(200, ["took", "answered"]), (429, ["took", "throttled"]), (400, ["took", "answered"]),
     (503, ["took"])],
)  # fmt: skip
async def test_the_rate_layer_hears_throttling_and_answers_but_not_outages(
    status: int, told: list[str]
) -> None:
    limiter = Limiter()
    await RateLimited(MockTransport(lambda r: reply(r, status)), limiter).send(REQUEST)
    assert limiter.events == told


async def test_an_outage_that_opens_the_breaker_ends_the_call_as_unavailable_at_once() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, probe_initial=60, probe_max=60))
    inner = MockTransport(lambda r: reply(r, 503))
    guarded = Guarded(inner, breaker)
    first = await guarded.send(REQUEST)  # below the threshold: the 503 is the answer
    assert first.status == 503
    with pytest.raises(EcsApiError) as opened:
        await guarded.send(REQUEST)
    assert opened.value.failure is CallFailure.UNAVAILABLE
    with pytest.raises(EcsApiError) as held:
        await guarded.send(REQUEST)  # open: refused without a call
    assert held.value.failure is CallFailure.UNAVAILABLE
    assert len(inner.sent) == 2


async def test_a_cancelled_probe_lets_the_next_caller_probe() -> None:
    now = [0.0]
    policy = BreakerConfig(failure_threshold=1, probe_initial=1.0, probe_max=1.0)
    breaker = CircuitBreaker(policy, clock=lambda: now[0])
    breaker.outage()
    now[0] = 2.0  # the probe is due

    async def cancelled(request: ApiRequest) -> ApiResponse:
        raise TimeoutError  # stands for a cancellation mid-call: no answer to judge

    with pytest.raises(TimeoutError):
        await Guarded(MockTransport(cancelled), breaker).send(REQUEST)  # the probe
    assert breaker.state == "open"
    assert breaker.admit()  # the next caller probes at once


async def test_measured_reports_each_attempt_with_its_outcome() -> None:
    observer = RecordingObserver()

    def refuse(request: ApiRequest) -> ApiResponse:
        raise network_error(ConnectionRefusedError())

    await Measured(MockTransport(lambda r: reply(r, 429)), observer).send(REQUEST)
    with pytest.raises(EcsApiError):
        await Measured(MockTransport(refuse), observer).send(REQUEST)
    assert observer.calls == [("job", "throttled"), ("job", "network_error")]


@dataclass
class Renewing:
    """An auth flow that renews once after a 401 when `renews` says so."""

    renews: bool
    flows_closed: int = 0

    async def auth_flow(self, request: ApiRequest) -> AsyncGenerator[ApiRequest, ApiResponse]:
        try:
            response = yield replace(request, headers={"Authorization": "v1"})
            if response.status == 401 and self.renews:
                yield replace(request, headers={"Authorization": "v2"}, renewal="credential_reload")
        finally:
            self.flows_closed += 1


@pytest.mark.parametrize(("renews", "statuses"), [(True, [401, 200]), (False, [401])])
async def test_signing_repeats_an_attempt_once_only_when_the_auth_renewed(
    renews: bool, statuses: list[int]
) -> None:
    answers = iter([401, 200])
    inner = MockTransport(lambda r: reply(r, next(answers)))
    observer, auth = RecordingObserver(), Renewing(renews)
    response = await stack(inner, lambda t: Signing(t, auth, observer)).send(REQUEST)
    assert [r.headers["Authorization"] for r in inner.sent] == ["v1", "v2"][: len(statuses)]
    assert response.status == statuses[-1]
    assert observer.retries == ([("job", "credential_reload")] if renews else [])
    assert auth.flows_closed == 1

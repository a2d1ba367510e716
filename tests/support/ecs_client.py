"""An `EcsClient` over real HTTP with the layers a test asks for, stacked as the service stacks
them (`worker.service.ecs_client`): signing, rate limit, breaker, metrics, tracing, HTTP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from functools import partial

import aiohttp

from worker.ecs.auth import Auth
from worker.ecs.breaker import CircuitBreaker
from worker.ecs.client import AlwaysAvailable, Availability, EcsClient, EcsClientSettings
from worker.ecs.layers import Guarded, Layer, Measured, RateLimited, Signing, Traced, stack
from worker.ecs.observer import ApiObserver, HttpTracer, SilentObserver
from worker.ecs.ratelimit import CallLimiter, TokenBucket
from worker.ecs.retry import RetryConfig
from worker.ecs.transport import HttpSettings, HttpTransport


def layered_client(
    session: aiohttp.ClientSession,
    endpoint: str,
    auth: Auth,
    *,
    retry: RetryConfig | None = None,
    limiter: CallLimiter | None = None,
    observer: ApiObserver | None = None,
    breaker: CircuitBreaker | None = None,
    tracer: HttpTracer | None = None,
    http: HttpSettings | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> EcsClient:
    """The client a test needs; a layer left as None is not stacked (no limit, no breaker…)."""
    observer = observer or SilentObserver()
    layers: list[Layer] = [
        partial(Signing, auth=auth, observer=observer),
        partial(RateLimited, limiter=limiter or TokenBucket(rate=0)),
    ]
    availability: Availability = AlwaysAvailable()
    if breaker is not None:
        layers.append(partial(Guarded, breaker=breaker))
        availability = breaker
    layers.append(partial(Measured, observer=observer))
    if tracer is not None:
        layers.append(partial(Traced, tracer=tracer))
    transport = stack(HttpTransport(session, http or HttpSettings()), *layers)
    settings = EcsClientSettings(endpoint=endpoint, retry=retry or RetryConfig())
    return EcsClient(
        transport, settings, observer=observer, availability=availability, sleep=sleep, rand=rand
    )

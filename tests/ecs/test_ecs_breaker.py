"""Circuit breaker: opens on outage signals in a row, probes with backoff, closes on an answer."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clock import FakeClock
from worker.ecs.breaker import BreakerConfig, CircuitBreaker, CircuitState


def state(b: CircuitBreaker) -> str:
    """Read through a function: mypy would narrow the property after the first assert."""
    return b.state


def breaker(clock: FakeClock, **policy: float) -> tuple[CircuitBreaker, list[CircuitState]]:
    changes: list[CircuitState] = []
    values = {"failure_threshold": 3, "probe_initial": 2.0, "probe_max": 10.0, **policy}
    policy_ = BreakerConfig(
        failure_threshold=int(values["failure_threshold"]),
        probe_initial=values["probe_initial"],
        probe_max=values["probe_max"],
    )
    return CircuitBreaker(policy_, clock=clock, on_change=changes.append), changes


def open_breaker() -> tuple[FakeClock, CircuitBreaker, list[CircuitState]]:
    """A breaker (threshold 3, probes after 2 s doubling to 10 s) just opened by 3 outages."""
    clock = FakeClock(100.0)
    b, changes = breaker(clock)
    for _ in range(3):
        b.outage()
    return clock, b, changes


def test_opens_after_threshold_outages_in_a_row_and_answers_reset_the_streak() -> None:
    clock = FakeClock(100.0)
    b, changes = breaker(clock)
    b.outage()
    b.outage()
    b.succeeded()  # an answer in between: the streak starts again
    b.outage()
    b.outage()
    assert state(b) == "closed"
    assert b.admit()
    b.outage()
    assert state(b) == "open"
    assert changes == ["open"]
    assert not b.admit()  # no call goes out while open


def test_throttling_is_not_an_outage_and_does_not_reset_the_streak() -> None:
    clock = FakeClock(100.0)
    b, _ = breaker(clock)
    b.outage()
    b.outage()
    for _ in range(10):
        b.throttled()
    assert state(b) == "closed"
    b.outage()
    assert state(b) == "open"


def test_one_probe_after_backoff_closes_on_success() -> None:
    clock, b, changes = open_breaker()
    clock.now += 1.99
    assert not b.admit()
    clock.now += 0.01
    assert b.admit()  # the probe
    assert state(b) == "half_open"
    assert not b.admit()  # everyone else waits for the probe's answer
    b.succeeded()
    assert state(b) == "closed"
    assert b.admit()
    assert changes == ["open", "half_open", "closed"]


def test_failed_probes_double_the_backoff_up_to_the_cap() -> None:
    clock, b, _ = open_breaker()
    waits = []
    for _ in range(5):
        opened = clock.now
        while not b.admit():
            clock.now += 0.5
        waits.append(clock.now - opened)
        b.outage()  # the probe failed
        assert state(b) == "open"
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]
    clock.now += 10.0
    assert b.admit()
    b.succeeded()
    for _ in range(3):  # after closing, the backoff starts again from the initial delay
        b.outage()
    clock.now += 2.0
    assert b.admit()


def test_a_throttled_probe_closes_the_breaker() -> None:
    clock, b, _ = open_breaker()
    clock.now += 2.0
    assert b.admit()
    b.throttled()
    assert state(b) == "closed"


def test_an_abandoned_probe_lets_the_next_caller_probe_at_once() -> None:
    clock, b, _ = open_breaker()
    clock.now += 2.0
    assert b.admit()
    b.abandoned()  # e.g. the probing request was cancelled by a rebalance
    assert state(b) == "open"
    assert b.admit()


def test_late_failures_while_open_do_not_push_the_probe_back() -> None:
    clock, b, _ = open_breaker()
    clock.now += 1.0
    b.outage()  # answers of calls sent before the breaker opened
    b.outage()
    clock.now += 1.0
    assert b.admit()


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BreakerConfig(failure_threshold=0)
    with pytest.raises(ValueError):
        BreakerConfig(probe_initial=5.0, probe_max=1.0)


async def test_waiters_wake_when_the_breaker_closes() -> None:
    b = CircuitBreaker(BreakerConfig(failure_threshold=1, probe_initial=3600.0, probe_max=3600.0))
    assert await b.wait_available(0.0)  # closed: at once
    b.outage()
    waiter = asyncio.create_task(b.wait_available(60.0))
    await asyncio.sleep(0)
    assert not waiter.done()
    b.succeeded()  # e.g. a job read sent before the outage answered
    assert await asyncio.wait_for(waiter, 10.0)


async def test_wait_gives_up_after_its_timeout_while_open() -> None:
    b = CircuitBreaker(BreakerConfig(failure_threshold=1, probe_initial=3600.0, probe_max=3600.0))
    b.outage()
    assert not await b.wait_available(0.01)


async def test_wait_returns_when_a_probe_is_due() -> None:
    b = CircuitBreaker(BreakerConfig(failure_threshold=1, probe_initial=0.01, probe_max=0.01))
    b.outage()
    assert await asyncio.wait_for(b.wait_available(60.0), 10.0)
    assert b.admit()
    assert state(b) == "half_open"
    waiter = asyncio.create_task(b.wait_available(60.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()  # half-open: waiting for the probe's answer
    b.outage()  # the probe failed: the next probe is due after the backoff
    assert await asyncio.wait_for(waiter, 10.0)

"""Token bucket: burst, steady rate, fairness, cancellation, disabled mode."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.clock import FakeClock
from tests.support.timing import loop_lag
from worker.ecs.ratelimit import TokenBucket


async def test_burst_then_one_token_per_interval() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=fake, sleep=fake.sleep)
    times = []
    for _ in range(6):
        await bucket.acquire()
        times.append(round(fake.now, 6))
    assert times == [0.0, 0.0, 0.0, 0.1, 0.2, 0.3]


async def test_idle_time_refills_up_to_burst_only() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=fake, sleep=fake.sleep)
    fake.now = 100.0  # a long idle period saves at most `burst` tokens
    for _ in range(3):
        await bucket.acquire()
    assert fake.now == pytest.approx(101.0)


async def test_disabled_when_rate_is_not_positive() -> None:
    for rate in (0.0, -1.0):
        fake = FakeClock()
        bucket = TokenBucket(rate=rate, burst=1, clock=fake, sleep=fake.sleep)
        for _ in range(100):
            await bucket.acquire()
        assert fake.now == 0.0
        assert not bucket.enabled


async def test_holds_the_configured_rate_in_real_time_with_concurrent_callers() -> None:
    bucket = TokenBucket(rate=100.0, burst=5)
    order: list[int] = []

    async def caller(i: int) -> float:
        await bucket.acquire()
        order.append(i)
        return time.monotonic()

    async with loop_lag() as lag:
        start = time.monotonic()
        stamps = await asyncio.gather(*(caller(i) for i in range(45)))
    elapsed = max(stamps) - start
    # 5 free, then 40 at 100/s: 0.4 s; never faster, and not much slower (than the loop allowed).
    assert 0.39 <= elapsed < 0.8 + lag.seconds
    assert order == sorted(order)  # served in arrival order
    # never ahead of schedule: by time t at most burst + rate * (t - start) grants
    # (a late wake-up can bunch grants together, but never beyond the schedule)
    for count, stamp in enumerate(sorted(stamps), start=1):
        assert count <= 5 + 100.0 * (stamp - start) + 0.5


async def test_cancelled_wait_returns_its_token() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=fake, sleep=fake.sleep_after(asyncio.Event()))
    await bucket.acquire()  # uses the one saved token
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    fake.now = 1.0  # one second later exactly one token is due, not zero
    before = fake.now
    await asyncio.wait_for(bucket.acquire(), timeout=1)
    assert fake.now == before


async def test_try_acquire_takes_a_free_token_and_never_waits() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=2, clock=fake, sleep=fake.sleep)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]
    fake.now = 0.1  # one token due
    assert [bucket.try_acquire() for _ in range(2)] == [True, False]
    assert fake.now == 0.1
    assert TokenBucket(rate=0.0).try_acquire()  # disabled: always


async def test_try_acquire_does_not_jump_a_queued_call() -> None:
    fake = FakeClock()
    released = asyncio.Event()
    bucket = TokenBucket(rate=10.0, burst=1, clock=fake, sleep=fake.sleep_after(released))
    assert bucket.try_acquire()
    queued = asyncio.create_task(bucket.acquire())  # waits 0.1 s for the next token
    await asyncio.sleep(0)
    fake.now = 0.1  # that token is now due, and it is the queued call's
    assert not bucket.try_acquire()
    released.set()
    await queued

"""Adaptive rate (AIMD): 429s cut the rate, calls that go through raise it slowly, ceiling holds."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock
from worker.ecs.ratelimit import AdaptiveRate, AimdConfig


def adaptive(fake: FakeClock, **policy: float) -> tuple[AdaptiveRate, list[float]]:
    seen: list[float] = []
    rate = AdaptiveRate(
        AimdConfig(**{"ceiling": 50.0, **policy}),
        burst=40,
        clock=fake,
        sleep=fake.sleep,
        on_change=seen.append,
    )
    return rate, seen


def test_starts_at_the_ceiling_and_a_throttle_cuts_the_rate_once_per_cooldown() -> None:
    fake = FakeClock()
    rate, seen = adaptive(fake)
    assert rate.rate == 50.0
    for _ in range(20):  # a storm of 429s from calls already in flight: one cut
        rate.throttled()
    assert rate.rate == pytest.approx(35.0)
    fake.now += 1.0
    rate.throttled()
    assert rate.rate == pytest.approx(24.5)
    assert seen == pytest.approx([50.0, 35.0, 24.5])


def test_climbs_back_one_step_per_second_of_answered_calls_up_to_the_ceiling() -> None:
    fake = FakeClock()
    rate, _ = adaptive(fake, ceiling=10.0, increase=1.0)
    rate.throttled()
    assert rate.rate == pytest.approx(7.0)
    for _ in range(100):  # many answers within the same second: one step
        rate.answered()
    assert rate.rate == pytest.approx(7.0)
    for _ in range(10):
        fake.now += 1.0
        rate.answered()
    assert rate.rate == 10.0  # capped


def test_never_below_the_floor() -> None:
    fake = FakeClock()
    rate, _ = adaptive(fake, ceiling=2.0, floor=0.5)
    for _ in range(20):
        fake.now += 1.0
        rate.throttled()
    assert rate.rate == 0.5


async def test_the_bucket_paces_calls_at_the_adapted_rate() -> None:
    fake = FakeClock()
    rate, _ = adaptive(fake, ceiling=10.0, decrease=0.5)
    rate.throttled()  # 5 calls/s, burst follows the rate (5)
    start = fake.now
    for _ in range(15):
        await rate.acquire()
    assert fake.now - start == pytest.approx(2.0)  # 5 from the burst, then 10 at 5/s


def test_settles_near_a_hard_quota() -> None:
    """Simulated: a quota of 10 calls/s answers 429 above it; the rate oscillates just below."""
    fake = FakeClock()
    rate, _ = adaptive(fake, ceiling=50.0)
    rates = []
    for _ in range(300):
        fake.now += 1.0
        if rate.rate > 10.0:
            rate.throttled()
        else:
            rate.answered()
        rates.append(rate.rate)
    tail = rates[100:]
    assert max(tail) <= 11.0
    assert 7.0 <= sum(tail) / len(tail) <= 10.0


def test_policy_rejects_nonsense() -> None:
    for bad in ({"ceiling": 0.0}, {"floor": 60.0}, {"decrease": 1.0}, {"increase": 0.0}):
        with pytest.raises(ValueError):
            AimdConfig(**{"ceiling": 50.0, **bad})

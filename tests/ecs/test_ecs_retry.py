"""Retry loop: backoff shape, Retry-After, attempts and deadline, all on a fake clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.support.clock import FakeClock
from worker.ecs.errors import EcsApiError
from worker.ecs.retry import RetryConfig, call_with_retry


def _retryable(retry_after: float | None = None) -> EcsApiError:
    return EcsApiError("HTTP.503", "busy", http_status=503, retryable=True, retry_after=retry_after)


def _failing(
    errors: list[EcsApiError], remaining_seen: list[float]
) -> Callable[[float], Awaitable[str]]:
    async def call(remaining: float) -> str:
        remaining_seen.append(remaining)
        if errors:
            raise errors.pop(0)
        return "done"

    return call


async def test_retries_until_success_and_counts_attempts() -> None:
    fake, seen = FakeClock(), list[float]()
    retried: list[tuple[str, int, float]] = []
    result, attempts = await call_with_retry(
        _failing([_retryable(), _retryable()], seen),
        RetryConfig(max_attempts=5, base_delay=1.0, max_delay=10.0, deadline=100.0),
        on_retry=lambda err, n, delay: retried.append((err.code, n, delay)),
        sleep=fake.sleep,
        rand=lambda: 1.0,
        clock=fake,
    )
    assert (result, attempts) == ("done", 3)
    assert fake.sleeps == [1.0, 2.0]
    assert retried == [("HTTP.503", 1, 1.0), ("HTTP.503", 2, 2.0)]
    assert seen == [100.0, 99.0, 97.0]  # each attempt is told the deadline budget left


async def test_permanent_error_is_not_retried() -> None:
    fake = FakeClock()
    permanent = EcsApiError("Ecs.0005", "bad", http_status=400, retryable=False)
    with pytest.raises(EcsApiError) as caught:
        await call_with_retry(
            _failing([permanent], []),
            RetryConfig(),
            sleep=fake.sleep,
            clock=fake,
        )
    assert caught.value is permanent
    assert caught.value.attempts == 1
    assert fake.sleeps == []


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    fake = FakeClock()
    errors = [_retryable() for _ in range(10)]
    last = errors[2]
    with pytest.raises(EcsApiError) as caught:
        await call_with_retry(
            _failing(errors, []),
            RetryConfig(max_attempts=3, base_delay=0.1, max_delay=1.0, deadline=100.0),
            sleep=fake.sleep,
            clock=fake,
        )
    assert caught.value is last
    assert caught.value.attempts == 3
    assert len(fake.sleeps) == 2


async def test_full_jitter_is_uniform_below_an_exponential_cap() -> None:
    policy = RetryConfig(max_attempts=10, base_delay=0.5, max_delay=4.0, deadline=1000.0)
    caps = [policy.delay(n, None, lambda: 1.0) for n in range(1, 7)]
    assert caps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.delay(3, None, lambda: 0.25) == 0.5
    assert policy.delay(3, None, lambda: 0.0) == 0.0
    assert policy.delay(10_000, None, lambda: 1.0) == 4.0  # no overflow


async def test_retry_after_is_a_floor_on_the_wait() -> None:
    fake = FakeClock()
    await call_with_retry(
        _failing([_retryable(retry_after=7.0), _retryable(retry_after=0.1)], []),
        RetryConfig(max_attempts=5, base_delay=1.0, max_delay=2.0, deadline=100.0),
        sleep=fake.sleep,
        rand=lambda: 0.5,
        clock=fake,
    )
    assert fake.sleeps == [7.0, 1.0]


async def test_deadline_stops_before_a_wait_that_would_cross_it() -> None:
    fake = FakeClock()
    errors = [_retryable(retry_after=4.0) for _ in range(10)]
    with pytest.raises(EcsApiError) as caught:
        await call_with_retry(
            _failing(errors, []),
            RetryConfig(max_attempts=10, base_delay=0.0, max_delay=0.0, deadline=10.0),
            sleep=fake.sleep,
            clock=fake,
        )
    assert fake.sleeps == [4.0, 4.0]  # a third wait would end at 12 s > 10 s
    assert caught.value.attempts == 3
    assert fake.now < 10.0


@pytest.mark.parametrize(("wait", "sleeps"), [(5.0, [5.0]), (4.999, [4.999, 4.999])])
async def test_a_wait_ending_exactly_at_the_deadline_is_not_started(
    wait: float, sleeps: list[float]
) -> None:
    """Deadline 10 s: 5 + 5 ends at 10 s, leaving the third attempt nothing; 4.999 twice fits."""
    fake = FakeClock()
    errors = [_retryable(retry_after=wait) for _ in range(3)]
    with pytest.raises(EcsApiError) as caught:
        await call_with_retry(
            _failing(errors, []),
            RetryConfig(max_attempts=3, base_delay=0.0, max_delay=0.0, deadline=10.0),
            sleep=fake.sleep,
            clock=fake,
        )
    assert fake.sleeps == sleeps
    assert caught.value.attempts == len(sleeps) + 1


async def test_the_deadline_counts_from_the_first_call_whatever_the_clock_reads() -> None:
    """A monotonic clock starts anywhere: the budget is measured from the first call."""
    fake, seen = FakeClock(now=5000.0), list[float]()
    errors = [_retryable(retry_after=4.0) for _ in range(10)]
    with pytest.raises(EcsApiError):
        await call_with_retry(
            _failing(errors, seen),
            RetryConfig(max_attempts=10, base_delay=0.0, max_delay=0.0, deadline=10.0),
            sleep=fake.sleep,
            clock=fake,
        )
    assert fake.sleeps == [4.0, 4.0]
    assert seen == [10.0, 6.0, 2.0]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RetryConfig(max_attempts=0), "max_attempts must be >= 1"),
        (lambda: RetryConfig(base_delay=-1.0), "delays must be >= 0 and the deadline > 0"),
        (lambda: RetryConfig(max_delay=-1.0), "delays must be >= 0 and the deadline > 0"),
        (lambda: RetryConfig(deadline=0.0), "delays must be >= 0 and the deadline > 0"),
    ],
)
def test_policy_rejects_nonsense(make: Callable[[], RetryConfig], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        make()


def test_the_smallest_sensible_policy_is_accepted() -> None:
    """One attempt, no waits, a deadline under a second: valid (no retries at all)."""
    RetryConfig(max_attempts=1, base_delay=0.0, max_delay=0.0, deadline=0.5)  # must not raise

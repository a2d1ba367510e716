"""Retry loop for API calls: full-jitter exponential backoff, Retry-After, attempts and deadline.

Owns: ``RetryConfig`` and ``call_with_retry``. It retries only ``EcsApiError``s marked
retryable, and never an ``ECSP.ApiUnavailable`` (the breaker is open: waiting for the API is
the caller's business, not a spent attempt); the caller decides what a retry re-sends (a create
re-sends the same body and X-Client-Token, so the API answers with the job of the first
attempt). ``sleep``, ``rand`` and
``clock`` are injectable so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from worker.ecs.errors import EcsApiError, is_unavailable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryConfig:
    """At most ``max_attempts`` calls within ``deadline`` seconds of the first one.

    The wait before attempt n+1 is ``uniform(0, min(max_delay, base_delay * 2**(n-1)))``
    ("full jitter"), but never less than the server's ``Retry-After``. A wait that would end at
    or past the deadline is not started (it would leave the next attempt no time at all): the
    last error is raised instead.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    deadline: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.deadline <= 0:
            raise ValueError("delays must be >= 0 and the deadline > 0")

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 62))
        return max(retry_after or 0.0, rand() * cap)


OnRetry = Callable[[EcsApiError, int, float], None]


async def call_with_retry(
    call: Callable[[float], Awaitable[T]],
    config: RetryConfig,
    *,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, int]:
    """Run ``call(remaining_seconds)`` until it succeeds; return (result, attempts made).

    Raises the last ``EcsApiError`` (with ``attempts`` set) when it is not retryable, when the
    attempts are used up, or when the next wait would cross the deadline.
    """
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        remaining = config.deadline - (clock() - start)
        try:
            return await call(remaining), attempt
        except EcsApiError as err:
            err.attempts = attempt
            if not err.retryable or is_unavailable(err) or attempt >= config.max_attempts:
                raise
            wait = config.delay(attempt, err.retry_after, rand)
            if clock() - start + wait >= config.deadline:
                raise
            if on_retry is not None:
                on_retry(err, attempt, wait)
            await sleep(wait)

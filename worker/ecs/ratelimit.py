"""Process-wide rate limiting of API calls: a token bucket, and an adaptive rate on top of it.

Owns: ``CallLimiter`` (what the client needs), ``TokenBucket`` (a fixed rate) and
``AdaptiveRate`` (AIMD: a throttled answer cuts the rate, calls that go through raise it slowly,
never above the configured ceiling). One instance per process is shared by create and job calls
so a fleet of N workers stays under N * rate requests/second. Waiters are served in arrival
order; the one at the head sleeps until its token is due at the rate in force, so a changed
rate applies to every queued call, not only to later ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

#: A token this close to whole counts as whole (float rounding must not leave a waiter spinning).
_EPSILON = 1e-9


class CallLimiter(Protocol):
    """Paces API calls; told how each answered call went."""

    async def acquire(self) -> None: ...

    def try_acquire(self) -> bool:
        """Take a call's token now if one is free and no call waits for one; never waits."""
        ...

    def throttled(self) -> None: ...

    def answered(self) -> None: ...


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate <= 0`` disables limiting.

    A fixed rate: the API's answers do not change it (``throttled``/``answered`` do nothing).
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = clock()
        self._queue = asyncio.Lock()  # FIFO: the head waiter paces itself, the rest queue

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def throttled(self) -> None:
        return None

    def answered(self) -> None:
        return None

    def set_rate(self, rate: float, burst: int) -> None:
        """Change the pace from now on (tokens saved so far are kept, up to the new burst)."""
        self._refill()
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = min(self._tokens, float(self.burst))

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_acquire(self) -> bool:
        """Take a token now if one is free and nobody is queued (a queued call keeps its turn)."""
        if not self.enabled:
            return True
        if self._queue.locked():
            return False
        self._refill()
        if self._tokens < 1.0 - _EPSILON:
            return False
        self._tokens -= 1.0
        return True

    async def acquire(self) -> None:
        """Wait until a request may be sent. Waiters queue in arrival order and each waits at
        the rate in force when it is at the head, so a rate cut slows the whole queue at once.
        A cancelled wait takes no token."""
        if not self.enabled:
            return
        async with self._queue:
            self._refill()
            while self._tokens < 1.0 - _EPSILON and self.enabled:
                await self._sleep((1.0 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1.0


@dataclass(frozen=True)
class AimdConfig:
    """Additive increase, multiplicative decrease of the call rate between ``floor`` and
    ``ceiling`` (calls/s). A throttled answer multiplies the rate by ``decrease`` (at most once
    per ``cooldown`` seconds: the calls already in flight answer 429 too); every second in which
    calls went through adds ``increase``."""

    ceiling: float
    floor: float = 0.5
    decrease: float = 0.7
    increase: float = 1.0
    cooldown: float = 1.0

    def __post_init__(self) -> None:
        if self.ceiling <= 0 or not 0 < self.floor <= self.ceiling:
            raise ValueError("need 0 < floor <= ceiling")
        if not 0 < self.decrease < 1 or self.increase <= 0 or self.cooldown < 0:
            raise ValueError("need 0 < decrease < 1, increase > 0, cooldown >= 0")


class AdaptiveRate:
    """A token bucket whose rate finds the account's quota: starts at the ceiling, backs off on
    429/APIG.0308, climbs back slowly. The burst follows the rate (about one second's worth)."""

    def __init__(
        self,
        config: AimdConfig,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_change: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config
        self._max_burst = max(1, burst)
        self._clock = clock
        self._on_change = on_change
        self._bucket = TokenBucket(
            config.ceiling, self._burst_for(config.ceiling), clock=clock, sleep=sleep
        )
        self._last_decrease = float("-inf")
        self._last_increase = clock()
        if on_change is not None:
            on_change(config.ceiling)

    @property
    def rate(self) -> float:
        return self._bucket.rate

    async def acquire(self) -> None:
        await self._bucket.acquire()

    def try_acquire(self) -> bool:
        return self._bucket.try_acquire()

    def throttled(self) -> None:
        now = self._clock()
        if now - self._last_decrease < self.config.cooldown:
            return
        self._last_decrease = self._last_increase = now
        self._set(max(self.config.floor, self.rate * self.config.decrease))

    def answered(self) -> None:
        now = self._clock()
        if self.rate >= self.config.ceiling or now - self._last_increase < 1.0:
            return
        self._last_increase = now
        self._set(min(self.config.ceiling, self.rate + self.config.increase))

    def _burst_for(self, rate: float) -> int:
        return max(1, min(self._max_burst, int(rate)))

    def _set(self, rate: float) -> None:
        if rate == self.rate:
            return
        self._bucket.set_rate(rate, self._burst_for(rate))
        if self._on_change is not None:
            self._on_change(rate)

"""The hourly budget: a sliding window per project, first come first served, deadlines, refunds."""

from __future__ import annotations

import asyncio

from tests.support.clock import FakeClock
from worker.policy.budget import HourlyBudget


def test_servers_fit_until_the_limit_then_leave_the_window() -> None:
    clock = FakeClock(1000.0)
    budget = HourlyBudget(60.0, clock)
    assert budget.try_spend("p", 2, 5) is not None
    assert budget.try_spend("p", 2, 5) is not None
    assert budget.try_spend("p", 2, 5) is None  # 6 > 5
    assert budget.try_spend("q", 5, 5) is not None  # projects are counted apart
    assert budget.used("p") == 4
    clock.now += 60.0
    assert budget.used("p") == 0
    assert budget.try_spend("p", 5, 5) is not None


def test_no_limit_always_fits_and_a_refund_gives_room_back() -> None:
    budget = HourlyBudget(60.0, FakeClock(1000.0))
    assert budget.try_spend("p", 100, None) is not None
    spent = budget.try_spend("q", 3, 3)
    assert spent is not None
    assert budget.try_spend("q", 1, 3) is None
    spent.refund()
    spent.refund()  # twice is harmless
    assert budget.used("q") == 0


async def test_a_waiter_gets_room_when_the_window_moves_and_waiters_are_served_in_order() -> None:
    budget = HourlyBudget(0.3)
    assert budget.try_spend("p", 4, 5) is not None
    order: list[str] = []

    async def wait(name: str, servers: int) -> None:
        spent = await budget.spend("p", servers, lambda: 5, deadline=float("inf"))
        assert spent is not None
        order.append(name)

    first = asyncio.create_task(wait("big", 4))
    await asyncio.sleep(0)
    second = asyncio.create_task(wait("small", 1))
    await asyncio.sleep(0.05)
    # "small" would fit now (4 + 1 <= 5) but "big" came first
    assert order == []
    assert budget.try_spend("p", 1, 5) is None  # nor may a newcomer jump the queue
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert order == ["big", "small"]


async def test_a_waiter_gives_up_at_its_deadline_and_the_next_one_moves_up() -> None:
    budget = HourlyBudget(3600.0)
    assert budget.try_spend("p", 5, 5) is not None
    loop = asyncio.get_running_loop()
    assert await budget.spend("p", 1, lambda: 5, deadline=loop.time() + 0.1) is None
    assert budget.try_spend("p", 1, 6) is not None  # the queue is empty again


async def test_a_raised_limit_lets_waiters_through_without_waiting_for_the_window() -> None:
    budget = HourlyBudget(3600.0)
    assert budget.try_spend("p", 5, 5) is not None
    limit = 5

    async def raise_limit() -> None:
        nonlocal limit
        await asyncio.sleep(0.05)
        limit = 10

    raiser = asyncio.create_task(raise_limit())
    spent = await asyncio.wait_for(budget.spend("p", 5, lambda: limit, float("inf")), 5)
    await raiser
    assert spent is not None
    assert budget.used("p") == 10

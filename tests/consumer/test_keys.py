"""Requests with the same key run one at a time, in dispatch order; other keys run alongside."""

from __future__ import annotations

import asyncio

from worker.consumer.keys import KeyLocks


async def test_same_key_runs_strictly_in_order_and_other_keys_concurrently() -> None:
    locks = KeyLocks()
    log: list[str] = []
    running: dict[bytes | None, int] = {}
    max_running: dict[bytes | None, int] = {}

    async def job(key: bytes | None, name: str, delay: float) -> None:
        async with locks.hold("requests", key):
            running[key] = running.get(key, 0) + 1
            max_running[key] = max(max_running.get(key, 0), running[key])
            log.append(f"start {name}")
            await asyncio.sleep(delay)
            log.append(f"end {name}")
            running[key] -= 1

    await asyncio.gather(
        job(b"a", "a1", 0.03),
        job(b"a", "a2", 0.0),
        job(b"a", "a3", 0.01),
        job(b"b", "b1", 0.01),
        job(None, "n1", 0.01),
        job(None, "n2", 0.01),
    )

    a_events = [e for e in log if e.endswith(("a1", "a2", "a3"))]
    assert a_events == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
    assert max_running[b"a"] == 1
    assert max_running[None] == 2  # keyless records do not serialise each other
    assert log.index("start b1") < log.index("end a1")  # another key did not wait for a1
    assert len(locks) == 0  # nothing left behind


async def test_cancelled_holder_releases_the_key() -> None:
    locks = KeyLocks()
    entered = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("requests", b"k"):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(holder())
    await entered.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(1):
        async with locks.hold("requests", b"k"):
            pass
    assert len(locks) == 0


async def test_a_key_on_another_tenants_topic_never_waits_for_it() -> None:
    """Team B holding `order-42` (say, over its budget) does not hold team A's `order-42`."""
    locks = KeyLocks()
    entered = asyncio.Event()
    release = asyncio.Event()

    async def team_b() -> None:
        async with locks.hold("requests.team-b", b"order-42"):
            entered.set()
            await release.wait()

    holder = asyncio.create_task(team_b())
    await entered.wait()
    async with asyncio.timeout(1):
        async with locks.hold("requests.team-a", b"order-42"):
            assert not holder.done()
    release.set()
    await holder
    assert len(locks) == 0

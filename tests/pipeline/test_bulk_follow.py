"""The bulk follower: what it lists (every argument checked), whom it wakes, and whom it does not.

The lister double checks each call's project, filters, page size and marker, and answers from a
script of pages; the clock is a plain number the test moves. A job wakes only on evidence (seen
building, then gone) or once after `unseen_seconds`; a failed listing wakes nobody.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.support.clock import FakeClock
from worker.ecs.errors import EcsApiError
from worker.ecs.models import ServerPage, ServerSummary
from worker.ecs.servers import ServerQuery
from worker.pipeline.bulk_follow import BulkFollowConfig, BulkFollower, JobWatch

PROJECT = "0605767ea3000f5b2fe8c0051de0b9ba"
OTHER_PROJECT = "1605767ea3000f5b2fe8c0051de0b9bb"
TOKEN_A = "8e9c8b8e-1c1a-5e6b-9a57-0d4f3b1a0001"
TOKEN_B = "8e9c8b8e-1c1a-5e6b-9a57-0d4f3b1a0002"
CONFIG = BulkFollowConfig(
    deployment_tag="prod-eu", interval_seconds=5.0, safety_net_seconds=300.0, unseen_seconds=30.0,
    page_size=2,
)  # fmt: skip
QUERY = ServerQuery(tags="ecsp-deployment=prod-eu", status="BUILD")


def building(server_id: str, token: str) -> ServerSummary:
    tags = ("ecsp-deployment=prod-eu", f"ecsp-client-token={token}", "team=blue")
    return ServerSummary(server_id, "web", "BUILD", None, tags)


@dataclass
class Lister:
    """Answers list calls from `pages` in turn, checking every argument it receives."""

    pages: list[list[ServerSummary] | EcsApiError]
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage:
        assert query == QUERY
        assert limit == CONFIG.page_size
        self.calls.append((project_id, marker))
        page = self.pages.pop(0)
        if isinstance(page, EcsApiError):
            raise page
        return ServerPage(count=len(page), servers=tuple(page))


def follower(lister: Lister, clock: FakeClock) -> BulkFollower:
    return BulkFollower(lister, CONFIG, clock=clock)


def woken(watch: JobWatch) -> bool:
    return watch._wake.is_set()


async def test_lists_building_servers_by_deployment_tag_page_by_page() -> None:
    lister = Lister([[building("s1", TOKEN_A), building("s2", TOKEN_B)], [building("s3", TOKEN_B)]])
    bulk = follower(lister, FakeClock(1000.0))
    async with bulk.watching(PROJECT, TOKEN_A) as a, bulk.watching(PROJECT, TOKEN_B) as b:
        assert await bulk.list_once(PROJECT) == 0
        assert lister.calls == [(PROJECT, None), (PROJECT, "s2")]  # marker: the page's last
        assert a.seen_building
        assert b.seen_building
        assert not woken(a)
        assert not woken(b)
        await bulk.close()


async def test_a_job_seen_building_wakes_once_its_servers_left_build() -> None:
    lister = Lister([[building("s1", TOKEN_A)], [building("s2", TOKEN_B)]])
    bulk = follower(lister, FakeClock(1000.0))
    async with bulk.watching(PROJECT, TOKEN_A) as a, bulk.watching(PROJECT, TOKEN_B) as b:
        await bulk.list_once(PROJECT)
        assert await bulk.list_once(PROJECT) == 1  # A left BUILD; B was never seen: waits
        assert woken(a)
        assert not woken(b)
        await bulk.close()


async def test_a_job_missing_from_the_list_is_not_taken_as_finished() -> None:
    """Eventual consistency: never seen building means "not listed yet", until unseen_seconds,
    when it is checked once (a job shorter than the list's delay), and never again."""
    clock = FakeClock(1000.0)
    lister = Lister([[], [], []])
    bulk = follower(lister, clock)
    async with bulk.watching(PROJECT, TOKEN_A) as a:
        clock.now += 29.9
        assert await bulk.list_once(PROJECT) == 0
        clock.now += 0.1
        assert await bulk.list_once(PROJECT) == 1
        await a.wait(0)  # the follower checked the job: the wake-up is used up
        assert not woken(a)
        clock.now += 60
        assert await bulk.list_once(PROJECT) == 0
        await bulk.close()


async def test_a_failed_listing_wakes_nobody() -> None:
    """A page that fails (even the second one) proves no absence."""
    throttled = EcsApiError("APIG.0308", "throttled", http_status=429, retryable=True)
    full_page = [building("s9", TOKEN_B), building("s8", TOKEN_B)]
    lister = Lister([[building("s1", TOKEN_A)], full_page, throttled, []])
    bulk = follower(lister, FakeClock(1000.0))
    async with bulk.watching(PROJECT, TOKEN_A) as a, bulk.watching(PROJECT, TOKEN_B):
        await bulk.list_once(PROJECT)
        assert await bulk.list_once(PROJECT) == 0  # A is not on the first page, but unproven
        assert lister.calls[1:] == [(PROJECT, None), (PROJECT, "s8")]
        assert not woken(a)
        assert await bulk.list_once(PROJECT) == 1  # complete, without A; B only ever was on
        # the failed listing, so it counts as never seen building: it waits
        assert woken(a)
        await bulk.close()


async def test_projects_are_listed_separately_and_watches_end_with_their_block() -> None:
    lister = Lister([[building("s1", TOKEN_A)]])
    bulk = follower(lister, FakeClock(1000.0))
    async with bulk.watching(OTHER_PROJECT, TOKEN_A):
        assert bulk.watched() == 1
        await bulk.list_once(OTHER_PROJECT)
        assert lister.calls == [(OTHER_PROJECT, None)]
    assert bulk.watched() == 0
    await bulk.close()


async def test_wait_returns_early_when_woken_and_at_its_timeout_otherwise() -> None:
    watch = JobWatch(TOKEN_A, 0.0, seen_building=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await watch.wait(0.05)  # nobody wakes it: the full wait
    assert loop.time() - started >= 0.04
    waiter = asyncio.create_task(watch.wait(3600))
    await asyncio.sleep(0)
    assert watch.observe(False, 1.0, 30.0)
    await asyncio.wait_for(waiter, 5)


async def test_the_task_lists_on_its_interval_while_jobs_are_watched_then_ends() -> None:
    sleeps: list[float] = []
    lister = Lister([[building("s1", TOKEN_A)], []])

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    bulk = BulkFollower(lister, CONFIG, clock=FakeClock(1000.0), sleep=sleep)
    async with bulk.watching(PROJECT, TOKEN_A) as a:
        await a.wait(5)  # the second listing wakes it
        assert lister.calls == [(PROJECT, None), (PROJECT, None)]
        assert sleeps[:2] == [5.0, 5.0]
    for _ in range(5):
        await asyncio.sleep(0)
    assert bulk._task is not None
    assert bulk._task.done()  # nothing watched: the task ended


def test_the_safety_net_is_a_fixed_interval() -> None:
    schedule = CONFIG.safety_net
    assert (schedule.initial, schedule.factor, schedule.cap) == (300.0, 1.0, 300.0)

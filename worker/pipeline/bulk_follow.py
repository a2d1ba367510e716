"""Following many jobs with one server list: the process-wide `BulkFollower`.

Owns `BulkFollowConfig`, `JobWatch` (one followed job's wake-up), `BulkFollower` and
`BulkPacing` (the follow step's `Pacing` when bulk following is on). Every
`interval` seconds one task lists, per project with followed jobs, the deployment's servers still
building (``GET /v1/{project_id}/cloudservers/detail?tags=ecsp-deployment=…&status=BUILD``,
1,000 per page), and wakes a job's follower when its servers have left BUILD; only then does
the job's own GET say how it ended. The list only decides *when* to look, never the outcome:

- a server is matched to its job by its ``ecsp-client-token`` tag;
- a job wakes when it was seen building and is no longer in the list (built, failed or gone);
- the list is eventually consistent (a new server may be missing for a few seconds), so a job
  never seen building is not taken as finished: it wakes once after `unseen_seconds` (a job
  shorter than the list's delay), and otherwise waits for the safety net;
- a listing that fails on any page wakes nobody (its absences prove nothing);
- the safety net: the follower checks the job at least every `safety_net_seconds` anyway.

Only jobs of this release's tagged body (``tagged``) are watched; the pipeline follows the others
(``no_room``, ``first_submitted_untagged``, and the rare ``first_submitted_before_request_tag``
of a request in flight across an upgrade) on the per-job schedule, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import structlog

from worker.ecs.errors import EcsApiError
from worker.ecs.servers import MAX_PAGE_SIZE, ServerLister, ServerQuery, list_all_servers
from worker.pipeline.follow import Sleep
from worker.pipeline.schedule import JobSchedule, PollSchedule
from worker.pipeline.state import Created
from worker.pipeline.tagging import DEPLOYMENT_TAG_KEY, TOKEN_TAG_KEY
from worker.tasks import cancel_and_wait

log = structlog.get_logger("worker.pipeline")

BUILD = "BUILD"
_TOKEN_PREFIX = TOKEN_TAG_KEY + "="


@dataclass(frozen=True)
class BulkFollowConfig:
    """How the follower lists (meanings: docs/configuration.md)."""

    deployment_tag: str  # the ecsp-deployment value the worker's creates carry
    interval_seconds: float = 5.0
    safety_net_seconds: float = 300.0
    unseen_seconds: float = 30.0
    page_size: int = MAX_PAGE_SIZE

    @property
    def safety_net(self) -> PollSchedule:
        """The per-job schedule under bulk following: a check every `safety_net_seconds`."""
        return PollSchedule(self.safety_net_seconds, 1.0, self.safety_net_seconds)

    def query(self) -> ServerQuery:
        return ServerQuery(tags=f"{DEPLOYMENT_TAG_KEY}={self.deployment_tag}", status=BUILD)


@dataclass(eq=False)
class JobWatch:
    """One followed job: its token, and the event that wakes its follower."""

    token: str
    registered: float
    seen_building: bool = False
    woken_unseen: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the job's servers leave BUILD meanwhile (a `sleep` for
        `follow_job`). A wake-up from before the call is dropped: it predates the last check."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def observe(self, building: bool, now: float, unseen_seconds: float) -> bool:
        """Takes one complete listing in; True if it wakes the job."""
        if building:
            self.seen_building = True
            return False
        if self.seen_building:
            self._wake.set()
            return True
        if not self.woken_unseen and now - self.registered >= unseen_seconds:
            self.woken_unseen = True
            self._wake.set()
            return True
        return False


class BulkFollower:
    """Lists building servers per project on one schedule and wakes the jobs that left BUILD.

    Its task runs while jobs are watched and ends by itself when the last one is done; `close`
    cancels it (process shutdown).
    """

    def __init__(
        self,
        lister: ServerLister,
        config: BulkFollowConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._lister = lister
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._watches: dict[str, dict[str, JobWatch]] = {}  # project -> token -> watch
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def watching(self, project_id: str, token: str) -> AsyncIterator[JobWatch]:
        """Watches the servers tagged with `token` for as long as the block runs."""
        watch = JobWatch(token, self._clock())
        self._watches.setdefault(project_id, {})[token] = watch
        if self._task is None or self._task.done():
            # a context of its own: not the first watcher's request (its log fields, its span)
            self._task = asyncio.create_task(
                self._run(), name="bulk-follower", context=contextvars.Context()
            )
        try:
            yield watch
        finally:
            project = self._watches.get(project_id, {})
            if project.get(token) is watch:
                del project[token]
                if not project:
                    del self._watches[project_id]

    def watched(self) -> int:
        return sum(len(project) for project in self._watches.values())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while self._watches:
            await self._sleep(self.config.interval_seconds)
            for project_id in list(self._watches):
                try:
                    await self.list_once(project_id)
                except Exception as exc:  # a bug must not stop the listing: the safety net holds
                    log.error("server listing raised", error=type(exc).__name__)

    async def list_once(self, project_id: str) -> int:
        """One complete listing of `project_id`; the number of jobs it woke."""
        try:
            servers = await list_all_servers(
                self._lister, project_id, self.config.query(), page_size=self.config.page_size
            )
        except EcsApiError as exc:
            log.info("server list failed; nobody woken", code=exc.code, project_id=project_id)
            return 0
        building = set(_tokens(s.tags for s in servers if s.status == BUILD))
        now = self._clock()
        unseen = self.config.unseen_seconds
        watches = list(self._watches.get(project_id, {}).values())
        return sum(watch.observe(watch.token in building, now, unseen) for watch in watches)


def _tokens(tag_lists: Iterable[tuple[str, ...]]) -> Iterable[str]:
    for tags in tag_lists:
        for tag in tags:
            if tag.startswith(_TOKEN_PREFIX):
                yield tag[len(_TOKEN_PREFIX) :]


@dataclass(frozen=True)
class BulkPacing:
    """Tagged jobs awaiting no payment wake on the follower's listing (checked at least on its
    safety-net schedule); every other job is followed on `own` schedule."""

    follower: BulkFollower
    own: JobSchedule

    @contextlib.asynccontextmanager
    async def following(self, created: Created) -> AsyncIterator[tuple[JobSchedule, Sleep]]:
        if created.tagging != "tagged" or created.may_await_payment:
            yield self.own, asyncio.sleep
            return
        async with self.follower.watching(created.project_id, created.token) as watch:
            yield self.follower.config.safety_net, watch.wait

"""Placer.place with a fake cloud: fallback at create time and in the job, quota, partial builds,
policy skips, the capacity memory across requests, one probe per unknown offering, redelivery."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ecsp_contract.events import (
    Compensation,
    Placement,
    PlacementAttempt,
    PlacementSkip,
    SkipReason,
    SubJobInfo,
)
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import parse_fallbacks
from tests.support.bodies import server_body
from worker.pipeline.alternatives import Alternative, alternatives
from worker.pipeline.capacity_memory import CapacityMemory
from worker.pipeline.failure import StageFailure
from worker.pipeline.placement import Placer
from worker.policy.check import Violation, violations
from worker.policy.model import Patterns, Rules

Where = tuple[str, str | None]
WIRE = server_body(count=2, availability_zone="az1")
OWN: Where = ("s6.small.1", "az1")


def alts(header: str, key: str = "req-1") -> tuple[Alternative, ...]:
    return alternatives(WIRE, client_token(key), parse_fallbacks(header))


@dataclass
class FakeCloud:
    """Answers creates like the API: sold out at create time, or accepted and sold out in the
    job; a token already seen gets its first job back (replay), never a second create."""

    at_create: dict[Where, str] = field(default_factory=dict)  # placement -> error code
    in_job: set[Where] = field(default_factory=set)
    built_before_failing: int = 0  # servers a sold-out job still builds (partial failure)
    delay: float = 0.0
    jobs: dict[str, str] = field(default_factory=dict)  # token -> job id
    outcome: dict[str, Where | None] = field(default_factory=dict)  # job -> sold out where
    sent: list[Where] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)  # accepted creates by token

    async def create(self, alternative: Alternative) -> str:
        where = (alternative.flavor_ref, alternative.availability_zone)
        self.sent.append(where)
        await asyncio.sleep(self.delay)
        if alternative.token in self.jobs:
            return self.jobs[alternative.token]
        code = self.at_create.get(where)
        if code is not None:
            raise StageFailure(FailureStage.SUBMIT, code, f"{code} answer", http_status=400)
        job_id = f"job-{len(self.jobs)}"
        self.jobs[alternative.token] = job_id
        self.created[alternative.token] += 1
        self.outcome[job_id] = where if where in self.in_job else None
        return job_id

    async def follow(self, alternative: Alternative, job_id: str) -> str:
        await asyncio.sleep(0)
        if self.outcome[job_id] is None:
            return f"servers of {job_id}"
        built = [
            SubJobInfo(status="SUCCESS", server_id=f"{job_id}-built-{i}")
            for i in range(self.built_before_failing)
        ]
        failed = [
            SubJobInfo(status="FAIL", server_id=f"{job_id}-failed", error_code="Ecs.0319")
        ] * (2 - self.built_before_failing)
        raise StageFailure(
            FailureStage.JOB,
            "Ecs.0319",
            f"job {job_id} failed",
            job_id=job_id,
            sub_jobs=(*built, *failed),
            server_ids=tuple(s.server_id or "" for s in (*built, *failed)),
        )


@dataclass
class RecordingObserver:
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def placement_tried(self, flavor_ref: str, availability_zone: str | None) -> None:
        self.seen.append(("tried", flavor_ref, availability_zone))

    def placement_sold_out(self, flavor_ref: str, availability_zone: str | None) -> None:
        self.seen.append(("sold_out", flavor_ref, availability_zone))

    def placement_skipped(
        self, flavor_ref: str, availability_zone: str | None, reason: SkipReason
    ) -> None:
        self.seen.append((reason, flavor_ref, availability_zone))


@dataclass(frozen=True)
class Placed:
    """What an attempt that worked returns here: the job's result, where, and data.placement."""

    result: str
    alternative: Alternative
    placement: Placement


Follow = Callable[[Alternative, str], Awaitable[str]]


def attempt_with(placer: Placer, cloud: FakeCloud, follow: Follow | None = None) -> Any:
    """The request's life in one placement as the steps run it: the create (whose answer the
    submit step tells the placer at once), then following its job."""

    async def attempt(alternative: Alternative, placement: Placement) -> Placed:
        body = alternative.body_of(WIRE)
        try:
            job_id = await cloud.create(alternative)
        except StageFailure as failure:
            placer.create_answered(body, failure)
            raise
        placer.create_answered(body, None)
        result = await (follow or cloud.follow)(alternative, job_id)
        return Placed(result, alternative, placement)

    return attempt


def _attempts(*items: tuple[str, str | None, str | None]) -> list[PlacementAttempt]:
    return [PlacementAttempt(flavorRef=f, availability_zone=z, code=c) for f, z, c in items]


async def _place(
    placer: Placer, cloud: FakeCloud, found: tuple[Alternative, ...], **kw: Any
) -> Any:
    return await placer.place(found, attempt=attempt_with(placer, cloud), **kw)


async def test_sold_out_at_create_time_moves_to_the_next_zone_with_its_own_token() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"})
    observer = RecordingObserver()
    placer = Placer(observer=observer, clock=lambda: 5.0)
    found = alts("@az2,c7@az3")
    placed = await _place(placer, cloud, found)
    assert placed.result == "servers of job-0"
    assert placed.alternative == found[1]
    assert cloud.sent == [OWN, ("s6.small.1", "az2")]
    assert list(cloud.created) == [found[1].token]
    assert placed.placement.flavorRef == "s6.small.1"
    assert placed.placement.availability_zone == "az2"
    assert placed.placement.attempts == _attempts(
        ("s6.small.1", "az1", "Ecs.0319"), ("s6.small.1", "az2", None)
    )
    assert placed.placement.skipped == []
    assert placer.memory.status(found[0].offering, 5.0) == "sold_out"
    assert placer.memory.status(found[1].offering, 5.0) == "available"
    assert observer.seen == [
        ("tried", "s6.small.1", "az1"),
        ("sold_out", "s6.small.1", "az1"),
        ("tried", "s6.small.1", "az2"),
    ]


async def test_sold_out_in_the_job_moves_to_the_next_flavor_and_zone() -> None:
    cloud = FakeCloud(in_job={OWN})
    placer = Placer()
    found = alts("c7.large.2@az2")
    placed = await _place(placer, cloud, found)
    assert placed.result == "servers of job-1"
    assert cloud.created == Counter({found[0].token: 1, found[1].token: 1})
    assert placed.placement.attempts == _attempts(
        ("s6.small.1", "az1", "Ecs.0319"), ("c7.large.2", "az2", None)
    )
    assert placer.memory.status(found[0].offering, placer.clock()) == "sold_out"


async def test_every_placement_sold_out_is_capacity_exhausted_retryable_with_every_attempt() -> (
    None
):
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"}, in_job={("c7", "az2")})
    cloud.at_create[("s6.small.1", "az3")] = "Ecs.0044"  # a disk type sold out in that zone
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts("c7@az2,@az3"))
    failure = raised.value
    assert failure.code == WorkerErrorCode.CAPACITY_EXHAUSTED
    assert failure.retryable
    assert failure.stage is FailureStage.SUBMIT  # the last answer's stage
    assert failure.message == (
        "every placement was sold out: s6.small.1@az1 Ecs.0319, c7@az2 Ecs.0319, "
        "s6.small.1@az3 Ecs.0044"
    )
    assert failure.placement is not None
    assert failure.placement.availability_zone == "az3"
    assert [a.code for a in failure.placement.attempts] == ["Ecs.0319", "Ecs.0319", "Ecs.0044"]


async def test_the_last_sold_out_job_lends_the_failure_its_job_fields() -> None:
    cloud = FakeCloud(in_job={OWN, ("c7", "az2")})
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts("c7@az2"))
    failure = raised.value
    assert failure.code == WorkerErrorCode.CAPACITY_EXHAUSTED
    assert failure.stage is FailureStage.JOB
    assert failure.job_id == "job-1"
    assert len(failure.sub_jobs) == 2


async def test_without_alternatives_the_api_s_code_stands_as_before() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"})
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts(""))
    failure = raised.value
    assert failure.code == "Ecs.0319"
    assert not failure.retryable
    assert failure.placement is not None
    assert failure.placement.attempts == _attempts(("s6.small.1", "az1", "Ecs.0319"))


@pytest.mark.parametrize("code", ["Ecs.0001", "Ecs.0021"])
async def test_a_quota_answer_fails_at_once_without_trying_further(code: str) -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0319", ("c7", "az2"): code})
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts("c7@az2,c8@az3"))
    failure = raised.value
    assert failure.code == code
    assert cloud.sent == [OWN, ("c7", "az2")]
    assert failure.placement is not None
    assert [a.code for a in failure.placement.attempts] == ["Ecs.0319", code]


async def test_any_other_failure_ends_the_request_with_its_own_code() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0005"})
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts("c7@az2"))
    assert raised.value.code == "Ecs.0005"
    assert cloud.sent == [OWN]


async def test_a_sold_out_job_that_built_servers_ends_the_request_when_they_are_kept() -> None:
    cloud = FakeCloud(in_job={OWN}, built_before_failing=1)
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts("c7@az2"))
    failure = raised.value
    assert failure.code == "Ecs.0319"  # the job's own failure: its built server is listed
    assert failure.server_ids[0] == "job-0-built-0"
    assert cloud.sent == [OWN]
    assert failure.placement is not None
    assert len(failure.placement.attempts) == 1


async def test_a_sold_out_job_whose_built_servers_were_deleted_moves_on() -> None:
    cloud = FakeCloud(in_job={OWN}, built_before_failing=1)

    async def follow_and_compensate(alternative: Alternative, job_id: str) -> str:
        try:
            return await cloud.follow(alternative, job_id)
        except StageFailure as failure:
            deleted = [s.server_id or "" for s in failure.sub_jobs if s.status == "SUCCESS"]
            failure.compensation = Compensation(action="delete", deleted=deleted, not_deleted=[])
            raise

    found = alts("c7@az2")
    placer = Placer()
    placed = await placer.place(found, attempt=attempt_with(placer, cloud, follow_and_compensate))
    assert placed.alternative == found[1]


def _forbid(rules: Rules) -> Any:
    def forbidden(alternative: Alternative) -> list[Violation]:
        return violations(rules, alternative.body_of(WIRE))

    return forbidden


async def test_a_forbidden_alternative_is_skipped_and_reported_never_tried() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"})
    observer = RecordingObserver()
    rules = Rules(flavors=Patterns(deny=["gpu.*"]))
    placed = await _place(
        Placer(observer=observer), cloud, alts("gpu.p2@az2,c7@az3"), forbidden=_forbid(rules)
    )
    assert cloud.sent == [OWN, ("c7", "az3")]
    assert placed.placement.skipped == [
        PlacementSkip(flavorRef="gpu.p2", availability_zone="az2", reason="policy")
    ]
    assert ("policy", "gpu.p2", "az2") in observer.seen


async def test_everything_forbidden_is_today_s_policy_failure_of_the_body() -> None:
    rules = Rules(availability_zones=Patterns(allow=["az9"]))
    cloud = FakeCloud()
    with pytest.raises(StageFailure) as raised:
        await _place(Placer(), cloud, alts("@az2"), forbidden=_forbid(rules))
    failure = raised.value
    assert failure.stage is FailureStage.POLICY
    assert failure.code == WorkerErrorCode.POLICY_VIOLATION
    assert failure.message.startswith(
        "the request breaks the platform's policy (and its 1 alternative(s)): "
        "server.availability_zone: az1 is not allowed"
    )
    assert failure.details == [
        {
            "rule": "availability_zones",
            "path": "server.availability_zone",
            "message": "az1 is not allowed (allowed: az9)",
        }
    ]
    assert cloud.sent == []
    alone = await _failure(_place(Placer(), cloud, alts(""), forbidden=_forbid(rules)))
    assert alone.message.startswith("the request breaks the platform's policy: server.")


async def _failure(coroutine: Any) -> StageFailure:
    with pytest.raises(StageFailure) as raised:
        await coroutine
    return raised.value


async def test_the_memory_spares_later_requests_the_sold_out_offering_until_it_expires() -> None:
    now = [0.0]
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"})
    placer = Placer(memory=CapacityMemory(ttl_seconds=180), clock=lambda: now[0])
    await _place(placer, cloud, alts("@az2", key="first"))
    now[0] = 100.0
    second = await _place(placer, cloud, alts("@az2", key="second"))
    assert cloud.sent == [OWN, ("s6.small.1", "az2"), ("s6.small.1", "az2")]
    assert second.placement.skipped == [
        PlacementSkip(flavorRef="s6.small.1", availability_zone="az1", reason="sold_out_recently")
    ]
    now[0] = 181.0
    cloud.at_create.clear()  # capacity came back
    third = await _place(placer, cloud, alts("@az2", key="third"))
    assert third.alternative.index == 0


async def test_a_disk_type_sold_out_is_not_remembered_for_the_flavor() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0044"})
    placer = Placer()
    await _place(placer, cloud, alts("@az2"))
    assert placer.memory.status(alts("")[0].offering, placer.clock()) == "unknown"


async def test_all_cached_sold_out_still_tries_the_first_once() -> None:
    placer = Placer()
    for alternative in alts("@az2"):
        placer.memory.mark_sold_out(alternative.offering, placer.clock())
    cloud = FakeCloud()  # capacity is back; the memory is stale
    placed = await _place(placer, cloud, alts("@az2"))
    assert cloud.sent == [OWN]
    assert placed.placement.skipped == []  # the alternatives after the one that took it: unused
    assert placer.memory.status(placed.alternative.offering, placer.clock()) == "available"


async def test_ten_requests_for_an_unknown_sold_out_offering_cost_one_create_of_it() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"}, delay=0.01)
    placer = Placer()
    results = await asyncio.gather(
        *(_place(placer, cloud, alts("@az2", key=f"req-{i}")) for i in range(10))
    )
    assert cloud.sent.count(OWN) == 1
    assert all(r.alternative.availability_zone == "az2" for r in results)
    assert sum(r.placement.skipped != [] for r in results) == 9


async def test_ten_requests_for_an_unknown_available_offering_wait_only_for_the_first_answer() -> (
    None
):
    cloud = FakeCloud(delay=0.01)
    placer = Placer()
    results = await asyncio.gather(
        *(_place(placer, cloud, alts("@az2", key=f"req-{i}")) for i in range(10))
    )
    assert cloud.sent == [OWN] * 10
    assert all(r.alternative.index == 0 for r in results)


async def test_a_request_without_anywhere_else_to_go_does_not_wait_for_a_probe() -> None:
    cloud = FakeCloud(at_create={OWN: "Ecs.0319"}, delay=0.01)
    placer = Placer()
    outcomes = await asyncio.gather(
        _place(placer, cloud, alts("@az2", key="a")),
        _place(placer, cloud, alts("", key="b")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], StageFailure)
    assert cloud.sent[:2] == [OWN, OWN]  # both asked at once


async def test_a_redelivery_after_a_crash_mid_fallback_creates_no_placement_twice() -> None:
    cloud = FakeCloud(in_job={OWN})
    found = alts("c7@az2,c8@az3")
    crashed = asyncio.Event()

    async def follow_until_crash(alternative: Alternative, job_id: str) -> str:
        if alternative.index == 1:
            crashed.set()
            await asyncio.Event().wait()  # the pod dies while following the second job
        return await cloud.follow(alternative, job_id)

    pod = Placer()
    first_pod = asyncio.create_task(
        pod.place(found, attempt=attempt_with(pod, cloud, follow_until_crash))
    )
    await crashed.wait()
    first_pod.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first_pod
    redelivered = alts("c7@az2,c8@az3")  # a new pod, an empty memory, the same record
    placed = await _place(Placer(), cloud, redelivered)
    assert placed.alternative == found[1]
    assert cloud.created == Counter({found[0].token: 1, found[1].token: 1})
    assert cloud.sent == [OWN, ("c7", "az2"), OWN, ("c7", "az2")]  # replays, not creates

"""Capacity-aware placement (issue 27) end to end: real broker, real simulator over HTTP, the
worker in-process (or as a process, when it must be SIGKILLed).

Each request asks for `s6.small.1` x2 in `az1`; the simulator's `sold_out` fault makes offerings
answer Ecs.0319 at create time (`sold_out_job_rate` 0) or in the failed job (1). The API's view
(`/_sim/stats`: servers per client token, creates, injected faults) is the proof of what was
sent: alternative i has the token `placement_token(request token, flavor, zone)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecsp_contract.idempotency import client_token
from tests.support import secrets
from tests.support.bodies import server_body
from tests.support.kafka import by_key, read_all
from tests.support.metrics import sample
from tests.support.stack import Stack, stack, start_worker_process
from worker.pipeline.alternatives import placement_token
from worker.simulator.knobs import Faults

FALLBACKS = "ecs-fallbacks"
CREATES = "POST /v1.1/{project_id}/cloudservers"
FAST_JOBS = (0.2, 0.3)


def request(zone: str = "az1") -> dict[str, Any]:
    return server_body(count=2, availability_zone=zone)


def fallbacks(header: str) -> list[tuple[str, bytes]]:
    return [(FALLBACKS, header.encode())]


def token_of(key: str, flavor: str, zone: str) -> str:
    return placement_token(client_token(key), flavor, zone)


def attempts(data: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [
        (a["flavorRef"], a["availability_zone"], a["code"]) for a in data["placement"]["attempts"]
    ]


def skipped(data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [
        (s["flavorRef"], s["availability_zone"], s["reason"]) for s in data["placement"]["skipped"]
    ]


async def one_outcome(s: Stack, key: str, header: str) -> tuple[str, dict[str, Any]]:
    await s.publish([(key, request())], headers=fallbacks(header))
    (record,) = await s.outcomes(1)
    event = record.json()
    assert event["subject"] == key
    return event["type"], event["data"]


async def test_a_zone_sold_out_at_create_time_is_created_in_the_next_zone(
    kafka_bootstrap: str,
) -> None:
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)
    async with stack(kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults) as s:
        kind, data = await one_outcome(s, "zone", "@az2")
        (submitted,) = await s.progress(1)
        stats = await s.sim("GET", "/_sim/stats")
        tried = sample(s.metrics, "ecsp_placement_tried_total", flavor="s6.small.1", zone="az1")
        sold_out = sample(
            s.metrics, "ecsp_placement_sold_out_total", flavor="s6.small.1", zone="az1"
        )

    assert kind == "ecs.provisioning.succeeded"
    assert len(data["server_ids"]) == 2
    assert (data["placement"]["flavorRef"], data["placement"]["availability_zone"]) == (
        "s6.small.1",
        "az2",
    )
    assert attempts(data) == [("s6.small.1", "az1", "Ecs.0319"), ("s6.small.1", "az2", None)]
    assert skipped(data) == []
    assert data["client_token"] == client_token("zone")  # the request's own, as always
    assert submitted.json()["data"]["job_id"] == data["job_id"]  # the job of the alternative
    assert stats["faults_injected"]["sold_out_at_create"] == 1
    assert stats["servers_by_token"] == {token_of("zone", "s6.small.1", "az2"): 2}
    assert (tried, sold_out) == (1, 1)


async def test_a_flavor_sold_out_in_its_job_is_created_as_another_flavor_in_another_zone(
    kafka_bootstrap: str,
) -> None:
    faults = Faults(sold_out=("s6.small.1@*",), sold_out_job_rate=1.0)
    async with stack(kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults) as s:
        kind, data = await one_outcome(s, "flavor-zone", "c7.large.2@az3")
        stats = await s.sim("GET", "/_sim/stats")

    assert kind == "ecs.provisioning.succeeded"
    assert (data["placement"]["flavorRef"], data["placement"]["availability_zone"]) == (
        "c7.large.2",
        "az3",
    )
    assert attempts(data) == [("s6.small.1", "az1", "Ecs.0319"), ("c7.large.2", "az3", None)]
    # the sold-out job was accepted (its servers counted, then failed): each token created once
    assert stats["servers_by_token"] == {
        client_token("flavor-zone"): 2,
        token_of("flavor-zone", "c7.large.2", "az3"): 2,
    }
    assert stats["jobs_by_status"] == {"FAIL": 1, "SUCCESS": 1}
    # the job and sub-jobs are the alternative's, not the sold-out one's
    assert [sub["status"] for sub in data["sub_jobs"]] == ["SUCCESS", "SUCCESS"]


async def test_every_alternative_sold_out_fails_capacity_exhausted_retryable_with_all_attempts(
    kafka_bootstrap: str,
) -> None:
    faults = Faults(sold_out=("*@*",), sold_out_job_rate=0.0)
    async with stack(kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults) as s:
        kind, data = await one_outcome(s, "exhausted", "@az2,c7.large.2@az3")
        stats = await s.sim("GET", "/_sim/stats")

    assert kind == "ecs.provisioning.failed"
    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "submit",
        "ECSP.CapacityExhausted",
        True,
    )
    assert attempts(data) == [
        ("s6.small.1", "az1", "Ecs.0319"),
        ("s6.small.1", "az2", "Ecs.0319"),
        ("c7.large.2", "az3", "Ecs.0319"),
    ]
    assert (data["placement"]["flavorRef"], data["placement"]["availability_zone"]) == (
        "c7.large.2",
        "az3",
    )
    assert data["error"]["message"].startswith("every placement was sold out: ")
    assert stats["faults_injected"]["sold_out_at_create"] == 3
    assert stats["servers_by_token"] == {}


async def test_without_the_header_no_fallback_is_invented_and_placement_is_null(
    kafka_bootstrap: str,
) -> None:
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)
    async with stack(kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults) as s:
        await s.publish([("sold-out", request("az1")), ("available", request("az2"))])
        events = by_key(await s.outcomes(2))
        stats = await s.sim("GET", "/_sim/stats")

    (sold_out,) = events["sold-out"]
    (available,) = events["available"]
    assert sold_out["type"] == "ecs.provisioning.failed"
    assert (sold_out["data"]["stage"], sold_out["data"]["error"]["code"]) == ("submit", "Ecs.0319")
    assert sold_out["data"]["retryable"] is False  # the API's own answer, as before placement
    assert sold_out["data"]["placement"] is None
    assert available["type"] == "ecs.provisioning.succeeded"
    assert available["data"]["placement"] is None
    assert stats["requests_by_operation"][CREATES] == 2  # one create each: nothing else tried
    assert stats["servers_by_token"] == {client_token("available"): 2}


async def test_an_alternative_the_policy_forbids_is_skipped_and_never_sent(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('default:\n  flavors: {allow: ["s6.*"]}\n')
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)
    async with stack(
        kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults, ECSP_POLICY_FILE=str(policy)
    ) as s:
        kind, data = await one_outcome(s, "forbidden", "c7.large.2@az2,@az3")
        stats = await s.sim("GET", "/_sim/stats")
        skipped_metric = sample(
            s.metrics,
            "ecsp_placement_skipped_total",
            flavor="c7.large.2",
            zone="az2",
            reason="policy",
        )

    assert kind == "ecs.provisioning.succeeded"
    assert attempts(data) == [("s6.small.1", "az1", "Ecs.0319"), ("s6.small.1", "az3", None)]
    assert skipped(data) == [("c7.large.2", "az2", "policy")]
    assert stats["requests_by_operation"][CREATES] == 2  # the forbidden one never reached the API
    assert stats["servers_by_token"] == {token_of("forbidden", "s6.small.1", "az3"): 2}
    assert skipped_metric == 1


async def test_ten_requests_for_a_sold_out_offering_at_once_try_it_at_most_once(
    kafka_bootstrap: str,
) -> None:
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)
    keys = [f"burst-{i}" for i in range(10)]
    async with stack(kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults) as s:
        await s.publish([(key, request()) for key in keys], headers=fallbacks("@az2"))
        events = by_key(await s.outcomes(10))
        stats = await s.sim("GET", "/_sim/stats")
        remembered = sample(
            s.metrics,
            "ecsp_placement_skipped_total",
            flavor="s6.small.1",
            zone="az1",
            reason="sold_out_recently",
        )

    assert set(events) == set(keys)
    data = [e[0]["data"] for e in events.values()]
    assert {e[0]["type"] for e in events.values()} == {"ecs.provisioning.succeeded"}
    assert stats["faults_injected"]["sold_out_at_create"] == 1  # az1 was asked once in all
    assert stats["requests_by_operation"][CREATES] == 11
    tried_az1 = [d for d in data if ("s6.small.1", "az1", "Ecs.0319") in attempts(d)]
    assert len(tried_az1) == 1
    others = [d for d in data if d not in tried_az1]
    assert all(skipped(d) == [("s6.small.1", "az1", "sold_out_recently")] for d in others)
    assert all(attempts(d) == [("s6.small.1", "az2", None)] for d in others)
    assert remembered == 9
    assert stats["servers_by_token"] == {token_of(key, "s6.small.1", "az2"): 2 for key in keys}


async def test_a_quota_answer_fails_at_once_and_no_further_alternative_is_tried(
    kafka_bootstrap: str,
) -> None:
    faults = Faults(
        sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0, quota_exceeded=("c7.8xlarge.2@*",)
    )
    async with stack(kafka_bootstrap, job_seconds=FAST_JOBS, faults=faults) as s:
        kind, data = await one_outcome(s, "quota", "c7.8xlarge.2@az2,c6.large.2@az3")
        stats = await s.sim("GET", "/_sim/stats")

    assert kind == "ecs.provisioning.failed"
    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "submit",
        "Ecs.0001",
        False,
    )
    assert attempts(data) == [
        ("s6.small.1", "az1", "Ecs.0319"),
        ("c7.8xlarge.2", "az2", "Ecs.0001"),
    ]
    assert stats["faults_injected"]["quota_exceeded"] == 1
    assert stats["requests_by_operation"][CREATES] == 2  # c6.large.2@az3 never asked
    assert stats["servers_by_token"] == {}


async def test_sigkill_while_following_an_alternatives_job_then_a_new_worker_creates_nothing_twice(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The body's placement is sold out in its job; the worker is killed while it follows the
    first alternative's job; a new worker (same static member, so it takes the partition over at
    once, with an empty capacity memory) finds the alternative's servers by their token tag,
    resumes there and gets its first job back."""
    key = "killed-mid-fallback"
    faults = Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=1.0)
    async with stack(
        kafka_bootstrap,
        job_seconds=(3.0, 3.0),
        faults=faults,
        in_process_worker=False,
        ECSP_GROUP_INSTANCE_ID="placement-pod-0",
    ) as s:
        log = tmp_path / "worker.log"
        first = start_worker_process(s.env, log)
        try:
            await s.publish([(key, request())], headers=fallbacks("@az2,@az3"))
            # alternative 0's job (sold out in the job), then alternative 1's
            submitted = await s.progress(2, timeout=60)
        finally:
            first.kill()
        assert first.process.returncode == -9
        at_kill = await s.sim("GET", "/_sim/stats")

        second = start_worker_process(s.env, log)
        try:
            (outcome,) = await s.outcomes(1, timeout=60)
            assert second.terminate() == 0  # drained: every event it had is published
        finally:
            if second.process.poll() is None:
                second.kill()
        stats = await s.sim("GET", "/_sim/stats")
        settings = s.settings
        every_event = await read_all(
            kafka_bootstrap, {settings.topic_results: 1, settings.topic_failures: 1}
        )

    # killed while following: alternative 1's job had not ended even after the kill
    assert at_kill["jobs_by_status"].get("FAIL") == 1
    assert "SUCCESS" not in at_kill["jobs_by_status"]
    assert len(submitted) == 2
    data = outcome.json()["data"]
    assert outcome.json()["type"] == "ecs.provisioning.succeeded"
    assert attempts(data) == [("s6.small.1", "az2", None)]  # resumed where the servers are
    assert data["job_id"] == submitted[1].json()["data"]["job_id"]  # the job it was following
    assert stats["creates"] == 2  # one per token
    assert stats["replays"] == 1  # the alternative's create answered with its first job
    assert stats["servers_by_token"] == {
        client_token(key): 2,
        token_of(key, "s6.small.1", "az2"): 2,
    }
    assert [r.key for r in every_event] == [key.encode()]  # exactly one terminal event
    text = log.read_text()
    for secret in secrets.ALL:
        assert secret not in text

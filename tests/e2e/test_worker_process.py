"""The worker as an operator runs it: a separate `ecs-provisioner run` process.

SIGKILL between create and the job's end must not lose the request nor create a second server;
SIGTERM must drain and exit 0; a second member joining the group must not break anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ecsp_contract.idempotency import client_token
from tests.support import secrets
from tests.support.kafka import wait_for
from tests.support.stack import example, in_process, settings_from, stack, start_worker_process


async def test_sigkill_after_create_then_restart_completes_with_one_server(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with stack(kafka_bootstrap, job_seconds=(4.0, 4.0), in_process_worker=False) as s:
        log = tmp_path / "worker.log"
        first = start_worker_process(s.env, log)
        try:
            await s.publish([("killed-mid-job", example("01-prepaid-keypair.json"))])
            (submitted,) = await s.progress(1, timeout=60)
            assert submitted.json()["type"] == "ecs.provisioning.submitted"
        finally:
            first.kill()
        assert first.process.returncode == -9

        second = start_worker_process(s.env, log)
        try:
            (outcome,) = await s.outcomes(1, timeout=60)
            assert second.terminate() == 0
        finally:
            if second.process.poll() is None:
                second.kill()
        stats = await s.sim("GET", "/_sim/stats")

    assert outcome.json()["type"] == "ecs.provisioning.succeeded"
    assert outcome.json()["data"]["job_id"] == submitted.json()["data"]["job_id"]
    assert stats["servers_by_token"] == {client_token("killed-mid-job"): 1}
    text = log.read_text()
    assert "worker started" in text
    for secret in secrets.ALL:
        assert secret not in text


async def test_sigterm_drains_and_exits_zero(kafka_bootstrap: str, tmp_path: Path) -> None:
    async with stack(kafka_bootstrap, job_seconds=(0.2, 0.2), in_process_worker=False) as s:
        worker = start_worker_process(s.env, tmp_path / "worker.log")
        try:
            await s.publish([("drained", example("05-dry-run.json"))])
            await s.outcomes(1, timeout=60)
        finally:
            code = worker.terminate()
    assert code == 0
    assert "worker stopped" in worker.log_text()


async def test_second_member_joins_and_every_request_finishes_once(kafka_bootstrap: str) -> None:
    async with stack(kafka_bootstrap, partitions=4, job_seconds=(0.5, 1.0)) as s:
        bodies = []
        for i in range(24):
            body = example("01-prepaid-keypair.json")
            body["server"]["name"] = f"rebalance-{i}"
            bodies.append((f"rb-{i}", body))
        await s.publish(bodies[:12])
        async with in_process(settings_from(s.env)) as second_metrics:
            await wait_for(
                lambda: (
                    (second_metrics.registry.get_sample_value("ecsp_partitions_assigned") or 0) > 0
                ),
                30,
            )
            await s.publish(bodies[12:])
            records = await s.outcomes(24, timeout=90)
            await asyncio.sleep(0.5)
        stats = await s.sim("GET", "/_sim/stats")

    keys = {r.key for r in records}
    assert keys == {k.encode() for k, _ in bodies}
    assert all(r.json()["type"] == "ecs.provisioning.succeeded" for r in records)
    assert all(n == 1 for n in stats["servers_by_token"].values())


async def test_revocation_abandons_long_jobs_within_the_grace_and_nothing_is_created_twice(
    kafka_bootstrap: str,
) -> None:
    """Jobs take 16 s; the revoke grace is 1 s: a joining member must get its partitions long
    before the jobs end, and the abandoned requests are redone with the same token. (The bound
    leaves room for the joining worker's own start on a loaded machine; a grace that waited for
    the jobs would take ~16 s.)"""
    async with stack(
        kafka_bootstrap, partitions=2, job_seconds=(16.0, 16.0), ECSP_REVOKE_GRACE_SECONDS="1"
    ) as s:
        bodies = []
        for i in range(4):
            body = example("01-prepaid-keypair.json")
            body["server"]["name"] = f"long-{i}"
            bodies.append((f"long-{i}", body))
        await s.publish(bodies)
        await s.progress(4, timeout=30)  # the first member created all four
        joined_at = asyncio.get_running_loop().time()
        async with in_process(settings_from(s.env)) as second:
            await wait_for(
                lambda: (second.registry.get_sample_value("ecsp_partitions_assigned") or 0) > 0,
                timeout=30,
            )
            rebalance_took = asyncio.get_running_loop().time() - joined_at
            records = await s.outcomes(4, timeout=60)
        stats = await s.sim("GET", "/_sim/stats")

    assert rebalance_took < 11.0  # bounded by the grace, not by the 16 s jobs
    assert {r.key for r in records} == {k.encode() for k, _ in bodies}
    assert all(r.json()["type"] == "ecs.provisioning.succeeded" for r in records)
    assert all(n == 1 for n in stats["servers_by_token"].values())
    assert len(stats["servers_by_token"]) == 4

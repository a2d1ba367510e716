"""Issues 16 and 25 end to end, real broker and worker: after the simulator's token window the
same key is reconciled by its tags (no second create) or fails `token_expired` when its servers
are gone; a count-3 batch whose job fails on one sub-job has its two servers deleted exactly
once, even when the worker process is killed (SIGKILL) in the middle of the deletion. A
publisher cannot forge the worker's tags to have another key reconciled with its servers, nor
replay a key with `ecs-on-partial-failure: delete` to delete the servers its first create kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from ecsp_contract.idempotency import client_token
from tests.support import secrets
from tests.support.bodies import server_body
from tests.support.ecs_client import layered_client
from tests.support.kafka import wait_for
from tests.support.stack import PROJECT, Stack, stack, start_worker_process
from worker.ecs.auth import AkSkAuth
from worker.ecs.credentials import Credential
from worker.simulator.knobs import Faults

WINDOW = 3.0


async def _delete(s: Stack, server_ids: list[str]) -> None:
    """Deletes servers through the API, as an operator would between the two deliveries."""
    async with aiohttp.ClientSession() as session:
        client = layered_client(
            session, s.base_url, AkSkAuth(Credential(secrets.TEST_AK, secrets.TEST_SK))
        )
        await client.delete_servers(PROJECT, server_ids, delete_publicip=False, delete_volume=False)


async def _wait_past_the_window(since: float) -> None:
    await asyncio.sleep(max(0.0, since + WINDOW + 0.5 - time.monotonic()))


def _data(record: Any) -> dict[str, Any]:
    result: dict[str, Any] = record.json()["data"]
    return result


async def test_after_the_token_window_the_same_key_is_reconciled_or_fails_listing_none(
    kafka_bootstrap: str,
) -> None:
    async with stack(
        kafka_bootstrap,
        job_seconds=(0.2, 0.2),
        token_ttl_seconds=WINDOW,
        ECSP_TOKEN_WINDOW_SECONDS=str(WINDOW),
    ) as s:
        await s.publish([("kept", server_body(count=2)), ("deleted", server_body())])
        first_kept, first_deleted = await s.outcomes(2, timeout=60)
        created_at = time.monotonic()
        assert first_kept.json()["type"] == "ecs.provisioning.succeeded"
        assert _data(first_kept)["tagging"] == "tagged"
        await _delete(s, _data(first_deleted)["server_ids"])
        await _wait_past_the_window(created_at)

        await s.publish([("kept", server_body(count=2)), ("deleted", server_body())])
        records = await s.outcomes(4, timeout=60)
        stats = await s.sim("GET", "/_sim/stats")

    kept, deleted = records[2:]
    assert kept.json()["type"] == "ecs.provisioning.succeeded"
    assert _data(kept)["reconciled"] is True
    assert sorted(_data(kept)["server_ids"]) == sorted(_data(first_kept)["server_ids"])
    assert {server["status"] for server in _data(kept)["servers"]} == {"ACTIVE"}
    assert deleted.json()["type"] == "ecs.provisioning.failed"
    assert _data(deleted)["stage"] == "token_expired"
    assert _data(deleted)["servers"] == []
    assert "found 0 of 1 servers" in _data(deleted)["error"]["message"]
    assert stats["creates"] == 2  # one per key: no second create after the window
    assert stats["servers_by_token"] == {client_token("kept"): 2, client_token("deleted"): 1}


async def test_sigkill_during_the_deletion_of_a_half_failed_batch_deletes_each_server_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with stack(
        kafka_bootstrap,
        job_seconds=(3.0, 3.0),  # the create job; the delete job is made longer below
        faults=Faults(partial_failure_rate=1.0),
        in_process_worker=False,
    ) as s:
        log = tmp_path / "worker.log"
        first = start_worker_process(s.env, log)
        try:
            await s.publish(
                [("half-failed", server_body(count=3))],
                headers=[("ecs-on-partial-failure", b"delete")],
            )

            async def created() -> bool:
                return bool((await s.sim("GET", "/_sim/stats"))["creates"] == 1)

            await wait_for(created, timeout=60, interval=0.05)
            # Deletions now take 25 s: longer than the group needs to hand the partition to the
            # second worker (10 s session timeout), so it finds them still running.
            await s.sim("POST", "/_sim/faults", {"job_seconds": [25, 25]})
            seen: list[dict[str, Any]] = []

            async def deletion_started() -> bool:
                seen.append(await s.sim("GET", "/_sim/stats"))
                return bool(seen[-1]["deletes"] >= 2)

            await wait_for(deletion_started, timeout=60, interval=0.05)
        finally:
            first.kill()
        assert first.process.returncode == -9
        at_kill = seen[-1]

        second = start_worker_process(s.env, log)
        try:
            (outcome,) = await s.outcomes(1, timeout=90)
            assert second.terminate() == 0
        finally:
            if second.process.poll() is None:
                second.kill()
        final = await s.sim("GET", "/_sim/stats")

    assert "DELETED" not in at_kill["servers_by_status"]  # killed while the deletion ran
    failed = _data(outcome)
    assert outcome.json()["type"] == "ecs.provisioning.failed"
    assert failed["stage"] == "job"
    built = sorted(sub["server_id"] for sub in failed["sub_jobs"] if sub["status"] == "SUCCESS")
    assert len(built) == 2
    assert failed["compensation"] == {"action": "delete", "deleted": built, "not_deleted": []}
    assert final["creates"] == 1
    assert final["deletes"] == 2  # each server's deletion started once
    assert final["deletes_repeated"] == 0  # and no delete call named it again
    assert final["servers_by_status"] == {"DELETED": 2}
    text = log.read_text()
    for secret in secrets.ALL:
        assert secret not in text


async def test_forged_worker_tags_are_refused_and_never_reconcile_another_key(
    kafka_bootstrap: str,
) -> None:
    victim_token = client_token("victim")
    forged = server_body(server_tags=[{"key": "ecsp-client-token", "value": victim_token}])
    legacy_forged = server_body(tags=[f"ecsp-client-token.{victim_token}"])
    async with stack(
        kafka_bootstrap,
        job_seconds=(0.2, 0.2),
        token_ttl_seconds=WINDOW,
        ECSP_TOKEN_WINDOW_SECONDS=str(WINDOW),
    ) as s:
        await s.publish([("victim", server_body())])
        (first,) = await s.outcomes(1, timeout=60)
        created_at = time.monotonic()
        await s.publish([("attacker", forged), ("attacker-2", legacy_forged)])
        await _wait_past_the_window(created_at)
        await s.publish([("victim", server_body())])
        records = await s.outcomes(4, timeout=60)
        stats = await s.sim("GET", "/_sim/stats")

    attacks = [_data(record) for record in records[1:3]]
    assert [(a["stage"], a["error"]["code"]) for a in attacks] == [
        ("validate", "ECSP.ReservedTag")
    ] * 2
    again = _data(records[3])
    assert again["reconciled"] is True
    assert again["server_ids"] == _data(first)["server_ids"]  # the victim's own, nothing else
    assert stats["servers_by_token"] == {victim_token: 1}


async def test_a_replay_with_the_delete_header_does_not_delete_the_servers_kept_by_the_first(
    kafka_bootstrap: str,
) -> None:
    async with stack(
        kafka_bootstrap, job_seconds=(0.2, 0.2), faults=Faults(partial_failure_rate=1.0)
    ) as s:
        await s.publish([("kept-batch", server_body(count=3))])
        (first,) = await s.outcomes(1, timeout=60)
        copied = _data(first)["request"]  # anyone who reads the failed event can copy it
        await s.publish([("kept-batch", copied)], headers=[("ecs-on-partial-failure", b"delete")])
        records = await s.outcomes(2, timeout=60)
        stats = await s.sim("GET", "/_sim/stats")

    kept, replay = _data(first), _data(records[1])
    built = sorted(sub["server_id"] for sub in kept["sub_jobs"] if sub["status"] == "SUCCESS")
    assert len(built) == 2
    assert kept["compensation"] is None
    assert replay["job_id"] == kept["job_id"]
    assert replay["compensation"]["deleted"] == []
    assert [n["server_id"] for n in replay["compensation"]["not_deleted"]] == built
    assert (stats["creates"], stats["deletes"]) == (1, 0)
    assert stats["servers_by_status"] == {"ACTIVE": 2}

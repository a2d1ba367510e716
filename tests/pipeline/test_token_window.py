"""Tags, reconciliation after the token window and compensation of half-failed batches: the
pipeline with the real client against the simulator (no broker), the simulator's clock moved by
hand past its token window. Servers an earlier release created, or a publisher forged tags for,
are made with the client directly (the simulator, like the API, accepts any tag)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.idempotency import client_token
from ecsp_contract.verdict import check_body
from tests.support.bodies import server_body
from tests.support.clock import FakeClock
from tests.support.ecs_client import layered_client
from tests.support.pipeline import pipeline_for
from worker.ecs.auth import AkSkAuth
from worker.ecs.client import EcsClient
from worker.ecs.credentials import Credential
from worker.ecs.errors import EcsApiError
from worker.ecs.retry import RetryConfig
from worker.ecs.servers import ServerQuery
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings
from worker.pipeline.observer import PipelineObserver, SilentObserver
from worker.pipeline.port import InboundMessage
from worker.pipeline.secrets import SecretSource
from worker.pipeline.tagging import (
    TOKEN_TAG_KEY,
    RequestTag,
    create_bodies,
    request_digest,
    tag_body,
)
from worker.simulator.knobs import Faults, SimulatorConfig
from worker.simulator.serving import running_simulator

AK, SK = "RECONCILEAK000000001", "reconcile-secret-1"
PROJECT = "0123456789abcdef0123456789abcdef"
WINDOW = 60.0


@dataclass
class World:
    """A simulator with a hand-moved clock, a client for it, and a way to run a request."""

    clock: FakeClock
    client: EcsClient
    base_url: str
    session: aiohttp.ClientSession

    async def run(
        self,
        document: dict[str, Any],
        key: str = "req-1",
        *,
        headers: tuple[tuple[str, bytes], ...] = (),
        age_seconds: float = 0.0,
        deadline: float = 10.0,
        observer: PipelineObserver | None = None,
        **overrides: Any,
    ) -> CloudEvent:
        settings = Settings(
            ecs_project_id=PROJECT,
            job_poll_initial_seconds=0.005,
            job_poll_max_seconds=0.02,
            request_deadline_seconds=deadline,
            token_window_seconds=WINDOW,
            **overrides,
        )
        pipeline = pipeline_for(
            settings,
            self.client,
            secrets=SecretSource("X_", None),
            observer=observer or SilentObserver(),
        )
        stamp = int((time.time() - age_seconds) * 1000)
        record = InboundMessage(
            "requests", 0, 1, key.encode(), json.dumps(document).encode(), headers, stamp
        )
        return await pipeline.process(record, None)

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base_url}/_sim/stats") as response:
            result: dict[str, Any] = await response.json()
            return result

    async def faults(self, **faults: Any) -> None:
        async with self.session.post(f"{self.base_url}/_sim/faults", json=faults) as response:
            assert response.status == 200

    async def delete(self, server_ids: list[str]) -> None:
        await self.client.delete_servers(
            PROJECT, server_ids, delete_publicip=False, delete_volume=False
        )


@asynccontextmanager
async def world(**faults: Any) -> AsyncIterator[World]:
    clock = FakeClock(time.time())
    config = SimulatorConfig(
        admin_routes=True,
        credentials={AK: SK},
        job_seconds=(0.0, 0.0),
        seed=5,
        token_ttl_seconds=WINDOW,
        skew_seconds=10**9,  # the client signs with the real time, the simulator jumps ahead
        clock=clock,
        faults=Faults(**faults),
    )
    policy = RetryConfig(max_attempts=2, base_delay=0.01, max_delay=0.02, deadline=5)
    async with running_simulator(config) as base_url, aiohttp.ClientSession() as session:
        client = layered_client(session, base_url, AkSkAuth(Credential(AK, SK)), retry=policy)
        yield World(clock, client, base_url, session)


def data(event: CloudEvent) -> dict[str, Any]:
    result: dict[str, Any] = event.model_dump(mode="json")["data"]
    return result


async def test_after_the_window_the_same_key_is_reconciled_by_tag_without_a_create() -> None:
    async with world() as w:
        first = data(await w.run(server_body(count=2)))
        assert first["tagging"] == "tagged"
        assert first["reconciled"] is False
        w.clock.advance(WINDOW + 1)

        again = await w.run(server_body(count=2))
        assert again.type == "ecs.provisioning.succeeded"
        second = data(again)
        assert second["reconciled"] is True
        assert sorted(second["server_ids"]) == sorted(first["server_ids"])
        assert {s["status"] for s in second["servers"]} == {"ACTIVE"}
        assert second["job_id"] is None
        stats = await w.stats()
        assert stats["creates"] == 1
        assert stats["servers_total"] == 2


async def test_after_the_window_with_the_servers_deleted_it_fails_listing_none() -> None:
    async with world() as w:
        first = data(await w.run(server_body()))
        await w.delete(first["server_ids"])
        w.clock.advance(WINDOW + 1)

        event = await w.run(server_body())
        failed = data(event)
        assert event.type == "ecs.provisioning.failed"
        assert failed["stage"] == "token_expired"
        assert failed["error"]["code"] == "Ecs.0124"
        assert "found 0 of 1 servers" in failed["error"]["message"]
        assert failed["servers"] == []
        assert failed["server_ids"] == []
        assert (await w.stats())["creates"] == 1


async def test_recreate_uses_a_derived_token_once_and_is_then_reconciled_by_it() -> None:
    async with world() as w:
        first = data(await w.run(server_body()))
        await w.delete(first["server_ids"])
        w.clock.advance(WINDOW + 1)

        redone = data(await w.run(server_body(), after_token_window="recreate"))
        assert redone["reconciled"] is False
        assert redone["server_ids"] != first["server_ids"]
        again = data(await w.run(server_body(), after_token_window="recreate"))  # replay
        assert again["server_ids"] == redone["server_ids"]
        w.clock.advance(WINDOW + 1)
        later = data(await w.run(server_body(), after_token_window="recreate"))
        assert later["reconciled"] is True
        assert later["server_ids"] == redone["server_ids"]
        stats = await w.stats()
        assert stats["creates"] == 2
        assert len(stats["servers_by_token"]) == 2
        assert client_token("req-1") in stats["servers_by_token"]


async def test_some_servers_found_fails_even_with_recreate() -> None:
    async with world() as w:
        first = data(await w.run(server_body(count=2)))
        await w.delete(first["server_ids"][:1])
        w.clock.advance(WINDOW + 1)
        failed = data(await w.run(server_body(count=2), after_token_window="recreate"))
        assert failed["stage"] == "token_expired"
        assert [s["server_id"] for s in failed["servers"]] == first["server_ids"][1:]
        assert (await w.stats())["creates"] == 1


async def test_a_record_older_than_the_window_is_looked_up_before_any_create() -> None:
    async with world() as w:
        first = data(await w.run(server_body()))
        before = await w.stats()
        # a deadline (counted from publishing) longer than the window, else the old record
        # would fail at `timeout` before anything is looked up
        # the deadline counts from publishing: it must outlast the record's age, else the old
        # record fails at `timeout` before anything is looked up
        old = data(await w.run(server_body(), age_seconds=WINDOW + 5, deadline=WINDOW * 3))
        assert old["reconciled"] is True
        assert old["server_ids"] == first["server_ids"]
        after = await w.stats()
        assert after["creates"] == before["creates"]
        assert after["replays"] == before["replays"]  # no create call at all

        fresh = data(
            await w.run(
                server_body(), key="never-seen", age_seconds=WINDOW + 5, deadline=WINDOW * 3
            )
        )
        assert fresh["reconciled"] is False  # nothing found: the API decided (a first create)
        assert (await w.stats())["creates"] == 2


async def test_a_request_first_submitted_untagged_is_answered_with_its_first_job() -> None:
    async with world() as w:
        token = client_token("req-1")
        legacy = await w.client.create_servers(server_body(), token, PROJECT)  # an old release

        event = data(await w.run(server_body()))
        assert event["tagging"] == "first_submitted_untagged"
        assert event["server_ids"] == list(legacy.server_ids)
        assert event["job_id"] == legacy.job_id
        assert (await w.stats())["creates"] == 1


async def test_a_real_conflict_stays_a_conflict() -> None:
    async with world() as w:
        await w.run(server_body(name="one"))
        failed = data(await w.run(server_body(name="two")))
        assert failed["stage"] == "conflict"
        assert failed["error"]["code"] == "Ecs.0122"


async def test_no_room_for_tags_goes_out_untagged_and_cannot_be_reconciled() -> None:
    async with world() as w:
        tags = [{"key": f"k{i}", "value": "v"} for i in range(9)]
        first = data(await w.run(server_body(server_tags=tags)))
        assert first["tagging"] == "no_room"
        w.clock.advance(WINDOW + 1)
        failed = data(await w.run(server_body(server_tags=tags)))
        assert failed["stage"] == "token_expired"
        assert "no token tag" in failed["error"]["message"]


async def test_partial_failure_with_delete_removes_the_built_servers_once() -> None:
    async with world(partial_failure_rate=1.0) as w:
        header = (("ecs-on-partial-failure", b"delete"),)
        event = await w.run(server_body(count=3), headers=header)
        failed = data(event)
        assert failed["stage"] == "job"
        built = sorted(s["server_id"] for s in failed["sub_jobs"] if s["status"] == "SUCCESS")
        assert len(built) == 2
        assert failed["compensation"] == {"action": "delete", "deleted": built, "not_deleted": []}
        stats = await w.stats()
        assert stats["deletes"] == 2
        assert stats["servers_by_status"] == {"DELETED": 2}

        redelivered = data(await w.run(server_body(count=3), headers=header))
        assert redelivered["compensation"] == failed["compensation"]
        stats = await w.stats()
        assert (stats["deletes"], stats["deletes_repeated"], stats["creates"]) == (2, 0, 1)


async def test_partial_failure_keeps_the_servers_by_default_and_the_setting_can_delete() -> None:
    async with world(partial_failure_rate=1.0) as w:
        kept = data(await w.run(server_body(count=2)))
        assert kept["compensation"] is None
        assert (await w.stats())["servers_by_status"] == {"ACTIVE": 1}
        deleted = data(await w.run(server_body(count=2), key="req-2", on_partial_failure="delete"))
        assert len(deleted["compensation"]["deleted"]) == 1
        header = (("ecs-on-partial-failure", b"keep"),)
        overridden = data(
            await w.run(
                server_body(count=2), key="req-3", headers=header, on_partial_failure="delete"
            )
        )
        assert overridden["compensation"] is None


async def test_a_bad_partial_failure_header_fails_validate_before_any_call() -> None:
    async with world() as w:
        header = (("ecs-on-partial-failure", b"remove"),)
        failed = data(await w.run(server_body(), headers=header))
        assert failed["stage"] == "validate"
        assert (await w.stats())["requests_total"] == 0


async def test_the_token_tag_names_the_request_token_and_the_deployment() -> None:
    async with world() as w:
        await w.run(server_body(), deployment_name="blue=prod")
        page = await w.client.list_servers(PROJECT, ServerQuery(), limit=10)
        (server,) = page.servers
        assert server.tags == (
            "ecsp-deployment=blue-prod",
            f"{TOKEN_TAG_KEY}={client_token('req-1')}",
            f"ecsp-request=keep.{request_digest(check_body(server_body()).wire)}",
        )


def forged_for(key: str) -> dict[str, Any]:
    """A body whose tags claim to be the worker's for `key`'s request (an earlier release sent a
    publisher's ecsp- tags unchanged)."""
    return server_body(
        server_tags=[
            {"key": "ecsp-deployment", "value": "ecs-provisioner"},
            {"key": TOKEN_TAG_KEY, "value": client_token(key)},
        ]
    )


async def test_servers_with_a_forged_token_tag_are_never_taken_for_the_request() -> None:
    async with world() as w:
        victim = data(await w.run(server_body()))
        forged = await w.client.create_servers(forged_for("req-1"), client_token("other"), PROJECT)
        w.clock.advance(WINDOW + 1)

        again = data(await w.run(server_body()))
        assert again["reconciled"] is True
        assert again["server_ids"] == victim["server_ids"]  # not the forged one

        await w.delete(victim["server_ids"])
        gone = await w.run(server_body())
        failed = data(gone)
        assert gone.type == "ecs.provisioning.failed"  # not "succeeded" with the forged server
        assert failed["stage"] == "token_expired"
        assert [s["server_id"] for s in failed["servers"]] == list(forged.server_ids)
        assert "not taken as this request's" in failed["error"]["message"]
        assert (await w.stats())["creates"] == 2


async def test_another_body_under_the_same_key_is_a_conflict_inside_and_after_the_window() -> None:
    async with world() as w:
        await w.run(server_body())
        inside = data(await w.run(server_body(flavorRef="s6.large.2")))
        assert (inside["stage"], inside["error"]["code"]) == ("conflict", "Ecs.0122")
        w.clock.advance(WINDOW + 1)
        after = data(await w.run(server_body(flavorRef="s6.large.2")))
        assert (after["stage"], after["error"]["code"]) == ("conflict", "ECSP.OtherBody")
        assert after["server_ids"] == []
        assert (await w.stats())["creates"] == 1


def _before_request_tag(document: dict[str, Any], key: str) -> dict[str, Any]:
    """The body the release before the request tag sent for `document` under `key`."""
    token = client_token(key)
    return tag_body(document, token=token, deployment_name="ecs-provisioner", request_tag=None).body


async def test_a_request_first_submitted_before_the_request_tag_gets_its_first_job() -> None:
    async with world() as w:
        token = client_token("req-1")
        legacy = await w.client.create_servers(
            _before_request_tag(server_body(), "req-1"), token, PROJECT
        )
        event = data(await w.run(server_body()))
        assert event["tagging"] == "first_submitted_before_request_tag"
        assert event["job_id"] == legacy.job_id
        assert (await w.stats())["creates"] == 1


async def test_after_the_window_servers_without_the_request_tag_are_listed_not_taken() -> None:
    """Servers of the release before the request tag cannot be told from forged ones: they are
    named in a token_expired failure, never reconciled (nor re-created over)."""
    async with world() as w:
        token = client_token("req-1")
        legacy = await w.client.create_servers(
            _before_request_tag(server_body(), "req-1"), token, PROJECT
        )
        w.clock.advance(WINDOW + 1)
        event = await w.run(server_body(), after_token_window="recreate")
        failed = data(event)
        assert failed["stage"] == "token_expired"
        assert failed["server_ids"] == list(legacy.server_ids)
        assert "no ecsp-request tag" in failed["error"]["message"]
        assert (await w.stats())["creates"] == 1


DELETE = (("ecs-on-partial-failure", b"delete"),)


async def test_a_replay_with_the_delete_header_cannot_delete_servers_the_first_create_kept() -> (
    None
):
    async with world(partial_failure_rate=1.0) as w:
        first = data(await w.run(server_body(count=3)))
        built = sorted(s["server_id"] for s in first["sub_jobs"] if s["status"] == "SUCCESS")
        assert first["compensation"] is None
        assert len(built) == 2

        replay = data(await w.run(server_body(count=3), headers=DELETE))
        assert replay["job_id"] == first["job_id"]  # the same job: the first create's choice
        compensation = replay["compensation"]
        assert compensation["deleted"] == []
        assert [n["server_id"] for n in compensation["not_deleted"]] == built
        assert "chose keep" in compensation["not_deleted"][0]["reason"]
        by_setting = data(await w.run(server_body(count=3), on_partial_failure="delete"))
        assert by_setting["compensation"]["deleted"] == []
        stats = await w.stats()
        assert (stats["creates"], stats["deletes"]) == (1, 0)
        assert stats["servers_by_status"] == {"ACTIVE": 2}


async def test_the_first_create_s_delete_choice_holds_for_a_replay_without_the_header() -> None:
    async with world(partial_failure_rate=1.0) as w:
        document = server_body(count=3)
        token = client_token("req-1")
        chosen = RequestTag(request_digest(check_body(document).wire), "delete")
        (first_body, *_) = create_bodies(
            document, token=token, deployment_name="ecs-provisioner", request_tag=chosen
        )
        await w.client.create_servers(first_body.body, token, PROJECT)  # then the worker died

        replay = data(await w.run(document))
        assert len(replay["compensation"]["deleted"]) == 2
        stats = await w.stats()
        assert (stats["creates"], stats["deletes"]) == (1, 2)


async def test_servers_created_without_the_request_tag_are_never_deleted() -> None:
    async with world(partial_failure_rate=1.0) as w:
        tags = [{"key": f"k{i}", "value": "v"} for i in range(9)]
        failed = data(await w.run(server_body(count=3, server_tags=tags), headers=DELETE))
        assert failed["tagging"] == "no_room"
        compensation = failed["compensation"]
        assert compensation["deleted"] == []
        assert len(compensation["not_deleted"]) == 2
        assert "tagging: no_room" in compensation["not_deleted"][0]["reason"]
        assert (await w.stats())["deletes"] == 0


async def test_an_operator_can_forbid_the_partial_failure_header() -> None:
    async with world() as w:
        failed = data(
            await w.run(server_body(), headers=DELETE, allow_partial_failure_header=False)
        )
        assert (failed["stage"], failed["error"]["code"]) == ("validate", "ECSP.InvalidRequest")
        assert failed["error"]["details"] == [
            {"path": "headers.ecs-on-partial-failure", "message": "not accepted"}
        ]
        assert (await w.stats())["requests_total"] == 0


async def test_servers_a_compensation_could_not_delete_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> str:
        raise EcsApiError("Ecs.0001", "quota exceeded", http_status=403)

    metrics = Metrics()
    async with world(partial_failure_rate=1.0) as w:
        monkeypatch.setattr(w.client, "delete_servers", refuse)
        failed = data(await w.run(server_body(count=3), headers=DELETE, observer=metrics))
        kept = data(await w.run(server_body(count=3), key="req-2", observer=metrics))
    assert len(failed["compensation"]["not_deleted"]) == 2
    assert "Ecs.0001" in failed["compensation"]["not_deleted"][0]["reason"]
    assert kept["compensation"] is None  # kept on purpose: not counted
    assert metrics.registry.get_sample_value("ecsp_compensation_not_deleted_total") == 2

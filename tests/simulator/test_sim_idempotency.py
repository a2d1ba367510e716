"""X-Client-Token: replay of the first answer, Ecs.0122 / 0123 / 0124, no duplicate servers."""

from __future__ import annotations

import json

from tests.simulator.simkit import START, config, new_token, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock


async def test_same_token_same_body_replays_first_answer_without_new_servers() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        token = new_token()
        first = await api.create(server_body(count=2), token)
        assert first.status == 200
        clock.advance(3)  # the job is still running
        assert (await api.job(first.json["job_id"])).json["status"] == "RUNNING"
        again = await api.create(server_body(count=2), token)
        assert again.status == 200
        assert again.raw == first.raw
        stats = await api.stats()
        assert stats["servers_by_token"] == {token: 2}
        assert stats["creates"] == 1
        assert stats["replays"] == 1


async def test_replay_compares_parsed_json_not_bytes() -> None:
    async with simulator(config(FakeClock(START))) as api:
        token = new_token()
        body = server_body()
        first = await api.create(body, token)
        reordered = json.dumps(body, indent=3, sort_keys=True).encode()
        again = await api.create(body, token, raw=reordered)
        assert again.status == 200
        assert again.raw == first.raw
        assert (await api.stats())["servers_by_token"] == {token: 1}


async def test_same_token_different_body_is_ecs_0122() -> None:
    async with simulator(config(FakeClock(START))) as api:
        token = new_token()
        assert (await api.create(server_body(), token)).status == 200
        changed = await api.create(server_body(name="other"), token)
        assert changed.status == 400
        assert changed.json["error"]["code"] == "Ecs.0122"
        other_version = await api.create(server_body(), token, version="v1")
        assert other_version.json["error"]["code"] == "Ecs.0122"
        assert (await api.stats())["servers_by_token"] == {token: 1}


async def test_a_token_is_remembered_across_projects() -> None:
    """Huawei's pages name no scope narrower than "different requests" (sources in
    worker/simulator/idempotency.py): a token used in one project is a changed request in
    another, never a second create."""
    async with simulator(config(FakeClock())) as api:
        token = new_token()
        assert (await api.create(server_body(), token)).status == 200
        other_project = await api.create(server_body(), token, project="f" * 32)
        assert (other_project.status, other_project.json["error"]["code"]) == (400, "Ecs.0122")
        assert (await api.stats())["servers_by_token"] == {token: 1}


async def test_malformed_token_is_ecs_0123() -> None:
    async with simulator(config(FakeClock(START))) as api:
        for token in ("not-a-uuid", new_token().upper(), new_token().replace("-", ""), ""):
            reply = await api.create(server_body(), token)
            assert reply.status == 400, token
            assert reply.json["error"]["code"] == "Ecs.0123"
        assert (await api.stats())["creates"] == 0


async def test_token_expires_after_ttl_with_ecs_0124() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, token_ttl_seconds=8 * 3600)) as api:
        token = new_token()
        first = await api.create(server_body(), token)
        clock.advance(8 * 3600 - 1)
        assert (await api.create(server_body(), token)).raw == first.raw
        clock.advance(2)
        expired = await api.create(server_body(), token)
        assert expired.status == 400
        assert expired.json["error"]["code"] == "Ecs.0124"
        assert (await api.stats())["servers_by_token"] == {token: 1}


async def test_rejected_request_does_not_consume_the_token() -> None:
    async with simulator(config(FakeClock(START))) as api:
        token = new_token()
        bad = server_body()
        del bad["server"]["nics"]
        assert (await api.create(bad, token)).status == 400
        assert (await api.create({**server_body(), "dry_run": True}, token)).status == 202
        accepted = await api.create(server_body(), token)
        assert accepted.status == 200
        assert (await api.stats())["servers_by_token"] == {token: 1}


async def test_without_token_every_create_is_new() -> None:
    async with simulator(config(FakeClock(START))) as api:
        first = await api.create(server_body())
        second = await api.create(server_body())
        assert first.json["job_id"] != second.json["job_id"]
        stats = await api.stats()
        assert stats["servers_without_token"] == 2
        assert stats["servers_by_token"] == {}

"""Server records: status and tags, ListServersDetails (filters, paging), DeleteServers and its job,
partial job failures and the stats that count servers by status and deletions."""

from __future__ import annotations

import json
from typing import Any

from tests.simulator.simkit import START, Api, config, new_token, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock
from worker.simulator.knobs import Faults

TOKEN_TAG = {"key": "ecsp-token", "value": "t-1"}


async def _list(api: Api, query: str) -> dict[str, Any]:
    reply = await api.request("GET", f"/v1/{api.project}/cloudservers/detail?{query}")
    assert reply.status == 200, reply.raw
    result: dict[str, Any] = reply.json
    return result


async def _delete(api: Api, server_ids: list[str]) -> str:
    body = {"servers": [{"id": sid} for sid in server_ids], "delete_volume": True}
    reply = await api.request(
        "POST", f"/v1/{api.project}/cloudservers/delete", json.dumps(body).encode()
    )
    assert reply.status == 200, reply.raw
    job_id: str = reply.json["job_id"]
    return job_id


async def test_servers_are_listed_by_tag_with_status_and_tags() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        tagged = await api.create(server_body(count=2, server_tags=[TOKEN_TAG]), new_token())
        await api.create(server_body(tags=["team.blue"]), new_token())

        building = await _list(api, "tags=ecsp-token=t-1")
        assert building["count"] == 2
        assert {s["status"] for s in building["servers"]} == {"BUILD"}
        clock.advance(10)
        listed = await _list(api, "tags=ecsp-token=t-1")
        assert sorted(s["id"] for s in listed["servers"]) == sorted(tagged.json["serverIds"])
        assert {s["status"] for s in listed["servers"]} == {"ACTIVE"}
        assert all(s["tags"] == ["ecsp-token=t-1"] for s in listed["servers"])
        assert (await _list(api, "tags=ecsp-token"))["count"] == 2  # a key alone matches too
        assert (await _list(api, "tags=team"))["count"] == 1  # legacy "key.value" tags
        assert (await _list(api, "not-tags=ecsp-token"))["count"] == 1
        assert (await _list(api, "tags=ecsp-token=other"))["count"] == 0
        assert (await _list(api, "name=web-000"))["count"] == 2
        stats = await api.stats()
        assert stats["servers_by_status"] == {"ACTIVE": 3}


async def test_paging_by_marker_and_by_page_number() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        await api.create(server_body(count=5), new_token())
        clock.advance(10)
        everything = [s["id"] for s in (await _list(api, "limit=1000"))["servers"]]
        assert len(everything) == 5

        first = await _list(api, "limit=2")
        assert first["count"] == 5
        assert [s["id"] for s in first["servers"]] == everything[:2]
        second = await _list(api, f"limit=2&marker={everything[1]}")
        assert [s["id"] for s in second["servers"]] == everything[2:4]
        last = await _list(api, f"limit=2&marker={everything[3]}")
        assert [s["id"] for s in last["servers"]] == everything[4:]

        assert [s["id"] for s in (await _list(api, "limit=2&offset=0"))["servers"]] == everything[
            :2
        ]
        page3 = await _list(api, "limit=2&offset=3")
        assert [s["id"] for s in page3["servers"]] == everything[4:]

        for bad in ("limit=0", "limit=1001", "limit=x", "marker=nope"):
            reply = await api.request("GET", f"/v1/{api.project}/cloudservers/detail?{bad}")
            assert reply.status == 400, bad
            assert reply.json["error"]["code"] == "Ecs.0005"


async def test_a_new_server_is_missing_from_the_list_for_the_list_lag() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, list_lag_seconds=3.0)) as api:
        created = await api.create(server_body(server_tags=[TOKEN_TAG]), new_token())
        (server_id,) = created.json["serverIds"]
        assert (await _list(api, "tags=ecsp-token=t-1"))["count"] == 0  # not listed yet
        assert (await api.job(created.json["job_id"])).json["status"] in ("INIT", "RUNNING")
        clock.advance(2.9)
        assert (await _list(api, "status=BUILD"))["count"] == 0
        clock.advance(0.1)
        listed = await _list(api, "status=BUILD")
        assert [s["id"] for s in listed["servers"]] == [server_id]


async def test_a_marker_that_left_the_filter_still_pages_on() -> None:
    """The marker is looked up among all the project's servers (Nova's way), so the next page
    comes even though the marker server is no longer BUILD."""
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(5.0, 20.0))) as api:
        await api.create(server_body(count=6), new_token())
        everything = [s["id"] for s in (await _list(api, "status=BUILD&limit=1000"))["servers"]]
        first = await _list(api, "status=BUILD&limit=3")
        marker = first["servers"][-1]["id"]
        clock.advance(21)  # every server has left BUILD
        assert (await _list(api, f"status=BUILD&limit=3&marker={marker}"))["servers"] == []
        everything_now = await _list(api, f"limit=1000&marker={marker}")
        assert [s["id"] for s in everything_now["servers"]] == everything[3:]


async def test_delete_runs_a_job_then_servers_are_deleted_once() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        created = await api.create(server_body(count=2), new_token())
        clock.advance(10)
        ids = created.json["serverIds"]
        job_id = await _delete(api, ids)

        running = (await api.job(job_id)).json
        assert running["job_type"] == "deleteServers"
        assert running["status"] == "RUNNING"
        assert {s["job_type"] for s in running["entities"]["sub_jobs"]} == {"deleteServer"}
        listed = await _list(api, "limit=10")
        assert {s["OS-EXT-STS:task_state"] for s in listed["servers"]} == {"deleting"}

        again = await _delete(api, ids)  # joins the deletion under way
        clock.advance(10)
        assert (await api.job(job_id)).json["status"] == "SUCCESS"
        assert (await api.job(again)).json["status"] == "SUCCESS"
        assert (await _list(api, "limit=10"))["count"] == 0
        assert (await _list(api, "status=DELETED"))["count"] == 2
        assert (await api.server(ids[0])).status == 404

        gone = await _delete(api, [ids[0]])
        clock.advance(10)
        failed = (await api.job(gone)).json
        assert failed["status"] == "FAIL"
        assert failed["entities"]["sub_jobs"][0]["error_code"] == "Ecs.0114"

        stats = await api.stats()
        assert stats["deletes"] == 2
        assert stats["deletes_repeated"] == 2
        assert stats["servers_by_status"] == {"DELETED": 2}


async def test_delete_rejects_malformed_bodies() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        for body in (b"{", b"[]", b'{"servers": []}', b'{"servers": [{"id": 1}]}'):
            reply = await api.request("POST", f"/v1/{api.project}/cloudservers/delete", body)
            assert reply.status == 400, body
            assert reply.json["error"]["code"] == "Ecs.0005"


async def test_partial_failure_fails_one_sub_job_and_builds_the_rest() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, faults=Faults(partial_failure_rate=1.0))) as api:
        single = await api.create(server_body(count=1), new_token())
        batch = await api.create(server_body(count=3), new_token())
        clock.advance(10)
        assert (await api.job(single.json["job_id"])).json["status"] == "SUCCESS"
        job = (await api.job(batch.json["job_id"])).json
        assert job["status"] == "FAIL"
        statuses = sorted(s["status"] for s in job["entities"]["sub_jobs"])
        assert statuses == ["FAIL", "SUCCESS", "SUCCESS"]
        assert (await api.stats())["servers_by_status"] == {"ACTIVE": 3}


async def test_partial_failure_rate_is_a_run_time_fault() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        reply = await api.sim("POST", "/_sim/faults", {"partial_failure_rate": 0.5})
        assert reply.status == 200
        assert reply.json["partial_failure_rate"] == 0.5
        bad = await api.sim("POST", "/_sim/faults", {"partial_failure_rate": 2})
        assert bad.status == 400

"""Job life (INIT → RUNNING → SUCCESS/FAIL), sub-jobs, servers, prePaid orders, expiry, bodies."""

from __future__ import annotations

import re
from typing import Any

from tests.simulator.simkit import START, config, new_token, prepaid, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock
from worker.simulator.knobs import Faults

API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
REALISTIC_FAILURES = {"Ecs.0319", "Ecs.0001", "Ecs.0012", "Ecs.0021"}


def _all_keys(view: dict[str, Any]) -> set[str]:
    keys = set(view)
    for sub in view.get("entities", {}).get("sub_jobs", []):
        keys |= set(sub)
    return keys


async def test_job_goes_init_running_success_with_keys_absent_while_running() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(10.0, 10.0))) as api:
        created = await api.create(server_body())
        assert JOB_ID.match(created.json["job_id"])
        assert UUID.match(created.json["serverIds"][0])
        assert "order_id" not in created.json
        job_id = created.json["job_id"]

        init = (await api.job(job_id)).json
        assert init["status"] == "INIT"
        assert init["job_type"] == "createServer"
        assert init["end_time"] == ""
        assert API_TIME.match(init["begin_time"])
        assert not {"error_code", "fail_reason"} & _all_keys(init)

        clock.advance(5)
        running = (await api.job(job_id)).json
        assert running["status"] == "RUNNING"
        assert running["end_time"] == ""
        assert not {"error_code", "fail_reason"} & _all_keys(running)
        (sub,) = running["entities"]["sub_jobs"]
        assert sub["status"] == "RUNNING"
        assert sub["job_type"] == "createSingleServer"
        assert sub["entities"] == {"server_id": created.json["serverIds"][0]}
        assert running["entities"]["sub_jobs_total"] == 1
        assert (await api.server(sub["entities"]["server_id"])).status == 404

        clock.advance(5)
        done = (await api.job(job_id)).json
        assert done["status"] == "SUCCESS"
        assert API_TIME.match(done["end_time"])
        assert done["error_code"] is None
        assert done["fail_reason"] is None
        assert done["entities"]["sub_jobs"][0]["status"] == "SUCCESS"
        built = done["entities"]["sub_jobs"][0]["entities"]  # SDK SubJobEntities
        assert set(built) == {"server_id", "nic_id"}
        assert UUID_TEXT.fullmatch(built["nic_id"])
        server = await api.server(sub["entities"]["server_id"])
        assert server.status == 200
        assert server.json["server"]["status"] == "ACTIVE"


async def test_zero_job_seconds_finish_at_once() -> None:
    async with simulator(config(FakeClock(START), job_seconds=(0.0, 0.0))) as api:
        created = await api.create(server_body(count=3))
        assert (await api.job(created.json["job_id"])).json["status"] == "SUCCESS"


async def test_count_gives_one_sub_job_per_server() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(2.0, 9.0))) as api:
        created = await api.create(server_body(count=4))
        server_ids = created.json["serverIds"]
        assert len(set(server_ids)) == 4
        clock.advance(9)
        job = (await api.job(created.json["job_id"])).json
        subs = job["entities"]["sub_jobs"]
        assert job["entities"]["sub_jobs_total"] == 4
        assert [sub["entities"]["server_id"] for sub in subs] == server_ids
        assert len({sub["job_id"] for sub in subs} | {job["job_id"]}) == 5
        names = [(await api.server(sid)).json["server"]["name"] for sid in server_ids]
        assert names == ["web-0001", "web-0002", "web-0003", "web-0004"]


async def test_sub_jobs_finish_at_their_own_times() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(1.0, 100.0), seed=3)) as api:
        created = await api.create(server_body(count=6))
        seen_mixed = False
        for _ in range(100):
            clock.advance(1)
            job = (await api.job(created.json["job_id"])).json
            statuses = {sub["status"] for sub in job["entities"].get("sub_jobs", [])}
            if job["status"] == "RUNNING" and statuses == {"RUNNING", "SUCCESS"}:
                seen_mixed = True
        assert seen_mixed
        assert job["status"] == "SUCCESS"


async def test_failing_jobs_use_realistic_codes_and_can_fail_partially() -> None:
    clock = FakeClock(START)
    faults = Faults(job_failure_rate=1.0)
    async with simulator(config(clock, job_seconds=(1.0, 1.0), faults=faults)) as api:
        created = [await api.create(server_body(count=4)) for _ in range(20)]
        clock.advance(2)
        partial = 0
        for reply in created:
            job = (await api.job(reply.json["job_id"])).json
            assert job["status"] == "FAIL"
            assert job["error_code"] in REALISTIC_FAILURES
            assert job["fail_reason"]
            subs = job["entities"]["sub_jobs"]
            failed = [sub for sub in subs if sub["status"] == "FAIL"]
            assert failed
            assert all(sub["error_code"] == job["error_code"] for sub in failed)
            for sub in failed:
                assert sub["entities"]["errorcode_message"] == sub["fail_reason"]
                assert "nic_id" not in sub["entities"]
            for sub in subs:
                built = (await api.server(sub["entities"]["server_id"])).status
                assert built == (200 if sub["status"] == "SUCCESS" else 404)
            partial += len(failed) < len(subs)
        assert partial > 0
        assert (await api.stats())["jobs_by_status"] == {"FAIL": 20}


async def test_failure_rate_is_roughly_honoured() -> None:
    clock = FakeClock(START)
    faults = Faults(job_failure_rate=0.25)
    async with simulator(config(clock, job_seconds=(0.0, 0.0), faults=faults)) as api:
        for _ in range(200):
            await api.create(server_body())
        by_status = (await api.stats())["jobs_by_status"]
        assert 30 <= by_status["FAIL"] <= 70
        assert by_status["FAIL"] + by_status["SUCCESS"] == 200


async def test_prepaid_manual_payment_waits_until_paid() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(10.0, 10.0))) as api:
        created = await api.create(server_body(**prepaid("false")), new_token())
        assert created.status == 200
        order_id = created.json["order_id"]
        assert re.match(r"^CS\d{10}[A-Z0-9]{5}$", order_id)
        assert list(created.json) == ["job_id", "order_id", "serverIds"]
        clock.advance(3600)
        pending = (await api.job(created.json["job_id"])).json
        assert pending["status"] == "PENDING_PAYMENT"
        assert not {"error_code", "fail_reason"} & set(pending)
        assert (await api.server(created.json["serverIds"][0])).status == 404

        paid = await api.sim("POST", f"/_sim/orders/{order_id}/pay")
        assert paid.status == 200
        assert paid.json["job_id"] == created.json["job_id"]
        assert (await api.job(created.json["job_id"])).json["status"] == "INIT"
        clock.advance(10)
        assert (await api.job(created.json["job_id"])).json["status"] == "SUCCESS"
        assert (await api.sim("POST", "/_sim/orders/CS0000000000XXXXX/pay")).status == 404


async def test_prepaid_auto_pay_starts_at_once_with_an_order() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(0.0, 0.0))) as api:
        created = await api.create(server_body(**prepaid("true")))
        assert created.json["order_id"].startswith("CS")
        assert (await api.job(created.json["job_id"])).json["status"] == "SUCCESS"


async def test_finished_jobs_expire_but_servers_stay() -> None:
    clock = FakeClock(START)
    cfg = config(clock, job_seconds=(10.0, 10.0), job_retention_seconds=86400)
    async with simulator(cfg) as api:
        created = await api.create(server_body())
        job_id, server_id = created.json["job_id"], created.json["serverIds"][0]
        clock.advance(10 + 86400 - 1)
        assert (await api.job(job_id)).status == 200
        clock.advance(1)
        gone = await api.job(job_id)
        assert gone.status == 404
        assert gone.json["error"]["code"] == "Ecs.0000"
        assert (await api.server(server_id)).status == 200
        assert (await api.stats())["jobs_by_status"] == {}


async def test_unpaid_orders_expire_after_14_days() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        created = await api.create(server_body(**prepaid("false")))
        clock.advance(14 * 86400)
        assert (await api.job(created.json["job_id"])).status == 404
        assert (await api.sim("POST", f"/_sim/orders/{created.json['order_id']}/pay")).status == 404


async def test_unknown_job_and_other_projects_job_are_404() -> None:
    async with simulator(config(FakeClock(START))) as api:
        unknown = await api.job("0" * 32)
        assert unknown.status == 404
        assert unknown.json["error"]["code"] == "Ecs.0000"
        created = await api.create(server_body())
        api.project = "f" * 32
        assert (await api.job(created.json["job_id"])).status == 404


async def test_dry_run_is_202_and_creates_nothing() -> None:
    async with simulator(config(FakeClock(START))) as api:
        reply = await api.create({**server_body(), "dry_run": True}, new_token())
        assert reply.status == 202
        assert reply.json == {}
        stats = await api.stats()
        assert stats["creates"] == 0
        assert stats["dry_runs"] == 1
        assert stats["jobs_by_status"] == {}
        bad = server_body()
        del bad["server"]["vpcid"]
        assert (await api.create({**bad, "dry_run": True})).status == 400


async def test_invalid_body_is_ecs_0005_naming_the_field() -> None:
    async with simulator(config(FakeClock(START))) as api:
        body = server_body()
        del body["server"]["nics"]
        body["server"]["root_volume"] = {"volumetype": ""}  # FLOPPY is a region question now
        reply = await api.create(body)
        assert reply.status == 400
        error = reply.json["error"]
        assert error["code"] == "Ecs.0005"
        assert "server.nics" in error["message"]
        assert "server.root_volume.volumetype" in error["message"]
        assert {detail["code"] for detail in error["details"]} == {"Ecs.0005"}
        assert len(error["details"]) == 2
        not_json = await api.create({}, raw=b"{not json")
        assert not_json.json["error"] == {"code": "Ecs.0005", "message": "request body is illegal."}
        assert (await api.stats())["creates"] == 0


async def test_password_problems_are_ecs_0011_without_echoing_it() -> None:
    async with simulator(config(FakeClock(START))) as api:
        weak = await api.create(server_body(adminPass="weakpass"))
        assert weak.json["error"]["code"] == "Ecs.0011"
        assert "weakpass" not in weak.raw.decode()
        unresolved = await api.create(server_body(adminPass="$ADMIN_PASS"))
        assert unresolved.json["error"]["code"] == "Ecs.0011"
        assert (await api.create(server_body(adminPass="Str0ng!Passw0rd"))).status == 200


async def test_v1_post_paid_create_shares_the_logic() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock, job_seconds=(0.0, 0.0))) as api:
        body = server_body(extendparam={"chargingMode": 0})
        created = await api.create(body, new_token(), version="v1")
        assert created.status == 200
        assert "order_id" not in created.json
        assert (await api.job(created.json["job_id"])).json["status"] == "SUCCESS"
        prepaid_v1 = await api.create(server_body(**prepaid("true")), version="v1")
        assert prepaid_v1.status == 400
        assert "server.extendparam.chargingMode" in prepaid_v1.json["error"]["message"]


async def test_more_than_100_servers_in_one_request_is_refused() -> None:
    async with simulator(config(FakeClock(START))) as api:
        reply = await api.create(server_body(count=101))
        assert reply.status == 400
        assert reply.json["error"]["code"] == "Ecs.0005"
        assert "server.count" in reply.json["error"]["message"]
        assert (await api.create(server_body(count=100))).status == 200

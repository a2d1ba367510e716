"""Two tenants and the shared topic, end to end: real broker, real simulator, one worker.

Issue 25's must-show: tenant B cannot name A's project, read A's results (its events go to its
own topics; A's get none of B's), use A's secrets (the same failure as an unknown secret), take
A's token by using A's key, or delay A's requests with its budget; the shared topic stays the
default tenant, whose token and body are the golden files'.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp

from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token, tenant_namespace
from tests.simulator.simkit import Api
from tests.support import secrets
from tests.support.kafka import Record, by_key, consume, end_offsets, wait_for
from tests.support.metrics import sample
from tests.support.stack import PROJECT, Stack, TenantSetup, example, stack

A1, A2, B1 = "a1" + "0" * 30, "a2" + "0" * 30, "b1" + "0" * 30
TENANTS = {
    "team-a": TenantSetup(A1, (A2,), {"TEAM_A_ADMIN": secrets.TEAM_A_SECRET}),
    "team-b": TenantSetup(B1, (), {"TEAM_B_ADMIN": secrets.TEAM_B_SECRET}),
}
GOLDEN = Path(__file__).parents[1] / "pipeline" / "golden"
GOLDEN_KEY = "golden-01-prepaid-keypair"


def body(name: str, admin_pass: str | None = None) -> dict[str, Any]:
    document = example("02-prepaid-password.json" if admin_pass else "01-prepaid-keypair.json")
    document["server"]["name"] = name
    if admin_pass:
        document["server"]["adminPass"] = admin_pass
    return document


def project(name: str) -> list[tuple[str, bytes]]:
    return [("ecs-project-id", name.encode())]


def failure(event: dict[str, Any]) -> tuple[str, str]:
    return event["data"]["stage"], event["data"]["error"]["code"]


async def everything_on(s: Stack, topics: Iterable[str]) -> list[Record]:
    """Every record on `topics` so far (their end offsets say how many there are)."""
    names = list(topics)
    total = 0
    for topic in names:
        total += sum((await end_offsets(s.bootstrap, topic)).values())
    records = await consume(s.bootstrap, names, count=total, timeout=30)
    assert len(records) == total
    return records


def keys(records: Iterable[Record]) -> set[str]:
    return {r.key.decode() for r in records if r.key is not None}


async def test_two_tenants_and_the_shared_topic_on_one_worker(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("default: {}\ntenants:\n  team-b: {max_servers_per_hour: 3}\n")
    async with stack(
        kafka_bootstrap,
        tenants=TENANTS,
        ECSP_POLICY_FILE=str(policy),
        ECSP_POLICY_BUDGET_WINDOW_SECONDS="600",
    ) as s:
        await s.publish([(GOLDEN_KEY, example("01-prepaid-keypair.json"))])
        await s.publish(
            [("order-42", body("a-order")), ("a-secret", body("a-pw", "$TEAM_A_ADMIN"))],
            tenant="team-a",
        )
        await s.publish([("b-names-a", body("b-x"))], project(A1), tenant="team-b")
        await s.publish(
            [
                ("b-uses-a-secret", body("b-pw", "$TEAM_A_ADMIN")),
                ("b-no-such-secret", body("b-pw", "$NO_SUCH_SECRET")),
                ("b-own-secret", body("b-pw", "$TEAM_B_ADMIN")),
                ("order-42", body("b-order")),  # A's key, on B's topic
            ],
            tenant="team-b",
        )
        shared = by_key(await s.outcomes(1))
        team_a = by_key(await s.outcomes(2, tenant="team-a"))
        team_b = by_key(await s.outcomes(5, tenant="team-b"))

        # within one tenant a key is one request, whichever of its projects it names
        await s.publish([("order-42", body("a-order"))], project(A2), tenant="team-a")
        again = by_key(await s.outcomes(3, tenant="team-a"))["order-42"]

        # B over its budget (3 per hour, 2 spent): b-fills takes the last, b-waits waits...
        await s.publish([("b-fills", body("b-1")), ("b-waits", body("b-2"))], tenant="team-b")
        await wait_for(lambda: sample(s.metrics, "ecsp_policy_budget_waiting") == 1)
        # ...and A's request published after it is answered while B's still waits
        started = time.monotonic()
        await s.publish([("a-behind", body("a-behind"))], tenant="team-a")
        behind = by_key(await s.outcomes(4, tenant="team-a"))["a-behind"]
        a_took = time.monotonic() - started
        assert sample(s.metrics, "ecsp_policy_budget_waiting") == 1
        b_phase_two = by_key(await s.outcomes(6, tenant="team-b"))
        stats = await s.sim("GET", "/_sim/stats")

        replay = await _send_golden_again(s)
        every = {
            tenant: await everything_on(s, [s.topic(r, tenant) for r in _EVENT_ROLES])
            for tenant in (None, "team-a", "team-b")
        }

    # B cannot name A's project
    assert failure(team_b["b-names-a"][0]) == ("validate", "ECSP.ProjectNotAllowed")
    # B cannot use A's secret: answered exactly as a name that exists nowhere
    uses_a, no_such = team_b["b-uses-a-secret"][0], team_b["b-no-such-secret"][0]
    assert failure(uses_a) == failure(no_such) == ("validate", "ECSP.UnknownSecret")
    assert uses_a["data"]["error"]["message"].replace("$TEAM_A_ADMIN", "$X") == no_such["data"][
        "error"
    ]["message"].replace("$NO_SUCH_SECRET", "$X")
    # ...while each team's own secret works
    assert team_a["a-secret"][0]["type"] == "ecs.provisioning.succeeded"
    assert team_b["b-own-secret"][0]["type"] == "ecs.provisioning.succeeded"

    # B cannot take A's token by using A's key: both created, each under its tenant's token
    token_a = client_token("order-42", tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a"))
    token_b = client_token("order-42", tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-b"))
    (a_order,) = team_a["order-42"]
    (b_order,) = team_b["order-42"]
    assert a_order["type"] == b_order["type"] == "ecs.provisioning.succeeded"
    assert (a_order["data"]["client_token"], b_order["data"]["client_token"]) == (token_a, token_b)
    assert (a_order["data"]["project_id"], b_order["data"]["project_id"]) == (A1, B1)
    assert stats["servers_by_token"][token_a] == stats["servers_by_token"][token_b] == 1
    # A's same key in its other project is the same request with another body: a conflict
    assert [e["type"] for e in again] == ["ecs.provisioning.succeeded", "ecs.provisioning.failed"]
    assert failure(again[1]) == ("conflict", "Ecs.0122")

    # B's budget did not delay A: answered while B's request still waited
    assert behind[0]["type"] == "ecs.provisioning.succeeded"
    assert a_took < 30
    assert b_phase_two["b-fills"][0]["type"] == "ecs.provisioning.succeeded"
    assert "b-waits" not in b_phase_two

    # each tenant's events are on its own topics only, and on none of the others'
    assert keys(every[None]) == {GOLDEN_KEY}
    assert keys(every["team-a"]) == {"order-42", "a-secret", "a-behind"}
    assert keys(every["team-b"]) == {
        "b-names-a",
        "b-uses-a-secret",
        "b-no-such-secret",
        "b-own-secret",
        "order-42",
        "b-fills",
    }
    for tenant, records in every.items():
        for record in records:
            origin = record.json()["data"]["origin"]["topic"]
            assert origin == s.topic("requests", tenant), (tenant, record.topic)

    # the shared topic is the default tenant: the golden token, the golden body
    (golden_event,) = shared[GOLDEN_KEY]
    assert golden_event["type"] == "ecs.provisioning.succeeded"
    assert golden_event["data"]["client_token"] == _golden_token()
    assert golden_event["data"]["project_id"] == PROJECT
    assert replay["job_id"] == golden_event["data"]["job_id"]


_EVENT_ROLES = ("results", "failures", "progress", "state")


def _golden_token() -> str:
    return (GOLDEN / "01-prepaid-keypair.token").read_text().strip()


async def _send_golden_again(s: Stack) -> dict[str, Any]:
    """The golden bytes under the golden token, sent to the simulator as the worker would: the
    API answers a token it knows with its first answer only for the same request parameters
    (else Ecs.0122), so a 200 with the worker's job says the worker sent these bytes."""
    raw = (GOLDEN / "01-prepaid-keypair.request-tagged.json").read_bytes()
    async with aiohttp.ClientSession() as session:
        api = Api(session, s.base_url, time.time, secrets.TEST_AK, secrets.TEST_SK, PROJECT)
        reply = await api.create({}, _golden_token(), raw=raw)
    assert reply.status == 200, reply.raw
    answer: dict[str, Any] = reply.json
    return answer

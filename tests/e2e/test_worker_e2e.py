"""The worker end to end: real broker, real simulator over HTTP, the worker in-process.

Each test runs on its own topics and consumer group, so they cannot see each other's events.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ecsp_contract.idempotency import client_token
from tests.support import secrets
from tests.support.kafka import by_key, wait_for
from tests.support.stack import example, examples, stack
from worker.simulator.knobs import Faults


def prepaid_manual(name: str = "manual") -> dict[str, Any]:
    body = example("01-prepaid-keypair.json")
    body["server"]["name"] = name
    body["server"]["extendparam"]["isAutoPay"] = "false"
    return body


async def test_reference_examples_and_a_batch_of_three_succeed(kafka_bootstrap: str) -> None:
    async with stack(kafka_bootstrap, partitions=2) as s:
        requests = {f"ex-{name}": body for name, body in examples().items()}
        triple = example("01-prepaid-keypair.json")
        triple["server"]["count"] = 3
        requests["batch-of-3"] = triple
        await s.publish(requests.items())

        events = by_key(await s.outcomes(len(requests)))
        progress = await s.progress(5)

    assert set(events) == set(requests)
    types = Counter(e[0]["type"] for e in events.values())
    assert types == {"ecs.provisioning.succeeded": 6, "ecs.provisioning.validated": 1}
    assert events["ex-05-dry-run.json"][0]["type"] == "ecs.provisioning.validated"
    batch = events["batch-of-3"][0]["data"]
    assert len(batch["server_ids"]) == 3
    assert len(batch["sub_jobs"]) == 3
    assert all(sub["status"] == "SUCCESS" for sub in batch["sub_jobs"])
    assert batch["order_id"]  # prePaid orders carry an order id
    assert {r.json()["type"] for r in progress} == {"ecs.provisioning.submitted"}
    for key, (event,) in events.items():
        assert key is not None
        assert event["data"]["client_token"] == client_token(key)
        assert event["subject"] == key


async def test_bad_input_each_yields_one_failed_event_and_the_worker_moves_on(
    kafka_bootstrap: str,
) -> None:
    valid = example("01-prepaid-keypair.json")
    schema_broken = example("01-prepaid-keypair.json")
    schema_broken["server"]["root_volume"]["size"] = 2048
    unknown_secret = example("02-prepaid-password.json")
    unknown_secret["server"]["adminPass"] = "$NO_SUCH_SECRET"
    bad: list[tuple[str | None, Any]] = [
        ("not-utf8", b"\xc3\x28 broken"),
        ("not-json", b"{this is not json"),
        ("json-array", b"[1, 2]"),
        ("schema", schema_broken),
        (None, valid),
        ("unknown-secret", unknown_secret),
        ("five-mb", b"{" + b" " * (5 * 1024 * 1024) + b"}"),
    ]
    async with stack(kafka_bootstrap) as s:
        await s.publish([*bad, ("valid-after", valid)])
        records = await s.outcomes(len(bad) + 1)
        await asyncio.sleep(0.2)
        stats = await s.sim("GET", "/_sim/stats")

    assert len(records) == len(bad) + 1  # exactly one terminal event each
    events = by_key(records)
    expected = {
        "not-utf8": ("decode", "ECSP.NotUtf8"),
        "not-json": ("decode", "ECSP.NotJson"),
        "json-array": ("decode", "ECSP.NotObject"),
        "schema": ("validate", "ECSP.InvalidRequest"),
        None: ("validate", "ECSP.MissingKey"),
        "unknown-secret": ("validate", "ECSP.UnknownSecret"),
        "five-mb": ("decode", "ECSP.TooLarge"),
    }
    for key, (stage, code) in expected.items():
        (event,) = events[key]
        assert event["type"] == "ecs.provisioning.failed"
        assert (event["data"]["stage"], event["data"]["error"]["code"]) == (stage, code), key
    assert events["schema"][0]["data"]["error"]["details"][0]["path"].startswith(
        "server.root_volume.size"
    )
    assert events["valid-after"][0]["type"] == "ecs.provisioning.succeeded"
    assert stats["creates"] == 1  # nothing invalid reached the cloud


async def test_api_5xx_and_429_bursts_are_retried_to_success(kafka_bootstrap: str) -> None:
    faults = Faults(error_rate=0.3, throttle_rate=0.3)
    # 51 % of calls fail: with 8 attempts a create fails in 0.5 % of sequences (0.51^8), so
    # whether one of the six does depended on the seed and on every other call drawing from the
    # same fault sequence (the bulk follower's lists shifted it); 12 attempts: 0.03 %.
    async with stack(kafka_bootstrap, faults=faults, ECSP_API_MAX_ATTEMPTS="12") as s:
        bodies = []
        for i in range(6):
            body = example("01-prepaid-keypair.json")
            body["server"]["name"] = f"flaky-{i}"
            bodies.append((f"flaky-{i}", body))
        await s.publish(bodies)
        events = by_key(await s.outcomes(6, timeout=90))
        stats = await s.sim("GET", "/_sim/stats")

    assert {e[0]["type"] for e in events.values()} == {"ecs.provisioning.succeeded"}
    assert (
        int(stats["requests_by_status"].get("503", 0))
        + int(stats["requests_by_status"].get("500", 0))
        + int(stats["requests_by_status"].get("502", 0))
        > 0
    )
    assert int(stats["requests_by_status"].get("429", 0)) > 0
    # retries reused the token: one set of servers per request, never more
    assert all(n == 1 for n in stats["servers_by_token"].values())


async def test_failed_job_reports_the_code_and_sub_jobs(kafka_bootstrap: str) -> None:
    async with stack(kafka_bootstrap, faults=Faults(job_failure_rate=1.0)) as s:
        body = example("01-prepaid-keypair.json")
        body["server"]["count"] = 2
        await s.publish([("doomed", body)])
        (record,) = await s.outcomes(1)

    data = record.json()["data"]
    assert record.json()["type"] == "ecs.provisioning.failed"
    assert data["stage"] == "job"
    assert data["error"]["code"].startswith("Ecs.")
    assert data["job_id"]
    assert len(data["sub_jobs"]) == 2
    assert len(data["server_ids"]) == 2  # known ids, so a subscriber can clean up


async def test_same_key_same_body_creates_once_and_repeats_the_event_id(
    kafka_bootstrap: str,
) -> None:
    body = example("01-prepaid-keypair.json")
    async with stack(kafka_bootstrap) as s:
        await s.publish([("twice", body), ("twice", body)])
        records = await s.outcomes(2)
        stats = await s.sim("GET", "/_sim/stats")

    first, second = (r.json() for r in records)
    assert first["type"] == second["type"] == "ecs.provisioning.succeeded"
    assert first["id"] == second["id"]
    assert first["data"]["job_id"] == second["data"]["job_id"]
    assert stats["servers_by_token"] == {client_token("twice"): 1}


async def test_same_key_different_body_is_a_conflict(kafka_bootstrap: str) -> None:
    first = example("01-prepaid-keypair.json")
    changed = example("01-prepaid-keypair.json")
    changed["server"]["name"] = "another-name"
    async with stack(kafka_bootstrap) as s:
        await s.publish([("reused-key", first), ("reused-key", changed)])
        records = await s.outcomes(2)

    outcomes = [(r.json()["type"], r.json()["data"].get("stage")) for r in records]
    assert outcomes == [
        ("ecs.provisioning.succeeded", None),
        ("ecs.provisioning.failed", "conflict"),
    ]
    assert records[1].json()["data"]["error"]["code"] == "Ecs.0122"


async def test_prepaid_order_waits_for_payment_then_succeeds(kafka_bootstrap: str) -> None:
    async with stack(kafka_bootstrap) as s:
        await s.publish([("unpaid", prepaid_manual())])
        progress = await s.progress(2)
        kinds = [r.json()["type"] for r in progress]
        assert kinds == ["ecs.provisioning.submitted", "ecs.provisioning.awaiting_payment"]
        order_id = progress[1].json()["data"]["order_id"]
        assert order_id
        await s.sim("POST", f"/_sim/orders/{order_id}/pay")
        (record,) = await s.outcomes(1)

    assert record.json()["type"] == "ecs.provisioning.succeeded"
    assert record.json()["data"]["order_id"] == order_id


async def test_secrets_reach_the_api_but_never_events(kafka_bootstrap: str) -> None:
    literal = example("01-prepaid-keypair.json")
    literal["server"]["adminPass"] = secrets.ADMIN_PASS_LITERAL
    literal["server"]["user_data"] = secrets.USER_DATA
    async with stack(kafka_bootstrap) as s:
        await s.publish(
            [("with-literal", literal), ("with-reference", example("02-prepaid-password.json"))]
        )
        records = await s.outcomes(2)
        progress = await s.progress(2)

    assert {r.json()["type"] for r in records} == {"ecs.provisioning.succeeded"}
    for record in [*records, *progress]:
        text = (record.value or b"").decode()
        for secret in secrets.ALL:
            assert secret not in text
    copy = by_key(records)["with-literal"][0]["data"]["request"]["server"]
    assert copy["adminPass"] == copy["user_data"] == "***"


async def test_worker_commits_past_every_outcome(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async with stack(kafka_bootstrap) as s:
        await s.publish([("c1", b"nope"), ("c2", example("05-dry-run.json"))])
        await s.outcomes(2)
        tp = TopicPartition(s.settings.topic_requests, 0)
        probe = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=s.settings.group_id)
        await probe.start()
        try:

            async def committed_two() -> bool:
                committed: int | None = await probe.committed(tp)
                return committed == 2

            await wait_for(committed_two, timeout=10)
        finally:
            await probe.stop()


async def test_api_rejection_fails_at_submit_with_the_apis_code(kafka_bootstrap: str) -> None:
    # The operator let a field through that this API (the simulator) does not know.
    unknown_to_api = example("01-prepaid-keypair.json")
    unknown_to_api["server"]["hostname"] = "web-1"
    async with stack(kafka_bootstrap, ECSP_ALLOWED_EXTRA_FIELDS="server.hostname") as s:
        await s.publish([("unknown-to-api", unknown_to_api)])
        (record,) = await s.outcomes(1)

    data = record.json()["data"]
    assert (data["stage"], data["retryable"]) == ("submit", False)
    assert data["error"]["code"] == "Ecs.0005"
    assert data["error"]["details"] == [{"code": "Ecs.0005"}]
    assert "server.hostname" in data["error"]["message"]
    assert data["error"]["http_status"] == 400
    assert data["error"]["request_id"]


async def test_a_field_newer_than_the_release_goes_through_when_allowed(
    kafka_bootstrap: str,
) -> None:
    """Forward compatibility: an allowed new field reaches the API unchanged; a typo does not."""
    newer = example("05-dry-run.json")
    newer.pop("dry_run")
    newer["server"]["hostname"] = "web-1"
    newer["server"]["nics"][0]["new_flag"] = True
    misspelt = example("05-dry-run.json")
    misspelt["server"]["hostnme"] = "web-1"
    allowed = "server.hostname,server.nics[].new_flag"
    api_knows = ("server.hostname", "server.nics[].new_flag")
    async with stack(
        kafka_bootstrap, api_extra_fields=api_knows, ECSP_ALLOWED_EXTRA_FIELDS=allowed
    ) as s:
        await s.publish([("newer", newer), ("misspelt", misspelt)])
        events = by_key(await s.outcomes(2))

    assert events["newer"][0]["type"] == "ecs.provisioning.succeeded"
    failed = events["misspelt"][0]["data"]
    assert (failed["stage"], failed["error"]["code"]) == ("validate", "ECSP.InvalidRequest")
    assert failed["error"]["details"][0]["path"] == "server.hostnme"


async def test_a_key_reused_after_the_token_window_without_room_for_tags_is_token_expired(
    kafka_bootstrap: str,
) -> None:
    """Without the worker's tags (the publisher's fill the 10 per server) nothing can be found
    after the window: the pre-tagging behaviour, token_expired, never a second server. (With
    tags the same key is reconciled: tests/e2e/test_token_window_e2e.py.)"""
    body = example("05-dry-run.json")
    body.pop("dry_run")
    body["server"]["server_tags"] = [{"key": f"team{i}", "value": "x"} for i in range(9)]
    async with stack(kafka_bootstrap, token_ttl_seconds=1.0) as s:
        await s.publish([("old-key", body)])
        await s.outcomes(1)
        await asyncio.sleep(1.5)
        await s.publish([("old-key", body)])
        records = await s.outcomes(2)
        stats = await s.sim("GET", "/_sim/stats")

    second = records[1].json()["data"]
    assert records[0].json()["type"] == "ecs.provisioning.succeeded"
    assert records[0].json()["data"]["tagging"] == "no_room"
    assert (second["stage"], second["error"]["code"]) == ("token_expired", "Ecs.0124")
    assert stats["servers_by_token"] == {client_token("old-key"): 1}  # never re-created

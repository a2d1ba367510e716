"""`ecs-provisioner publish` and `results` against a running stack, as from a second terminal."""

from __future__ import annotations

import json
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token, tenant_namespace
from tests.cli.conftest import Cli
from tests.support.offsets import end_offset
from tests.support.stack import EXAMPLES, TenantSetup, example, stack


async def test_publish_prints_partition_and_offset_and_the_worker_answers(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap) as s:
        path = str(EXAMPLES / "01-prepaid-keypair.json")
        result = await cli(s.env, "publish", path, "--key", "my-first-server")
        (outcome,) = await s.outcomes(1)
    assert result.code == 0, result.err
    token = client_token("my-first-server")
    assert result.out == (
        f"published my-first-server to {s.settings.topic_requests} partition 0 offset 0 "
        f"(client token {token})\n"
    )
    assert outcome.key == b"my-first-server"
    assert outcome.json()["type"] == "ecs.provisioning.succeeded"
    assert outcome.json()["data"]["client_token"] == token


async def test_publish_refuses_an_invalid_request_and_publishes_nothing(
    kafka_bootstrap: str, cli: Cli, tmp_path: Path
) -> None:
    body = example("01-prepaid-keypair.json")
    body["server"]["vpcid"] = "not-a-uuid"
    del body["server"]["flavorRef"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli(s.env, "publish", str(path), "--key", "bad")
        published = await end_offset(kafka_bootstrap, s.settings.topic_requests)
    assert result.code == 1
    lines = result.out.splitlines()
    assert any(line.startswith("bad: server.vpcid: ") for line in lines), result.out
    assert any(line.startswith("bad: server.flavorRef: ") for line in lines), result.out
    assert "not published: 2 problem(s)" in result.err
    assert published == 0


async def test_publish_refuses_what_the_worker_cannot_decode_naming_the_file_and_place(
    kafka_bootstrap: str, cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "body.json"
    path.write_text("{server: oops")
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli(s.env, "publish", str(path), "--key", "k")
        published = await end_offset(kafka_bootstrap, s.settings.topic_requests)
    assert result.code == 1
    assert result.out == (
        f"{path}: message value is not JSON: Expecting property name enclosed in double quotes "
        "at line 1 column 2 (ECSP.NotJson)\n"
    )
    assert published == 0


async def test_publish_names_an_unreachable_broker_and_its_setting_without_aiokafka_noise(
    cli: Cli,
) -> None:
    path = str(EXAMPLES / "05-dry-run.json")
    result = await cli(
        {"ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "publish", path, "--key", "k"
    )
    assert result.code == 3
    assert result.err == (
        "ecs-provisioner publish: cannot reach Kafka at 127.0.0.1:1 "
        "(ECSP_KAFKA_BOOTSTRAP_SERVERS): no broker answered\n"
    )


async def test_results_show_the_table_and_raw_cloudevents(kafka_bootstrap: str, cli: Cli) -> None:
    async with stack(kafka_bootstrap) as s:
        await s.publish([("res-ok", example("05-dry-run.json")), ("res-bad", b"[]")])
        await s.outcomes(2)
        table = await cli(s.env, "results", timeout=30)
        raw = await cli(s.env, "results", "--json", "--key", "res-bad", timeout=30)
    assert table.code == 0, table.err
    rows = table.out.splitlines()
    assert rows[0].split() == ["KEY", "TYPE", "SERVERS", "JOB", "REASON", "AGE"]
    assert any(r.split()[:2] == ["res-ok", "validated"] for r in rows[1:]), table.out
    assert any(r.split()[:3] == ["res-bad", "failed", "-"] for r in rows[1:]), table.out
    assert raw.code == 0, raw.err
    (line,) = raw.out.splitlines()
    event = json.loads(line)
    assert event["specversion"] == "1.0"
    assert event["type"] == "ecs.provisioning.failed"
    assert event["subject"] == "res-bad"
    assert event["data"]["stage"] == "decode"


async def _published_headers(bootstrap: str, topic: str) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", request_timeout_ms=10_000
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        return [dict(record.headers) for records in batch.values() for record in records]
    finally:
        await consumer.stop()


async def test_publish_sends_the_fallbacks_in_order_as_the_ecs_fallbacks_header(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        path = str(EXAMPLES / "01-prepaid-keypair.json")
        args = ["--fallback", "c7.large.2@az2-dc1", "--fallback", "@az3-dc1"]
        result = await cli(s.env, "publish", path, "--key", "placed", *args)
        (headers,) = await _published_headers(kafka_bootstrap, s.settings.topic_requests)
    assert result.code == 0, result.err
    assert headers["ecs-fallbacks"] == b"c7.large.2@az2-dc1,@az3-dc1"


async def test_publish_refuses_a_bad_fallback_and_publishes_nothing(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        path = str(EXAMPLES / "01-prepaid-keypair.json")
        args = ["--fallback", "c7@az2,c8@az3", "--fallback", "c9@"]
        result = await cli(s.env, "publish", path, "--key", "k", *args)
        published = await end_offset(kafka_bootstrap, s.settings.topic_requests)
    assert result.code == 1
    assert result.out.splitlines() == [
        "--fallback 'c7@az2,c8@az3': names one alternative each",
        "--fallback 'c9@': alternative 1 is not FLAVOR@ZONE, FLAVOR or @ZONE (visible ASCII "
        "characters other than , and @)",
    ]
    assert published == 0


async def test_publish_to_a_tenants_topic_does_not_print_the_shared_topics_token(
    kafka_bootstrap: str, cli: Cli
) -> None:
    tenants = {"team-a": TenantSetup("a1" + "0" * 30)}
    async with stack(kafka_bootstrap, tenants=tenants) as s:
        path = str(EXAMPLES / "01-prepaid-keypair.json")
        topic = s.topic("requests", "team-a")
        result = await cli(s.env, "publish", path, "--key", "team-server", "--topic", topic)
        (outcome,) = await s.outcomes(1, tenant="team-a")
    assert result.code == 0, result.err
    assert result.out == (
        f"published team-server to {topic} partition 0 offset 0 "
        "(client token in the topic's tenant namespace)\n"
    )
    team_a = tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a")
    assert outcome.json()["data"]["client_token"] == client_token("team-server", team_a)


async def test_a_tenant_publishes_waits_and_asks_the_status_on_its_own_topics(
    kafka_bootstrap: str, cli: Cli
) -> None:
    tenants = {"team-a": TenantSetup("a1" + "0" * 30)}
    async with stack(kafka_bootstrap, tenants=tenants) as s:
        path = str(EXAMPLES / "01-prepaid-keypair.json")
        as_a = ("--tenant", "team-a")
        waited = await cli(s.env, "publish", path, "--key", "a-server", *as_a, "--wait", "--json")
        status = await cli(s.env, "status", "a-server", *as_a, "--json")
        shared = await cli(s.env, "status", "a-server")
    team_a = client_token("a-server", tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a"))
    assert waited.code == 0, waited.err
    assert f"published a-server to {s.topic('requests', 'team-a')} " in waited.err + waited.out
    assert f"(client token {team_a})" in waited.err + waited.out
    assert json.loads(waited.out.splitlines()[-1])["data"]["client_token"] == team_a
    assert status.code == 0, status.err
    assert json.loads(status.out)["type"].endswith("succeeded")
    assert shared.code == 1  # the shared topics know nothing of team-a's request

"""`ecs-provisioner doctor` against a real broker and simulator: it passes on a working stack and
fails with the right fix for a wrong secret key, a skewed clock, a missing or uncompacted topic
and an unreachable broker; it never prints a secret."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer

from tests.cli.conftest import Cli, CliResult
from tests.support import secrets
from tests.support.kafka import broker_reachable, create_topics, delete_topics, unique_topic
from tests.support.stack import stack
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator


def row(result: CliResult, name: str) -> tuple[str, str]:
    """The outcome word and the rest of a check's line (and its fix line, if any)."""
    lines = result.out.splitlines()
    for i, text in enumerate(lines):
        outcome, _, rest = text.partition(" ")
        rest = rest.lstrip()
        if outcome in ("ok", "FAIL", "skip") and rest.startswith(name + "  "):
            following = lines[i + 1] if i + 1 < len(lines) else ""
            fix = following.strip() if following.strip().startswith("fix: ") else ""
            return outcome, rest[len(name) :].strip() + ("\n" + fix if fix else "")
    raise AssertionError(f"no check {name!r} in:\n{result.out}")


def assert_no_secret(result: CliResult, *more: str) -> None:
    for secret in (*secrets.ALL, *more):
        assert secret not in result.out + result.err


async def test_a_working_stack_passes_every_check(kafka_bootstrap: str, cli: Cli) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli(s.env, "doctor")
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1] == "all 12 checks passed"
    assert row(result, "topic state")[1].endswith("cleanup.policy=compact")
    assert row(result, "ECS credentials")[0] == "ok"
    assert_no_secret(result)


async def test_a_wrong_secret_key_is_named_with_its_fix(kafka_bootstrap: str, cli: Cli) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli({**s.env, "ECSP_ECS_SK": wrong}, "doctor")
    assert result.code == 1
    outcome, detail = row(result, "ECS credentials")
    assert outcome == "FAIL"
    assert detail.startswith("wrong secret key; the API said APIG.0301 (HTTP 401)")
    assert "fix: ECSP_ECS_SK (or ECSP_ECS_SK_FILE) is not the secret key of ECSP_ECS_AK" in detail
    assert row(result, "ECS endpoint")[0] == "ok"
    assert row(result, "kafka")[0] == "ok"
    assert_no_secret(result, wrong)


async def test_a_clock_off_by_an_hour_is_named_as_clock_skew(
    kafka_bootstrap: str, cli: Cli
) -> None:
    skewed = SimulatorConfig(
        credentials={secrets.TEST_AK: secrets.TEST_SK}, clock=lambda: time.time() + 3600
    )
    async with (
        stack(kafka_bootstrap, in_process_worker=False) as s,
        running_simulator(skewed) as url,
    ):
        result = await cli({**s.env, "ECSP_ECS_ENDPOINT": url}, "doctor")
    assert result.code == 1
    outcome, detail = row(result, "ECS credentials")
    assert outcome == "FAIL"
    assert detail.startswith("clock skew: this machine's clock (")
    assert "fix: synchronise this machine's clock" in detail
    assert_no_secret(result)


async def test_a_missing_and_an_uncompacted_topic_are_named_with_their_fix(
    kafka_bootstrap: str, cli: Cli
) -> None:
    missing, plain = unique_topic("missing-state"), unique_topic("plain-state")
    await create_topics(kafka_bootstrap, [plain])
    try:
        async with stack(kafka_bootstrap, in_process_worker=False) as s:
            gone = await cli({**s.env, "ECSP_TOPIC_STATE": missing}, "doctor")
            uncompacted = await cli({**s.env, "ECSP_TOPIC_STATE": plain}, "doctor")
            still_missing = missing not in await _topics(kafka_bootstrap)
    finally:
        await delete_topics(kafka_bootstrap, [plain])
    assert gone.code == 1
    outcome, detail = row(gone, "topic state")
    assert (outcome, detail.splitlines()[0]) == ("FAIL", f"{missing}: does not exist")
    assert f"--create --topic {missing} --partitions 12 --config cleanup.policy=compact" in detail
    assert still_missing  # the check asked the broker without creating it
    assert [r for r in gone.out.splitlines() if r.startswith("FAIL")] == [
        f"FAIL  topic state        {missing}: does not exist"
    ]
    assert uncompacted.code == 1
    outcome, detail = row(uncompacted, "topic state")
    assert outcome == "FAIL"
    assert detail.startswith(f"{plain}: 1 partition, cleanup.policy=delete")
    assert f"--entity-name {plain} --add-config cleanup.policy=compact" in detail


async def test_an_unreachable_broker_is_named_and_the_topic_checks_skipped(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli({**s.env, "ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "doctor")
    assert result.code == 1
    outcome, detail = row(result, "kafka")
    assert outcome == "FAIL"
    assert detail.startswith("127.0.0.1:1: KafkaConnectionError")
    assert "fix: start the broker or point ECSP_KAFKA_BOOTSTRAP_SERVERS at one" in detail
    assert row(result, "topic requests") == ("skip", "Kafka is not reachable")
    assert row(result, "ECS credentials")[0] == "ok"  # the rest is still checked
    assert broker_reachable(kafka_bootstrap)


async def test_an_incomplete_configuration_fails_and_the_rest_is_still_checked(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli({**s.env, "ECSP_ECS_PROJECT_ID": ""}, "doctor")
    assert result.code == 1
    outcome, detail = row(result, "configuration")
    assert outcome == "FAIL"
    assert "ECSP_ECS_PROJECT_ID: required" in detail
    assert row(result, "kafka")[0] == "ok"
    assert row(result, "ECS credentials")[0] == "skip"


async def _topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()

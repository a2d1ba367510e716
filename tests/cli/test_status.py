"""`ecs-provisioner status KEY` against a running stack: a known key (0), an unknown key (1), a
key whose request is still in progress (0), and `--watch` following it until Ctrl-C (0)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

from tests.cli.conftest import Cli
from tests.support.kafka import consume
from tests.support.stack import example, stack


def unpaid() -> dict[str, Any]:
    """A prePaid request whose order waits for payment: in progress until it is paid."""
    body = example("01-prepaid-keypair.json")
    body["server"]["extendparam"]["isAutoPay"] = "false"
    return body


async def test_known_unknown_and_in_progress_keys(kafka_bootstrap: str, cli: Cli) -> None:
    async with stack(kafka_bootstrap, partitions=3, state_partitions=6) as s:
        await s.publish([("st-done", example("05-dry-run.json")), ("st-unpaid", unpaid())])
        # st-done: validated; st-unpaid: submitted, awaiting_payment
        await consume(kafka_bootstrap, [s.settings.topic_state], count=3, timeout=60)
        known = await cli(s.env, "status", "st-done")
        as_json = await cli(s.env, "status", "st-done", "--json")
        in_progress = await cli(s.env, "status", "st-unpaid")
        unknown = await cli(s.env, "status", "st-never-published")
        off = await cli({**s.env, "ECSP_TOPIC_STATE": ""}, "status", "st-done")
    assert known.code == 0, known.err
    assert known.out.startswith("st-done: validated: the dry run passed the API's check; ")
    assert known.out.endswith(" ago\n")
    assert as_json.code == 0
    event = json.loads(as_json.out)
    assert (event["type"], event["subject"]) == ("ecs.provisioning.validated", "st-done")
    assert in_progress.code == 0, in_progress.err
    assert in_progress.out.startswith("st-unpaid: awaiting payment: order ")
    assert "(in progress)" in in_progress.out
    assert unknown.code == 1
    assert unknown.out == ""
    assert f"st-never-published: unknown: no state in {s.settings.topic_state}" in unknown.err
    assert off.code == 2
    assert "the state topic is off" in off.err


async def test_watch_prints_each_new_state_and_ends_normally_on_ctrl_c(
    kafka_bootstrap: str,
) -> None:
    async with stack(kafka_bootstrap) as s:
        await s.publish([("st-watched", unpaid())])
        states = await consume(kafka_bootstrap, [s.settings.topic_state], count=2, timeout=60)
        order_id = states[-1].json()["data"]["order_id"]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "worker",
            "status",
            "st-watched",
            "--watch",
            env={**os.environ, **s.env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(60):
                before = (await process.stdout.readline()).decode()
                await s.sim("POST", f"/_sim/orders/{order_id}/pay")
                after = (await process.stdout.readline()).decode()
                process.send_signal(signal.SIGINT)
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert before.startswith("st-watched: awaiting payment: order ")
    assert after.startswith("st-watched: succeeded: servers ")
    assert code == 0


async def test_an_unreachable_broker_exits_3(cli: Cli) -> None:
    result = await cli({"ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "status", "k")
    assert result.code == 3
    assert "cannot reach Kafka at" in result.err

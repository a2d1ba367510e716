"""`ecs-provisioner samples`: the demo batch reaches its computed summary against a real stack;
its state machine never moves backwards when events of different topics arrive out of order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.cli.conftest import Cli
from tests.support.stack import stack
from worker.cli.samples import TERMINAL, Sample, build_batch, describe, hints, summary
from worker.ops.settings import Settings


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": f"ecs.provisioning.{kind}", "data": data}


def test_a_late_progress_event_does_not_undo_a_result() -> None:
    sample = Sample("k", "label", b"{}")
    assert sample.apply(*describe(event("succeeded", server_ids=["s-1"], job_id="j-1")))
    assert not sample.apply(*describe(event("submitted", job_id="j-1")))
    assert not sample.apply(*describe(event("failed", stage="job", error={"code": "X"})))
    assert sample.status() == "succeeded: server s-1 (job j-1)"


def test_running_shows_elapsed_seconds_and_awaiting_payment_follows() -> None:
    sample = Sample("k", "label", b"{}")
    assert sample.apply(*describe(event("submitted", job_id="j-9")))
    assert sample.status() == "running 0s: job j-9"
    assert sample.apply(*describe(event("awaiting_payment", order_id="o-1")))
    assert not sample.apply(*describe(event("something_new")))
    assert sample.status() == "awaiting payment: order o-1"


def test_summary_is_counted_from_states() -> None:
    batch = build_batch("x")
    assert [s.key for s in batch] == [f"sample-x-0{n}" for n in range(1, 8)]
    batch[0].apply("succeeded", "")
    batch[1].apply("failed", "")
    batch[2].apply("failed", "")
    assert summary(batch) == "Sample batch: 1 succeeded, 0 validated, 2 failed"


def test_the_invalid_sample_breaks_two_rules_and_the_examples_are_untouched() -> None:
    batch = build_batch("x")
    invalid = json.loads(batch[-1].body)
    assert invalid["server"]["vpcid"] == "not-a-uuid"
    assert invalid["server"]["colour"] == "blue"
    assert json.loads(batch[0].body)["server"]["vpcid"] != "not-a-uuid"
    assert json.loads(batch[4].body)["dry_run"] is True


def test_hints_name_non_default_broker_and_topics() -> None:
    default = hints(Settings())
    assert "--bootstrap-servers" not in default
    assert (
        ".venv/bin/ecs-provisioner publish schemas/ecsp_contract/examples/01-prepaid-keypair.json "
        in default
    )
    assert "kcat -P -b 127.0.0.1:9092 -t ecs.provisioning.requests" in default
    custom = hints(Settings(kafka_bootstrap_servers="127.0.0.1:9592", topic_requests="my.requests"))
    assert "--bootstrap-servers 127.0.0.1:9592" in custom
    assert "ECSP_TOPIC_REQUESTS=my.requests .venv/bin/ecs-provisioner results" in custom


async def test_samples_reach_the_summary_ignoring_other_keys(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, partitions=3, job_seconds=(0.3, 1.5)) as s:
        other = asyncio.create_task(
            cli(s.env, "samples", "--no-watch", "--run-id", "t1", "--timeout", "60")
        )
        await asyncio.sleep(2)  # while the batch runs, someone else's requests finish too
        await s.publish([("someone-else", b"not json"), ("sample-t1", b"[]")])
        result = await other
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "Sample batch: 5 succeeded, 1 validated, 1 failed" in lines
    terminal = [
        line
        for line in lines
        if line.startswith("sample-t1-") and any(f" {w}: " in line for w in TERMINAL)
    ]
    assert len([t for t in terminal if " succeeded: server " in t]) == 5
    (validated,) = [t for t in terminal if " validated: " in t]
    assert validated.startswith("sample-t1-05 ")
    (failed,) = [t for t in terminal if " failed: " in t]
    assert failed.startswith("sample-t1-07 ")
    assert "validate: ECSP.InvalidRequest" in failed
    assert "server.vpcid" in failed
    assert "colour" in failed
    assert any(" running " in line for line in lines)  # the worker's submitted events show
    assert "someone-else" not in result.out
    flag_expected = kafka_bootstrap != Settings().kafka_bootstrap_servers
    assert (f"--bootstrap-servers {kafka_bootstrap}" in result.out) == flag_expected
    assert f"ECSP_TOPIC_REQUESTS={s.settings.topic_requests}" in result.out


async def test_samples_time_out_with_exit_3_naming_the_pending_keys(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        result = await cli(s.env, "samples", "--no-watch", "--run-id", "t2", "--timeout", "2")
    assert result.code == 3
    assert "Sample batch incomplete after 2s: sample-t2-01, sample-t2-02" in result.out
    assert "Sample batch:" not in result.out


async def test_samples_exit_3_when_a_topic_is_missing(kafka_bootstrap: str, cli: Cli) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        env = {**s.env, "ECSP_TOPIC_RESULTS": s.settings.topic_results + ".missing"}
        result = await cli(env, "samples", "--no-watch", "--timeout", "5")
    assert result.code == 3
    assert f"no topic {s.settings.topic_results}.missing" in result.err

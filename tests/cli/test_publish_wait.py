"""`ecs-provisioner publish --wait` as a CI step runs it: the exit code is the request's outcome.

0 succeeded or validated, 1 failed, 2 usage or invalid input (nothing published), 3 no outcome
within --timeout or Kafka unreachable."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from ecsp_contract.idempotency import client_token
from tests.cli.conftest import Cli
from tests.support.offsets import end_offset
from tests.support.stack import EXAMPLES, example, stack

EXAMPLE = str(EXAMPLES / "01-prepaid-keypair.json")


async def test_a_request_that_succeeds_exits_0_with_its_servers_and_a_republished_key_waits_anew(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, partitions=3) as s:
        first = await cli(s.env, "publish", EXAMPLE, "--key", "ci-ok", "--wait", "--timeout", "60")
        again = await cli(
            s.env, "publish", EXAMPLE, "--key", "ci-ok", "--wait", "--json", "--timeout", "60"
        )
    assert first.code == 0, first.err
    [line] = first.out.splitlines()
    assert line.startswith("ci-ok: succeeded: servers ")
    assert f"(client token {client_token('ci-ok')})" in first.err
    assert " offset 0 " in first.err
    # the same key again: answered by the event of the new record (same token, same servers)
    assert again.code == 0, again.err
    assert " offset 1 " in again.err
    event = json.loads(again.out)
    assert event["type"] == "ecs.provisioning.succeeded"
    assert event["data"]["origin"]["offset"] == 1
    assert ", ".join(event["data"]["server_ids"]) in line


async def test_a_request_that_fails_exits_1_with_its_stage_code_and_message(
    kafka_bootstrap: str, cli: Cli, tmp_path: Path
) -> None:
    body = example("02-prepaid-password.json")
    body["server"]["adminPass"] = "$NO_SUCH_SECRET"  # valid locally; the worker cannot find it
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    async with stack(kafka_bootstrap) as s:
        result = await cli(s.env, "publish", str(path), "--key", "ci-bad", "--wait")
    assert result.code == 1, result.err
    assert result.out.startswith("ci-bad: failed at validate: ECSP.UnknownSecret: ")
    assert result.out.rstrip().endswith("(not retryable)")


async def test_no_outcome_within_the_timeout_exits_3_and_says_where_the_request_went(
    kafka_bootstrap: str, cli: Cli
) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:  # nobody answers
        result = await cli(
            s.env, "publish", EXAMPLE, "--key", "ci-slow", "--wait", "--timeout", "2"
        )
        published = await end_offset(kafka_bootstrap, s.settings.topic_requests)
    assert result.code == 3, result.err
    assert result.out == ""
    assert (
        f"no outcome for ci-slow within 2s (published to {s.settings.topic_requests} "
        "partition 0 offset 0)" in result.err
    )
    assert published == 1


async def test_invalid_input_or_usage_exits_2_and_publishes_nothing(
    kafka_bootstrap: str, cli: Cli, tmp_path: Path
) -> None:
    body = example("01-prepaid-keypair.json")
    del body["server"]["flavorRef"]
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(body))
    lines = tmp_path / "requests.jsonl"
    lines.write_text(json.dumps({"key": "a", "request": example("05-dry-run.json")}) + "\n")
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        refused = await cli(s.env, "publish", str(invalid), "--key", "ci-invalid", "--wait")
        jsonl = await cli(s.env, "publish", str(lines), "--jsonl", "--wait")
        no_wait = await cli(s.env, "publish", EXAMPLE, "--key", "k", "--timeout", "5")
        published = await end_offset(kafka_bootstrap, s.settings.topic_requests)
    assert refused.code == 2
    assert "ci-invalid: server.flavorRef: " in refused.out
    assert jsonl.code == 2
    assert "--wait waits for one request" in jsonl.err
    assert no_wait.code == 2
    assert "--timeout and --json go with --wait" in no_wait.err
    assert published == 0


async def test_an_unreachable_broker_exits_3(cli: Cli) -> None:
    env = {"ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = await cli(env, "publish", EXAMPLE, "--key", "k", "--wait", "--timeout", "5")
    assert result.code == 3
    assert "cannot reach Kafka at" in result.err


def run_on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """`ecs-provisioner ARGS` with stdout on a pseudo-terminal; its exit code and what it wrote."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", *args],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
    )
    os.close(terminal)
    written = bytearray()
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        written += chunk
    os.close(controller)
    return process.wait(timeout=90), written.decode()


async def test_on_a_terminal_progress_is_one_rewritten_line(kafka_bootstrap: str) -> None:
    async with stack(kafka_bootstrap, job_seconds=(2.0, 2.5)) as s:
        args = ("publish", EXAMPLE, "--key", "ci-tty", "--wait", "--timeout", "60")
        code, written = await asyncio.to_thread(run_on_a_terminal, s.env, *args)
    assert code == 0, written
    frames = written.split("\r\x1b[K")
    assert any(
        f.startswith(("|", "/", "-", "\\")) and "ci-tty: submitted: job " in f for f in frames
    )
    *progress, result = frames
    assert result.startswith("ci-tty: succeeded: servers ")  # the line erased, then the outcome
    assert all("\n" not in frame for frame in progress)  # rewritten in place, never a new line

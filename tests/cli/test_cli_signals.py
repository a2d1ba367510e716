"""The Kafka commands stop within seconds of SIGINT or SIGTERM, with their documented exit code.

Each command is started the way CI and `cmd &` start things: with SIGINT inherited as ignored
(a background job of a non-interactive shell). Python then never raises KeyboardInterrupt, so
before `worker.cli.stopping` existed a Ctrl-C sent to such a command did nothing at all, and
`run.sh`'s Ctrl-C waited for someone to SIGTERM it (issue 29). SIGTERM, by default, killed the
command without its clean-up and with no exit code of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from tests.support.kafka import TopicFactory
from tests.support.signals import IGNORING_SIGINT
from tests.support.stack import EXAMPLES, stack

#: The command must be gone this long after the signal (the clean-up gets 2 s, then it exits).
WITHIN_SECONDS = 5.0


async def start(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        IGNORING_SIGINT,
        sys.executable,
        "-m",
        "worker",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for_line(process: asyncio.subprocess.Process, prefix: str) -> list[str]:
    """Reads stdout until a line starts with `prefix`; the lines read."""
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(90):
        while not lines or not lines[-1].startswith(prefix):
            line = await process.stdout.readline()
            assert line, f"ended before {prefix!r}:\n" + "".join(lines)
            lines.append(line.decode())
    return lines


async def signal_and_time_the_exit(process: asyncio.subprocess.Process, signum: int) -> float:
    """Sends `signum`, then waits (up to a minute) for the exit; the seconds it took."""
    sent = time.monotonic()
    process.send_signal(signum)
    try:
        async with asyncio.timeout(60):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return time.monotonic() - sent


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 0), (signal.SIGTERM, 0)])
async def test_results_follow_stops_at_once_and_a_signal_is_its_normal_end(
    kafka_bootstrap: str, new_topic: TopicFactory, signum: int, code: int
) -> None:
    env = {
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ECSP_TOPIC_RESULTS": await new_topic("results"),
        "ECSP_TOPIC_FAILURES": await new_topic("failures"),
    }
    process = await start(env, "results", "--follow")
    await wait_for_line(process, "KEY")  # the header: it reads, and waits for events
    await asyncio.sleep(1)  # well inside the wait for the next fetch
    took = await signal_and_time_the_exit(process, signum)
    assert process.returncode == code
    assert took < WITHIN_SECONDS


async def test_samples_watch_stops_at_once_on_ctrl_c(kafka_bootstrap: str) -> None:
    async with stack(kafka_bootstrap, partitions=3, job_seconds=(0.3, 1.0)) as s:
        process = await start(s.env, "samples", "--watch", "--run-id", "sig", "--timeout", "60")
        lines = await wait_for_line(process, "Following new events")
        took = await signal_and_time_the_exit(process, signal.SIGINT)
    assert "Sample batch: 5 succeeded, 1 validated, 1 failed\n" in lines
    assert process.returncode == 0
    assert took < WITHIN_SECONDS


async def test_a_signal_before_the_batch_finished_is_an_interruption(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """No worker answers: samples waits for the batch; SIGTERM ends it with 143, not 0."""
    env = {"ECSP_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    for channel in ("requests", "results", "failures", "progress"):
        env[f"ECSP_TOPIC_{channel.upper()}"] = await new_topic(channel)
    process = await start(env, "samples", "--run-id", "sig2", "--timeout", "60")
    await wait_for_line(process, "Published 7 requests")
    took = await signal_and_time_the_exit(process, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM
    assert took < WITHIN_SECONDS


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_an_interrupted_publish_wait_is_an_interruption(
    kafka_bootstrap: str, signum: int, code: int
) -> None:
    """No worker answers: the wait is interrupted, not ended normally (the request goes on)."""
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        body = str(EXAMPLES / "05-dry-run.json")
        process = await start(s.env, "publish", body, "--key", "sig-wait", "--wait")
        assert process.stderr is not None
        async with asyncio.timeout(90):
            published = (await process.stderr.readline()).decode()
        took = await signal_and_time_the_exit(process, signum)
    assert published.startswith("published sig-wait to ")
    assert process.returncode == code
    assert took < WITHIN_SECONDS

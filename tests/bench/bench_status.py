"""Benchmark (not a test): `status KEY` beside N other keys, vs scanning like `results --key`.

A deployment that answered N requests holds N states in its compacted state topic (12 partitions,
as deploy/k8s declares it) and N answers in its results topic (3 partitions). Both are filled
with the same realistic event (a `succeeded` with the redacted copy of the reference's first
request, ~2 KB), keyed `bench-<i>`. Then, median of several runs each:

- `status KEY` in-process (`worker.cli.status`, output discarded): connect, find the key's
  partition, read it backwards; for the key written last, the key written first, and an unknown
  key (one whole partition: the worst case);
- the baseline, `results --key KEY --json` in-process (`worker.cli.results`): every partition of
  the results and failures topics from the beginning, as it answers the same question today (its
  time does not depend on the key);
- both as a user runs them (`ecs-provisioner status KEY`, `ecs-provisioner results --key KEY`
  subprocesses, wall clock, interpreter start included), next to `ecs-provisioner --version`,
  the start-up floor of any command.

Run alone: ``python -m tests.bench.bench_status [--quick] [--requests N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ecsp_contract.event_examples import example_event
from ecsp_contract.events import EventType
from tests.bench.common import Section, bench_bootstrap, fast_producer, ratio, run_alone
from tests.support.kafka import create_topics, delete_topics
from tests.support.stack import STATE_TOPIC_CONFIG, example
from worker.cli import results, status
from worker.cli.stopping import Stop
from worker.ops.settings import Settings

STATE_PARTITIONS = 12
RESULTS_PARTITIONS = 3
STATUS_RUNS = 5
BASELINE_RUNS = 3


def event_value(key: str) -> bytes:
    """A `succeeded` event of `key` as the worker writes it (with the request copy)."""
    event: dict[str, Any] = example_event(EventType.SUCCEEDED).model_dump(mode="json")
    event["subject"] = key
    event["data"]["request_key"] = key
    event["data"]["request"] = example("01-prepaid-keypair.json")
    return json.dumps(event).encode()


async def fill(bootstrap: str, topics: list[str], count: int) -> float:
    """Writes one event per key `bench-0`..`bench-<count-1>` to each topic; the seconds taken."""
    producer = fast_producer(bootstrap)
    await producer.start()
    started = time.perf_counter()
    try:
        for first in range(0, count, 2000):
            keys = [f"bench-{i}" for i in range(first, min(count, first + 2000))]
            futures = [
                await producer.send(topic, event_value(key), key=key.encode())
                for key in keys
                for topic in topics
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def filled_topics(bootstrap: str, count: int) -> AsyncIterator[tuple[Settings, float]]:
    suffix = uuid.uuid4().hex[:8]
    state, results_topic, failures = (f"bench.{r}.{suffix}" for r in ("state", "results", "fail"))
    await create_topics(bootstrap, [state], STATE_PARTITIONS, STATE_TOPIC_CONFIG)
    await create_topics(bootstrap, [results_topic, failures], RESULTS_PARTITIONS)
    try:
        seconds = await fill(bootstrap, [state, results_topic], count)
        settings = Settings(
            kafka_bootstrap_servers=bootstrap,
            topic_state=state,
            topic_results=results_topic,
            topic_failures=failures,
        )
        yield settings, seconds
    finally:
        await delete_topics(bootstrap, [state, results_topic, failures])


async def in_process(command: Callable[[], Awaitable[object]], runs: int) -> float:
    """The median seconds of `runs` runs of a command, its output discarded."""
    times = []
    for _ in range(runs):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            started = time.perf_counter()
            await command()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def status_of(settings: Settings, key: str) -> Callable[[], Awaitable[object]]:
    args = argparse.Namespace(key=key, json=True, watch=False)
    return lambda: status._status(settings, Stop(), args)


def results_for(settings: Settings, key: str) -> Callable[[], Awaitable[object]]:
    args = argparse.Namespace(key=key, json=True, follow=False, progress=False)
    return lambda: results._read(settings, args)


async def cli(settings: Settings, runs: int, *args: str) -> float:
    """The median wall-clock seconds of `ecs-provisioner ARGS` as a subprocess."""
    env = {
        **os.environ,
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ECSP_TOPIC_STATE": settings.topic_state,
        "ECSP_TOPIC_RESULTS": settings.topic_results,
        "ECSP_TOPIC_FAILURES": settings.topic_failures,
    }
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", *args, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with asyncio.timeout(300):
            await process.wait()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def bench(requests: int) -> Section:
    bootstrap = bench_bootstrap()
    last, first, unknown = f"bench-{requests - 1}", "bench-0", "bench-never-published"
    async with filled_topics(bootstrap, requests) as (settings, fill_seconds):
        timed = {
            "last": await in_process(status_of(settings, last), STATUS_RUNS),
            "first": await in_process(status_of(settings, first), STATUS_RUNS),
            "unknown": await in_process(status_of(settings, unknown), STATUS_RUNS),
            "baseline": await in_process(results_for(settings, last), BASELINE_RUNS),
            "cli floor": await cli(settings, STATUS_RUNS, "--version"),
            "cli last": await cli(settings, STATUS_RUNS, "status", last),
            "cli unknown": await cli(settings, STATUS_RUNS, "status", unknown),
            "cli baseline": await cli(settings, BASELINE_RUNS, "results", "--key", last, "--json"),
        }
    size = len(event_value(last))
    base, cli_base = timed["baseline"], timed["cli baseline"]
    rows: list[list[Any]] = [
        ["in-process, key written last, s", timed["last"], base, ratio(timed["last"], base)],
        ["in-process, key written first, s", timed["first"], base, ratio(timed["first"], base)],
        ["in-process, unknown key, s", timed["unknown"], base, ratio(timed["unknown"], base)],
        ["CLI wall clock, key written last, s", timed["cli last"], cli_base,
         ratio(timed["cli last"], cli_base)],
        ["CLI wall clock, unknown key, s", timed["cli unknown"], cli_base,
         ratio(timed["cli unknown"], cli_base)],
        ["CLI start-up floor (`--version`), s", timed["cli floor"], timed["cli floor"], "-"],
        ["records a lookup may read", f"~{requests // STATE_PARTITIONS:,} (1 partition)",
         f"{requests:,} (every partition)", "-"],
    ]  # fmt: skip
    return Section(
        name="status",
        title=f"`status KEY` beside {requests:,} other keys vs a `results --key` scan",
        columns=["metric", "status (state topic)", "results --key (baseline)", "status / baseline"],
        rows=rows,
        params={
            "keys": requests,
            "event_bytes": size,
            "state_partitions": STATE_PARTITIONS,
            "results_partitions": RESULTS_PARTITIONS,
            "runs": f"{STATUS_RUNS} (baseline {BASELINE_RUNS})",
        },
        details={"seconds": timed, "fill_seconds": round(fill_seconds, 1)},
        notes=[
            "Median of the runs; in-process = the command's coroutine with its output discarded "
            "(connect, metadata, read), CLI = a subprocess as a user runs it.",
            "The state topic holds one record per key here; a live one also holds each key's "
            "progress copy until the cleaner runs (segment.ms=1 h in the manifests).",
            "An unknown key reads its whole partition (from the end, in doubling chunks); a key "
            "written recently is in the first chunk.",
        ],
    )


def main(argv: list[str] | None = None) -> None:
    run_alone(__doc__ or "", bench, quick=20_000, full=100_000, argv=argv)


if __name__ == "__main__":
    main()

"""Benchmark (not a test): end-to-end requests/s and worker CPU per 1,000 requests.

The worker (`ecs-provisioner run`, a child process) against the simulator (another child
process) with instant jobs, next to two anchors measured in the same invocation:
- a raw aiokafka consume→produce pass-through doing the same Kafka traffic
  (`tests.bench.passthrough`): the throughput anchor. Each side gets a pre-filled request topic
  of its own, is started, and is timed over the 10 %..90 % window of its terminal messages
  (start-up and tail excluded); CPU is the child's own (psutil), sampled at the window's edges;
- the official SDK's synchronous client doing create + job check per request, on one thread
  and on a pool of threads (`tests.bench.bench_sdk.sdk`): the CPU anchor.
Run alone: ``python -m tests.bench.bench_e2e [--quick] [--requests N]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from tests.bench.bench_client import AK, SK, Throughput
from tests.bench.bench_sdk import sdk
from tests.bench.common import (
    Section,
    Simulator,
    Usage,
    bench_bootstrap,
    bench_topics,
    bench_worker_env,
    collect,
    mean_value_size,
    prefill,
    ratio,
    request_value,
    run_alone,
    sampling,
    simulator,
    spawn,
    stop,
    worker_command,
)

#: Job checks come quickly: jobs are instant, so waiting would only measure the poll interval.
#: Jobs are followed one by one: an instant job is shorter than the server list's delay, so bulk
#: following would wait for its unseen timeout (bulk following has its own benchmark, `follow`).
WORKER_SETTINGS = {
    "ECSP_BULK_FOLLOW": "false",
    "ECSP_MAX_IN_FLIGHT": "1000",
    "ECSP_JOB_POLL_INITIAL_SECONDS": "0.05",
    "ECSP_JOB_POLL_MAX_SECONDS": "0.5",
}


@dataclass(frozen=True)
class Run:
    """One side's figures."""

    requests: int
    per_second: float
    cpu_per_1000: float
    total_seconds: float
    total_cpu: float
    peak_rss_mib: float
    simulator_cpu_per_1000: float = 0.0


async def run_worker(
    bootstrap: str,
    sim: Simulator,
    count: int,
    wrap: Sequence[str] = (),
    settings: Mapping[str, str] = WORKER_SETTINGS,
) -> tuple[Run, dict[str, int]]:
    """Pre-fills, starts the worker (optionally under a profiler `wrap`), times its outcomes."""
    async with bench_topics(bootstrap, partitions=4) as topics:
        await prefill(bootstrap, topics["requests"], count)
        env = bench_worker_env(
            bootstrap, sim.url, topics, f"bench-{uuid.uuid4().hex[:8]}", **settings
        )
        sim_usage = Usage(sim.process)
        sim_cpu = sim_usage.cpu()
        process = spawn(worker_command(wrap), "worker", env)
        try:
            target = await _python_child(process) if wrap else process
            usage = Usage(target)
            run = await _timed(bootstrap, [topics["results"], topics["failures"]], count, usage)
            run = dataclasses.replace(
                run, simulator_cpu_per_1000=(sim_usage.cpu() - sim_cpu) / count * 1000
            )
            if wrap:  # the profiler writes its output once the worker has exited
                target.terminate()
                target.wait(timeout=60)
        finally:
            stop(process, timeout=60)
        sizes = {
            "progress": await mean_value_size(bootstrap, topics["progress"]),
            "result": await mean_value_size(bootstrap, topics["results"]),
            "request": len(request_value()),
        }
    return run, sizes


async def _python_child(wrapper: psutil.Popen) -> psutil.Process:
    """The worker process under a profiler wrapper (its first Python child)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = wrapper.children(recursive=True)
        if children:
            return children[0]
        await asyncio.sleep(0.05)
    raise TimeoutError("the profiled worker did not start")


async def run_passthrough(bootstrap: str, count: int, sizes: dict[str, int]) -> Run:
    async with bench_topics(bootstrap, partitions=4) as topics:
        await prefill(bootstrap, topics["requests"], count)
        args = [
            sys.executable, "-m", "tests.bench.passthrough", "--bootstrap", bootstrap,
            "--input", topics["requests"], "--group", f"bench-pt-{uuid.uuid4().hex[:8]}",
            "--progress", topics["progress"], "--results", topics["results"],
            "--progress-size", str(sizes["progress"]), "--result-size", str(sizes["result"]),
        ]  # fmt: skip
        process = spawn(args, "passthrough")
        try:
            return await _timed(bootstrap, [topics["results"]], count, Usage(process))
        finally:
            stop(process)


async def _timed(bootstrap: str, topics: list[str], count: int, usage: Usage) -> Run:
    started = time.time()
    async with sampling([usage]):
        _, window = await collect(bootstrap, topics, count, timeout=300, cpu=usage.cpu)
    return Run(
        requests=count,
        per_second=window.per_second,
        cpu_per_1000=window.cpu_per_1000,
        total_seconds=window.high_time - started,
        total_cpu=usage.cpu(),
        peak_rss_mib=usage.peak_rss / 2**20,
    )


#: The SDK anchor: requests per run, and the thread count of its pooled figure.
SDK_REQUESTS = 1000
SDK_THREADS = 16
#: Rounds of (worker, pass-through, SDK one thread, SDK threads); the table shows medians.
ROUNDS = 3


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


async def bench(count: int, rounds: int = ROUNDS) -> Section:
    bootstrap = bench_bootstrap()
    sdk_requests = min(count, SDK_REQUESTS)
    workers: list[Run] = []
    passes: list[Run] = []
    ones: list[Throughput] = []
    pools: list[Throughput] = []
    async with (
        simulator(job_seconds=(0.0, 0.0)) as sim,
        simulator(job_seconds=(0.0, 0.0), credentials=(AK, SK)) as sdk_sim,
    ):
        await run_worker(bootstrap, sim, min(count, 300))  # warm-up: imports, broker, sim
        await asyncio.to_thread(sdk, sdk_sim.url, 50, 1)
        for _ in range(rounds):  # side by side, round after round: each meets the same machine
            worker, sizes = await run_worker(bootstrap, sim, count)
            workers.append(worker)
            passes.append(await run_passthrough(bootstrap, count, sizes))
            ones.append(await asyncio.to_thread(sdk, sdk_sim.url, sdk_requests, 1))
            pools.append(await asyncio.to_thread(sdk, sdk_sim.url, sdk_requests, SDK_THREADS))
        stats = await sim.stats()
    rate = _median([w.per_second for w in workers])
    rate_pt = _median([p.per_second for p in passes])
    worker_ms = _median([w.cpu_per_1000 for w in workers])  # s per 1,000 = ms per request
    pt_ms = _median([p.cpu_per_1000 for p in passes])
    sdk_one = _median([t.cpu_us_per_request / 1000 for t in ones])
    sdk_pool = _median([t.cpu_us_per_request / 1000 for t in pools])
    rss, rss_pt = (
        _median([w.peak_rss_mib for w in workers]),
        _median([p.peak_rss_mib for p in passes]),
    )
    took = _median([w.total_seconds for w in workers])
    took_pt = _median([p.total_seconds for p in passes])
    rows: list[list[Any]] = [
        ["requests/s (10-90 % window) vs pass-through", rate, rate_pt, ratio(rate, rate_pt)],
        ["CPU ms per request vs pass-through", worker_ms, pt_ms, ratio(worker_ms, pt_ms)],
        ["CPU ms per request vs SDK create + job check, 1 thread", worker_ms, sdk_one,
         ratio(worker_ms, sdk_one)],
        [f"CPU ms per request vs SDK create + job check, {SDK_THREADS} threads", worker_ms,
         sdk_pool, ratio(worker_ms, sdk_pool)],
        ["simulator CPU ms per request (worker run)",
         _median([w.simulator_cpu_per_1000 for w in workers]), "-", "-"],
        ["peak RSS, MiB vs pass-through", rss, rss_pt, ratio(rss, rss_pt)],
        ["start to 90 % done, s vs pass-through", took, took_pt, ratio(took, took_pt)],
    ]  # fmt: skip
    return Section(
        name="e2e",
        title=f"End to end: worker vs raw aiokafka pass-through and the official SDK ({count:,} "
        "requests)",
        columns=["metric", "worker", "anchor", "worker / anchor"],
        rows=rows,
        params={
            "rounds": rounds,
            "requests": count,
            "partitions": 4,
            **WORKER_SETTINGS,
            "job_seconds": "0:0",
            "sdk_requests": sdk_requests,
        },
        details={
            "worker": [w.__dict__ for w in workers],
            "passthrough": [p.__dict__ for p in passes],
            "sdk_one_thread": [t.__dict__ for t in ones],
            "sdk_threads": [t.__dict__ for t in pools],
            "message_bytes": sizes,
            "simulator_requests_total": stats["requests_total"],
        },
        notes=[
            f"Each figure is the median of {rounds} rounds; a round runs the worker, the "
            "pass-through and the SDK one after the other (every run: `details` in latest.json).",
            "SDK: `huaweicloudsdkecs` `EcsClient` (synchronous), per request one create (new "
            "X-Client-Token) and job checks until SUCCESS (instant jobs: one), against a "
            "simulator of its own; CPU is this process's (`time.process_time`). The worker's CPU "
            "per request covers everything it does: consume, decode, validate, sign, create, "
            "job check, two events, commit, logs.",
            "Worker: create + job check + `submitted` and `succeeded` events per request, INFO "
            "JSON logs to a file; simulator and broker on the same machine, in other processes.",
            "Pass-through: per request one progress-sized and one result-sized message "
            f"({sizes['progress']} and {sizes['result']} bytes, measured from the worker's "
            "events), same producer settings, manual commit after each acked batch.",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, bench, quick=1500, full=5000, argv=argv)


if __name__ == "__main__":
    main()

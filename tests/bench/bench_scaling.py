"""Benchmark (not a test): 1, 2 and 4 worker processes in one group on a 4-partition topic.

For each size the workers are started first and the run waits until their readiness probes
together report all 4 partitions assigned (so no rebalance falls into the measurement); then
the requests are published and the 10 %..90 % window of the terminal events is timed. The
simulator answers with a small fixed latency and jobs are short. Reports requests/s, the ratio
to one worker, and the workers' summed CPU per 1,000 requests.
Run alone: ``python -m tests.bench.bench_scaling [--quick] [--requests N]``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aiohttp

from tests.bench.common import (
    Section,
    Simulator,
    Usage,
    bench_bootstrap,
    bench_topics,
    bench_worker_env,
    collect,
    free_port,
    prefill,
    run_alone,
    sampling,
    simulator,
    spawn,
    stop,
    wait_until,
    worker_command,
)

PARTITIONS = 4
LATENCY_MS = (10.0, 10.0)
JOB_SECONDS = (0.3, 0.3)
#: Per-job following: 0.3 s jobs are shorter than the server list's delay, so bulk following
#: would wait for its unseen timeout (it has its own benchmark, `follow`).
WORKER_SETTINGS = {
    "ECSP_BULK_FOLLOW": "false",
    "ECSP_MAX_IN_FLIGHT": "500",
    "ECSP_JOB_POLL_INITIAL_SECONDS": "0.35",
    "ECSP_JOB_POLL_MAX_SECONDS": "0.5",
}


async def _assigned(ports: Sequence[int]) -> int:
    """Partitions the workers' readiness probes report (0 for a worker not ready yet)."""
    total = 0
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for port in ports:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    body = await response.json()
            except (aiohttp.ClientError, OSError, TimeoutError):
                continue
            if body.get("ok"):
                total += int(str(body.get("reason", "0")).split()[0])
    return total


async def run_size(bootstrap: str, sim: Simulator, workers: int, count: int) -> dict[str, Any]:
    async with bench_topics(bootstrap, partitions=PARTITIONS) as topics:
        group = f"bench-scale-{uuid.uuid4().hex[:8]}"
        ports = [free_port() for _ in range(workers)]
        processes = [
            spawn(
                worker_command(),
                f"worker-scale{workers}-{i}",
                bench_worker_env(
                    bootstrap, sim.url, topics, group, ECSP_OPS_PORT=str(port), **WORKER_SETTINGS
                ),
            )
            for i, port in enumerate(ports)
        ]
        usages = [Usage(p) for p in processes]
        try:

            async def all_assigned() -> bool:
                return await _assigned(ports) == PARTITIONS

            await wait_until(all_assigned, timeout=90, what=f"{workers} workers to share 4 parts")
            await asyncio.sleep(1.0)  # let the last rebalance settle
            async with sampling(usages):
                started = time.time()
                producing = asyncio.create_task(prefill(bootstrap, topics["requests"], count))
                _, window = await collect(
                    bootstrap, [topics["results"], topics["failures"]], count, timeout=300,
                    cpu=lambda: sum(u.cpu() for u in usages),
                )  # fmt: skip
                await producing
        finally:
            for process in processes:
                stop(process, timeout=60)
    return {
        "workers": workers,
        "per_second": window.per_second,
        "cpu_per_1000": window.cpu_per_1000,
        "seconds_to_90_percent": window.high_time - started,
        "peak_rss_mib_each": max(u.peak_rss for u in usages) / 2**20,
    }


async def bench(count: int, sizes: Sequence[int] = (1, 2, 4)) -> Section:
    bootstrap = bench_bootstrap()
    results = []
    async with simulator(job_seconds=JOB_SECONDS, latency_ms=LATENCY_MS) as sim:
        await run_size(bootstrap, sim, 1, min(count, 300))  # warm-up
        for workers in sizes:
            results.append(await run_size(bootstrap, sim, workers, count))
    base = results[0]["per_second"]
    rows = [
        [r["workers"], r["per_second"], f"{r['per_second'] / base:.2f}", r["cpu_per_1000"],
         r["peak_rss_mib_each"]]
        for r in results
    ]  # fmt: skip
    return Section(
        name="scaling",
        title=f"Scaling: worker processes in one group, {PARTITIONS}-partition topic "
        f"({count:,} requests each)",
        columns=[
            "workers",
            "requests/s",
            "vs 1 worker",
            "CPU s per 1,000 (all workers)",
            "peak RSS MiB (largest worker)",
        ],
        rows=rows,
        params={
            "requests": count,
            "latency_ms": f"{LATENCY_MS[0]:.0f}",
            "job_seconds": f"{JOB_SECONDS[0]}",
            **WORKER_SETTINGS,
        },
        details={"runs": results},
        notes=[
            "All processes (workers, simulator, broker, producer and counting consumer) share "
            "this machine's CPUs, so more workers than free cores cannot scale linearly here.",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, bench, quick=1500, full=4000, argv=argv)


if __name__ == "__main__":
    main()

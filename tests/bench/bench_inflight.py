"""Benchmark (not a test): 10,000 jobs in flight with 2-minute simulated durations.

One worker process (`ECSP_MAX_IN_FLIGHT` above the job count, the default bulk following: the
building servers listed every 5 s, a job read when its servers left BUILD, a safety net every
300 s) against the simulator with jobs of about two minutes, no API rate limit. Reports the worker's
peak RSS (sampled, and the kernel's VmHWM), its CPU, API calls per job (the simulator's request
count over its creates) and how late each completion is noticed: the `succeeded` event's `time`
and its arrival at a consumer, each minus the job's simulated end (`data.end_time`).
Run alone: ``python -m tests.bench.bench_inflight [--quick] [--jobs N] [--job-seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import uuid
from collections.abc import Sequence
from typing import Any

from tests.bench.common import (
    Arrival,
    Section,
    bench_bootstrap,
    bench_topics,
    bench_worker_env,
    prefill,
    print_section,
    run_until_outcomes,
    simulator,
)


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def lateness(arrivals: list[Arrival]) -> dict[str, list[float]]:
    """Per succeeded event: event time - job end, arrival - job end, job begin (epoch s)."""
    noticed, received, begins = [], [], []
    for arrival in arrivals:
        event = json.loads(arrival.value)
        data = event["data"]
        if event["type"] != "ecs.provisioning.succeeded" or not data.get("end_time"):
            continue
        end = _epoch(data["end_time"])
        noticed.append(_epoch(event["time"]) - end)
        received.append(arrival.at - end)
        begins.append(_epoch(data["begin_time"]))
    return {"noticed": noticed, "received": received, "begins": begins}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}


async def bench(jobs: int, job_seconds: float) -> Section:
    bootstrap = bench_bootstrap()
    spread = (job_seconds * 0.95, job_seconds * 1.05)
    async with (
        simulator(job_seconds=spread) as sim,
        bench_topics(bootstrap, partitions=4) as topics,
    ):
        await prefill(bootstrap, topics["requests"], jobs)
        env = bench_worker_env(
            bootstrap, sim.url, topics, f"bench-{uuid.uuid4().hex[:8]}",
            ECSP_MAX_IN_FLIGHT=str(jobs + 1000),
            ECSP_JOB_POLL_INITIAL_SECONDS="5", ECSP_JOB_POLL_MAX_SECONDS="15",
            ECSP_JOB_POLL_FACTOR="2",
        )  # fmt: skip
        run = await run_until_outcomes(
            bootstrap, topics, env, name="worker-inflight", count=jobs,
            timeout=job_seconds * 1.05 + 300, interval=0.5,
        )  # fmt: skip
        arrivals, usage, cpu, elapsed = run.arrivals, run.usage, run.cpu, run.wall_seconds
        stats = await sim.stats()
    late = lateness(arrivals)
    noticed, received = percentiles(late["noticed"]), percentiles(late["received"])
    creates = max(1, int(stats["creates"]))
    ramp = max(late["begins"]) - min(late["begins"]) if late["begins"] else 0.0
    rows: list[list[Any]] = [
        ["jobs succeeded", len(late["noticed"])],
        ["peak RSS of the worker, MiB", usage.peak_rss / 2**20],
        ["worker CPU, s (whole run)", cpu],
        ["worker CPU, s per 1,000 jobs", cpu / jobs * 1000],
        ["worker CPU, mean share of one core", cpu / elapsed],
        ["API calls per job (create + checks)", stats["requests_total"] / creates],
        ["completion noticed late (event time - job end), p50 / p95 / max s",
         f"{noticed['p50']:.1f} / {noticed['p95']:.1f} / {noticed['max']:.1f}"],
        ["completion received late (consumer - job end), p50 / p95 / max s",
         f"{received['p50']:.1f} / {received['p95']:.1f} / {received['max']:.1f}"],
        ["all creates accepted within, s", ramp],
        ["wall time, worker start to last event, s", elapsed],
    ]  # fmt: skip
    return Section(
        name="inflight",
        title=f"{jobs:,} jobs in flight, {job_seconds:.0f} s simulated jobs, one worker",
        columns=["metric", "value"],
        rows=rows,
        params={
            "jobs": jobs,
            "job_seconds": f"{spread[0]:.0f}:{spread[1]:.0f}",
            "ECSP_MAX_IN_FLIGHT": jobs + 1000,
            "job following": "bulk (defaults: list every 5 s, safety net 300 s)",
            "ECSP_API_RATE_LIMIT": 0,
        },
        details={
            "noticed_late_s": noticed,
            "received_late_s": received,
            "simulator": {k: v for k, v in stats.items() if k != "servers_by_token"},
            "duplicates": sum(1 for n in stats["servers_by_token"].values() if n > 1),
        },
        notes=[
            "Lateness is bounded by the list interval (5 s) plus the time to read the jobs "
            "whose servers left BUILD in one listing; the create ramp shifts every job's end.",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 jobs of 30 s")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--job-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    jobs = args.jobs or (2000 if args.quick else 10_000)
    seconds = args.job_seconds or (30.0 if args.quick else 120.0)
    print_section(asyncio.run(bench(jobs, seconds)))


if __name__ == "__main__":
    main()

"""Benchmark (not a test): following long jobs on a 20 calls/s API budget, bulk vs per job.

Two workers, each with its own simulator and topics, run side by side in one invocation on the
same pre-filled requests: one follows jobs in bulk (the default), the other with
`ECSP_BULK_FOLLOW=false` (every job on its own schedule: 5 s, x2, cap 15 s) as the baseline.
Both have `ECSP_API_RATE_LIMIT=20` and `ECSP_MAX_IN_FLIGHT` above the request count; the
simulators' jobs last `job_seconds` (±5 %) and their server list is eventually consistent (a new
server is missing from it for `list_lag` s). Reports the API calls per job by operation (the
simulator's counts over its creates), how late each job's end was noticed (the `succeeded`
event's `time`, and its arrival at a consumer, minus the job's `end_time`), failed requests by
code and throttled answers. Run alone:
``python -m tests.bench.bench_follow [--requests N] [--job-seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.bench.bench_inflight import lateness, percentiles
from tests.bench.common import (
    Section,
    bench_bootstrap,
    bench_topics,
    bench_worker_env,
    prefill,
    print_section,
    run_until_outcomes,
    simulator,
)

RATE_LIMIT = "20"
LIST_LAG_SECONDS = 3.0
JOB_READ = "GET /v1/{project_id}/jobs/{job_id}"
LIST = "GET /v1/{project_id}/cloudservers/detail"
CREATE = "POST /v1.1/{project_id}/cloudservers"


@dataclass(frozen=True)
class Run:
    """One worker's figures."""

    name: str
    requests: int
    calls_per_job: float
    creates_per_job: float
    job_reads_per_job: float
    lists_per_job: float
    noticed: dict[str, float]
    received: dict[str, float]
    succeeded: int
    failed: dict[str, int]
    throttled: int
    cpu_seconds: float
    wall_seconds: float


async def follow_run(name: str, requests: int, job_seconds: float, **settings: str) -> Run:
    bootstrap = bench_bootstrap()
    spread = (job_seconds * 0.95, job_seconds * 1.05)
    async with (
        simulator(job_seconds=spread, list_lag_seconds=LIST_LAG_SECONDS) as sim,
        bench_topics(bootstrap, partitions=4) as topics,
    ):
        await prefill(bootstrap, topics["requests"], requests)
        env = bench_worker_env(
            bootstrap, sim.url, topics, f"bench-{uuid.uuid4().hex[:8]}",
            ECSP_API_RATE_LIMIT=RATE_LIMIT, ECSP_MAX_IN_FLIGHT=str(requests + 1000), **settings,
        )  # fmt: skip
        run = await run_until_outcomes(
            bootstrap, topics, env, name=f"worker-follow-{name}", count=requests,
            timeout=job_seconds * 1.05 + 1800, interval=1.0,
        )  # fmt: skip
        stats = await sim.stats()
    late = lateness(run.arrivals)
    failed = Counter(_failure_code(a.value) for a in run.arrivals)
    failed.pop(None, None)
    operations = stats["requests_by_operation"]
    creates = max(1, int(stats["creates"]))
    return Run(
        name=name,
        requests=requests,
        calls_per_job=stats["requests_total"] / creates,
        creates_per_job=operations.get(CREATE, 0) / creates,
        job_reads_per_job=operations.get(JOB_READ, 0) / creates,
        lists_per_job=operations.get(LIST, 0) / creates,
        noticed=percentiles(late["noticed"]),
        received=percentiles(late["received"]),
        succeeded=len(late["noticed"]),
        failed={str(code): n for code, n in failed.items()},
        throttled=int(stats["requests_by_status"].get("429", 0)),
        cpu_seconds=run.cpu,
        wall_seconds=run.wall_seconds,
    )


def _failure_code(value: bytes) -> str | None:
    event = json.loads(value)
    if event["type"] != "ecs.provisioning.failed":
        return None
    return str(event["data"]["error"]["code"])


def _late(figures: dict[str, float]) -> str:
    if not figures:
        return "-"
    return f"{figures['p50']:.1f} / {figures['p95']:.1f} / {figures['max']:.1f}"


async def bench(requests: int, job_seconds: float) -> Section:
    bulk, baseline = await asyncio.gather(
        follow_run("bulk", requests, job_seconds),
        follow_run("per-job", requests, job_seconds, ECSP_BULK_FOLLOW="false"),
    )
    rows: list[list[Any]] = [
        ["API calls per job (all)", bulk.calls_per_job, baseline.calls_per_job],
        ["  creates per job", bulk.creates_per_job, baseline.creates_per_job],
        ["  job reads per job", bulk.job_reads_per_job, baseline.job_reads_per_job],
        ["  server lists per job", bulk.lists_per_job, baseline.lists_per_job],
        ["end noticed late (event time - job end), p50 / p95 / max s",
         _late(bulk.noticed), _late(baseline.noticed)],
        ["end received late (consumer - job end), p50 / p95 / max s",
         _late(bulk.received), _late(baseline.received)],
        ["requests succeeded", bulk.succeeded, baseline.succeeded],
        ["requests failed (by code)", _codes(bulk.failed), _codes(baseline.failed)],
        ["throttled answers (429)", bulk.throttled, baseline.throttled],
        ["worker CPU, s (whole run)", bulk.cpu_seconds, baseline.cpu_seconds],
        ["wall time, worker start to last event, s", bulk.wall_seconds, baseline.wall_seconds],
    ]  # fmt: skip
    return Section(
        name="follow",
        title=(
            f"Following {requests:,} jobs of {job_seconds / 60:g} min on {RATE_LIMIT} calls/s: "
            "bulk vs per job"
        ),
        columns=["metric", "bulk following (default)", "per job (ECSP_BULK_FOLLOW=false)"],
        rows=rows,
        params={
            "requests": requests,
            "job_seconds": f"{job_seconds * 0.95:.0f}:{job_seconds * 1.05:.0f}",
            "ECSP_API_RATE_LIMIT": RATE_LIMIT,
            "ECSP_MAX_IN_FLIGHT": requests + 1000,
            "simulator list lag, s": LIST_LAG_SECONDS,
            "bulk": "list every 5 s, safety net 300 s, unseen 30 s (defaults)",
            "per job": "5 s, x2, cap 15 s (defaults)",
        },
        details={"bulk": bulk.__dict__, "per_job": baseline.__dict__},
        notes=[
            "The two runs go side by side (own simulator, topics and worker each), so they share "
            "the machine's load; their call counts come from their own simulators.",
            "Calls per job include every create, job read and server list the simulator "
            "answered, over the creates it accepted.",
        ],
    )


def _codes(failed: dict[str, int]) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(failed.items())) or "none"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--job-seconds", type=float, default=240.0)
    args = parser.parse_args(argv)
    print_section(asyncio.run(bench(args.requests, args.job_seconds)))


if __name__ == "__main__":
    main()

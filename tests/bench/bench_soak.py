"""Memory over a longer run: the worker's peak RSS after N and after ten times N requests.

A worker runs for months, so its resident size must level off rather than grow with the requests
it has handled. Same setup as `bench_e2e` (instant jobs, 1,000 requests in flight, per-job
following); the second run handles ten times the requests of the first, in a fresh worker. A
garbage-collector setting that left the older generations uncollected showed up here: ~3 KB more
per request handled (`tests/bench/results/PROFILE.md`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.bench.bench_e2e import WORKER_SETTINGS, run_worker
from tests.bench.common import Section, bench_bootstrap, simulator


async def bench(short: int) -> Section:
    long = 10 * short
    async with simulator(job_seconds=(0.0, 0.0)) as sim:
        first, _ = await run_worker(bench_bootstrap(), sim, short)
        second, _ = await run_worker(bench_bootstrap(), sim, long)
    growth_kib = (second.peak_rss_mib - first.peak_rss_mib) * 1024 / (long - short) * 1000
    rows: list[list[Any]] = [
        [f"peak RSS after {short:,} requests, MiB", first.peak_rss_mib],
        [f"peak RSS after {long:,} requests, MiB", second.peak_rss_mib],
        ["growth per 1,000 more requests, KiB", growth_kib],
        [f"CPU ms per request ({short:,} / {long:,})", f"{first.cpu_per_1000:.3g} / "
         f"{second.cpu_per_1000:.3g}"],
        [f"requests/s ({short:,} / {long:,})", f"{first.per_second:,.0f} / "
         f"{second.per_second:,.0f}"],
    ]  # fmt: skip
    return Section(
        name="soak",
        title=f"Memory over {short:,} and {long:,} requests, one worker",
        columns=["metric", "value"],
        rows=rows,
        params={"requests": f"{short}, {long}", **WORKER_SETTINGS, "job_seconds": "0:0"},
        details={"runs": [dataclasses.asdict(run) for run in (first, second)]},
        notes=[
            "Each run is a fresh worker on its own topics; a resident size that levels off "
            "gives about the same peak for both.",
        ],
    )

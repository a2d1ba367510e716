"""Benchmark (not a test): what each delivery mode costs the worker, measured side by side.

The end-to-end worker run of `bench_e2e` (instant jobs, create + job checks + two events per
request) in three modes, alternating, in one invocation: `today` (at_least_once without the
answered-offsets map: the commit path before issue 26), `at_least_once` (the map in every
commit: the default) and `exactly_once` (a transaction per partition per commit interval, events
buffered until it), every mode committing every 0.2 s. Reported per mode (mean of its runs) and
against `today`: worker CPU per 1,000 requests and requests/s over the whole run, from the
worker's start (imports, joining the group, opening the partitions: the same for every mode but
the transactional producers' start) to 90 % of the events. Not the steady-state window of the
other benchmarks (10-90 % of the events): exactly-once events leave in a burst per commit, and
the pre-filled backlog is answered faster than it is committed, so that window would time the
commits, not the work. Run alone: ``python -m tests.bench.bench_delivery [--quick]
[--requests N]``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from tests.bench.bench_e2e import WORKER_SETTINGS, Run, run_worker
from tests.bench.common import Section, bench_bootstrap, ratio, run_alone, simulator

#: Alternating runs per mode: a load change on a shared machine hits every mode alike.
ROUNDS = 2
COMMIT_INTERVAL = {"ECSP_COMMIT_INTERVAL_SECONDS": "0.2"}
MODES: dict[str, dict[str, str]] = {
    "today": {"ECSP_DELIVERY": "at_least_once", "ECSP_ANSWERED_OFFSETS_MAP": "false"},
    "at_least_once": {"ECSP_DELIVERY": "at_least_once", "ECSP_ANSWERED_OFFSETS_MAP": "true"},
    "exactly_once": {"ECSP_DELIVERY": "exactly_once", "ECSP_ANSWERED_OFFSETS_MAP": "true"},
}


def _whole_run_cpu(run: Run) -> float:
    return run.total_cpu / run.requests * 1000


def _whole_run_rate(run: Run) -> float:
    return 0.9 * run.requests / run.total_seconds


async def bench(count: int) -> Section:
    bootstrap = bench_bootstrap()
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    async with simulator(job_seconds=(0.0, 0.0)) as sim:
        await run_worker(bootstrap, sim, min(count, 300))  # warm-up: imports, broker, sim
        for _ in range(ROUNDS):
            for mode, env in MODES.items():
                settings = {**WORKER_SETTINGS, **COMMIT_INTERVAL, **env}
                run, _ = await run_worker(bootstrap, sim, count, settings=settings)
                runs[mode].append(run)
    figures = {
        "worker CPU s per 1,000 requests (whole run)": _whole_run_cpu,
        "requests/s end to end (whole run)": _whole_run_rate,
    }
    rows = []
    for name, figure in figures.items():
        mean = {mode: statistics.mean(figure(r) for r in rs) for mode, rs in runs.items()}
        rows.append(
            [
                name,
                *mean.values(),
                ratio(mean["at_least_once"], mean["today"]),
                ratio(mean["exactly_once"], mean["today"]),
            ]
        )
    return Section(
        name="delivery",
        title=f"Delivery modes ({count:,} requests per run, {ROUNDS} runs each, alternating)",
        columns=["metric", *MODES, "at_least_once / today", "exactly_once / today"],
        rows=rows,
        params={
            "requests": count,
            "rounds": ROUNDS,
            **WORKER_SETTINGS,
            **COMMIT_INTERVAL,
            "job_seconds": "0:0",
        },
        details={mode: [r.__dict__ for r in rs] for mode, rs in runs.items()},
        notes=[
            "today = ECSP_ANSWERED_OFFSETS_MAP=false (commits without metadata); exactly_once "
            "runs one transaction per partition (4) per commit: offsets first, then the events "
            "answered since the last one. Whole run: from the worker's start (imports, joining "
            "the group, opening the partitions) to 90 % of the events; start-up is about 1 s of "
            "CPU in every mode.",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, bench, quick=1500, full=4000, argv=argv)


if __name__ == "__main__":
    main()

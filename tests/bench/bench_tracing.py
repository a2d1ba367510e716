"""Benchmark (not a test): what tracing costs the worker, off and on, measured side by side.

The end-to-end worker run of `bench_e2e` (instant jobs, create + job checks + two events per
request) twice each way, alternating: tracing off (no OTEL_* variables, the default) and on
(OTLP/HTTP to a receiver in this process, every span sampled and exported). Reported: worker
CPU per 1,000 requests and requests/s of each mode (mean of its runs), the on/off ratio, and
the spans received per traced request. Whether tracing off costs anything against a release
without tracing needs the older tree and is measured by hand (tests/bench/results/PROFILE.md).
Run alone: ``python -m tests.bench.bench_tracing [--quick] [--requests N]``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator, Sequence

from tests.bench.bench_e2e import WORKER_SETTINGS, Run, run_worker
from tests.bench.common import Section, bench_bootstrap, ratio, run_alone, simulator
from tests.support.otlp import otlp_receiver

#: Alternating runs per mode: a load change on a shared machine hits both modes alike.
ROUNDS = 2


@contextlib.contextmanager
def otel_environment(values: dict[str, str]) -> Iterator[None]:
    """The worker child inherits this process's environment: set OTEL_* for one run."""
    saved = {name: value for name, value in os.environ.items() if name.startswith("OTEL_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        for name in values:
            os.environ.pop(name, None)
        os.environ.update(saved)


async def bench(count: int) -> Section:
    bootstrap = bench_bootstrap()
    runs: dict[str, list[Run]] = {"off": [], "on": []}
    async with simulator(job_seconds=(0.0, 0.0)) as sim, otlp_receiver() as receiver:
        modes = {"off": {}, "on": {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}}
        with otel_environment({}):
            await run_worker(bootstrap, sim, count)  # warm-up: imports, broker, sim
        for _ in range(ROUNDS):
            for mode, env in modes.items():
                with otel_environment(env):
                    run, _ = await run_worker(bootstrap, sim, count)
                runs[mode].append(run)
        spans = len(receiver.spans)
    cpu = {mode: statistics.mean(r.cpu_per_1000 for r in rs) for mode, rs in runs.items()}
    rate = {mode: statistics.mean(r.per_second for r in rs) for mode, rs in runs.items()}
    rows = [
        ["worker CPU s per 1,000 requests", cpu["off"], cpu["on"], ratio(cpu["on"], cpu["off"])],
        ["requests/s (10-90 % window)", rate["off"], rate["on"], ratio(rate["on"], rate["off"])],
        ["spans exported per request", 0, spans / (count * ROUNDS), "-"],
    ]
    return Section(
        name="tracing",
        title=f"Tracing off vs on ({count:,} requests per run, {ROUNDS} runs each, alternating)",
        columns=["metric", "tracing off", "tracing on", "on / off"],
        rows=rows,
        params={"requests": count, "rounds": ROUNDS, **WORKER_SETTINGS, "job_seconds": "0:0"},
        details={mode: [r.__dict__ for r in rs] for mode, rs in runs.items()},
        notes=[
            "On: OTLP/HTTP protobuf to a receiver in the benchmark process, default batch "
            "processor, every span sampled (consumer, create, job checks, two sends).",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, bench, quick=1500, full=4000, argv=argv)


if __name__ == "__main__":
    main()

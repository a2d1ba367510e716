"""All benchmarks in one invocation; writes `results/latest.json` and `results/latest.md`.

``python -m tests.bench.run [--quick] [--only NAME ...]`` with NAME in e2e, sdk, inflight,
scaling, tracing, follow, soak, status, delivery. Needs a broker:
`ECSP_BENCH_KAFKA_BOOTSTRAP` (else `ECSP_TEST_KAFKA_BOOTSTRAP`, else 127.0.0.1:9092), e.g.
``KAFKA_PORT=9492 deploy/local/kafka.sh start``. With `--only`, the other sections of the
previous `latest.json` are kept (each section records when it was measured).
Figures only, no pass/fail; child-process logs go to `.bench-logs/`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tests.bench import (
    bench_delivery,
    bench_e2e,
    bench_follow,
    bench_inflight,
    bench_scaling,
    bench_sdk,
    bench_soak,
    bench_status,
    bench_tracing,
)
from tests.bench.common import RESULTS, Section, bench_bootstrap, machine, markdown
from tests.support.kafka import broker_reachable

Runner = Callable[[bool], Awaitable[Section]]

BENCHMARKS: dict[str, Runner] = {
    "e2e": lambda quick: bench_e2e.bench(1500 if quick else 5000),
    "sdk": lambda quick: bench_sdk.bench(500 if quick else 2000, (16, 32)),
    "inflight": lambda quick: bench_inflight.bench(
        2000 if quick else 10_000, 30.0 if quick else 120.0
    ),
    "scaling": lambda quick: bench_scaling.bench(1500 if quick else 4000),
    "tracing": lambda quick: bench_tracing.bench(1500 if quick else 4000),
    "follow": lambda quick: bench_follow.bench(500 if quick else 2000, 60.0 if quick else 240.0),
    "soak": lambda quick: bench_soak.bench(1000 if quick else 10_000),
    "delivery": lambda quick: bench_delivery.bench(1500 if quick else 4000),
    "status": lambda quick: bench_status.bench(20_000 if quick else 100_000),
}


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {m['date']} on {m['cpus']} x {m['cpu_model']}, {m['ram_gib']} GiB RAM, "
        f"{m['os']}, Python {m['python']}, {m['kafka']}.",
        f"Command: `{report['command']}`. Figures, not pass/fail; ratios compare runs made in "
        "the same invocation.",
        "",
    ]
    for name in BENCHMARKS:
        if name in report["sections"]:
            section = report["sections"][name]
            lines.append(markdown(section))
            if "--only" in report["command"] and section.get("measured"):
                lines.append(f"Measured {section['measured']}.\n")
    return "\n".join(lines)


def load_previous() -> dict[str, Any]:
    path = RESULTS / "latest.json"
    if not path.exists():
        return {}
    previous: dict[str, Any] = json.loads(path.read_text()).get("sections", {})
    return previous


async def run_all(names: Sequence[str], quick: bool) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        section = await BENCHMARKS[name](quick)
        sections[name] = section.as_json()
        print(markdown(sections[name]), flush=True)
    return sections


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), default=[])
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # topic deletion noise
    if not broker_reachable(bench_bootstrap()):
        raise SystemExit(f"no Kafka broker at {bench_bootstrap()}; see this module's docstring")
    names = args.only or list(BENCHMARKS)
    sections = {**(load_previous() if args.only else {}), **asyncio.run(run_all(names, args.quick))}
    command = "python -m tests.bench.run" + (" --quick" if args.quick else "")
    command += "".join(f" --only {name}" for name in args.only)
    report = {"machine": machine(), "command": command, "sections": sections}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(render(report))
    print(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()

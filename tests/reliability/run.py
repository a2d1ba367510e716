"""`python -m tests.reliability.run --seed N`: the reliability run from the command line.

Starts its own broker on a dedicated port (default 9392, restarted once during the run), the
simulator in this process, and `ecs-provisioner run` worker processes; prints the schedule,
progress, the figures, a check table and a final PASS/FAIL line. Exit status 0 when every check
passed, 1 otherwise. `--plant-defect commit-before-publish` runs a deliberately broken worker,
which must FAIL (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.reliability.checks import table
from tests.reliability.driver import DEFECTS, RunConfig, execute, figures_text
from tests.reliability.mix import OUTCOMES


def parse(argv: Sequence[str] | None) -> RunConfig:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.run", description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--requests", type=int, default=2000, help="messages to publish")
    parser.add_argument("--kills", type=int, default=5, help="worker SIGKILLs during the run")
    parser.add_argument("--broker-port", type=int, default=9392, help="own broker's port")
    parser.add_argument(
        "--bootstrap",
        help="use this running broker instead of an own one (it is then not restarted)",
    )
    parser.add_argument("--plant-defect", choices=DEFECTS, help="run a broken worker")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for the end")
    parser.add_argument(
        "--log-dir", type=Path, help="worker logs (default .run/reliability/seed-N)"
    )
    args = parser.parse_args(argv)
    return RunConfig(
        seed=args.seed,
        requests=args.requests,
        kills=args.kills,
        broker_port=args.broker_port,
        bootstrap=args.bootstrap,
        defect=args.plant_defect,
        timeout=args.timeout,
        log_dir=args.log_dir or Path(f".run/reliability/seed-{args.seed}"),
    )


def allowed_outcomes_text() -> str:
    lines = ["allowed terminal outcomes per key (type/stage, in publication order):"]
    lines += [
        f"  {kind.value:<20} {' then '.join('/'.join(filter(None, o)) for o in outcomes)}"
        for kind, outcomes in OUTCOMES.items()
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # reconnect noise while it restarts
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # the simulator's "connection lost"
    report = asyncio.run(execute(config))
    print(f"\nschedule: {report.schedule}")
    print(figures_text(report.figures))
    print()
    print(allowed_outcomes_text())
    print()
    print(table(report.results))
    failed = [r.name for r in report.results if not r.passed]
    verdict = "PASS" if report.passed else f"FAIL ({len(failed)} checks: {'; '.join(failed)})"
    print(f"\nRESULT seed={config.seed} defect={config.defect or 'none'}: {verdict}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())

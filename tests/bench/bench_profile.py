"""Profile (not a test): where the worker spends its CPU in the end-to-end benchmark.

Runs the end-to-end worker case with the worker under the py-spy sampling profiler (installed
ad hoc into the venv: ``pip install py-spy``; not a project dependency), keeps the collapsed
stacks in ``.bench-logs/profile-e2e.txt`` and prints the heaviest functions by inclusive
and by own (leaf) samples, and the share of samples under a few areas of interest (logging,
pydantic, signing, aiohttp, aiokafka, JSON). Findings are written up by hand in
``tests/bench/results/PROFILE.md``. Run: ``python -m tests.bench.bench_profile [--requests N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tests.bench.bench_e2e import run_worker
from tests.bench.common import LOGS, bench_bootstrap, simulator

#: Substrings of a frame that put its samples into an area of interest.
AREAS = {
    "structlog / logging": ("structlog", "logging/"),
    "pydantic (models, validation, dump)": ("pydantic",),
    "request schema validation": ("schemas/ecsp_contract/request.py", "pipeline/decode.py"),
    "signing (SDK-HMAC-SHA256)": ("ecs/signing.py",),
    "aiohttp client": ("aiohttp/client", "aiohttp/connector", "aiohttp/http_"),
    "aiokafka": ("aiokafka",),
    "json": ("json/",),
    "prometheus_client": ("prometheus_client",),
}


def parse(path: Path) -> list[tuple[list[str], int]]:
    """py-spy raw (collapsed) output: `frame;frame;… count` per line, root first."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _function(frame: str) -> str:
    """`name (path/file.py:line)` without the line, so a function's lines count together."""
    return frame.rsplit(":", 1)[0] + ")" if frame.endswith(")") else frame


def _package(frame: str) -> str:
    """The top-level package (or stdlib module) of a frame: `aiohttp`, `worker`, `asyncio`."""
    path = frame.rsplit("(", 1)[-1]
    return path.split("/", 1)[0].split(".py", 1)[0].split(":", 1)[0]


def summarise(stacks: list[tuple[list[str], int]], top: int = 25) -> str:
    total = sum(count for _, count in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    own_package: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, count in stacks:
        for function in {_function(frame) for frame in frames}:
            inclusive[function] += count
        own[_function(frames[-1])] += count
        own_package[_package(frames[-1])] += count
        for area, needles in AREAS.items():
            if any(needle in frame for frame in frames for needle in needles):
                areas[area] += count
    lines = [f"{total} samples (CPU only; idle time in the event loop's select is excluded)", ""]
    lines.append("Share of samples with a frame in (overlapping):")
    lines += [f"  {area:<40}{n / total:6.1%}" for area, n in areas.most_common()]
    lines += ["", "Own (leaf) samples by package:"]
    lines += [f"  {package:<40}{n / total:6.1%}" for package, n in own_package.most_common(15)]
    lines += ["", f"Top {top} functions by inclusive samples:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", f"Top {top} functions by own (leaf) samples:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


async def profile(count: int, output: Path) -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not shutil.which(py_spy):
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    wrap = [py_spy, "record", "--nonblocking", "-r", "200", "-f", "raw", "-o", str(output), "--"]
    async with simulator(job_seconds=(0.0, 0.0)) as sim:
        run, _ = await run_worker(bench_bootstrap(), sim, count, wrap)
    print(f"profiled run: {run.per_second:.0f} requests/s, {run.cpu_per_1000:.2f} CPU s/1,000")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--output", type=Path, default=LOGS / "profile-e2e.txt")
    parser.add_argument("--summary-only", action="store_true", help="re-read --output")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(exist_ok=True)
    if not args.summary_only:
        asyncio.run(profile(args.requests, args.output))
    print(summarise(parse(args.output)))


if __name__ == "__main__":
    main()

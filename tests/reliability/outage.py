"""An ECS API outage delays requests, it does not fail them: scenarios and their figures.

`python -m tests.reliability.outage` (the `make reliability-outage` target) runs, against the real
broker (`ECSP_TEST_KAFKA_BOOTSTRAP`, default 127.0.0.1:9092), a simulator process and an in-process
worker with its default breaker settings:

- `5xx`: the API answers 100 % 5xx for `--outage-seconds` (300); `--requests` (200) are published
  during it; then it recovers. Every request must succeed, none fail, none create servers twice.
- `refused`: the same, but the simulator process is stopped (connections refused) and restarted
  on the same port.
- `throttle`: the simulator has a hard quota (`--quota`, 10 calls/s, 429 above it) and the worker
  a ceiling of `--ceiling` (50) calls/s; the adaptive rate must settle near the quota while every
  request succeeds.
- `deadline`: a worker with a short request deadline during an outage: the request fails at
  `timeout` and says the API was unavailable.

Prints one line of figures per scenario; exit 1 if any check failed. The test suite runs the same
scenarios with seconds-long outages and small counts (`tests/e2e/test_api_outage.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import secrets
from tests.support.bodies import server_body
from tests.support.kafka import Record, consume, create_topics, delete_topics, produce
from tests.support.ports import reserved_ports
from tests.support.stack import in_process, settings_from, sim_call, worker_env
from worker.ops.logging import configure_logging
from worker.ops.metrics import Metrics
from worker.tasks import cancel_and_wait

LOG_DIR = Path(os.environ.get("ECSP_TEST_OUTAGE_LOG_DIR", ".run/outage"))


@dataclass
class SimProcess:
    """`ecs-provisioner simulator` as a child process on a fixed port: stop it, start it again."""

    port: int
    log_path: Path
    job_seconds: str = "1:3"
    quota: float = 0.0
    process: subprocess.Popen[bytes] | None = None
    stats_of_stopped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [
            sys.executable, "-m", "worker", "simulator", "--port", str(self.port),
            "--credential", f"{secrets.TEST_AK}:{secrets.TEST_SK}", "--admin-routes",
            "--job-seconds", self.job_seconds, "--seed", "17",
            "--quota-per-second", str(self.quota),
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
                command, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await self.call("GET", "/_sim/faults")
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"simulator did not start on {self.url}; see {self.log_path}")

    async def stop(self) -> None:
        """Stops the process (its port then refuses connections), keeping its last stats."""
        assert self.process is not None
        self.stats_of_stopped.append(await self.call("GET", "/_sim/stats"))
        self.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.process.wait, 30)
        self.process = None

    async def call(self, method: str, path: str, payload: Any = None) -> Any:
        return await sim_call(self.url, method, path, payload)

    async def servers_by_token(self) -> Counter[str]:
        """Servers created per token over every life of the simulator."""
        lives = [*self.stats_of_stopped]
        if self.process is not None:
            lives.append(await self.call("GET", "/_sim/stats"))
        total: Counter[str] = Counter()
        for stats in lives:
            total.update(stats["servers_by_token"])
        return total


@dataclass
class Outcome:
    """What a scenario saw; `problems` is empty when it passed."""

    name: str
    figures: dict[str, Any]
    problems: list[str]

    def line(self) -> str:
        verdict = "PASS" if not self.problems else "FAIL: " + "; ".join(self.problems)
        return f"{self.name}: {json.dumps(self.figures)} -> {verdict}"


@dataclass
class Run:
    """One scenario's topics, simulator and worker settings."""

    bootstrap: str
    sim: SimProcess
    topics: dict[str, str]
    env: dict[str, str]
    ops_url: str

    async def publish(self, keys: Sequence[str]) -> None:
        messages = [
            (key.encode(), json.dumps(server_body(name=key[-60:])).encode(), ()) for key in keys
        ]
        await produce(self.bootstrap, self.topics["requests"], messages)

    async def outcomes(self, count: int, timeout: float) -> list[Record]:
        return await consume(
            self.bootstrap,
            [self.topics["results"], self.topics["failures"]],
            count=count,
            timeout=timeout,
        )


@contextlib.asynccontextmanager
async def scenario(
    bootstrap: str,
    name: str,
    env: dict[str, str],
    *,
    quota: float = 0.0,
    job_seconds: str = "1:3",
) -> AsyncIterator[Run]:
    suffix = uuid.uuid4().hex[:10]
    topics = {
        n: f"test.outage.{n}.{suffix}" for n in ("requests", "results", "failures", "progress")
    }
    await create_topics(bootstrap, topics.values())
    with reserved_ports(2) as (port, ops_port):
        sim = SimProcess(port, LOG_DIR / f"{name}-{suffix}.simulator.log", job_seconds, quota)
        await sim.start()
        try:
            env = {"ECSP_OPS_PORT": str(ops_port), **env}
            settings_env = worker_env(bootstrap, sim.url, topics, f"outage-{suffix}", **env)
            os.environ["ECSP_TEST_SECRET_ADMIN_PASS"] = secrets.ADMIN_PASS_SECRET
            yield Run(bootstrap, sim, topics, settings_env, f"http://127.0.0.1:{ops_port}")
        finally:
            if sim.process is not None:
                sim.process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(sim.process.wait, 30)
            await delete_topics(bootstrap, list(topics.values()))


class Sampler:
    """Samples a few worker gauges and its /readyz every `interval` seconds while it runs."""

    def __init__(self, metrics: Metrics, ops_url: str, interval: float = 0.5) -> None:
        self.metrics = metrics
        self.ops_url = ops_url
        self.interval = interval
        self.samples: list[dict[str, float]] = []

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.metrics.registry.get_sample_value(name, labels or {}) or 0.0

    async def ready(self, session: aiohttp.ClientSession) -> float:
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with session.get(self.ops_url + "/readyz") as response:
                return 1.0 if response.status == 200 else 0.0
        return 0.0

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                self.samples.append(
                    {
                        "t": time.monotonic(),
                        "circuit": self.value("ecsp_api_circuit_state"),
                        "paused": self.value("ecsp_partitions_paused"),
                        "rate": self.value("ecsp_api_rate_limit"),
                        "ready": await self.ready(session),
                    }
                )
                await asyncio.sleep(self.interval)

    def not_ready_after_ready(self) -> int:
        """Samples in which /readyz failed after it first succeeded (a flapping probe)."""
        first = next((i for i, s in enumerate(self.samples) if s["ready"]), len(self.samples))
        return sum(1 for s in self.samples[first:] if not s["ready"])

    def max(self, key: str) -> float:
        return max((s[key] for s in self.samples), default=0.0)


@contextlib.asynccontextmanager
async def sampled(metrics: Metrics, ops_url: str) -> AsyncIterator[Sampler]:
    sampler = Sampler(metrics, ops_url)
    task = asyncio.create_task(sampler.run())
    try:
        yield sampler
    finally:
        await cancel_and_wait(task)


def keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{uuid.uuid4().hex[:8]}-{i:04d}" for i in range(count)]


def check_all_succeeded(
    records: list[Record], wanted: list[str], servers: Counter[str], problems: list[str]
) -> dict[str, Any]:
    events = [r.json() for r in records]
    types = Counter(e["type"] for e in events)
    seen = Counter(e["subject"] for e in events)
    failed = [e for e in events if e["type"] == "ecs.provisioning.failed"]
    if types.get("ecs.provisioning.succeeded", 0) != len(wanted) or set(seen) != set(wanted):
        problems.append(f"expected {len(wanted)} succeeded, got {dict(types)}")
    if failed:
        stages = Counter(e["data"]["stage"] for e in failed)
        problems.append(f"{len(failed)} failed ({dict(stages)})")
    twice = [token for token, count in servers.items() if count > 1]
    if twice:
        problems.append(f"{len(twice)} tokens created servers more than once")
    return {
        "succeeded": types.get("ecs.provisioning.succeeded", 0),
        "failed": len(failed),
        "created_twice": len(twice),
        "servers": sum(servers.values()),
    }


async def outage(
    bootstrap: str, *, mode: str, requests: int, outage_seconds: float, publish_within: float
) -> Outcome:
    """`requests` published during an outage of `outage_seconds` (5xx or refused), then back."""
    problems: list[str] = []
    async with scenario(bootstrap, f"outage-{mode}", {}) as run:
        settings = settings_from(run.env)
        async with in_process(settings) as metrics, sampled(metrics, run.ops_url) as sampler:
            started = time.monotonic()
            if mode == "5xx":
                await run.sim.call("POST", "/_sim/faults", {"error_rate": 1.0})
            else:
                await run.sim.stop()
            wanted = keys(mode, requests)
            batches = 10
            for i in range(batches):  # spread over the first part of the outage
                await run.publish(wanted[i::batches])
                await asyncio.sleep(publish_within / batches)
            early = await run.outcomes(requests, timeout=0.5)  # nothing may end during it
            await asyncio.sleep(max(0.0, outage_seconds - (time.monotonic() - started)))
            sim_calls_during = None
            if mode == "5xx":
                stats = await run.sim.call("GET", "/_sim/stats")
                sim_calls_during = stats["requests_total"]
                await run.sim.call("POST", "/_sim/faults", {"error_rate": 0.0})
            else:
                await run.sim.start()
            recovered = time.monotonic()
            records = await run.outcomes(requests, timeout=600)
            drained = time.monotonic() - recovered
            servers = await run.sim.servers_by_token()
            opened = sampler.value("ecsp_api_circuit_transitions_total", {"to": "open"})
            probes = sampler.value("ecsp_api_circuit_transitions_total", {"to": "half_open"})
            during = [s for s in sampler.samples if s["t"] < recovered]
            paused_share = sum(1 for s in during if s["paused"] > 0) / max(1, len(during))
        figures = check_all_succeeded(records, wanted, servers, problems)
        if early:
            problems.append(f"{len(early)} requests ended during the outage")
        if sampler.max("circuit") < 2:
            problems.append("the breaker never opened")
        flaps = sampler.not_ready_after_ready()
        if flaps or not sampler.max("ready"):
            problems.append(f"/readyz failed {flaps} times after it was first ready")
        figures.update(
            {
                "requests": requests,
                "outage_s": outage_seconds,
                "drained_after_recovery_s": round(drained, 1),
                "breaker_opened": int(opened),
                "probes": int(probes),
                "api_calls_during_outage": sim_calls_during,
                "share_of_outage_paused": round(paused_share, 2),
                "readyz_failures": flaps,
            }
        )
    return Outcome(f"outage-{mode}", figures, problems)


async def throttle(
    bootstrap: str,
    *,
    requests: int,
    quota: float,
    ceiling: float,
    job_seconds: str,
    must_settle: bool = True,
) -> Outcome:
    """A hard quota below the configured ceiling: the rate must find the quota (when
    `must_settle`: a short run ends before it can), and every request succeeds."""
    problems: list[str] = []
    env = {"ECSP_API_RATE_LIMIT": str(ceiling), "ECSP_API_BURST": str(int(ceiling))}
    async with scenario(bootstrap, "throttle", env, quota=quota, job_seconds=job_seconds) as run:
        settings = settings_from(run.env)
        async with in_process(settings) as metrics, sampled(metrics, run.ops_url) as sampler:
            wanted = keys("quota", requests)
            started = time.monotonic()
            await run.publish(wanted)
            records = await run.outcomes(requests, timeout=900)
            elapsed = time.monotonic() - started
            stats = await run.sim.call("GET", "/_sim/stats")
            servers = await run.sim.servers_by_token()
        figures = check_all_succeeded(records, wanted, servers, problems)
        statuses = Counter({k: int(v) for k, v in stats["requests_by_status"].items()})
        throttled = statuses.get("429", 0)
        served = sum(statuses.values()) - throttled
        busy = [s["rate"] for s in sampler.samples if s["t"] >= started + elapsed / 2]
        settled = statistics.median(busy) if busy else ceiling
        figures.update(
            {
                "requests": requests,
                "quota_per_s": quota,
                "ceiling_per_s": ceiling,
                "seconds": round(elapsed, 1),
                "served_calls_per_s": round(served / elapsed, 2),
                "throttled_share": round(throttled / max(1, sum(statuses.values())), 3),
                "rate_limit_median_second_half": round(settled, 2),
                "rate_limit_min": round(min(s["rate"] for s in sampler.samples), 2),
            }
        )
        if figures["rate_limit_min"] >= ceiling:
            problems.append("throttling never lowered the rate")
        if must_settle and not 0.5 * quota <= settled <= 1.3 * quota:
            problems.append(f"the rate settled at {settled:.1f}/s, not near the quota {quota}/s")
    return Outcome("throttle", figures, problems)


async def deadline(bootstrap: str, *, deadline_seconds: float, requests: int) -> Outcome:
    """Requests whose deadline passes during an outage fail at `timeout` and say why."""
    problems: list[str] = []
    env = {"ECSP_REQUEST_DEADLINE_SECONDS": str(deadline_seconds)}
    async with scenario(bootstrap, "deadline", env) as run, in_process(settings_from(run.env)):
        await run.sim.call("POST", "/_sim/faults", {"error_rate": 1.0})
        wanted = keys("deadline", requests)
        await run.publish(wanted)
        records = await run.outcomes(requests, timeout=deadline_seconds + 120)
        stats = await run.sim.call("GET", "/_sim/stats")
    events = [r.json() for r in records]
    stages = Counter(
        (e["data"].get("stage"), e["data"].get("error", {}).get("code")) for e in events
    )
    reasons = {e["data"]["error"]["message"] for e in events if "error" in e["data"]}
    if stages != Counter({("timeout", "ECSP.DeadlineExceeded"): requests}):
        problems.append(f"expected {requests} timeouts, got {dict(stages)}")
    if not all("ECS API was unavailable" in reason for reason in reasons):
        problems.append(f"reasons do not say why: {sorted(reasons)[:2]}")
    figures = {
        "requests": requests,
        "deadline_s": deadline_seconds,
        "stages": {f"{s}/{c}": n for (s, c), n in stages.items()},
        "creates_accepted": stats["creates"],
        "reason": sorted(reasons)[0] if reasons else None,
    }
    return Outcome("deadline", figures, problems)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.outage", description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--outage-seconds", type=float, default=300.0)
    parser.add_argument("--quota", type=float, default=10.0)
    parser.add_argument("--ceiling", type=float, default=50.0)
    parser.add_argument("--throttle-requests", type=int, default=300)
    parser.add_argument(
        "--only", choices=["5xx", "refused", "throttle", "deadline"], action="append"
    )
    return parser.parse_args(argv)


async def run_all(args: argparse.Namespace, bootstrap: str) -> list[Outcome]:
    chosen = args.only or ["5xx", "refused", "throttle", "deadline"]

    def outage_of(mode: str) -> Callable[[], Awaitable[Outcome]]:
        return lambda: outage(
            bootstrap,
            mode=mode,
            requests=args.requests,
            outage_seconds=args.outage_seconds,
            publish_within=args.outage_seconds * 0.6,
        )

    runs = {mode: outage_of(mode) for mode in ("5xx", "refused")}
    runs["throttle"] = lambda: throttle(
        bootstrap,
        requests=args.throttle_requests,
        quota=args.quota,
        ceiling=args.ceiling,
        job_seconds="1:3",
    )
    runs["deadline"] = lambda: deadline(bootstrap, deadline_seconds=20.0, requests=5)
    outcomes = []
    for name in chosen:
        outcome = await runs[name]()
        print(outcome.line(), flush=True)
        outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    configure_logging("WARNING", "json")  # figures on stdout, warnings (JSON) on stderr
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    bootstrap = os.environ.get("ECSP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    outcomes = asyncio.run(run_all(args, bootstrap))
    return 0 if all(not o.problems for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

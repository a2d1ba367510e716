"""Shared machinery of the benchmarks: child processes, topics, pre-filling, timed consumption.

Owns what every benchmark needs and none should duplicate: the simulator and worker as
subprocesses (so their CPU and memory are their own), CPU/RSS sampling of a child with psutil,
fresh topics, a fast pre-filling producer, the outcome counter that times a steady-state window
(10 %..90 % of the expected events, so start-up and tail do not count), and the machine facts
printed next to every result. Everything binds to 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support import secrets
from tests.support.kafka import bootstrap_servers, create_topics, delete_topics
from tests.support.stack import example, worker_env
from worker.ops.settings import Settings
from worker.tasks import cancel_and_wait

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
LOGS = ROOT / ".bench-logs"
TOPIC_ROLES = ("requests", "results", "failures", "progress")


def bench_bootstrap() -> str:
    """The broker of the benchmarks: `ECSP_BENCH_KAFKA_BOOTSTRAP`, else the tests' broker."""
    return os.environ.get("ECSP_BENCH_KAFKA_BOOTSTRAP") or bootstrap_servers()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_path(name: str) -> Path:
    LOGS.mkdir(exist_ok=True)
    return LOGS / f"{name}-{uuid.uuid4().hex[:6]}.log"


# ----- child processes


def spawn(args: Sequence[str], name: str, env: dict[str, str] | None = None) -> psutil.Popen:
    """A child process with stdout+stderr in `.bench-logs/<name>-*.log`."""
    with log_path(name).open("wb") as log:
        return psutil.Popen(
            list(args), env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            cwd=ROOT,
        )  # fmt: skip


def stop(process: psutil.Popen, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except (psutil.TimeoutExpired, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Simulator:
    url: str
    process: psutil.Popen

    async def stats(self) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.url + "/_sim/stats") as response,
        ):
            response.raise_for_status()
            stats: dict[str, Any] = await response.json()
            return stats


@contextlib.asynccontextmanager
async def simulator(
    job_seconds: tuple[float, float] = (0.0, 0.0),
    latency_ms: tuple[float, float] = (0.0, 0.0),
    credentials: tuple[str, str] = (secrets.TEST_AK, secrets.TEST_SK),
    list_lag_seconds: float = 0.0,
) -> AsyncIterator[Simulator]:
    """`ecs-provisioner simulator` in its own process, up and answering."""
    port = free_port()
    args = [
        sys.executable, "-m", "worker", "simulator", "--host", "127.0.0.1", "--port", str(port),
        "--credential", ":".join(credentials), "--seed", "1", "--admin-routes",
        "--job-seconds", f"{job_seconds[0]}:{job_seconds[1]}",
        "--latency-ms", f"{latency_ms[0]}:{latency_ms[1]}",
        "--list-lag-seconds", str(list_lag_seconds),
    ]  # fmt: skip
    process = spawn(args, "simulator", {"ECSP_LOG_LEVEL": "WARNING"})
    sim = Simulator(f"http://127.0.0.1:{port}", process)
    try:
        await wait_until(lambda: _answers(sim), timeout=30, what="the simulator to answer")
        yield sim
    finally:
        stop(process)


async def _answers(sim: Simulator) -> bool:
    if sim.process.poll() is not None:
        raise RuntimeError("the simulator exited; see .bench-logs/simulator-*.log")
    try:
        await sim.stats()
    except (aiohttp.ClientError, OSError):
        return False
    return True


async def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def bench_worker_env(
    bootstrap: str, url: str, topics: dict[str, str], group: str, **extra: str
) -> dict[str, str]:
    """The tests' worker environment with production-like defaults for what a benchmark measures."""
    settings = {
        "ECSP_COMMIT_INTERVAL_SECONDS": "1.0",
        "ECSP_API_RATE_LIMIT": "0",
        "ECSP_LOG_LEVEL": "INFO",
        "ECSP_LOG_FORMAT": "json",
        "ECSP_OPS_HOST": "127.0.0.1",
        "ECSP_OPS_PORT": "0",
        "ECSP_SHUTDOWN_GRACE_SECONDS": "5",
        **_production_defaults(
            "bulk_follow_interval_seconds",
            "bulk_follow_safety_net_seconds",
            "bulk_follow_unseen_seconds",
        ),
        **extra,
    }
    return worker_env(bootstrap, url, topics, group, **settings)


@dataclass(frozen=True)
class Outcomes:
    """A worker run until its requests' terminal events: what arrived, its usage, wall seconds."""

    arrivals: list[Arrival]
    usage: Usage
    cpu: float
    wall_seconds: float


async def run_until_outcomes(
    bootstrap: str,
    topics: dict[str, str],
    env: dict[str, str],
    *,
    name: str,
    count: int,
    timeout: float,
    interval: float,
) -> Outcomes:
    """Starts a worker with `env`, keeps every terminal event until `count` arrived, stops it."""
    started = time.time()
    process = spawn(worker_command(), name, env)
    usage = Usage(process)
    try:
        async with sampling([usage], interval=interval):
            arrivals, _ = await collect(
                bootstrap, [topics["results"], topics["failures"]], count,
                timeout=timeout, cpu=usage.cpu, keep_values=True,
            )  # fmt: skip
        return Outcomes(arrivals, usage, usage.cpu(), time.time() - started)
    finally:
        stop(process, timeout=60)


def _production_defaults(*names: str) -> dict[str, str]:
    """The settings' own defaults for what the test environment shortens."""
    return {f"ECSP_{name.upper()}": str(Settings.model_fields[name].default) for name in names}


def worker_command(wrap: Sequence[str] = ()) -> list[str]:
    return [*wrap, sys.executable, "-m", "worker", "run"]


@dataclass
class Usage:
    """CPU and memory of one process, sampled while it runs (peak RSS from samples and VmHWM)."""

    process: psutil.Process
    peak_rss: int = 0
    samples: int = 0
    _last_cpu: float = field(default=0.0, repr=False)

    def cpu(self) -> float:
        """User + system CPU seconds so far (the last known value once the process is gone)."""
        with contextlib.suppress(psutil.Error):
            times = self.process.cpu_times()
            self._last_cpu = times.user + times.system
        return self._last_cpu

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(
                self.peak_rss, self.process.memory_info().rss, _vm_hwm(self.process)
            )
            self.samples += 1
        self.cpu()


def _vm_hwm(process: psutil.Process) -> int:
    """The kernel's own peak RSS of the process (bytes), 0 when unreadable."""
    with contextlib.suppress(OSError), open(f"/proc/{process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.asynccontextmanager
async def sampling(usages: Sequence[Usage], interval: float = 0.25) -> AsyncIterator[None]:
    """Samples the processes' RSS/CPU every `interval` seconds while the block runs."""

    async def loop() -> None:
        while True:
            for usage in usages:
                usage.sample()
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        await cancel_and_wait(task)
        for usage in usages:
            usage.sample()


# ----- topics and records


@contextlib.asynccontextmanager
async def bench_topics(bootstrap: str, partitions: int = 1) -> AsyncIterator[dict[str, str]]:
    """Fresh request/results/failures/progress topics, deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    topics = {role: f"bench.{role}.{suffix}" for role in TOPIC_ROLES}
    await create_topics(bootstrap, [topics["requests"]], partitions)
    await create_topics(bootstrap, [t for r, t in topics.items() if r != "requests"], partitions)
    try:
        yield topics
    finally:
        await delete_topics(bootstrap, list(topics.values()))


def request_value(name: str = "bench") -> bytes:
    """A create request: the API reference's first example (prePaid, auto-paid: starts at once)."""
    body = example("01-prepaid-keypair.json")
    body["server"]["name"] = name
    return json.dumps(body).encode()


def fast_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=20,
        max_batch_size=256 * 1024,
    )  # fmt: skip


async def prefill(bootstrap: str, topic: str, count: int, prefix: str = "req") -> float:
    """Publishes `count` keyed requests as fast as acks allow; returns the seconds it took."""
    value = request_value()
    producer = fast_producer(bootstrap)
    await producer.start()
    started = time.perf_counter()
    try:
        for first in range(0, count, 2000):
            futures = [
                await producer.send(topic, value, key=f"{prefix}-{i:07d}".encode())
                for i in range(first, min(count, first + 2000))
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Arrival:
    """An outcome record as the benchmark saw it: wall-clock arrival time and the value."""

    at: float
    value: bytes


@dataclass
class Window:
    """Counts, times and CPU at the 10 % and 90 % marks of the expected events."""

    expected: int
    low_count: int = 0
    low_time: float = 0.0
    low_cpu: float = 0.0
    high_count: int = 0
    high_time: float = 0.0
    high_cpu: float = 0.0

    @property
    def complete(self) -> bool:
        return self.high_count > self.low_count > 0 and self.high_time > self.low_time

    @property
    def per_second(self) -> float:
        return (self.high_count - self.low_count) / (self.high_time - self.low_time)

    @property
    def cpu_per_1000(self) -> float:
        return (self.high_cpu - self.low_cpu) / (self.high_count - self.low_count) * 1000


async def collect(
    bootstrap: str,
    topics: Sequence[str],
    expected: int,
    *,
    timeout: float,
    cpu: Callable[[], float],
    keep_values: bool = False,
) -> tuple[list[Arrival], Window]:
    """Reads `topics` from the start until `expected` records or `timeout`; times the window."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, fetch_max_bytes=16 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    window = Window(expected)
    low, high = max(1, expected // 10), max(2, expected * 9 // 10)
    arrivals: list[Arrival] = []
    count = 0
    deadline = time.monotonic() + timeout
    try:
        while count < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100, max_records=10_000)
            now = time.time()
            for records in batch.values():
                count += len(records)
                if keep_values:
                    arrivals.extend(Arrival(now, r.value or b"") for r in records)
            if count >= low and not window.low_count:
                window.low_count, window.low_time, window.low_cpu = count, now, cpu()
            if count >= high and not window.high_count:
                window.high_count, window.high_time, window.high_cpu = count, now, cpu()
    finally:
        await consumer.stop()
    if count < expected:
        raise TimeoutError(f"only {count} of {expected} outcomes within {timeout:.0f}s")
    return arrivals, window


async def mean_value_size(bootstrap: str, topic: str, sample: int = 200) -> int:
    """Mean value size of the first `sample` records of `topic` (0 if it is empty)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    sizes: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while len(sizes) < sample and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=sample)
            sizes.extend(len(r.value or b"") for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return round(sum(sizes) / len(sizes)) if sizes else 0


# ----- reporting


def machine() -> dict[str, Any]:
    """Where the figures came from."""
    model = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if "model name" in line),
        platform.processor() or "unknown",
    )
    pom = (ROOT / "deploy" / "local" / "pom.xml").read_text()
    kafka = pom.split("<kafka.version>", 1)[1].split("<", 1)[0] if "<kafka.version>" in pom else "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kafka": f"Apache Kafka {kafka} (single local KRaft broker, same machine)",
        "os": f"{platform.system()} {platform.release()}",
    }


def _lines(path: str) -> Iterator[str]:
    with contextlib.suppress(OSError), open(path) as file:
        yield from file


@dataclass
class Section:
    """One benchmark's result: a table (columns, rows) plus parameters and free-form details."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "columns": self.columns, "rows": self.rows,
            "params": self.params, "details": self.details, "notes": self.notes,
            "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }  # fmt: skip


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(section: dict[str, Any]) -> str:
    lines = [f"### {section['title']}", ""]
    lines.append("| " + " | ".join(section["columns"]) + " |")
    lines.append("|" + "---|" * len(section["columns"]))
    lines.extend("| " + " | ".join(fmt(v) for v in row) + " |" for row in section["rows"])
    params = ", ".join(f"{k}={v}" for k, v in section.get("params", {}).items())
    if params:
        lines += ["", f"Parameters: {params}."]
    lines += [f"- {note}" for note in section.get("notes", [])]
    return "\n".join(lines) + "\n"


def ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}" if theirs else "-"


def print_section(section: Section) -> None:
    print(markdown(section.as_json()), flush=True)


def run_alone(
    doc: str,
    bench: Callable[[int], Coroutine[Any, Any, Section]],
    *,
    quick: int,
    full: int,
    argv: Sequence[str] | None = None,
) -> None:
    """The command line of a benchmark sized in requests: `--quick` or `--requests N`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--requests", type=int, default=None)
    args = parser.parse_args(argv)
    print_section(asyncio.run(bench(args.requests or (quick if args.quick else full))))

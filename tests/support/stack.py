"""An end-to-end stack for tests: per-test topics, the ECS simulator and a worker, all real.

The worker runs in-process (`worker.service.serve`) or as a subprocess (`ecs-provisioner run`)
when a test needs to kill it; both use the real broker and talk to the simulator over HTTP. With
`tenants`, each tenant gets topics of its own (the test's topics with `.<tenant>` appended, as the
worker derives them), a secret directory with the secrets the test gives it, and its entry in a
tenants file the worker reads (`ECSP_TENANTS_FILE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ecsp_contract.tenants import tenant_topic
from tests.support import iam, secrets
from tests.support.kafka import Record, consume, create_topics, delete_topics, produce
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings, with_file_secrets
from worker.service import serve
from worker.simulator.knobs import Faults, SimulatorConfig
from worker.simulator.serving import running_simulator

PROJECT = "0605767ea3000f5b2fe8c0051de0b9ba"
EXAMPLES = Path(__file__).parents[2] / "schemas" / "ecsp_contract" / "examples"
STATE_TOPIC_CONFIG = {"cleanup.policy": "compact"}
ROLES = ("requests", "results", "failures", "progress", "state")


@dataclass(frozen=True)
class TenantSetup:
    """A tenant of a test's stack: its projects and the secrets in its secret directory."""

    project_id: str
    projects: tuple[str, ...] = ()
    secrets: Mapping[str, str] = field(default_factory=dict)


def event_log_path() -> Path:
    """Where consumed events are appended for the suite's leak check (set by conftest)."""
    return Path(os.environ.get("ECSP_TEST_EVENT_LOG", ".pytest-logs/events.jsonl"))


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return document


def keyed_examples(prefix: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` requests `(key, body)` of example 1, each with its own key and server name."""
    items = []
    for i in range(count):
        body = example("01-prepaid-keypair.json")
        body["server"]["name"] = f"{prefix}-{i}"
        items.append((f"{prefix}-{i}", body))
    return items


def examples() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))}


@dataclass
class Stack:
    """Topics, simulator URL and worker settings of one end-to-end test."""

    bootstrap: str
    base_url: str
    settings: Settings
    env: dict[str, str]
    seen: list[Record] = field(default_factory=list)
    metrics: Metrics | None = None  # the in-process worker's metrics
    topics: dict[str, str] = field(default_factory=dict)  # the shared topics by role

    def topic(self, role: str, tenant: str | None = None) -> str:
        """The topic of a role (requests, results, …): the shared one, or a tenant's."""
        return self.topics[role] if tenant is None else tenant_topic(self.topics[role], tenant)

    async def publish(
        self,
        items: Iterable[tuple[str | bytes | None, Any]],
        headers: Sequence[tuple[str, bytes]] = (),
        *,
        tenant: str | None = None,
    ) -> None:
        """Publishes (key, value) pairs; a dict value is sent as JSON, bytes as they are."""
        await produce(
            self.bootstrap,
            self.topic("requests", tenant),
            [(_bytes(key), _value(value), headers) for key, value in items],
        )

    async def outcomes(
        self, count: int, timeout: float = 60.0, *, tenant: str | None = None
    ) -> list[Record]:
        """Reads results and failures until `count` terminal events arrived (from the start).

        Sorted by the request's offset: the two topics give no order between each other.
        """
        records = await consume(
            self.bootstrap,
            [self.topic("results", tenant), self.topic("failures", tenant)],
            count=count,
            timeout=timeout,
        )
        _log_events(records)
        return sorted(records, key=lambda r: int(r.json()["data"]["origin"]["offset"]))

    async def progress(self, count: int, timeout: float = 30.0) -> list[Record]:
        records = await consume(
            self.bootstrap, [self.settings.topic_progress], count=count, timeout=timeout
        )
        _log_events(records)
        return records

    async def sim(self, method: str, path: str, payload: Any = None) -> Any:
        return await sim_call(self.base_url, method, path, payload)


async def sim_call(base_url: str, method: str, path: str, payload: Any = None) -> Any:
    """One JSON call to a simulator (its `/_sim/` paths); raises on a non-2xx answer."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.request(method, base_url + path, json=payload) as response,
    ):
        response.raise_for_status()
        return await response.json()


def _bytes(key: str | bytes | None) -> bytes | None:
    return key.encode() if isinstance(key, str) else key


def _value(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return json.dumps(value).encode()


def _log_events(records: Iterable[Record]) -> None:
    """Appends consumed events to the suite's event log, which the leak check searches."""
    path = event_log_path()
    path.parent.mkdir(exist_ok=True)
    with path.open("ab") as log:
        for record in records:
            log.write((record.value or b"") + b"\n")


def worker_env(
    bootstrap: str, base_url: str, topics: dict[str, str], group: str, **extra: str
) -> dict[str, str]:
    env = {
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ECSP_GROUP_ID": group,
        "ECSP_TOPIC_REQUESTS": topics["requests"],
        "ECSP_TOPIC_RESULTS": topics["results"],
        "ECSP_TOPIC_FAILURES": topics["failures"],
        "ECSP_TOPIC_PROGRESS": topics["progress"],
        "ECSP_TOPIC_STATE": topics.get("state", ""),  # none given: off, not the shared default
        "ECSP_ECS_ENDPOINT": base_url,
        "ECSP_ECS_PROJECT_ID": PROJECT,
        "ECSP_ECS_AK": secrets.TEST_AK,
        "ECSP_ECS_SK": secrets.TEST_SK,
        "ECSP_OPS_PORT": "0",
        "ECSP_JOB_POLL_INITIAL_SECONDS": "0.2",
        "ECSP_JOB_POLL_MAX_SECONDS": "0.5",
        "ECSP_BULK_FOLLOW_INTERVAL_SECONDS": "0.5",
        "ECSP_BULK_FOLLOW_UNSEEN_SECONDS": "1.0",
        "ECSP_BULK_FOLLOW_SAFETY_NET_SECONDS": "3.0",
        "ECSP_API_RETRY_BASE_SECONDS": "0.05",
        "ECSP_API_RETRY_MAX_SECONDS": "0.5",
        "ECSP_API_RATE_LIMIT": "0",
        "ECSP_COMMIT_INTERVAL_SECONDS": "0.2",
        "ECSP_LAG_INTERVAL_SECONDS": "0.5",
        "ECSP_SHUTDOWN_GRACE_SECONDS": "2",
        "ECSP_REVOKE_GRACE_SECONDS": "1",
        "ECSP_SECRET_ENV_PREFIX": "ECSP_TEST_SECRET_",
        "ECSP_TEST_SECRET_ADMIN_PASS": secrets.ADMIN_PASS_SECRET,
    }
    env.update(extra)
    return env


def settings_from(env: dict[str, str]) -> Settings:
    values = {k[len("ECSP_") :].lower(): v for k, v in env.items() if k.startswith("ECSP_")}
    names = set(Settings.model_fields)
    return with_file_secrets(
        Settings.model_validate({k: v for k, v in values.items() if k in names})
    )


@contextlib.asynccontextmanager
async def stack(
    bootstrap: str,
    *,
    partitions: int = 1,
    job_seconds: tuple[float, float] = (0.2, 0.6),
    faults: Faults | None = None,
    in_process_worker: bool = True,
    token_ttl_seconds: float = 8 * 3600,
    api_extra_fields: tuple[str, ...] = (),
    list_lag_seconds: float = 0.0,
    state_partitions: int = 1,
    tenants: Mapping[str, TenantSetup] | None = None,
    **settings_env: str,
) -> AsyncIterator[Stack]:
    """Fresh topics + simulator (+ an in-process worker); everything removed afterwards.

    `api_extra_fields` are create-body fields the simulated API knows beyond this release's.
    """
    suffix = uuid.uuid4().hex[:10]
    topics = {name: f"test.e2e.{name}.{suffix}" for name in ROLES}
    created: list[str] = []
    for tenant in (None, *(tenants or {})):
        mine = {n: t if tenant is None else tenant_topic(t, tenant) for n, t in topics.items()}
        await create_topics(bootstrap, [mine["requests"]], partitions)
        await create_topics(bootstrap, [mine[n] for n in ("results", "failures", "progress")], 1)
        await create_topics(bootstrap, [mine["state"]], state_partitions, STATE_TOPIC_CONFIG)
        created += mine.values()
    tenant_files = tempfile.TemporaryDirectory(prefix="ecsp-tenants-")
    if tenants:
        settings_env["ECSP_TENANTS_FILE"] = write_tenants_file(Path(tenant_files.name), tenants)
    config = SimulatorConfig(
        admin_routes=True,
        credentials={secrets.TEST_AK: secrets.TEST_SK},
        job_seconds=job_seconds,
        seed=7,
        faults=faults or Faults(),
        token_ttl_seconds=token_ttl_seconds,
        extra_fields=api_extra_fields,
        list_lag_seconds=list_lag_seconds,
    )
    old_env = {k: os.environ.get(k) for k in ("ECSP_TEST_SECRET_ADMIN_PASS",)}
    try:
        async with running_simulator(config) as base_url:
            env = worker_env(bootstrap, base_url, topics, f"test-group-{suffix}", **settings_env)
            os.environ["ECSP_TEST_SECRET_ADMIN_PASS"] = secrets.ADMIN_PASS_SECRET
            the_stack = Stack(bootstrap, base_url, settings_from(env), env, topics=topics)
            try:
                if not in_process_worker:
                    yield the_stack
                    return
                async with in_process(the_stack.settings) as metrics:
                    the_stack.metrics = metrics
                    yield the_stack
            finally:
                iam.record_served(await the_stack.sim("GET", "/_sim/stats"))
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        tenant_files.cleanup()
        await delete_topics(bootstrap, created)


def write_tenants_file(directory: Path, tenants: Mapping[str, TenantSetup]) -> str:
    """Each tenant's secret directory with its secrets, and the tenants file naming them."""
    document: dict[str, Any] = {}
    for name, setup in tenants.items():
        secret_dir = directory / name
        secret_dir.mkdir()
        for secret, value in setup.secrets.items():
            (secret_dir / secret).write_text(value + "\n")
        document[name] = {
            "project_id": setup.project_id,
            "projects": list(setup.projects),
            "secret_dir": str(secret_dir),
        }
    path = directory / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": document}))
    return str(path)


@contextlib.asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[Metrics]:
    """Runs `serve` in a task; stops it (SIGTERM path) on exit and re-raises its failure."""
    stop = asyncio.Event()
    metrics = Metrics()
    task = asyncio.create_task(serve(settings, stop, metrics=metrics))
    try:
        yield metrics
    finally:
        stop.set()
        async with asyncio.timeout(settings.shutdown_grace_seconds + 20):
            await task


@dataclass
class WorkerProcess:
    """`ecs-provisioner run` as a child process, its stderr kept in a file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker_process(env: dict[str, str], log_path: Path) -> WorkerProcess:
    full_env = {**os.environ, **env, "ECSP_LOG_FORMAT": "json", "ECSP_LOG_LEVEL": "DEBUG"}
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return WorkerProcess(process, log_path)

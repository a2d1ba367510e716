"""The ECS API simulator for the client's tests: started in-process, with a client of the
simulator's AK/SK and helpers to read its state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.support.ecs_client import layered_client
from worker.ecs.auth import AkSkAuth, TokenAuth
from worker.ecs.client import EcsClient
from worker.ecs.credentials import Credential
from worker.ecs.ratelimit import TokenBucket
from worker.ecs.retry import RetryConfig
from worker.ecs.transport import HttpSettings
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

AK, SK = "CLIENTAK000000000001", "client-secret-key-1"
FAST = RetryConfig(max_attempts=5, base_delay=0.01, max_delay=0.05, deadline=10)
PROJECT = "0123456789abcdef0123456789abcdef"


def new_token() -> str:
    return str(uuid.uuid4())


@dataclass
class Sim:
    """A running simulator, a session, and the helpers a test needs around the client."""

    base_url: str
    session: aiohttp.ClientSession
    sleeps: list[float] = field(default_factory=list)
    between_attempts: dict[str, Any] | None = None  # faults to set when the client backs off

    def client(
        self,
        *,
        retry: RetryConfig = FAST,
        auth: AkSkAuth | TokenAuth | None = None,
        limiter: TokenBucket | None = None,
        observer: Any = None,
        real_sleep: bool = False,
        rand: Callable[[], float] = lambda: 1.0,
    ) -> EcsClient:
        return layered_client(
            self.session,
            self.base_url,
            auth or AkSkAuth(Credential(AK, SK)),
            retry=retry,
            limiter=limiter,
            observer=observer,
            http=HttpSettings(request_timeout=5.0),
            sleep=asyncio.sleep if real_sleep else self._sleep,
            rand=rand,
        )

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.between_attempts is not None:
            await self.faults(**self.between_attempts)
            self.between_attempts = None

    async def faults(self, **faults: Any) -> None:
        async with self.session.post(f"{self.base_url}/_sim/faults", json=faults) as response:
            assert response.status == 200, await response.text()

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base_url}/_sim/stats") as response:
            assert response.status == 200
            result: dict[str, Any] = await response.json()
            return result


@asynccontextmanager
async def simulator(**overrides: Any) -> AsyncIterator[Sim]:
    values: dict[str, Any] = {
        "credentials": {AK: SK},
        "iam_users": {"alice": "alice-password-1"},
        "job_seconds": (0.2, 0.2),
        "seed": 11,
        "admin_routes": True,
    }
    values.update(overrides)
    async with (
        running_simulator(SimulatorConfig(**values)) as base_url,
        aiohttp.ClientSession() as session,
    ):
        yield Sim(base_url, session)


async def wait_final(client: EcsClient, job_id: str, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            job = await client.get_job(job_id, PROJECT)
            if job.status in ("SUCCESS", "FAIL"):
                return job
            await asyncio.sleep(0.05)

"""The processes a reliability run starts, kills and restarts: worker processes and its own broker.

A `WorkerSlot` is one place in the consumer group: it runs `ecs-provisioner run` (or the planted
defect's launcher) as a child process with its output in a log file per generation, and records
how every generation ended (the signal the driver sent and the exit status). `OwnBroker` drives
`deploy/local/kafka.sh` for a broker on a dedicated port, never one the suite or others share.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.reliability.checks import WorkerExit

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
SHARED_PORTS = frozenset({9092, 9192})

WORKER_COMMAND = (sys.executable, "-m", "worker", "run")
DEFECT_COMMAND = (sys.executable, "-m", "tests.reliability.broken_worker")


@dataclass
class WorkerSlot:
    """One consumer-group member, restarted as often as the driver kills it."""

    name: str
    env: dict[str, str]
    log_dir: Path
    command: tuple[str, ...] = WORKER_COMMAND
    exits: list[WorkerExit] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    _process: asyncio.subprocess.Process | None = None
    _signalled: bool = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        path = self.log_dir / f"worker-{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(path)
        with path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.command,
                env={**os.environ, **self.env},
                cwd=REPO,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def kill(self) -> None:
        await self._signal(signal.SIGKILL, timeout=10)

    async def terminate(self, timeout: float = 30) -> None:
        await self._signal(signal.SIGTERM, timeout=timeout)

    async def wait_logged(self, marker: str, timeout: float) -> bool:
        """Waits (bounded) until the running generation's log contains `marker`."""
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            if marker in self.logs[-1].read_text(errors="replace"):
                return True
            await asyncio.sleep(0.5)
        return False

    def reap(self) -> bool:
        """Records a generation that exited on its own; True if there was one."""
        process = self._process
        if process is None or process.returncode is None or self._signalled:
            return False
        self.exits.append(WorkerExit(self._generation(), "none", process.returncode))
        self._process = None
        return True

    async def _signal(self, sig: signal.Signals, timeout: float) -> None:
        """Sends `sig` and records the exit; a process still alive after `timeout` is SIGKILLed
        (and its exit status, -9, then fails the crash check for a SIGTERM)."""
        if self.reap() or self._process is None:
            return
        process = self._process
        self._signalled = True
        process.send_signal(sig)
        try:
            async with asyncio.timeout(timeout):
                code = await process.wait()
        except TimeoutError:
            process.kill()
            code = await process.wait()
        sent: Literal["SIGKILL", "SIGTERM"] = "SIGKILL" if sig is signal.SIGKILL else "SIGTERM"
        self.exits.append(WorkerExit(self._generation(), sent, code))
        self._process = None
        self._signalled = False

    def _generation(self) -> str:
        return self.logs[-1].name.removesuffix(".log")

    def log_texts(self) -> dict[str, str]:
        return {p.name: p.read_text(errors="replace") for p in self.logs if p.exists()}


@dataclass(frozen=True)
class OwnBroker:
    """A single-node broker on a dedicated port, started, restarted and stopped by kafka.sh."""

    port: int

    def __post_init__(self) -> None:
        if self.port in SHARED_PORTS:
            raise ValueError(f"port {self.port} is a shared broker's; use a dedicated port")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _kafka_sh(self, command: str, timeout: float = 180) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CHECK_PYTHON": sys.executable,
        }
        process = await asyncio.create_subprocess_exec(
            str(KAFKA_SH),
            command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(timeout):
                output, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"kafka.sh {command} took more than {timeout}s") from None
        if process.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed: {output.decode(errors='replace')}")

    async def start(self) -> None:
        await self._kafka_sh("start")

    async def stop(self) -> None:
        await self._kafka_sh("stop")

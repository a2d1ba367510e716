"""Serving a simulator app on a socket: for the command line and, on an ephemeral port, tests.

Owns `serving` (start an app on host:port, yield its base URL, clean up) and
`running_simulator` (the same for a fresh `make_app(config)` on a free loopback port).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from worker.simulator.app import make_app
from worker.simulator.knobs import SimulatorConfig

SHUTDOWN_TIMEOUT_SECONDS = 2.0


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0: any free port); yield ``http://host:port``."""
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown_host}:{bound_port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_simulator(config: SimulatorConfig, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """A fresh simulator on a free port of ``host``; yields its base URL."""
    async with serving(make_app(config), host, 0) as base_url:
        yield base_url

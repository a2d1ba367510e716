"""The operations HTTP server: /healthz (liveness), /readyz (readiness), /metrics (Prometheus).

Liveness fails only when the consume loop stopped polling (a hung loop): long jobs never make
a pod "dead". Readiness needs assigned partitions and a recent successful poll (broker reachable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from worker.ops.metrics import Metrics


@dataclass(frozen=True)
class Probes:
    """Callables answering the two questions; each returns (ok, reason)."""

    alive: Callable[[], tuple[bool, str]]
    ready: Callable[[], tuple[bool, str]]


def make_ops_app(metrics: Metrics, probes: Probes) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        ok, reason = probes.alive()
        return web.json_response({"ok": ok, "reason": reason}, status=200 if ok else 503)

    async def readyz(_: web.Request) -> web.Response:
        ok, reason = probes.ready()
        return web.json_response({"ok": ok, "reason": reason}, status=200 if ok else 503)

    async def metrics_handler(_: web.Request) -> web.Response:
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app


async def start_ops_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Starts the server; the caller cleans up with `await runner.cleanup()`."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner

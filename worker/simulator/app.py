"""The simulator application: `make_app(SimulatorConfig)` wires state, gateway and routes.

Owns the route table, i.e. which API paths the simulator serves. The simulator-only paths under
``/_sim/`` (statistics, faults, order payment, key rotation: unauthenticated) are served only
with ``SimulatorConfig.admin_routes``. Everything else is in the modules it wires together:
`gateway` (faults, request ids), `ecs_api`, `iam`, `metadata`, `sim_api`.
"""

from __future__ import annotations

from aiohttp import web

from worker.simulator import cloudservers, ecs_api, iam, metadata, sell_policies, sim_api
from worker.simulator.gateway import gateway
from worker.simulator.knobs import Faults, SimulatorConfig
from worker.simulator.state import STATE, build_state

__all__ = ["Faults", "SimulatorConfig", "make_app"]

MAX_BODY_BYTES = 12 * 1024 * 1024  # the gateway's limit for AK/SK-signed requests


def make_app(config: SimulatorConfig) -> web.Application:
    """A fresh simulator: its own stores, generators and faults."""
    app = web.Application(middlewares=[gateway], client_max_size=MAX_BODY_BYTES)
    app[STATE] = build_state(config)
    app.router.add_post("/v1.1/{project_id}/cloudservers", ecs_api.create_servers)
    app.router.add_post("/v1/{project_id}/cloudservers", ecs_api.create_post_paid_servers)
    app.router.add_get("/v1/{project_id}/jobs/{job_id}", ecs_api.show_job)
    app.router.add_get("/v1/{project_id}/cloudservers/detail", cloudservers.list_servers_details)
    app.router.add_post("/v1/{project_id}/cloudservers/delete", cloudservers.delete_servers)
    app.router.add_get(
        "/v1/{project_id}/cloudservers/flavor-sell-policies",
        sell_policies.list_flavor_sell_policies,
    )
    app.router.add_get("/v1/{project_id}/cloudservers/{server_id}", ecs_api.show_server)
    app.router.add_post("/v3/auth/tokens", iam.issue_token)
    app.router.add_put("/meta-data/latest/api/token", metadata.session_token)
    app.router.add_get("/openstack/latest/securitykey", metadata.security_key)
    if config.admin_routes:
        app.router.add_get("/_sim/stats", sim_api.get_stats)
        app.router.add_get("/_sim/faults", sim_api.get_faults)
        app.router.add_post("/_sim/faults", sim_api.set_faults)
        app.router.add_post("/_sim/orders/{order_id}/pay", sim_api.pay_order)
        app.router.add_put("/_sim/credentials", sim_api.replace_credentials)
        app.router.add_post("/_sim/temporary-credentials", sim_api.issue_temporary)
        app.router.add_delete("/_sim/temporary-credentials/{access_key}", sim_api.revoke_temporary)
    return app

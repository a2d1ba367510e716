"""The secrets step: `$NAME` references in adminPass resolved in the requesting tenant's scope.

Each tenant has a scope of its own (`SecretScopes`), and a reference resolves in the scope of the
tenant whose topic the request came from, never another's. The default tenant's: the environment
variable `<prefix>NAME`, else the file `<dir>/NAME` (a Kubernetes secret mount, read off the event
loop). Another tenant's: the file `<its secret_dir>/NAME` only (no environment: that is one
namespace shared with the worker's own settings); the tenants file refuses directories that coincide
or nest, and a name has no `/`, so no reference reaches another tenant's file. Names that would
reach one of the worker's own settings (`reserved`, e.g. `ECSP_SECRET_DIR` under the default prefix)
are unknown; the settings refuse a prefix that reaches its credentials at start. The resolved value
is checked against the API's password rules here, so a bad secret fails as `validate` before any
cloud call. An unknown reference and one whose value breaks the rules get one answer
(`ECSP.UnknownSecret`, one message naming the reference), so a requester cannot tell which names
exist; the operator's log line says which it was, and nothing of the value. An escaped literal
`$$NAME` is sent as the literal `$NAME`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import structlog

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.password import ESCAPE_HINT, literal_password
from ecsp_contract.request import admin_password_problems
from ecsp_contract.tenants import DEFAULT_TENANT
from worker.pipeline.failure import StageFailure
from worker.pipeline.port import Outcome
from worker.pipeline.state import DecodedRequest, Request, Resolved, Step, Validated

log = structlog.get_logger("worker.secrets")


@dataclass(frozen=True)
class SecretSource:
    """Where `$NAME` references are looked up (`env_prefix` None: not in the environment)."""

    env_prefix: str | None
    directory: Path | None
    reserved: frozenset[str] = frozenset()
    """Environment variables a reference never resolves to (the worker's own settings)."""

    async def lookup(self, name: str) -> str | None:
        if self.env_prefix is not None:
            env_name = f"{self.env_prefix}{name}"
            if env_name in self.reserved:
                return None
            value = os.environ.get(env_name)
            if value is not None:
                return value
        if self.directory is None:
            return None
        return await asyncio.to_thread(_read_secret_file, self.directory / name)


NO_SECRETS = SecretSource(env_prefix=None, directory=None)
"""The scope of a tenant given no secret directory: no reference resolves."""


@dataclass(frozen=True)
class SecretScopes:
    """Each tenant's `SecretSource`: the default tenant's, and the others' by name."""

    default: SecretSource
    tenants: Mapping[str, SecretSource] = field(default_factory=dict)

    def of(self, tenant: str) -> SecretSource:
        if tenant == DEFAULT_TENANT:
            return self.default
        return self.tenants.get(tenant, NO_SECRETS)


@dataclass(frozen=True)
class ResolveSecrets:
    """Puts the password a `$NAME` stands for into the body to send (stage `validate`)."""

    scopes: SecretScopes
    next_step: Step[Resolved]
    stage: ClassVar[FailureStage] = FailureStage.VALIDATE

    async def __call__(self, request: Request[Validated]) -> Outcome:
        return await self.next_step(request.advance(await self.resolved(request.state)))

    async def resolved(self, state: Validated) -> Resolved:
        body = await body_for_api(state.request, self.scopes.of(state.request.tenant))
        return Resolved(
            state.ctx,
            state.message,
            state.request,
            state.on_partial_failure,
            body,
            state.fallbacks,
        )


def _read_secret_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


async def body_for_api(request: DecodedRequest, source: SecretSource) -> dict[str, Any]:
    """The body to send: the wire form with adminPass replaced by the password it stands for."""
    admin_pass = request.body.server.admin_pass
    if admin_pass is None:
        return request.wire
    literal = literal_password(admin_pass)
    if literal is not None:
        return _with_admin_pass(request.wire, literal)
    name = admin_pass[1:]
    value = await source.lookup(name)
    if value is None or admin_password_problems(value):
        # one answer for both, so a requester learns nothing of which names exist; the
        # operator's log line says which it was (never the value, nor which rule it breaks)
        log.warning(
            "secret reference unknown in its tenant's scope"
            if value is None
            else "secret reference unusable: its value breaks the API's password rules",
            reference=name,
        )
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.UNKNOWN_SECRET,
            message=f"server.adminPass: secret reference ${name} names no usable secret for "
            f"this topic; ask the worker's operator ({ESCAPE_HINT})",
        )
    return _with_admin_pass(request.wire, value)


def _with_admin_pass(wire: dict[str, Any], password: str) -> dict[str, Any]:
    if wire["server"]["adminPass"] == password:
        return wire
    return {**wire, "server": {**wire["server"], "adminPass": password}}

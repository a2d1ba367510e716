"""Helpers for the simulator tests: a fake clock, a signing client, request bodies."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from worker.ecs.signing import sign_request
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

AK = "SIMAK0000000000000001"
SK = "sim-secret-key-0001"
PROJECT = "0123456789abcdef0123456789abcdef"
START = 1_750_000_000.0


def prepaid(auto_pay: str) -> dict[str, Any]:
    return {
        "extendparam": {
            "chargingMode": "prePaid",
            "periodType": "month",
            "periodNum": 1,
            "isAutoPay": auto_pay,
        }
    }


def new_token() -> str:
    return str(uuid.uuid4())


def _pair(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key, value


@dataclass
class Reply:
    status: int
    headers: CIMultiDict[str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class Api:
    """Signs every call with AK/SK like the SDK (or sends what the test says)."""

    session: aiohttp.ClientSession
    base_url: str
    clock: Callable[[], float]
    ak: str = AK
    sk: str = SK
    project: str = PROJECT
    extra_headers: dict[str, str] = field(default_factory=dict)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        signed_at: float | None = None,
        sign: bool = True,
        tamper: Callable[[bytes], bytes] | None = None,
        tamper_headers: Callable[[dict[str, str]], dict[str, str]] | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json;charset=utf-8", **(headers or {})}
        path, _, query_text = path.partition("?")
        query = [_pair(text) for text in query_text.split("&") if text]
        if sign:
            moment = datetime.fromtimestamp(
                self.clock() if signed_at is None else signed_at, tz=UTC
            )
            all_headers = sign_request(
                self.ak,
                self.sk,
                method,
                urlsplit(self.base_url).netloc,
                path,
                query,
                all_headers,
                body,
                now=moment,
            )
        sent = tamper(body) if tamper else body
        if tamper_headers:
            all_headers = tamper_headers(all_headers)
        async with self.session.request(
            method, self.base_url + path, params=query, data=sent, headers=all_headers
        ) as response:
            raw = await response.read()
            return Reply(response.status, CIMultiDict(response.headers), raw)

    async def create(
        self,
        body: dict[str, Any],
        token: str | None = None,
        *,
        version: str = "v1.1",
        project: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["X-Client-Token"] = token
        data = raw if raw is not None else json.dumps(body).encode()
        path = f"/{version}/{project or self.project}/cloudservers"
        return await self.request("POST", path, data, all_headers)

    async def job(self, job_id: str, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", f"/v1/{self.project}/jobs/{job_id}", headers=headers)

    async def server(self, server_id: str) -> Reply:
        return await self.request("GET", f"/v1/{self.project}/cloudservers/{server_id}")

    async def sim(self, method: str, path: str, payload: Any = None) -> Reply:
        data = b"" if payload is None else json.dumps(payload).encode()
        async with self.session.request(method, self.base_url + path, data=data) as response:
            return Reply(response.status, CIMultiDict(response.headers), await response.read())

    async def stats(self) -> dict[str, Any]:
        reply = await self.sim("GET", "/_sim/stats")
        assert reply.status == 200
        result: dict[str, Any] = reply.json
        return result


@asynccontextmanager
async def simulator(config: SimulatorConfig) -> AsyncIterator[Api]:
    """A running simulator with a signing client for it."""
    async with (
        running_simulator(config) as base_url,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        yield Api(session, base_url, config.clock)


def config(clock: Callable[[], float], **overrides: Any) -> SimulatorConfig:
    """A test config: one AK/SK, seeded, fixed 10 s jobs unless overridden."""
    values: dict[str, Any] = {
        "credentials": {AK: SK},
        "iam_users": {"alice": "alice-password-1"},
        "job_seconds": (10.0, 10.0),
        "seed": 7,
        "clock": clock,
        "admin_routes": True,
    }
    values.update(overrides)
    return SimulatorConfig(**values)

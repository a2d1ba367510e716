"""Credential sources: files re-read when they change (and after a 401), instance-metadata
credentials renewed before they expire; each against the simulator, which refuses old keys."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.ecs.ecs_testkit import RecordingObserver
from tests.support.bodies import server_body
from tests.support.clock import ShiftedClock
from tests.support.ecs_client import layered_client
from tests.support.secret_mount import write_secret
from tests.support.secrets import ROTATED_AK, ROTATED_SK, TEST_AK, TEST_SK
from worker.ecs.auth import AkSkAuth
from worker.ecs.client import EcsClient
from worker.ecs.credentials import (
    Credential,
    CredentialSource,
    FileCredentials,
    MetadataCredentials,
    parse_security_key,
)
from worker.ecs.errors import EcsApiError
from worker.ecs.observer import SilentObserver
from worker.ecs.retry import RetryConfig
from worker.ecs.transport import HttpSettings
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

PROJECT = "0605767ea3000f5b2fe8c0051de0b9ba"


@dataclass
class Sim:
    base_url: str
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, payload: Any = None) -> Any:
        async with self.session.request(method, self.base_url + path, json=payload) as response:
            assert response.status < 300, await response.text()
            return await response.json()

    def client(self, source: CredentialSource, observer: Any = None) -> EcsClient:
        return layered_client(
            self.session,
            self.base_url,
            AkSkAuth(source),
            retry=RetryConfig(max_attempts=3, base_delay=0.01, max_delay=0.01),
            observer=observer,
            http=HttpSettings(request_timeout=5.0),
        )

    async def create(self, source: CredentialSource, observer: Any = None) -> None:
        await self.client(source, observer).create_servers(
            server_body(), str(uuid.uuid4()), PROJECT
        )

    async def status_count(self, status: str) -> int:
        stats = await self.call("GET", "/_sim/stats")
        return int(stats["requests_by_status"].get(status, 0))


@asynccontextmanager
async def simulator(**overrides: Any) -> AsyncIterator[Sim]:
    values: dict[str, Any] = {
        "credentials": {TEST_AK: TEST_SK},
        "job_seconds": (0.1, 0.1),
        "admin_routes": True,
    }
    values.update(overrides)
    async with (
        running_simulator(SimulatorConfig(**values)) as base_url,
        aiohttp.ClientSession() as session,
    ):
        yield Sim(base_url, session)


def temporary(document: dict[str, Any]) -> Credential:
    credential = parse_security_key(document)
    assert credential is not None
    return credential


async def test_files_are_reread_when_a_mounted_secret_is_updated(tmp_path: Path) -> None:
    mount = tmp_path / "secret"
    write_secret(mount, {"ak": TEST_AK, "sk": TEST_SK, "token": ""})
    source = FileCredentials(mount / "ak", mount / "sk", mount / "token")
    assert await source.current() == Credential(TEST_AK, TEST_SK)
    write_secret(mount, {"ak": ROTATED_AK, "sk": ROTATED_SK, "token": "sts-token"})
    assert await source.current() == Credential(ROTATED_AK, ROTATED_SK, "sts-token")
    for secret in (TEST_AK, TEST_SK, ROTATED_AK, ROTATED_SK, "sts-token"):
        assert secret not in repr(source)
        assert secret not in repr(await source.current())


async def test_a_briefly_missing_file_keeps_the_last_credentials(tmp_path: Path) -> None:
    (tmp_path / "sk").write_text(TEST_SK)
    source = FileCredentials(TEST_AK, tmp_path / "sk")
    (tmp_path / "sk").unlink()
    assert await source.current() == Credential(TEST_AK, TEST_SK)
    (tmp_path / "sk").write_text(ROTATED_SK)
    assert await source.current() == Credential(TEST_AK, ROTATED_SK)


async def test_a_401_rereads_the_files_once_even_when_they_look_unchanged(tmp_path: Path) -> None:
    """The stat check can miss a change (same inode, size and mtime); the 401 path cannot."""
    ak, sk = tmp_path / "ak", tmp_path / "sk"
    ak.write_text(TEST_AK)
    sk.write_text(TEST_SK)
    source = FileCredentials(ak, sk)
    async with simulator() as sim:
        await sim.create(source)
        await sim.call("PUT", "/_sim/credentials", {ROTATED_AK: ROTATED_SK})
        for path, value in ((ak, ROTATED_AK), (sk, ROTATED_SK)):  # in place, same size
            before = path.stat()
            path.write_text(value)
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        observer = RecordingObserver()
        await sim.create(source, observer)
        assert observer.calls == [("create", "client_error"), ("create", "ok")]
        assert observer.retries == [("create", "credential_reload")]
        assert await sim.status_count("401") == 1


async def test_a_401_with_nothing_new_on_disk_fails_after_one_attempt(tmp_path: Path) -> None:
    (tmp_path / "sk").write_text(TEST_SK)
    source = FileCredentials(TEST_AK, tmp_path / "sk")
    async with simulator() as sim:
        await sim.call("PUT", "/_sim/credentials", {ROTATED_AK: ROTATED_SK})  # old key refused
        with pytest.raises(EcsApiError) as caught:
            await sim.create(source)
        assert (caught.value.http_status, caught.value.retryable) == (401, False)
        assert await sim.status_count("401") == 1


async def test_temporary_keys_need_their_token_and_are_refused_once_revoked_or_expired() -> None:
    async with simulator() as sim:
        first = temporary(await sim.call("POST", "/_sim/temporary-credentials", {}))
        await sim.create(first)
        for wrong in (
            Credential(first.access_key, first.secret_key),
            Credential(first.access_key, first.secret_key, "other-token"),
        ):
            with pytest.raises(EcsApiError) as caught:
                await sim.create(wrong)
            assert caught.value.http_status == 401
        await sim.call("DELETE", f"/_sim/temporary-credentials/{first.access_key}")
        with pytest.raises(EcsApiError):
            await sim.create(first)


def metadata_source(sim: Sim, clock: Callable[[], float], observer: Any = None) -> Any:
    return MetadataCredentials(
        sim.session,
        sim.base_url,
        refresh_before=2400,
        observer=observer or SilentObserver(),
        clock=clock,
    )


async def test_metadata_credentials_are_renewed_before_they_expire() -> None:
    clock = ShiftedClock()
    async with simulator(
        clock=clock, metadata_credential_ttl_seconds=3600, skew_seconds=1e9
    ) as sim:
        observer = RecordingObserver()
        source = metadata_source(sim, clock, observer)
        first = await source.current()
        assert first.security_token
        assert first.expires_at
        assert first.expires_at == pytest.approx(clock() + 3600, abs=5)
        await sim.create(source)
        seen = {first.access_key}
        for _ in range(30):  # 30 x 240 s = 2 h of credentials that each live 1 h
            clock.offset += 240
            await sim.create(source)
            seen.add((await source.current()).access_key)
        stats = await sim.call("GET", "/_sim/stats")
    assert len(seen) >= 3  # renewed again and again
    assert stats["requests_by_status"].get("401", 0) == 0  # always before the old one expired
    assert ("metadata", "ok") in observer.calls


async def test_metadata_credentials_renewed_after_a_401_and_shared_by_concurrent_callers() -> None:
    """The worker's clock is an hour behind the service's: its cached credentials look valid
    but are refused; one renewal serves every caller that got the 401."""
    service_clock = ShiftedClock()
    async with simulator(
        clock=service_clock, metadata_credential_ttl_seconds=3600, skew_seconds=1e9
    ) as sim:
        source = metadata_source(sim, time.time)
        await source.current()
        service_clock.offset += 3700  # expired for the service, not yet for the worker
        observer = RecordingObserver()
        await asyncio.gather(*(sim.create(source, observer) for _ in range(5)))
        stats = await sim.call("GET", "/_sim/stats")
    assert stats["metadata_credentials_issued"] == 2
    assert stats["requests_by_status"]["401"] == 5
    assert observer.retries == [("create", "credential_reload")] * 5
    assert observer.calls.count(("create", "ok")) == 5


async def test_a_metadata_service_without_session_tokens_still_works() -> None:
    from aiohttp import web

    from worker.simulator.serving import serving

    async def security_key(request: web.Request) -> web.Response:
        assert "X-Metadata-Token" not in request.headers
        return web.json_response(
            {"credential": {"access": "A", "secret": "S", "securitytoken": "T",
                            "expires_at": "2099-01-01T00:00:00.000000Z"}}
        )  # fmt: skip

    app = web.Application()
    app.router.add_get("/openstack/latest/securitykey", security_key)  # no token path: 404
    async with serving(app, "127.0.0.1", 0) as url, aiohttp.ClientSession() as session:
        credential = await MetadataCredentials(session, url).current()
    assert (credential.access_key, credential.secret_key, credential.security_token) == (
        "A",
        "S",
        "T",
    )

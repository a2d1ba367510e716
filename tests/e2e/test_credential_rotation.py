"""Credentials that rotate while the worker runs: a mounted secret whose AK/SK change, then turn
into temporary AK/SK with a security token, then into newer temporary ones. The simulator
refuses each old key once it is rotated out; no request may fail."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.ecs_client import layered_client
from tests.support.secret_mount import write_secret
from tests.support.secrets import ROTATED_AK, ROTATED_SK, TEST_AK, TEST_SK
from tests.support.stack import PROJECT, Stack, example, keyed_examples, stack
from worker.ecs.auth import AkSkAuth
from worker.ecs.credentials import Credential, parse_security_key
from worker.ecs.errors import EcsApiError
from worker.ecs.retry import RetryConfig


def batch(phase: int) -> list[tuple[str, dict[str, Any]]]:
    return keyed_examples(f"rotation-{phase}", 8)


async def refused(s: Stack, credential: Credential) -> bool:
    """Whether the simulator refuses `credential` (401) for a create."""
    async with aiohttp.ClientSession() as session:
        client = layered_client(
            session, s.base_url, AkSkAuth(credential), retry=RetryConfig(max_attempts=1)
        )
        body = example("05-dry-run.json")
        try:
            await client.create_servers(body, str(uuid.uuid4()), PROJECT)
        except EcsApiError as exc:
            return exc.http_status == 401
    return False


async def temporary_credential(s: Stack) -> Credential:
    credential = parse_security_key(
        await s.sim("POST", "/_sim/temporary-credentials", {"ttl_seconds": 3600})
    )
    assert credential is not None
    return credential


def secret_files(credential: Credential) -> dict[str, str]:
    return {
        "ak": credential.access_key,
        "sk": credential.secret_key,
        "token": credential.security_token or "",
    }


@pytest.mark.timeout(240)
async def test_rotating_aksk_files_and_a_temporary_token_mid_run_fails_no_request(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    mount = tmp_path / "ecs-credentials"
    write_secret(mount, {"ak": TEST_AK, "sk": TEST_SK, "token": ""})
    async with stack(
        kafka_bootstrap,
        partitions=2,
        job_seconds=(0.5, 1.0),
        ECSP_ECS_AK="",
        ECSP_ECS_SK="",
        ECSP_ECS_AK_FILE=str(mount / "ak"),
        ECSP_ECS_SK_FILE=str(mount / "sk"),
        ECSP_ECS_SECURITY_TOKEN_FILE=str(mount / "token"),
    ) as s:
        # 1. permanent key rotated: the new key is added, the secret updated, the old key deleted
        await s.publish(batch(1))
        await s.progress(3)
        await s.sim("PUT", "/_sim/credentials", {TEST_AK: TEST_SK, ROTATED_AK: ROTATED_SK})
        write_secret(mount, {"ak": ROTATED_AK, "sk": ROTATED_SK, "token": ""})
        await s.sim("PUT", "/_sim/credentials", {ROTATED_AK: ROTATED_SK})
        # 2. switched to temporary credentials; permanent keys are gone altogether
        await s.publish(batch(2))
        await s.progress(11)
        first = await temporary_credential(s)
        write_secret(mount, secret_files(first))
        await s.sim("PUT", "/_sim/credentials", {})
        # 3. the temporary credentials renewed, the previous ones revoked
        await s.publish(batch(3))
        await s.progress(19)
        second = await temporary_credential(s)
        write_secret(mount, secret_files(second))
        await s.sim("DELETE", f"/_sim/temporary-credentials/{first.access_key}")
        await s.publish(batch(4))
        records = await s.outcomes(32, timeout=120)
        old_refused = [
            await refused(s, Credential(TEST_AK, TEST_SK)),
            await refused(s, Credential(ROTATED_AK, ROTATED_SK)),
            await refused(s, first),
        ]
        current_accepted = not await refused(s, second)
        stats = await s.sim("GET", "/_sim/stats")

    assert len(records) == 32
    failed = [r.json()["data"].get("error") for r in records if r.json()["type"].endswith("failed")]
    assert failed == []
    assert {r.key for r in records} == {k.encode() for p in (1, 2, 3, 4) for k, _ in batch(p)}
    assert old_refused == [True, True, True]
    assert current_accepted
    assert all(n == 1 for n in stats["servers_by_token"].values())

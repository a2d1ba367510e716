"""Benchmark (not a test): create + follow-the-job per request, our client vs the official SDK.

The same work per request (one create with a fresh X-Client-Token, then job checks until
SUCCESS) against the simulator in another process with instant jobs: our asyncio
`worker.ecs.client.EcsClient` with C concurrent requests vs the official `huaweicloudsdkecs`
synchronous `EcsClient` shared by C threads (a ThreadPoolExecutor, as its docs suggest for
concurrency). Both run in this process one after the other, so `time.process_time()` is each
client's own CPU (the simulator's is elsewhere). Signing cost and a mixed create/GET load are
measured by `tests/bench/bench_client.py`, which this reuses for the request body and keys.
Run alone: ``python -m tests.bench.bench_sdk [--quick] [--requests N]``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkecs.v2 import (
    CreateServersRequest,
    CreateServersRequestBody,
    PrePaidServer,
    PrePaidServerNic,
    PrePaidServerRootVolume,
    ShowJobRequest,
)
from huaweicloudsdkecs.v2 import EcsClient as SdkEcsClient

from tests.bench.bench_client import AK, PROJECT, SERVER, SK, Throughput
from tests.bench.common import Section, ratio, run_alone, simulator
from tests.support.ecs_client import layered_client
from worker.ecs.auth import AkSkAuth
from worker.ecs.credentials import Credential
from worker.ecs.retry import RetryConfig

#: Job checks per request before giving up (instant jobs need one).
MAX_CHECKS = 50
CHECK_DELAY = 0.01
SUBNET = "ef039b60-6a14-42d1-963b-687b627fea08"  # SERVER's nics[0]


async def ours(url: str, requests: int, concurrency: int) -> Throughput:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = layered_client(
            session, url, AkSkAuth(Credential(AK, SK)), retry=RetryConfig(max_attempts=1)
        )
        gate = asyncio.Semaphore(concurrency)
        errors = 0

        async def one() -> None:
            nonlocal errors
            async with gate:
                try:
                    created = await client.create_servers(
                        {"server": SERVER}, str(uuid.uuid4()), PROJECT
                    )
                    assert created.job_id is not None
                    for _ in range(MAX_CHECKS):
                        if (await client.get_job(created.job_id, PROJECT)).status == "SUCCESS":
                            return
                        await asyncio.sleep(CHECK_DELAY)
                    errors += 1
                except Exception:
                    errors += 1

        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return Throughput(
            requests, time.perf_counter() - started, time.process_time() - cpu, errors
        )


def sdk_client(url: str, concurrency: int) -> Any:
    config = HttpConfig.get_default_config()
    config.pool_connections = config.pool_maxsize = concurrency
    return (
        SdkEcsClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([url])
        .with_http_config(config)
        .build()
    )


def sdk(url: str, requests: int, concurrency: int) -> Throughput:
    client = sdk_client(url, concurrency)

    def one(_: int) -> bool:
        server = PrePaidServer(
            image_ref=SERVER["imageRef"], flavor_ref=SERVER["flavorRef"], name=SERVER["name"],
            vpcid=SERVER["vpcid"],
            nics=[PrePaidServerNic(subnet_id=SUBNET)],
            root_volume=PrePaidServerRootVolume(volumetype="SSD"), count=1,
        )  # fmt: skip
        try:
            job_id = client.create_servers(
                CreateServersRequest(
                    x_client_token=str(uuid.uuid4()),
                    body=CreateServersRequestBody(server=server),
                )
            ).job_id
            for _ in range(MAX_CHECKS):
                if client.show_job(ShowJobRequest(job_id=job_id)).status == "SUCCESS":
                    return True
                time.sleep(CHECK_DELAY)
        except Exception:
            return False
        return False

    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    return Throughput(
        requests, time.perf_counter() - started, time.process_time() - cpu, results.count(False)
    )


async def bench(requests: int, concurrencies: Sequence[int]) -> Section:
    rows: list[list[Any]] = []
    details: dict[str, Any] = {}
    async with simulator(job_seconds=(0.0, 0.0), credentials=(AK, SK)) as sim:
        await ours(sim.url, 50, 8)  # warm-up both: imports, connections, simulator
        await asyncio.to_thread(sdk, sim.url, 50, 8)
        for concurrency in concurrencies:
            mine = await ours(sim.url, requests, concurrency)
            theirs = await asyncio.to_thread(sdk, sim.url, requests, concurrency)
            details[f"c{concurrency}"] = {"ours": mine.__dict__, "sdk": theirs.__dict__}
            rows += [
                [f"requests/s, concurrency {concurrency}", mine.per_second, theirs.per_second,
                 ratio(mine.per_second, theirs.per_second)],
                [f"client CPU ms per request, concurrency {concurrency}",
                 mine.cpu_us_per_request / 1000, theirs.cpu_us_per_request / 1000,
                 ratio(mine.cpu_us_per_request, theirs.cpu_us_per_request)],
                [f"errors, concurrency {concurrency}", mine.errors, theirs.errors, "-"],
            ]  # fmt: skip
    return Section(
        name="sdk",
        title=f"Create + follow the job: our asyncio client vs the official SDK ({requests:,} "
        "requests)",
        columns=["metric", "ours (asyncio)", "SDK (threads)", "ours / SDK"],
        rows=rows,
        params={"requests": requests, "concurrency": list(concurrencies), "job_seconds": "0:0"},
        details=details,
        notes=[
            "Per request: create (new X-Client-Token) + job checks until SUCCESS "
            f"({CHECK_DELAY * 1000:.0f} ms apart; instant jobs need one). The SDK's "
            "`EcsClient` is shared by the pool's threads; ours shares one aiohttp session.",
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, lambda count: bench(count, (16, 32)), quick=500, full=2000, argv=argv)


if __name__ == "__main__":
    main()

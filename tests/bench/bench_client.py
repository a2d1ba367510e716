"""Benchmark (not a test): our signer and client vs the official Huawei SDK, against the simulator.

Run: ``python tests/bench/bench_client.py [--requests N] [--concurrency C] [--sign-iterations K]``.
It starts the simulator in a subprocess on 127.0.0.1 (this same file with ``--serve``), then
prints one table:
- signing cost per request: ``worker.ecs.signing.sign_request`` vs ``huaweicloudsdkcore`` Signer;
- requests/s for the same mix of calls (half creates, each with a new X-Client-Token, half job
  GETs): our asyncio ``EcsClient`` with C concurrent calls vs the SDK's synchronous
  ``EcsClient`` shared by C threads;
- client CPU time per request (the simulator's CPU is in the other process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: E402
from huaweicloudsdkcore.signer.signer import Signer  # noqa: E402
from huaweicloudsdkecs.v2 import (  # noqa: E402
    CreateServersRequest,
    CreateServersRequestBody,
    PrePaidServer,
    PrePaidServerNic,
    PrePaidServerRootVolume,
    ShowJobRequest,
)
from huaweicloudsdkecs.v2 import EcsClient as SdkEcsClient  # noqa: E402

from tests.support.bodies import server_body  # noqa: E402
from tests.support.ecs_client import layered_client  # noqa: E402
from worker.ecs.auth import AkSkAuth  # noqa: E402
from worker.ecs.credentials import Credential  # noqa: E402
from worker.ecs.retry import RetryConfig  # noqa: E402
from worker.ecs.signing import sign_request  # noqa: E402

AK, SK = "BENCHAK0000000000001", "bench-secret-key-0001"
PROJECT = "0123456789abcdef0123456789abcdef"
SERVER = server_body()["server"]


def serve() -> None:
    """Subprocess mode: run a simulator, print its URL, stop when stdin closes."""
    from worker.simulator.knobs import SimulatorConfig
    from worker.simulator.serving import running_simulator

    async def main() -> None:
        config = SimulatorConfig(credentials={AK: SK}, job_seconds=(60.0, 60.0), seed=1)
        async with running_simulator(config) as url:
            print(url, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


# --- signing ---


def time_per_call(fn: Callable[[], object], iterations: int) -> float:
    """Microseconds per call, best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        best = min(best, (time.perf_counter() - started) / iterations)
    return best * 1e6


def bench_signing(iterations: int) -> tuple[float, float]:
    body = json.dumps({"server": SERVER}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json;charset=utf-8",
        "X-Client-Token": str(uuid.uuid4()),
        "X-Project-Id": PROJECT,
        "User-Agent": "bench",
    }
    host, path = "ecs.ap-southeast-1.myhuaweicloud.com", f"/v1.1/{PROJECT}/cloudservers"
    credentials = BasicCredentials(AK, SK)
    signer = Signer(credentials)

    def ours() -> object:
        return sign_request(AK, SK, "POST", host, path, [], headers, body)

    def sdk() -> object:
        request = SdkRequest(
            method="POST", schema="https", host=host, resource_path=path,
            query_params=[], header_params=dict(headers), body=body,
        )  # fmt: skip
        return signer.sign(request)

    return time_per_call(ours, iterations), time_per_call(sdk, iterations)


# --- request throughput ---


@dataclass(frozen=True)
class Throughput:
    requests: int
    seconds: float
    cpu_seconds: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / self.requests * 1e6


async def bench_ours(url: str, requests: int, concurrency: int) -> Throughput:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = layered_client(
            session, url, AkSkAuth(Credential(AK, SK)), retry=RetryConfig(max_attempts=1)
        )
        job_id = (
            await client.create_servers({"server": SERVER}, str(uuid.uuid4()), PROJECT)
        ).job_id
        assert job_id is not None
        gate = asyncio.Semaphore(concurrency)
        errors = 0

        async def one(i: int) -> None:
            nonlocal errors
            async with gate:
                try:
                    if i % 2:
                        await client.create_servers({"server": SERVER}, str(uuid.uuid4()), PROJECT)
                    else:
                        await client.get_job(job_id, PROJECT)
                except Exception:
                    errors += 1

        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return Throughput(
            requests, time.perf_counter() - started, time.process_time() - cpu, errors
        )


def bench_sdk(url: str, requests: int, concurrency: int) -> Throughput:
    config = HttpConfig.get_default_config()
    config.pool_connections = config.pool_maxsize = concurrency
    client = (
        SdkEcsClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([url])
        .with_http_config(config)
        .build()
    )

    def create() -> Any:
        server = PrePaidServer(
            image_ref=SERVER["imageRef"], flavor_ref=SERVER["flavorRef"], name=SERVER["name"],
            vpcid=SERVER["vpcid"],
            nics=[PrePaidServerNic(subnet_id="ef039b60-6a14-42d1-963b-687b627fea08")],
            root_volume=PrePaidServerRootVolume(volumetype="SSD"), count=1,
        )  # fmt: skip
        request = CreateServersRequest(
            x_client_token=str(uuid.uuid4()), body=CreateServersRequestBody(server=server)
        )
        return client.create_servers(request)

    job_id = create().job_id

    def one(i: int) -> bool:
        try:
            if i % 2:
                create()
            else:
                client.show_job(ShowJobRequest(job_id=job_id))
        except Exception:
            return False
        return True

    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    return Throughput(
        requests, time.perf_counter() - started, time.process_time() - cpu, results.count(False)
    )


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise SystemExit("the simulator did not start")
    return process, url


def stop_simulator(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sign-iterations", type=int, default=5000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    sign_ours, sign_sdk = bench_signing(args.sign_iterations)
    process, url = start_simulator()
    try:
        asyncio.run(bench_ours(url, 50, args.concurrency))  # warm-up both
        bench_sdk(url, 50, args.concurrency)
        ours = asyncio.run(bench_ours(url, args.requests, args.concurrency))
        sdk = bench_sdk(url, args.requests, args.concurrency)
    finally:
        stop_simulator(process)
    print(
        f"\n{args.requests} calls (half create, half job GET), concurrency {args.concurrency}, "
        f"simulator in a separate process at {url}\n"
    )
    rows = [
        ("signing, µs/request (lower is better)", sign_ours, sign_sdk),
        ("requests/s (higher is better)", ours.per_second, sdk.per_second),
        ("client CPU, µs/request (lower is better)",
         ours.cpu_us_per_request, sdk.cpu_us_per_request),
        ("errors", float(ours.errors), float(sdk.errors)),
    ]  # fmt: skip
    print(f"{'metric':<42}{'ours':>12}{'SDK':>12}{'ours/SDK':>10}")
    for name, mine, theirs in rows:
        ratio = f"{mine / theirs:.2f}" if theirs else "-"
        print(f"{name:<42}{mine:>12.1f}{theirs:>12.1f}{ratio:>10}")


if __name__ == "__main__":
    main()

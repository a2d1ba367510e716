"""Loopback throughput of the simulator: signed creates, each followed by its job GET.

Run: ``.venv/bin/python tests/simulator/bench_simulator.py [--seconds 10] [--connections 32]``.
Starts the ``simulator`` sub-command with ``--job-seconds 0:0`` pinned to CPU 0 and drives it
from this process pinned to the other CPUs. The driver is a minimal keep-alive HTTP/1.1 client
on asyncio streams whose creates are signed before the clock starts (a general client such as
aiohttp's costs more CPU per request than the simulator and would measure itself). Prints
requests/s and the simulator's CPU use. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil

from worker.ecs.signing import sign_request

AK, SK, PROJECT = "BENCHAK", "bench-secret", "0123456789abcdef0123456789abcdef"
HARNESS = """
import argparse, sys
from worker.cli import simulator
parser = argparse.ArgumentParser()
simulator.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""
BODY = json.dumps(
    {
        "server": {
            "imageRef": "67f433d8-ed0e-4321-a8a2-a71838539e09",
            "flavorRef": "s6.small.1",
            "name": "bench",
            "vpcid": "2a6f4aa6-d93e-45f5-a8cb-b030dbf8cd68",
            "nics": [{"subnet_id": "ef039b60-6a14-42d1-963b-687b627fea08"}],
            "root_volume": {"volumetype": "SSD"},
        }
    }
).encode()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
JOB_ID = re.compile(rb'"job_id": "([0-9a-f]{32})"')


def _wire(host: str, method: str, path: str, body: bytes, extra: dict[str, str]) -> bytes:
    """One signed HTTP/1.1 request, ready to write."""
    headers = {"Content-Type": "application/json;charset=utf-8", **extra}
    signed = sign_request(AK, SK, method, host, path, [], headers, body)
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in signed.items())]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return status, await reader.readexactly(length)


async def _connection(
    host: str, port: int, creates: Iterator[bytes], deadline: float, statuses: Counter[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    netloc = f"{host}:{port}"
    try:
        for create in creates:
            if time.perf_counter() >= deadline:
                return
            status, body = await _exchange(reader, writer, create)
            statuses[status] += 1
            match = JOB_ID.search(body)
            assert match is not None, body
            job_path = f"/v1/{PROJECT}/jobs/{match.group(1).decode()}"
            status, _ = await _exchange(reader, writer, _wire(netloc, "GET", job_path, b"", {}))
            statuses[status] += 1
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--creates", type=int, default=60_000, help="pre-signed creates")
    options = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HARNESS, "simulator", "--port", "0",
        "--credential", f"{AK}:{SK}", "--job-seconds", "0:0", "--seed", "1",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        os.sched_setaffinity(process.pid, {cpus[0]})
        if len(cpus) > 1:
            os.sched_setaffinity(0, set(cpus[1:]))
        assert process.stdout is not None
        line = ANSI.sub("", (await process.stdout.readline()).decode())
        match = re.search(r"url=(http://\S+)", line)
        assert match is not None, line
        url = urlsplit(match.group(1))
        host, port = url.hostname or "127.0.0.1", url.port or 80
        path = f"/v1.1/{PROJECT}/cloudservers"
        creates = iter(
            [
                _wire(url.netloc, "POST", path, BODY, {"X-Client-Token": str(uuid.uuid4())})
                for _ in range(options.creates)
            ]
        )
        server = psutil.Process(process.pid)
        statuses: Counter[int] = Counter()
        cpu_before = sum(server.cpu_times()[:2])
        started = time.perf_counter()
        deadline = started + options.seconds
        await asyncio.gather(
            *(
                _connection(host, port, creates, deadline, statuses)
                for _ in range(options.connections)
            )
        )
        elapsed = time.perf_counter() - started
        cpu_used = sum(server.cpu_times()[:2]) - cpu_before
        total = sum(statuses.values())
        print(f"{total} requests in {elapsed:.1f} s = {total / elapsed:.0f} req/s; "
              f"statuses {dict(statuses)}")  # fmt: skip
        print(f"simulator CPU {cpu_used / elapsed:.0%} of one core: "
              f"{total / cpu_used:.0f} req/s per core-second")  # fmt: skip
    finally:
        process.terminate()
        await process.wait()


if __name__ == "__main__":
    asyncio.run(main())

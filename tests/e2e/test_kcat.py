"""Interoperability: kcat, a Kafka client this project did not write, publishes a request and
reads its result, so the topics' contract does not depend on our own client code."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from typing import Any

import pytest

from ecsp_contract.idempotency import client_token
from tests.support.stack import EXAMPLES, stack


def kcat_path() -> str:
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        pytest.fail("kcat is not installed: `apt-get install kcat` (Debian/Ubuntu)", pytrace=False)
    return path


async def kcat(*args: str, timeout: float = 20.0) -> str:
    process = await asyncio.create_subprocess_exec(
        kcat_path(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode()
    return out.decode()


async def kcat_read(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[Any]:
    """kcat -C -J from the beginning until `count` records are there."""
    deadline = time.monotonic() + timeout
    while True:
        out = await kcat("-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q")
        records = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        await asyncio.sleep(0.5)


async def test_kcat_publishes_a_request_and_reads_its_succeeded_event(kafka_bootstrap: str) -> None:
    kcat_path()
    async with stack(kafka_bootstrap) as s:
        body = str(EXAMPLES / "01-prepaid-keypair.json")  # a file argument is one message
        await kcat("-P", "-b", kafka_bootstrap, "-t", s.settings.topic_requests, "-k", "kc", body)
        (record,) = await kcat_read(kafka_bootstrap, s.settings.topic_results, 1)
        failures = await kcat_read(kafka_bootstrap, s.settings.topic_failures, 0)
    assert failures == []
    assert record["key"] == "kc"
    event = json.loads(record["payload"])
    assert event["specversion"] == "1.0"
    assert event["type"] == "ecs.provisioning.succeeded"
    assert event["subject"] == "kc"
    assert event["data"]["client_token"] == client_token("kc")
    assert len(event["data"]["server_ids"]) == 1
    headers = record.get("headers") or []
    assert dict(zip(headers[::2], headers[1::2], strict=True)).get("content-type") == (
        "application/cloudevents+json"
    )

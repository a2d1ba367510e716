"""Small helpers for tests that talk to the real broker: topics, keyed produce, bounded consume."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"

#: The `new_topic` fixture: `await new_topic(prefix, partitions=1)` -> a fresh topic name.
TopicFactory = Callable[..., Coroutine[Any, Any, str]]


def bootstrap_servers() -> str:
    """The broker under test: `ECSP_TEST_KAFKA_BOOTSTRAP`, else the local broker's default."""
    return os.environ.get("ECSP_TEST_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)


def broker_reachable(bootstrap: str, timeout: float = 2.0) -> bool:
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def unique_topic(prefix: str = "t") -> str:
    return f"test.{prefix}.{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Record:
    """A consumed record, decoded for assertions."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def json(self) -> Any:
        assert self.value is not None
        return json.loads(self.value)


def by_key(records: list[Record]) -> dict[str | None, list[dict[str, Any]]]:
    """Records' JSON values grouped by their key (None for keyless records), in order."""
    result: dict[str | None, list[dict[str, Any]]] = {}
    for r in records:
        result.setdefault(r.key.decode() if r.key else None, []).append(r.json())
    return result


async def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 1,
    configs: dict[str, str] | None = None,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name, num_partitions=partitions, replication_factor=1, topic_configs=configs
                )
                for name in names
            ]
        )
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


async def produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]],
) -> None:
    """Publishes (key, value, headers) triples and waits for every acknowledgement."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()


async def consume(
    bootstrap: str,
    topics: Sequence[str],
    *,
    count: int,
    timeout: float = 30.0,
    group_id: str | None = None,
) -> list[Record]:
    """Reads from the beginning until `count` records arrived or `timeout` passed."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp_records in batch.values():
                records.extend(
                    Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    for r in tp_records
                )
    finally:
        await consumer.stop()
    return records


async def read_committed(
    bootstrap: str, topic: str, partitions: int = 1, timeout: float = 30.0
) -> list[Record]:
    """Every record of `topic` a `read_committed` subscriber sees, up to the end of its log
    (aborted records are skipped; an open transaction holds it back, and this times out)."""
    return await read_all(bootstrap, {topic: partitions}, timeout, "read_committed")


async def read_all(
    bootstrap: str,
    topics: dict[str, int],
    timeout: float = 120,
    isolation: str = "read_uncommitted",
) -> list[Record]:
    """Every record of `topics` (name -> partition count), from the beginning to the end
    offsets at call time, as a subscriber with the given isolation level sees them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level=isolation
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t, count in topics.items() for p in range(count)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Record] = []
        async with asyncio.timeout(timeout):
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=200)
                for tp_records in batch.values():
                    records.extend(
                        Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                        for r in tp_records
                    )
        return records
    finally:
        await consumer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The current high-water mark of every partition of `topic`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()  # subscribed, so its metadata includes the topic
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset of every partition of `topic` it committed (admin API)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {
        tp.partition: meta.offset
        for tp, meta in committed.items()
        if tp.topic == topic and meta is not None and meta.offset >= 0
    }


async def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> None:
    """Polls an (async or sync) predicate until true; fails with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")

"""A key's latest record, read backwards from the partition's end in growing chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.support.kafka import TopicFactory, produce
from worker.cli import key_reader
from worker.cli.key_reader import latest_record

RECORDS = 100


@pytest.fixture
async def consumer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    yield consumer
    await consumer.stop()


@pytest.fixture
async def partition(kafka_bootstrap: str, new_topic: TopicFactory) -> TopicPartition:
    """One partition of 100 records: `other-<i>` keys, `wanted` at offsets 5 and 40, a
    tombstone of `gone` (written at 10) at 90."""
    topic = await new_topic("keyreader")
    records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    for offset in range(RECORDS):
        key: bytes = f"other-{offset}".encode()
        value: bytes | None = f"v{offset}".encode()
        if offset in (5, 40):
            key = b"wanted"
        elif offset == 10:
            key = b"gone"
        elif offset == 90:
            key, value = b"gone", None
        records.append((key, value, []))
    await produce(kafka_bootstrap, topic, records)
    return TopicPartition(topic, 0)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 8, 16, 32, 64 offsets: the 100 records take several chunks."""
    monkeypatch.setattr(key_reader, "FIRST_CHUNK", 8)


async def test_the_last_record_of_the_key_is_found_chunks_away_from_the_end(
    consumer: AIOKafkaConsumer, partition: TopicPartition
) -> None:
    lookup = await latest_record(consumer, partition, b"wanted")
    assert (lookup.record.offset, lookup.record.value) == (40, b"v40")
    assert lookup.end == RECORDS


async def test_a_key_found_in_the_first_chunk_and_the_oldest_record(
    consumer: AIOKafkaConsumer, partition: TopicPartition
) -> None:
    assert (await latest_record(consumer, partition, b"other-99")).record.offset == 99
    assert (await latest_record(consumer, partition, b"other-0")).record.offset == 0


async def test_an_unknown_key_has_no_record_and_a_tombstone_is_returned_as_it_is(
    consumer: AIOKafkaConsumer, partition: TopicPartition
) -> None:
    unknown = await latest_record(consumer, partition, b"never-written")
    assert (unknown.record, unknown.end) == (None, RECORDS)
    tombstone = (await latest_record(consumer, partition, b"gone")).record
    assert (tombstone.offset, tombstone.value) == (90, None)


async def test_an_empty_partition_has_no_record(
    consumer: AIOKafkaConsumer, new_topic: TopicFactory
) -> None:
    tp = TopicPartition(await new_topic("empty"), 0)
    assert await latest_record(consumer, tp, b"k") == key_reader.Lookup(None, 0)

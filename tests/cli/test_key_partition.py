"""A key's partition is where the producer puts it: Java's murmur2 arithmetic, checked against
Kafka's own hash values and against where aiokafka's producer really sends records."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.kafka import TopicFactory, unique_topic
from worker.cli.kafka_command import KafkaCommandError, cli_producer
from worker.cli.key_partition import key_partitions, partition_of
from worker.ops.settings import Settings

#: Utils.murmur2 of Kafka's Java client for these UTF-8 keys (the values Kafka's and Akka's
#: tests pin); the default partitioner takes (hash & 0x7fffffff) % partitions.
JAVA_MURMUR2 = {
    "1": -1993445489,
    "12": 126087238,
    "123": -267702483,
    "1234": -1614185708,
    "12345": -1188365604,
}


@pytest.mark.parametrize("partitions", [1, 3, 12, 50])
def test_the_partition_is_the_java_clients_for_the_same_key(partitions: int) -> None:
    for key, java_hash in JAVA_MURMUR2.items():
        assert partition_of(key.encode(), partitions) == (java_hash & 0x7FFFFFFF) % partitions


async def test_records_land_where_partition_of_says(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("keypart", partitions=12)
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap)
    producer = cli_producer(settings)  # the same client and partitioner the worker uses
    await producer.start()
    try:
        placed = {
            key: (await producer.send_and_wait(topic, b"{}", key=key)).partition
            for key in (f"ticket-{i}".encode() for i in range(120))
        }
    finally:
        await producer.stop()
    assert len(set(placed.values())) == 12  # the keys spread: the check means something
    assert placed == {key: partition_of(key, 12) for key in placed}


async def test_a_missing_topic_is_named_and_not_created(kafka_bootstrap: str) -> None:
    """The local broker auto-creates topics named in a metadata request: the lookup names none."""
    missing = unique_topic("no-such")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        with pytest.raises(KafkaCommandError, match=f"no topic {missing}"):
            await key_partitions(admin, [missing], b"k")
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        assert missing not in await consumer.topics()
    finally:
        await consumer.stop()
